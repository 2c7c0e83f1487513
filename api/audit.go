package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// auditVerification is the chain check that comes with a page of the
// audit trail: `freshtrack audit verify`'s result, for the rows it names.
type auditVerification struct {
	// Scope is "page" (each row of this page against its hash and the row
	// before it in the chain) or "full" (the organisation's whole chain).
	Scope string `json:"scope"`
	OK    bool   `json:"ok"`
	// RowsChecked are the rows found consistent before the first break.
	RowsChecked int `json:"rows_checked"`
	// FirstBrokenID is the first row that fails; null when OK.
	FirstBrokenID *int64 `json:"first_broken_id"`
	// Reason says how it fails; null when OK.
	Reason *string `json:"reason"`
	// Checked says in words what was verified.
	Checked string `json:"checked"`
}

type auditAnswer struct {
	auth.AuditPage
	Verification auditVerification `json:"verification"`
}

var auditSchema = refine(schemaOf(auditAnswer{}), map[string]map[string]any{
	"items":        {"description": "audit rows; newest first unless order=asc"},
	"next_cursor":  {"description": "pass as ?cursor= for the next page; null on the last page"},
	"verification": {"description": "the hash chain check of this page (or, with verify=full, of the whole trail)"},
})

func (r *Router) registerAudit() {
	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/audit", Summary: "The tamper-evident audit trail, filtered and paged, with its hash chain check", Tag: "audit",
		Perm: auth.PermAdminister,
		Params: append([]Param{
			{Name: "action", Description: "only this action, e.g. unit.update", Schema: str},
			{Name: "actor", Description: "only this actor, e.g. user:<id>, inspector:<id>, system", Schema: str},
			{Name: "target_type", Description: "only rows about this kind of object, e.g. unit", Schema: str},
			{Name: "target_id", Description: "only rows about this object", Schema: str},
			{Name: "from", Description: "written at or after (RFC 3339)", Schema: str},
			{Name: "to", Description: "written before (RFC 3339)", Schema: str},
			{Name: "order", Description: "desc (default, newest first) or asc (by id, oldest first)", Schema: map[string]any{"type": "string", "enum": []string{"desc", "asc"}}},
			{Name: "verify", Description: "page (default: this page's rows) or full (the whole chain; members only, slower)", Schema: map[string]any{"type": "string", "enum": []string{"page", "full"}}},
		}, pageParams...),
		Response: auditSchema},
		func(c *fiber.Ctx) error {
			from, to, err := windowParams(c)
			if err != nil {
				return err
			}
			var errs []problem.FieldError
			order := c.Query("order", "desc")
			if order != "desc" && order != "asc" {
				errs = append(errs, problem.FieldError{Field: "order", Reason: "must be desc or asc"})
			}
			verify := c.Query("verify", "page")
			switch {
			case verify != "page" && verify != "full":
				errs = append(errs, problem.FieldError{Field: "verify", Reason: "must be page or full"})
			case verify == "full" && InspectorOf(c) != nil:
				errs = append(errs, problem.FieldError{Field: "verify", Reason: "an inspector link verifies the rows it reads (page)"})
			}
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			limit, err := pageLimit(c)
			if err != nil {
				return err
			}
			page, err := auth.ListAudit(c.UserContext(), r.deps.Pool, auth.AuditListParams{OrgID: OrgOf(c),
				Action: c.Query("action"), Actor: c.Query("actor"), TargetType: c.Query("target_type"), TargetID: c.Query("target_id"),
				From: from, To: to, Ascending: order == "asc", Cursor: c.Query("cursor"), Limit: limit, Inspector: InspectorOf(c)})
			if err != nil {
				return capabilityError("organisation", err)
			}
			v := auditVerification{Scope: verify, OK: true}
			var checkErr error
			if verify == "full" {
				v.Checked = "the organisation's whole chain: every row's content against its hash and its link to the row before it"
				v.RowsChecked, _, checkErr = auth.VerifyAudit(c.UserContext(), r.deps.Pool, OrgOf(c))
			} else {
				v.Checked = "each row of this page: its content against its hash, and its link to the organisation's row just before it; verify=full checks the whole chain"
				ids := make([]int64, len(page.Items))
				for i, it := range page.Items {
					ids[i] = it.ID
				}
				v.RowsChecked, checkErr = auth.VerifyAuditRows(c.UserContext(), r.deps.Pool, OrgOf(c), ids)
			}
			var brk *auth.AuditBreak
			switch {
			case errors.As(checkErr, &brk):
				v.OK, v.FirstBrokenID, v.Reason = false, &brk.ID, &brk.Reason
			case checkErr != nil:
				return checkErr
			}
			return c.JSON(auditAnswer{AuditPage: page, Verification: v})
		})
}
