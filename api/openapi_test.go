package api_test

import (
	"regexp"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/live"
)

// documentedRoutes registers the v1 API as serve does, without a database
// (registering runs no SQL), and returns every route /v1/openapi.json
// documents: the router's and the ones mounted outside it.
func documentedRoutes(t *testing.T) (*api.Router, []api.Route) {
	t.Helper()
	hub := live.NewHub(live.HubConfig{})
	t.Cleanup(hub.Close)
	r := api.NewRouter(fiber.New(), api.Deps{Live: hub})
	api.RegisterV1(r)
	extra := append(api.OperationalRoutes(), api.TelnyxWebhookRoute)
	r.ServeOpenAPI("test", extra...)
	return r, append(append([]api.Route{}, r.Routes()...), extra...)
}

// TestSummariesReadAsEnglish: no summary says "a area" or "an unit", or
// names a collection by its URL segment ("alert-rules").
func TestSummariesReadAsEnglish(t *testing.T) {
	t.Parallel()
	_, routes := documentedRoutes(t)
	bad := []*regexp.Regexp{
		regexp.MustCompile(`\b[Aa] [aeioAEIO]`),
		regexp.MustCompile(`\b[Aa]n [b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]`),
		regexp.MustCompile(`\b[Aa]n (unit|user)`),
		regexp.MustCompile(`[a-z]-(rules|policies|keys)\b`),
	}
	for _, rt := range routes {
		for _, re := range bad {
			if m := re.FindString(rt.Summary); m != "" {
				t.Errorf("%s %s: summary %q says %q", rt.Method, rt.Path, rt.Summary, m)
			}
		}
	}
	if len(routes) < 60 {
		t.Fatalf("only %d routes: the router lost some", len(routes))
	}
}
