package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/problem"
)

var (
	signoffSchema = refine(schemaOf(compliance.Signoff{}), map[string]map[string]any{
		"from":           {"format": "date", "description": "the period's first day in the site's time zone, as the HACCP report takes it"},
		"to":             {"format": "date", "description": "the period's last day, included"},
		"meaning":        {"enum": []string{compliance.MeaningReviewed, compliance.MeaningVerified}},
		"printed_name":   {"description": "the signer's name as typed when signing"},
		"content_sha256": {"description": "the HACCP report's content_sha256 when it was signed"},
		"audit_id":       {"description": "the audit_log entry (record.signed) that is the signature"},
		"status":         {"enum": []string{compliance.SignatureCurrent, compliance.SignatureStale}, "description": "current: the report recomputed now has the signed hash; stale: the records changed since"},
	})
	recordedActionSchema = refine(schemaOf(compliance.RecordedAction{}), map[string]map[string]any{
		"disposition": {"enum": compliance.Dispositions},
		"taken_by":    {"format": "uuid", "description": "the user who took it (unchanged by edits)"},
	})
)

// errReauth answers a signature without a fresh re-authentication as OAuth
// step-up authentication does (RFC 9470): 401 with
// insufficient_user_authentication and the max_age a new sign-in must
// meet.
func errReauth(c *fiber.Ctx, err error) error {
	c.Set(fiber.HeaderWWWAuthenticate, fmt.Sprintf(`Bearer realm="freshtrack", error="insufficient_user_authentication", error_description="re-authentication required to sign", max_age=%d`,
		int(auth.ReauthMaxAge.Seconds())))
	return problem.New(fiber.StatusUnauthorized, "reauthentication-required", "Re-authentication required",
		strings.TrimPrefix(err.Error(), auth.ErrReauthRequired.Error()+": ")+
			". A signature needs credentials entered at most "+auth.ReauthMaxAge.String()+" ago: an access token whose auth_time is that recent (sign in with prompt=login), or, in the web app, the reauth_grant of a fresh sign-in")
}

// registerSignoffs mounts the review and electronic sign-off of HACCP
// records (compliance owns them) and the correction of a recorded
// corrective action, whose edit a signature must notice.
func (r *Router) registerSignoffs() {
	path := "/v1/orgs/:org/sites/:id/signoffs"
	r.Handle(Route{Method: "GET", Path: path, Summary: "A site's signatures over its HACCP record, newest first, each current or stale (the records changed since signing)", Tag: "reports", Perm: auth.PermRead,
		Params:   []Param{{Name: "limit", Description: fmt.Sprintf("1-%d (default 20); each distinct period listed is one report recomputed", compliance.MaxListSignoffs), Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": compliance.MaxListSignoffs}}},
		Response: listSchema(signoffSchema)},
		func(c *fiber.Ctx) error {
			limit := 0
			if s := c.Query("limit"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > compliance.MaxListSignoffs {
					return problem.Validation(problem.FieldError{Field: "limit", Reason: fmt.Sprintf("must be a whole number from 1 to %d", compliance.MaxListSignoffs)})
				}
				limit = n
			}
			items, err := compliance.ListSignoffs(c.UserContext(), r.deps.Pool, compliance.ListSignoffsParams{OrgID: OrgOf(c), SiteID: c.Params("id"), Limit: limit})
			if err != nil {
				return capabilityError("site", err)
			}
			return sendList(c, items)
		})
	date := func(d string) map[string]any {
		return map[string]any{"type": "string", "format": "date", "description": d}
	}
	r.Handle(Route{Method: "POST", Path: path, Summary: "Sign a site's HACCP record for an ended period (needs a fresh re-authentication; API keys cannot sign)", Tag: "reports", Perm: auth.PermManage,
		Success: fiber.StatusCreated, Response: signoffSchema,
		Request: obj(map[string]any{
			"from":         date("first day, YYYY-MM-DD in the site's time zone"),
			"to":           date("last day, included; the period must have ended"),
			"meaning":      map[string]any{"type": "string", "enum": []string{compliance.MeaningReviewed, compliance.MeaningVerified}, "description": "what the signature means"},
			"printed_name": map[string]any{"type": "string", "minLength": 1, "maxLength": compliance.MaxPrintedName, "description": "your name as it is to appear on the record"},
			"comment":      map[string]any{"type": "string", "maxLength": compliance.MaxComment},
			"reauth_grant": describe(str, "the web app's proof of a fresh sign-in; API clients sign with an access token whose auth_time is at most 5 minutes old instead"),
		}, "from", "to", "meaning", "printed_name"),
		Example: func(map[string]string) map[string]any {
			d := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
			return map[string]any{"from": d, "to": d, "meaning": "reviewed", "printed_name": "Dana Manager", "comment": "checked against the paper log"}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				From        string `json:"from"`
				To          string `json:"to"`
				Meaning     string `json:"meaning"`
				PrintedName string `json:"printed_name"`
				Comment     string `json:"comment"`
				ReauthGrant string `json:"reauth_grant"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			var errs []problem.FieldError
			day := func(name, v string) time.Time {
				d, err := time.Parse(time.DateOnly, v)
				if err != nil {
					errs = append(errs, problem.FieldError{Field: name, Reason: "must be a date such as 2026-03-01"})
				}
				return d
			}
			from, to := day("from", in.From), day("to", in.To)
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			u := UserOf(c)
			reauth := func(context.Context, database.Querier) (time.Time, error) { return u.AuthTime, nil }
			if in.ReauthGrant != "" {
				grant := in.ReauthGrant
				reauth = func(ctx context.Context, q database.Querier) (time.Time, error) {
					return auth.RedeemSigningGrant(ctx, q, u.ID, grant)
				}
			}
			s, err := compliance.Sign(c.UserContext(), r.deps.Pool, compliance.SignParams{OrgID: OrgOf(c), SiteID: c.Params("id"), From: from, To: to,
				Meaning: in.Meaning, PrintedName: in.PrintedName, Comment: in.Comment, SignerID: u.ID, Actor: Actor(c), Reauth: reauth})
			if errors.Is(err, auth.ErrReauthRequired) {
				return errReauth(c, err)
			}
			if err != nil {
				return capabilityError("site", err)
			}
			return c.Status(fiber.StatusCreated).JSON(s)
		})

	r.Handle(Route{Method: "PATCH", Path: "/v1/orgs/:org/corrective-actions/:id", Summary: "Correct a recorded corrective action (audited; signatures over its period become stale)", Tag: "alerts", Perm: auth.PermManage,
		Response: recordedActionSchema,
		Request: obj(map[string]any{
			"action":      map[string]any{"type": "string", "minLength": 1, "maxLength": 4000, "description": "what was done"},
			"disposition": map[string]any{"type": "string", "enum": compliance.Dispositions},
			"notes":       map[string]any{"type": "string", "maxLength": 4000, "description": "empty clears them"},
		}),
		Example: func(map[string]string) map[string]any {
			return map[string]any{"notes": "stock probed at 4 °C afterwards"}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				Action      *string `json:"action"`
				Disposition *string `json:"disposition"`
				Notes       *string `json:"notes"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			a, err := compliance.EditCorrectiveAction(c.UserContext(), r.deps.Pool, compliance.EditActionParams{OrgID: OrgOf(c), ActionID: c.Params("id"),
				Action: in.Action, Disposition: in.Disposition, Notes: in.Notes, Actor: Actor(c)})
			if err != nil {
				return capabilityError("corrective action", err)
			}
			return c.JSON(a)
		})
}
