package replica_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/replica"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/query/querytest"
)

var quiet = slog.New(slog.DiscardHandler)

// seen is what one pass of the three read paths found, and which server
// answered each.
type seen struct {
	points, reportReadings int
	latestC                float64
	answered               []string // "replica" or "primary", per read path
}

// counted returns a Reads counter's value.
func counted(set *metrics.Set, target, reason string) uint64 {
	return set.GetOrCreateCounter(fmt.Sprintf(`freshtrack_replica_reads_total{target=%q,reason=%q}`, target, reason)).Get()
}

// TestReadsFollowTheReplica runs the read paths (a unit's series, the
// persisted latest values, a HACCP report) through Reads against a real
// streaming replica, in the storage mode of the run (the pair is built with
// the test server's binaries, TimescaleDB's in timescale mode): served by the
// replica when it is caught up or within the bound, even when that means a
// row committed on the primary is not seen yet; by the primary, which has the
// row, while replay is paused longer than the bound; by the replica again
// once replay resumed; and by the primary, without an error, when the
// replica is stopped.
func TestReadsFollowTheReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pair := pgtest.NewReplicaPair(t)
	db := querytest.Open(t, pair.Primary)
	org := db.Org("Replica kitchen")
	site := db.Site(org, "Main", "UTC")
	unit := db.Unit(org, site, "Walk-in", "fridge", 0, 5)
	sensor, _ := db.Sensor(org, unit, "probe-1")
	now := time.Now().UTC()
	db.MustWrite(querytest.R(sensor, now.Add(-10*time.Minute), 3))
	db.Exec(`INSERT INTO sensor_latest (sensor_id, time, temp_c) VALUES ($1, $2, 3)`, sensor, now.Add(-10*time.Minute))
	pair.WaitReplayed()

	newReads := func(maxLag, checkEvery time.Duration) (*replica.Reads, *metrics.Set) {
		set := metrics.NewSet()
		return replica.New(replica.Config{Primary: pair.Primary, Replica: pair.Replica, MaxLag: maxLag, CheckEvery: checkEvery,
			Metrics: set, Logger: quiet}), set
	}
	read := func(r *replica.Reads) seen {
		t.Helper()
		var s seen
		answered := func(db *database.Pool) {
			if db == pair.Replica {
				s.answered = append(s.answered, replica.TargetReplica)
			} else {
				s.answered = append(s.answered, replica.TargetPrimary)
			}
		}
		err := r.Read(ctx, func(db *database.Pool) error {
			series, err := query.Series(ctx, db, query.SeriesParams{OrgID: org, UnitID: unit, From: now.Add(-time.Hour), To: now.Add(time.Minute),
				Resolution: query.ResolutionRaw})
			if err != nil {
				return err
			}
			s.points = len(series.Points)
			answered(db)
			return nil
		})
		if err != nil {
			t.Fatalf("series: %v", err)
		}
		err = r.Read(ctx, func(db *database.Pool) error {
			units, err := query.Latest(ctx, db, query.LatestParams{OrgID: org, SiteID: site})
			if err != nil {
				return err
			}
			if len(units) != 1 || units[0].Reading == nil {
				return fmt.Errorf("latest: want one unit with a reading, got %+v", units)
			}
			s.latestC = units[0].Reading.TempC
			answered(db)
			return nil
		})
		if err != nil {
			t.Fatalf("latest: %v", err)
		}
		err = r.Read(ctx, func(db *database.Pool) error {
			rep, err := compliance.HACCP(ctx, db, compliance.HACCPParams{OrgID: org, SiteID: site, From: now.AddDate(0, 0, -1), To: now})
			if err != nil {
				return err
			}
			if len(rep.Units) != 1 {
				return fmt.Errorf("haccp: want one unit, got %d", len(rep.Units))
			}
			s.reportReadings = int(rep.Units[0].Summary.Readings)
			answered(db)
			return nil
		})
		if err != nil {
			t.Fatalf("haccp: %v", err)
		}
		return s
	}
	want := func(step string, got seen, target string, readings int, latestC float64) {
		t.Helper()
		for i, a := range got.answered {
			if a != target {
				t.Fatalf("%s: read %d of 3 answered by the %s, want the %s", step, i+1, a, target)
			}
		}
		if got.points != readings || got.reportReadings != readings || got.latestC != latestC {
			t.Fatalf("%s: series has %d points and the report %d readings (want %d), latest is %g °C (want %g)",
				step, got.points, got.reportReadings, readings, got.latestC, latestC)
		}
	}
	// eventually polls a fresh Reads until its state is one of states.
	eventually := func(r *replica.Reads, states ...string) *replica.Status {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := r.Status(ctx)
			for _, s := range states {
				if st.State == s {
					return st
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica state still %+v after 30 s, want one of %v", st, states)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Caught up: nothing received is waiting for replay, so the lag is 0
	// however long ago the primary last committed.
	strict, strictSet := newReads(100*time.Millisecond, time.Millisecond)
	if st := eventually(strict, replica.StateCaughtUp); st.LagSeconds == nil || *st.LagSeconds != 0 {
		t.Fatalf("caught up: lag %v, want 0", st.LagSeconds)
	}
	want("caught up", read(strict), replica.TargetReplica, 1, 3)
	if n := counted(strictSet, replica.TargetReplica, replica.StateCaughtUp) + counted(strictSet, replica.TargetReplica, replica.StateWithinLag); n != 3 {
		t.Fatalf("caught up: %d reads counted on the replica, want 3", n)
	}

	// Concurrent reads share the measurements: with checks trusted for an
	// hour, one check serves them all.
	shared, sharedSet := newReads(time.Hour, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			for range 5 {
				if err := shared.Read(ctx, func(db *database.Pool) error {
					_, err := query.Latest(ctx, db, query.LatestParams{OrgID: org})
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent reads: %v", err)
	}
	onReplica := counted(sharedSet, replica.TargetReplica, replica.StateCaughtUp) + counted(sharedSet, replica.TargetReplica, replica.StateWithinLag)
	if checks := sharedSet.GetOrCreateCounter(`freshtrack_replica_lag_checks_total`).Get(); onReplica != 100 || checks != 1 {
		t.Fatalf("concurrent reads: %d of 100 on the replica after %d lag checks, want 100 after 1", onReplica, checks)
	}

	// Replay paused: the replica has received a new reading but not applied
	// it. Within a generous bound it still answers, without the reading.
	pair.PauseReplay()
	db.MustWrite(querytest.R(sensor, now.Add(-time.Minute), 9))
	db.Exec(`UPDATE sensor_latest SET time = $2, temp_c = 9 WHERE sensor_id = $1`, sensor, now.Add(-time.Minute))
	pair.WaitReceived()
	patient, patientSet := newReads(time.Hour, time.Millisecond)
	want("paused, bound 1h", read(patient), replica.TargetReplica, 1, 3)
	if n := counted(patientSet, replica.TargetReplica, replica.StateWithinLag); n != 3 {
		t.Fatalf("paused, bound 1h: %d reads counted within_lag, want 3", n)
	}
	if st := patient.Status(ctx); st.State != replica.StateWithinLag || st.LagSeconds == nil || *st.LagSeconds <= 0 {
		t.Fatalf("paused, bound 1h: status %+v, want within_lag with a lag above 0", st)
	}

	// Past the 100 ms bound, reads go to the primary, which has the reading.
	eventually(strict, replica.StateLagging)
	want("paused, bound 100ms", read(strict), replica.TargetPrimary, 2, 9)
	if n := counted(strictSet, replica.TargetPrimary, replica.StateLagging); n != 3 {
		t.Fatalf("paused, bound 100ms: %d reads counted lagging, want 3", n)
	}

	// Resumed: the replica applies the reading and serves reads again.
	pair.ResumeReplay()
	pair.WaitReplayed()
	eventually(strict, replica.StateCaughtUp, replica.StateWithinLag)
	want("resumed", read(strict), replica.TargetReplica, 2, 9)

	// Stopped while a Reads trusts its last check for an hour: the read
	// that fails on the replica is answered by the primary, and so are the
	// next ones, until the next check.
	trusting, trustingSet := newReads(time.Hour, time.Hour)
	want("before the stop", read(trusting), replica.TargetReplica, 2, 9)
	pair.StopReplica()
	got := read(trusting)
	want("stopped", got, replica.TargetPrimary, 2, 9)
	if n := counted(trustingSet, replica.TargetPrimary, replica.ReasonReplicaError); n != 1 {
		t.Fatalf("stopped: %d reads counted replica_error, want 1 (the first read after the stop)", n)
	}
	if n := counted(trustingSet, replica.TargetPrimary, replica.StateUnreachable); n != 2 {
		t.Fatalf("stopped: %d reads counted unreachable, want 2 (the reads after the failed one)", n)
	}
	// A fresh check finds it down too.
	want("stopped, checked", read(strict), replica.TargetPrimary, 2, 9)
	if st := strict.Status(ctx); st.State != replica.StateUnreachable || st.Detail == "" {
		t.Fatalf("stopped: status %+v, want unreachable with a detail", st)
	}
	if n := counted(strictSet, replica.TargetPrimary, replica.StateUnreachable); n != 3 {
		t.Fatalf("stopped, checked: %d reads counted unreachable, want 3", n)
	}
	if n := strictSet.GetOrCreateCounter(`freshtrack_replica_lag_check_errors_total`).Get(); n == 0 {
		t.Fatal("stopped: no failed lag check counted")
	}
}

// TestReadsWithoutReplica: every read goes to the primary, nothing is
// measured, and Status reports no replica.
func TestReadsWithoutReplica(t *testing.T) {
	t.Parallel()
	primary := pgtest.NewDB(t)
	set := metrics.NewSet()
	r := replica.New(replica.Config{Primary: primary, Metrics: set})
	var got *database.Pool
	if err := r.Read(context.Background(), func(db *database.Pool) error { got = db; return nil }); err != nil || got != primary {
		t.Fatalf("read: err %v, pool %p, want the primary %p", err, got, primary)
	}
	if r.Configured() || r.Status(context.Background()) != nil {
		t.Fatal("a Reads without a replica reports one")
	}
	if names := set.ListMetricNames(); len(names) != 0 {
		t.Fatalf("metrics without a replica: %v", names)
	}
}
