package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/replica"
	"github.com/freshtrack/freshtrack/query/querytest"
)

// TestDataRoutesReadTheReplica checks the wiring of the routes that may
// read a replica (a unit's readings, latest values, the HACCP report)
// against a real streaming replica whose replay is paused: within the lag
// bound they answer from the replica, without a reading only the primary
// has; with the replica stopped they answer from the primary, with it, and
// without an error. /readyz reports the replica and stays ready.
func TestDataRoutesReadTheReplica(t *testing.T) {
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

	var dev *auth.DevIssuer
	jwks := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write(dev.JWKS()) }))
	t.Cleanup(jwks.Close)
	dev, err := auth.LoadDevIssuer(t.TempDir()+"/key.pem", "http://127.0.0.1:1/dev-oidc")
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: dev.Issuer(), Audience: auth.DevAudience, JWKSURL: jwks.URL}, pair.Primary)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := auth.UpsertUser(ctx, pair.Primary, dev.Issuer(), "sub-viewer", "viewer@example.com", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'viewer')`, org, viewer.ID)
	token, err := dev.Mint("sub-viewer", "viewer@example.com", "viewer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	set := metrics.NewSet()
	reads := replica.New(replica.Config{Primary: pair.Primary, Replica: pair.Replica, MaxLag: time.Hour, CheckEvery: time.Millisecond,
		Metrics: set, Logger: quiet})
	app := api.New(api.Config{Pool: pair.Primary, Reads: reads, Logger: quiet})
	api.RegisterV1(api.NewRouter(app, api.Deps{Pool: pair.Primary, Reads: reads, Users: users, Logger: quiet}))
	api.NotFound(app)
	get := func(path string, into any) (http.Header, string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
		return resp.Header, string(body)
	}
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	check := func(step string, wantReadings int, wantLatestC float64) {
		t.Helper()
		var series struct {
			Points []json.RawMessage `json:"points"`
		}
		get(fmt.Sprintf("/v1/orgs/%s/units/%s/readings?resolution=raw&from=%s&to=%s", org, unit,
			now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339)), &series)
		var latest struct {
			Items []struct {
				Reading struct {
					TempC float64 `json:"temp_c"`
				} `json:"reading"`
			} `json:"items"`
		}
		get(fmt.Sprintf("/v1/orgs/%s/sites/%s/latest", org, site), &latest)
		var report struct {
			Units []struct {
				Summary struct {
					Readings int `json:"readings"`
				} `json:"summary"`
			} `json:"units"`
		}
		get(fmt.Sprintf("/v1/orgs/%s/reports/haccp?site=%s&from=%s&to=%s", org, site, day(now.AddDate(0, 0, -1)), day(now)), &report)
		if len(latest.Items) != 1 || len(report.Units) != 1 {
			t.Fatalf("%s: %d latest units and %d report units, want 1 each", step, len(latest.Items), len(report.Units))
		}
		if len(series.Points) != wantReadings || report.Units[0].Summary.Readings != wantReadings || latest.Items[0].Reading.TempC != wantLatestC {
			t.Fatalf("%s: %d points, %d report readings (want %d), latest %g °C (want %g)", step,
				len(series.Points), report.Units[0].Summary.Readings, wantReadings, latest.Items[0].Reading.TempC, wantLatestC)
		}
	}
	readiness := func() api.Readiness {
		t.Helper()
		var r api.Readiness
		header, body := get("/readyz", &r)
		for _, rt := range api.OperationalRoutes() {
			if rt.Path == "/readyz" {
				checkAnswer(t, rt, header, body)
			}
		}
		if r.Status != "ready" || r.Replica == nil {
			t.Fatalf("/readyz: status %q, replica %+v: want ready, with the replica's state", r.Status, r.Replica)
		}
		return r
	}

	pair.WaitReplayed()
	pair.PauseReplay()
	db.MustWrite(querytest.R(sensor, now.Add(-time.Minute), 9))
	db.Exec(`UPDATE sensor_latest SET time = $2, temp_c = 9 WHERE sensor_id = $1`, sensor, now.Add(-time.Minute))
	pair.WaitReceived()
	check("paused within the bound", 1, 3)
	if n := set.GetOrCreateCounter(`freshtrack_replica_reads_total{target="replica",reason="within_lag"}`).Get(); n != 3 {
		t.Fatalf("paused within the bound: %d reads counted on the replica, want 3", n)
	}
	if r := readiness(); r.Replica.State != replica.StateWithinLag {
		t.Fatalf("/readyz while paused: replica %+v, want within_lag", r.Replica)
	}

	pair.StopReplica()
	check("replica stopped", 2, 9)
	primaryReads := set.GetOrCreateCounter(`freshtrack_replica_reads_total{target="primary",reason="unreachable"}`).Get() +
		set.GetOrCreateCounter(`freshtrack_replica_reads_total{target="primary",reason="replica_error"}`).Get()
	if primaryReads != 3 {
		t.Fatalf("replica stopped: %d reads counted on the primary, want 3", primaryReads)
	}
	if r := readiness(); r.Replica.State != replica.StateUnreachable {
		t.Fatalf("/readyz with the replica stopped: replica %+v, want unreachable", r.Replica)
	}
}
