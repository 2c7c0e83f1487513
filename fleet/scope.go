package fleet

import (
	"context"
	"fmt"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/errs"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// CheckScope returns an error wrapping errs.ErrNotFound unless every site
// and unit id is one of orgID's: a filter must not name, or probe for,
// another organisation's. Ids that are not UUIDs are not found either.
func CheckScope(ctx context.Context, db database.Querier, orgID string, sites, units []string) error {
	for _, c := range []struct {
		param, table string
		ids          []string
	}{{"site", "sites", sites}, {"unit", "units", units}} {
		if len(c.ids) == 0 {
			continue
		}
		for _, id := range c.ids {
			if !uuids.Valid(id) {
				return fmt.Errorf("%s %q: %w", c.param, id, errs.ErrNotFound)
			}
		}
		var found int
		if err := db.QueryRow(ctx, `SELECT count(DISTINCT id) FROM `+c.table+` WHERE org_id = $1 AND id = ANY($2::uuid[])`, orgID, c.ids).Scan(&found); err != nil {
			return fmt.Errorf("check %s scope: %w", c.param, err)
		}
		if found != len(dedupe(c.ids)) {
			return fmt.Errorf("%s: %w", c.param, errs.ErrNotFound)
		}
	}
	return nil
}

func dedupe(ids []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}
