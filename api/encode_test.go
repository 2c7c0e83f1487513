package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// TestEveryListAnswersItemsAndNextCursor: each list route answers
// {"items": [...], "next_cursor": ...} and nothing else, paged or not.
func TestEveryListAnswersItemsAndNextCursor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	org := "/v1/orgs/" + ids["org"]
	paths := []string{
		"/v1/orgs", org + "/members", org + "/api-keys", org + "/alerts", org + "/alerts?status=open&unit=" + ids["unit"],
		org + "/notifications", org + "/units/" + ids["unit"] + "/manual-checks", org + "/digest",
		org + "/latest", org + "/sites/" + ids["site"] + "/latest",
	}
	for _, res := range []string{"sites", "areas", "units", "sensors", "alert-rules", "escalation-policies", "contacts"} {
		paths = append(paths, org+"/"+res)
	}
	for _, p := range paths {
		code, out := w.do(t, "GET", p, "owner", nil)
		var page map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &page); code != 200 || err != nil {
			t.Errorf("GET %s = %d %s", p, code, out)
			continue
		}
		if keys := slices.Sorted(maps.Keys(page)); !slices.Equal(keys, []string{"items", "next_cursor"}) {
			t.Errorf("GET %s answers %v, want items and next_cursor", p, keys)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(page["items"], &items); err != nil || items == nil || string(page["next_cursor"]) != "null" {
			t.Errorf("GET %s: items %s, next_cursor %s; want a list and null", p, page["items"], page["next_cursor"])
		}
	}
}

// TestAlertsPageWithNextCursor pages through the alerts one at a time: a
// next_cursor while there are more, null on the last page.
func TestAlertsPageWithNextCursor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	if _, err := w.pool.Exec(t.Context(), `INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at, opened_at, status, resolved_at)
		VALUES ($1, $2, $3, 'temp_high', 'critical', now() - interval '2 days', now() - interval '2 days', 'resolved', now() - interval '1 day')`, ids["org"], ids["unit"], ids["rule"]); err != nil {
		t.Fatal(err)
	}
	var seen []string
	next := ""
	for range 3 {
		path := fmt.Sprintf("/v1/orgs/%s/alerts?limit=1", ids["org"])
		if next != "" {
			path += "&cursor=" + next
		}
		code, out := w.do(t, "GET", path, "viewer", nil)
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(out), &page); code != 200 || err != nil || len(page.Items) != 1 {
			t.Fatalf("GET %s = %d %s", path, code, out)
		}
		seen = append(seen, page.Items[0].ID)
		if page.NextCursor == nil {
			break
		}
		next = *page.NextCursor
	}
	if len(seen) != 2 || seen[0] != ids["alert"] || seen[1] == seen[0] {
		t.Fatalf("paged through %v, want the open fixture alert, then the older resolved one, then null", seen)
	}
}
