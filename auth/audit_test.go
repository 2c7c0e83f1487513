package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestAuditVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Audited"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Neighbour"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, action := range []string{"unit.create", "unit.update", "alert.ack", "alert.resolve"} {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO audit_log (org_id, actor, action, details) VALUES ($1, 'user:x', $2, '{"n":1}') RETURNING id`, org.ID, action).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		// Interleaved rows of another organisation do not disturb the chain.
		if _, err := pool.Exec(ctx, `INSERT INTO audit_log (org_id, actor, action) VALUES ($1, 'user:y', 'noise')`, other.ID); err != nil {
			t.Fatal(err)
		}
	}
	n, head, err := auth.VerifyAudit(ctx, pool, org.ID)
	if err != nil || n != 5 || len(head) != 32 {
		t.Fatalf("intact trail: %d rows, head %x, %v", n, head, err)
	}
	// Someone with superuser rights bypasses the append-only trigger and
	// edits the third row: verification fails at exactly that row.
	if _, err := pool.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE audit_log SET details = '{"n":2}' WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	_, _, err = auth.VerifyAudit(ctx, pool, org.ID)
	var brk *auth.AuditBreak
	if !errors.As(err, &brk) || brk.ID != ids[2] {
		t.Fatalf("after editing row %d: %v", ids[2], err)
	}
	// Put it back, then remove a row: the next one no longer links.
	if _, err := pool.Exec(ctx, `UPDATE audit_log SET details = '{"n":1}' WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.VerifyAudit(ctx, pool, org.ID); err != nil {
		t.Fatalf("restored trail: %v", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM audit_log WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	_, _, err = auth.VerifyAudit(ctx, pool, org.ID)
	if !errors.As(err, &brk) || brk.ID != ids[2] {
		t.Fatalf("after deleting row %d: %v, want a break at %d", ids[1], err, ids[2])
	}
	if n, _, err := auth.VerifyAudit(ctx, pool, other.ID); err != nil || n != 5 {
		t.Fatalf("the neighbour's trail: %d %v", n, err)
	}
}
