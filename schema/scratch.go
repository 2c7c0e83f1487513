package schema

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreateScratchReadings creates an empty table named name shaped exactly like
// readings in the store's mode: same columns, primary key and indexes, the
// same partitioning (daily partitions covering [from, to) in postgres mode,
// a hypertable with 1-day chunks in timescale mode). The bench harness loads
// it with plain COPY to measure the database's ceiling. DropScratchReadings
// removes it.
func (s *Store) CreateScratchReadings(ctx context.Context, name string, from, to time.Time) error {
	id := pgx.Identifier{name}.Sanitize()
	if s.mode == Timescale {
		_, err := s.pool.Exec(ctx, fmt.Sprintf(`
			CREATE TABLE %[1]s (LIKE readings INCLUDING DEFAULTS, PRIMARY KEY (sensor_id, time));
			SELECT create_hypertable('%[2]s', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
			CREATE INDEX ON %[1]s USING brin (time) WITH (autosummarize = on);`, id, name))
		if err != nil {
			return fmt.Errorf("create scratch hypertable: %w", err)
		}
		return nil
	}
	_, err := s.pool.Exec(ctx, fmt.Sprintf(`
		CREATE TABLE %[1]s (LIKE readings INCLUDING DEFAULTS, PRIMARY KEY (sensor_id, time)) PARTITION BY RANGE (time);
		CREATE INDEX ON %[1]s USING brin (time) WITH (autosummarize = on);`, id))
	if err != nil {
		return fmt.Errorf("create scratch table: %w", err)
	}
	for d := from.UTC().Truncate(Bucket1d); d.Before(to); d = d.Add(Bucket1d) {
		part := pgx.Identifier{fmt.Sprintf("%s_p%s", name, d.Format("20060102"))}.Sanitize()
		if _, err := s.pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
			part, id, d.Format(time.RFC3339), d.Add(Bucket1d).Format(time.RFC3339))); err != nil {
			return fmt.Errorf("create scratch partition: %w", err)
		}
	}
	return nil
}

// DropScratchReadings drops a table made by CreateScratchReadings.
func (s *Store) DropScratchReadings(ctx context.Context, name string) error {
	if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("drop scratch table: %w", err)
	}
	return nil
}
