package seedimport

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// An import killed after some chunks of readings, run again, ends exactly
// where one uninterrupted import does.
func TestInterruptedImportContinues(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 2, 15*time.Minute)
	clean := pgtest.NewDB(t)
	oc := options(f, clean)
	oc.Chunk = time.Hour
	mustImport(t, oc)

	target := pgtest.NewDB(t)
	o := options(f, target)
	o.Chunk = time.Hour
	for _, stopAfter := range []int{3, 11} {
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		o.ChunkCommitted = func(n int) {
			if n >= stopAfter {
				once.Do(cancel)
			}
		}
		rep, err := Import(ctx, o)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted import = %v, want context.Canceled", err)
		}
		if stopAfter == 11 && !rep.Resumed {
			t.Fatal("the second attempt did not continue the first run")
		}
	}
	var chunks int
	if err := target.QueryRow(context.Background(), `SELECT count(*) FROM import_chunks`).Scan(&chunks); err != nil || chunks < 11 {
		t.Fatalf("after two interruptions %d chunks are committed (%v)", chunks, err)
	}
	o.ChunkCommitted = nil
	rep := mustImport(t, o)
	if !rep.Resumed {
		t.Fatal("the rerun did not continue the interrupted run")
	}
	if r := rep.Table("readings"); r.Written != 1737 || r.Merged != 2 {
		t.Fatalf("readings over the three attempts: %+v, want 1737 written and 2 collapsed", r)
	}
	if want, got := fingerprint(t, clean), fingerprint(t, target); got != want {
		t.Fatalf("interrupted and resumed import differs from an uninterrupted one:\n%s", diffLines(want, got))
	}
	mustVerify(t, o)
}

// --since after new readings arrived at the seed imports exactly those,
// including one recorded long before the last import's watermark.
func TestSinceImportsWhatArrived(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 1, 30*time.Minute)
	target := pgtest.NewDB(t)
	o := options(f, target)
	mustImport(t, o)
	mustVerify(t, o)

	added := f.addReadings(4)
	f.exec(`UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = $1`, f.alerts["battery"])
	o.Since = true
	rep := mustImport(t, o)
	r := rep.Table("readings")
	// Readings received in the SinceSlack before the last snapshot are read
	// again and found present; only the new ones are written.
	if r.Written != added || r.Read != r.Written+r.Present+r.SkippedTotal() {
		t.Fatalf("--since readings: %+v, want exactly the %d new ones written", r, added)
	}
	var status string
	if err := target.QueryRow(context.Background(), `SELECT status FROM alerts WHERE id = $1`, f.alerts["battery"]).Scan(&status); err != nil || status != "resolved" {
		t.Fatalf("the alert the seed resolved meanwhile is %q (%v)", status, err)
	}
	mustVerify(t, o)

	// Nothing new: nothing written.
	rep = mustImport(t, o)
	if r := rep.Table("readings"); r.Written != 0 {
		t.Fatalf("an empty --since wrote %+v", r)
	}
}

func TestSinceNeedsAnImport(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 1, time.Hour)
	o := options(f, pgtest.NewDB(t))
	o.Since = true
	if _, err := Import(context.Background(), o); !errors.Is(err, ErrNoImport) {
		t.Fatalf("--since without an import = %v, want ErrNoImport", err)
	}
	o.Since = false
	if _, err := Verify(context.Background(), o); !errors.Is(err, ErrNoImport) {
		t.Fatalf("verify without an import = %v, want ErrNoImport", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFrost, 1, time.Hour)
	target := pgtest.NewDB(t)
	before := fingerprint(t, target)
	o := options(f, target)
	o.DryRun = true
	rep := mustImport(t, o)
	if after := fingerprint(t, target); after != before {
		t.Fatalf("the dry run wrote:\n%s", diffLines(before, after))
	}
	var runs int
	if err := target.QueryRow(context.Background(), `SELECT count(*) FROM import_runs`).Scan(&runs); err != nil || runs != 0 {
		t.Fatalf("the dry run started %d runs (%v)", runs, err)
	}
	if rep.Table("units").Written != 8 || rep.Table("readings").Read != f.readings || len(rep.Implausible) != 1 {
		t.Fatalf("the dry run's report: units %+v, readings %+v, implausible %+v", rep.Table("units"), rep.Table("readings"), rep.Implausible)
	}
	if a := rep.Table("alerts"); a.Written != 8 {
		t.Fatalf("the dry run would write %d alerts, want 8 (with the default rules it would create)", a.Written)
	}
}

// LegacySecrets receives every active TTN webhook secret in the import's
// transaction.
func TestLegacySecretsAreHandedOver(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 1, time.Hour)
	o := options(f, pgtest.NewDB(t))
	var got []string
	o.LegacySecrets = func(ctx context.Context, db database.Querier, orgID, secret, source string) (string, error) {
		if _, ok := db.(pgx.Tx); !ok {
			t.Error("LegacySecrets was not called in the import's transaction")
		}
		got = append(got, orgID+" "+secret+" "+source)
		return "id", nil
	}
	rep := mustImport(t, o)
	if want := f.orgA + " whsec-alpha-0001 ttn_connections.webhook_secret"; len(got) != 1 || got[0] != want {
		t.Fatalf("LegacySecrets got %q, want [%q]", got, want)
	}
	if rep.Table("legacy_secrets").ToLegacySecrets != 1 {
		t.Fatalf("report: %+v", rep.Table("legacy_secrets"))
	}
}

func TestReadingsOlderThanRetentionAreRefused(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 1, time.Hour)
	f.exec(`UPDATE sensor_readings SET recorded_at = recorded_at - interval '800 days' WHERE recorded_at < now() - interval '20 hours'`)
	o := options(f, pgtest.NewDB(t))
	o.RetentionDays = 730
	_, err := Import(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "FRESHTRACK_RETENTION_DAYS to at least 8") {
		t.Fatalf("import of readings older than the retention = %v", err)
	}
	o.RetentionDays = 900
	mustImport(t, o)
}

// A secret the sink refuses is reported, and the import goes on.
func TestARefusedLegacySecretIsReported(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 1, time.Hour)
	f.exec(`INSERT INTO ttn_connections (organization_id, application_id, webhook_secret) VALUES ($1, 'org-b-2', 'short')`, f.orgB)
	f.exec(`INSERT INTO ttn_connections (organization_id, application_id, webhook_secret) VALUES ($1, 'gone', 'whsec-closed-0003')`, f.orgC)
	target := pgtest.NewDB(t)
	o := options(f, target)
	o.LegacySecrets = func(ctx context.Context, db database.Querier, orgID, secret, source string) (string, error) {
		if _, err := db.Exec(ctx, `SELECT 1`); err != nil {
			return "", err
		}
		if len(secret) < 8 {
			return "", errors.New("secret: must be 8 to 512 printable ASCII characters")
		}
		return "id", nil
	}
	rep := mustImport(t, o)
	s := rep.Table("legacy_secrets")
	if s.ToLegacySecrets != 1 || s.Skipped["organisation deleted"] != 1 || s.Skipped["refused as a legacy secret: secret: must be 8 to 512 printable ASCII characters"] != 1 {
		t.Fatalf("legacy secrets: %+v", s)
	}
	mustVerify(t, o)
}
