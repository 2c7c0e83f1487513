package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestListAuditPagesAndFilters: filters match exactly, pages follow the
// cursor in both orders without repeating or skipping a row.
func TestListAuditPagesAndFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Listed"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		action := "unit.update"
		if i%2 == 1 {
			action = "site.update"
		}
		if err := auth.WriteAudit(ctx, pool, auth.AuditEntry{OrgID: org.ID, Actor: "user:a", Action: action, TargetType: "unit", TargetID: "u1"}); err != nil {
			t.Fatal(err)
		}
		if err := auth.WriteAudit(ctx, pool, auth.AuditEntry{OrgID: other.ID, Actor: "user:a", Action: action}); err != nil {
			t.Fatal(err)
		}
	}
	// organization.create plus 7 rows.
	for _, asc := range []bool{false, true} {
		var seen []int64
		cursor := ""
		for range 10 {
			page, err := auth.ListAudit(ctx, pool, auth.AuditListParams{OrgID: org.ID, Ascending: asc, Cursor: cursor, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				if len(seen) > 0 && (asc && it.ID <= seen[len(seen)-1] || !asc && it.ID >= seen[len(seen)-1]) {
					t.Fatalf("ascending=%v: %d after %d", asc, it.ID, seen[len(seen)-1])
				}
				seen = append(seen, it.ID)
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if len(seen) != 8 {
			t.Errorf("ascending=%v: %d rows over the pages, want 8", asc, len(seen))
		}
	}
	page, err := auth.ListAudit(ctx, pool, auth.AuditListParams{OrgID: org.ID, Action: "site.update"})
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("action filter: %d rows, %v", len(page.Items), err)
	}
	page, err = auth.ListAudit(ctx, pool, auth.AuditListParams{OrgID: org.ID, TargetType: "unit", TargetID: "u1", Actor: "user:a"})
	if err != nil || len(page.Items) != 7 {
		t.Fatalf("target filter: %d rows, %v", len(page.Items), err)
	}
	for _, bad := range []auth.AuditListParams{{OrgID: org.ID, Cursor: "x"}, {OrgID: org.ID, Limit: 201}, {OrgID: org.ID, Cursor: "-4"}} {
		var ve *auth.ValidationError
		if _, err := auth.ListAudit(ctx, pool, bad); !errors.As(err, &ve) {
			t.Errorf("%+v: %v, want a validation error", bad, err)
		}
	}
}

// TestVerifyAuditRows checks a page's rows alone: an edited row and a row
// whose predecessor was removed are found, the other rows pass.
func TestVerifyAuditRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Checked"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 6 {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO audit_log (org_id, actor, action, details) VALUES ($1, 'user:x', 'unit.update', '{"n":1}') RETURNING id`, org.ID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if n, err := auth.VerifyAuditRows(ctx, pool, org.ID, ids[2:5]); err != nil || n != 3 {
		t.Fatalf("intact rows: %d %v", n, err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE audit_log SET details = '{"n":2}' WHERE id = $1`, ids[3]); err != nil {
		t.Fatal(err)
	}
	var brk *auth.AuditBreak
	if n, err := auth.VerifyAuditRows(ctx, pool, org.ID, []int64{ids[5], ids[3], ids[2]}); !errors.As(err, &brk) || brk.ID != ids[3] || n != 1 {
		t.Fatalf("edited row %d: %d checked, %v", ids[3], n, err)
	}
	// Rows not on the page are not read: the page after the edit passes.
	if _, err := auth.VerifyAuditRows(ctx, pool, org.ID, ids[5:]); err != nil {
		t.Fatalf("rows after the edit: %v", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM audit_log WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.VerifyAuditRows(ctx, pool, org.ID, ids[1:2]); !errors.As(err, &brk) || brk.ID != ids[1] {
		t.Fatalf("row after a removed one: %v, want a break at %d", err, ids[1])
	}
}
