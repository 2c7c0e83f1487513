package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// createdInspectorLink is the answer to a new link: the record, the secret
// (once) and the web page that opens it. The secret travels in the URL's
// fragment, which browsers never send to a server or a Referer.
type createdInspectorLink struct {
	auth.InspectorLink
	URL string `json:"url"`
}

var (
	inspectorLinkSchema = refine(schemaOf(auth.InspectorLink{}), map[string]map[string]any{
		"name":         {"description": "who the link is for"},
		"prefix":       {"description": "the first characters of the secret (fti_<prefix>…), to tell links apart"},
		"sites":        {"description": "the sites the link reads"},
		"period_from":  {"description": "first day the link may see (YYYY-MM-DD, each site's local days); null: unbounded"},
		"period_to":    {"description": "last day the link may see; null: unbounded"},
		"expires_at":   {"description": "after this the link answers 401"},
		"revoked_at":   {"description": "when an admin revoked it; it answers 401 from then on"},
		"last_used_at": {"description": "when it last authenticated a request, to within a minute"},
		"token":        {"description": "the secret, only in the answer that created the link: send it as 'Authorization: Bearer fti_…'"},
	})
	createdInspectorLinkSchema = refine(schemaOf(createdInspectorLink{}), map[string]map[string]any{
		"url": {"description": "the inspector's web page, with the secret in its fragment: hand this over once"},
	})
	inspectorLinkRequest = obj(map[string]any{
		"name":        map[string]any{"type": "string", "minLength": 1, "maxLength": 200, "description": "who the link is for"},
		"site_ids":    map[string]any{"type": "array", "minItems": 1, "maxItems": 100, "items": map[string]any{"type": "string", "format": "uuid"}},
		"period_from": map[string]any{"type": "string", "format": "date"},
		"period_to":   map[string]any{"type": "string", "format": "date"},
		"expires_at":  map[string]any{"type": "string", "format": "date-time", "description": "required; at most 90 days ahead"},
	}, "name", "site_ids", "expires_at")
)

func (r *Router) registerInspectorLinks() {
	base := "/v1/orgs/:org/inspector-links"
	r.Handle(Route{Method: "GET", Path: base, Summary: "List inspector links, newest first (never their secrets)", Tag: "inspector-links", Perm: auth.PermAdminister,
		Response: listSchema(inspectorLinkSchema)},
		func(c *fiber.Ctx) error {
			links, err := auth.ListInspectorLinks(c.UserContext(), r.deps.Pool, OrgOf(c))
			if err != nil {
				return capabilityError("organisation", err)
			}
			return sendList(c, links)
		})
	r.Handle(Route{Method: "POST", Path: base, Summary: "Create a read-only, site-scoped, expiring inspector link; the answer shows its secret once", Tag: "inspector-links",
		Perm: auth.PermAdminister, Success: fiber.StatusCreated, Request: inspectorLinkRequest, Response: createdInspectorLinkSchema,
		Example: func(ids map[string]string) map[string]any {
			return map[string]any{"name": "EHO visit " + ids["nonce"], "site_ids": []string{ids["site"]},
				"expires_at": time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				Name       string   `json:"name"`
				SiteIDs    []string `json:"site_ids"`
				PeriodFrom string   `json:"period_from"`
				PeriodTo   string   `json:"period_to"`
				ExpiresAt  string   `json:"expires_at"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			var expires time.Time
			if in.ExpiresAt != "" {
				t, err := time.Parse(time.RFC3339, in.ExpiresAt)
				if err != nil {
					return problem.Validation(problem.FieldError{Field: "expires_at", Reason: "must be an RFC 3339 time such as 2026-12-31T18:00:00Z"})
				}
				expires = t
			}
			uid := UserOf(c).ID
			l, err := auth.CreateInspectorLink(c.UserContext(), r.deps.Pool, auth.CreateInspectorLinkParams{OrgID: OrgOf(c), Name: in.Name,
				SiteIDs: in.SiteIDs, PeriodFrom: in.PeriodFrom, PeriodTo: in.PeriodTo, ExpiresAt: expires, CreatedBy: &uid, Actor: Actor(c)})
			if err != nil {
				return capabilityError("organisation", err)
			}
			return c.Status(fiber.StatusCreated).JSON(createdInspectorLink{InspectorLink: l, URL: InspectorPageURL(l)})
		})
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get an inspector link (an inspector may read its own)", Tag: "inspector-links", Perm: auth.PermAdminister,
		Response: inspectorLinkSchema},
		func(c *fiber.Ctx) error {
			l, err := auth.GetInspectorLink(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"))
			if err != nil {
				return capabilityError("inspector link", err)
			}
			return c.JSON(l)
		})
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Revoke an inspector link; its next request is refused", Tag: "inspector-links", Perm: auth.PermAdminister,
		Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			if err := auth.RevokeInspectorLink(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"), Actor(c)); err != nil {
				return capabilityError("inspector link", err)
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}

// InspectorPageURL is the web app's page for a new link, relative to the
// public URL, with the secret in the fragment.
func InspectorPageURL(l auth.InspectorLink) string {
	return "/inspect/" + l.OrgID + "/" + l.ID + "#" + l.Token
}
