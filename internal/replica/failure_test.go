package replica

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/errs"
)

// TestReplicaFailure: the replica's failures send a read to the primary;
// the read's own answers do not.
func TestReplicaFailure(t *testing.T) {
	t.Parallel()
	f := func(err error, want bool) {
		t.Helper()
		if got := replicaFailure(err); got != want {
			t.Fatalf("replicaFailure(%v) = %v, want %v", err, got, want)
		}
	}
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	f(pg("57P01"), true) // terminating connection due to administrator command
	f(pg("57P03"), true) // the database system is starting up
	f(pg("08006"), true) // connection failure
	f(pg("53300"), true) // too many connections
	f(pg("40001"), true) // canceling statement due to conflict with recovery
	f(pg("25006"), true) // cannot execute INSERT in a read-only transaction
	f(pg("42P01"), false)
	f(pg("22P02"), false)
	f(fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true)
	f(errors.New("conn closed"), true)
	f(fmt.Errorf("series: %w", errs.ErrNotFound), false)
	f(&errs.ValidationError{Field: "from", Reason: "is required"}, false)
	f(&errs.ConflictError{Reason: "x"}, false)
	f(&errs.ForbiddenError{Reason: "x"}, false)
}
