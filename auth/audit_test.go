package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// TestAuditAppendsRacingStayInIDOrder: appends of one organisation that
// overlap (a transaction holds its row's place in the chain while others
// wait) still make a chain whose order is the ids' order, so VerifyAudit,
// which reads by id, finds it intact.
func TestAuditAppendsRacingStayInIDOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Busy"})
	if err != nil {
		t.Fatal(err)
	}
	// The first append holds its transaction open: the others queue behind
	// it, then commit in whatever order the scheduler gives them.
	first, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.WriteAudit(ctx, first, auth.AuditEntry{OrgID: org.ID, Actor: "inspector:1", Action: "inspector.view"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- auth.WriteAudit(ctx, pool, auth.AuditEntry{OrgID: org.ID, Actor: "inspector:1", Action: "inspector.view"})
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them queue behind the first
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, _, err := auth.VerifyAudit(ctx, pool, org.ID); err != nil || n != 10 {
		t.Fatalf("after racing appends: %d rows, %v", n, err)
	}
}

// TestAuditAppendInAnOldSnapshotIsRefusedNotForked: a REPEATABLE READ
// transaction whose snapshot predates another append cannot see that row;
// its append fails as a serialization failure instead of linking to an
// older row and forking the chain.
func TestAuditAppendInAnOldSnapshotIsRefusedNotForked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Signing"})
	if err != nil {
		t.Fatal(err)
	}
	rr, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Rollback(ctx)
	if _, err := rr.Exec(ctx, `SELECT count(*) FROM audit_log`); err != nil { // the snapshot
		t.Fatal(err)
	}
	if err := auth.WriteAudit(ctx, pool, auth.AuditEntry{OrgID: org.ID, Actor: "user:x", Action: "unit.update"}); err != nil {
		t.Fatal(err)
	}
	err = auth.WriteAudit(ctx, rr, auth.AuditEntry{OrgID: org.ID, Actor: "user:y", Action: "record.signed"})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "40001" {
		t.Fatalf("append in an old snapshot: %v, want a serialization failure", err)
	}
	_ = rr.Rollback(ctx)
	if n, _, err := auth.VerifyAudit(ctx, pool, org.ID); err != nil || n != 2 {
		t.Fatalf("chain after the refused append: %d rows, %v", n, err)
	}
}
