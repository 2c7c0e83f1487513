// Package database names the database handle that FreshTrack's capabilities
// share, so a package that only hands it on need not import pgx.
//
// It owns nothing but names: [Querier] and [DB], the one definition of what
// a store function takes, and [Pool] is exactly pgxpool.Pool (an alias, so
// a *pgxpool.Pool is a *Pool and the reverse). The api package holds one in
// its Config and Deps and passes it, unopened, to the capability that owns the
// data (fleet, alerting, auth, notify, digest, query, compliance); api itself
// imports no pgx package and runs no SQL (api/layering_test.go checks).
//
// Beside the names it has row collectors that every store would otherwise
// repeat (JSONList, ScopedUpTo). It must not grow helpers that run SQL: a
// query belongs to the capability whose data it reads or writes.
package database

import "github.com/jackc/pgx/v5/pgxpool"

// Pool is the PostgreSQL connection pool, pgxpool.Pool.
type Pool = pgxpool.Pool
