package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/internal/replica"
)

// openReads returns the router of the reads that may trail the primary,
// with a pool on FRESHTRACK_DATABASE_REPLICA_URL when one is configured, and
// the function that closes that pool. The pool connects lazily: a replica
// that is down at start does not stop serve, its reads go to the primary
// until it answers.
func openReads(ctx context.Context, cfg *config.Config, primary *pgxpool.Pool, log *slog.Logger) (*replica.Reads, func(), error) {
	if cfg.DatabaseReplicaURL == "" {
		return replica.New(replica.Config{Primary: primary, Logger: log}), func() {}, nil
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseReplicaURL)
	if err != nil {
		return nil, nil, fmt.Errorf("FRESHTRACK_DATABASE_REPLICA_URL: %w", err)
	}
	pc.MaxConns = int32(cfg.DBMaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, nil, fmt.Errorf("replica %s: %w", config.Redact(cfg.DatabaseReplicaURL), err)
	}
	reads := replica.New(replica.Config{Primary: primary, Replica: pool, MaxLag: cfg.ReplicaMaxLag, Logger: log})
	st := reads.Status(ctx)
	log.Info("read replica configured: series, latest values and reports read it while it is within the lag bound",
		"replica_url", config.Redact(cfg.DatabaseReplicaURL), "max_lag", cfg.ReplicaMaxLag, "state", st.State)
	return reads, pool.Close, nil
}
