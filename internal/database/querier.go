package database

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what a pool, a connection and a transaction have in common.
// A store function that takes one issues a single statement, so it is atomic
// on a pool as well as inside a caller's transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is a [Querier] that can begin a transaction: a pool, or a transaction
// (in which Begin makes a savepoint). A store function that writes several
// rows takes one and runs them in a transaction of its own, so it is atomic
// on a pool and nests inside a caller's transaction.
type DB interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}
