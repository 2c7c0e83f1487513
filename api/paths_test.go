package api_test

import (
	"strings"

	"github.com/freshtrack/freshtrack/api"
)

// A route's pattern becomes a request path with the ids of a fixture.

// idFor picks the fixture that a route's :id refers to: the first
// segment of the list the path contains, so a nested resource comes
// before the one it is nested in.
func idFor(path string, ids map[string]string) string {
	for _, sk := range [][2]string{{"/cooling/", "cooling_log"}, {"/cooling", "chiller"},
		{"/sites/", "bare_site"}, {"/areas/", "area"}, {"/units/", "bare_unit"}, {"/sensors/", "sensor"},
		{"/alert-rules/", "bare_rule"}, {"/escalation-policies/", "policy"}, {"/notification-policies/", "npolicy"}, {"/contacts/", "contact"}, {"/members/", "member"}, {"/api-keys/", "key"}, {"/alerts/", "alert"},
		{"/legacy-secrets/", "legacy_secret"}, {"/corrective-actions/", "corrective_action"}, {"/inspector-links/", "inspector_link"}} {
		if strings.Contains(path, sk[0]) {
			return ids[sk[1]]
		}
	}
	return ""
}

// parentParams fills the path parameters other than :org and :id: the
// unit a cooling cycle is nested in.
func parentParams(path string, ids map[string]string) string {
	return strings.Replace(path, ":unit", ids["cooling_unit"], 1)
}

func concrete(path string, ids map[string]string, org string) string {
	path = strings.Replace(path, ":org", org, 1)
	path = strings.Replace(path, ":frequency", "daily", 1)
	return parentParams(strings.Replace(path, ":id", idFor(path, ids), 1), ids)
}

// withQuery appends the route's test query string, if any.
func withQuery(rt api.Route, path string, ids map[string]string) string {
	if rt.TestQuery == nil {
		return path
	}
	return path + "?" + rt.TestQuery(ids)
}
