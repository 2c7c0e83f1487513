package database

import (
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// JSONList collects rows of one JSON column. No rows is an empty list, so
// that it encodes as [] rather than null.
func JSONList(rows pgx.Rows) ([]json.RawMessage, error) {
	items, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return items, nil
}

// Scoped is a JSON object with the site and unit it concerns (empty when
// none): what a resuming live stream replays, and filters by.
type Scoped struct {
	SiteID, UnitID string
	Data           json.RawMessage
}

// ScopedUpTo collects rows of (site, unit, data) from a query that asked
// for limit+1 of them: at most limit, and whether there were more.
func ScopedUpTo(rows pgx.Rows, limit int) (items []Scoped, more bool, err error) {
	items, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Scoped])
	if err != nil {
		return nil, false, err
	}
	if len(items) > limit {
		return items[:limit], true, nil
	}
	return items, false, nil
}
