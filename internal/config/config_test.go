package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	var c Config
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.Bind(fs, GroupDatabase, GroupServe, GroupIngest, GroupAuth, GroupNotify, GroupBilling, GroupLog)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return c, c.Load(fs, func(k string) string { return env[k] })
}

func TestValidate(t *testing.T) {
	t.Parallel()
	f := func(env map[string]string, wantEnv string) {
		t.Helper()
		_, err := load(t, nil, env)
		if wantEnv == "" {
			if err != nil {
				t.Fatalf("env %v: unexpected error %v", env, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("env %v: want an error naming %s, got none", env, wantEnv)
		}
		if !IsFieldError(err) || !strings.Contains(err.Error(), wantEnv) {
			t.Fatalf("env %v: error %q does not name %s", env, err, wantEnv)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line: %q", err)
		}
	}
	f(nil, "")
	f(map[string]string{"FRESHTRACK_STRIPE_WEBHOOK_SECRET": "whsec_x"}, "FRESHTRACK_STRIPE_SECRET_KEY")
	f(map[string]string{"FRESHTRACK_STRIPE_SECRET_KEY": "sk_test_x", "FRESHTRACK_STRIPE_WEBHOOK_SECRET": "whsec_x"}, "")
	f(map[string]string{"FRESHTRACK_STRIPE_API_URL": "localhost:12111"}, "FRESHTRACK_STRIPE_API_URL")
	f(map[string]string{"FRESHTRACK_STRIPE_API_URL": "http://127.0.0.1:12111/v1"}, "FRESHTRACK_STRIPE_API_URL")
	f(map[string]string{"FRESHTRACK_STRIPE_API_URL": "http://127.0.0.1:12111"}, "")
	f(map[string]string{"FRESHTRACK_STRIPE_WEBHOOK_TOLERANCE": "2h"}, "FRESHTRACK_STRIPE_WEBHOOK_TOLERANCE")
	f(map[string]string{"FRESHTRACK_STRIPE_TRIAL_DAYS": "-1"}, "FRESHTRACK_STRIPE_TRIAL_DAYS")
	f(map[string]string{"FRESHTRACK_STRIPE_METER_SENSORS": "active sensors"}, "FRESHTRACK_STRIPE_METER_SENSORS")
	f(map[string]string{"FRESHTRACK_STRIPE_METER_READINGS": "off"}, "")
	f(map[string]string{"FRESHTRACK_BILLING_FREE_SENSORS": "ten"}, "FRESHTRACK_BILLING_FREE_SENSORS")
	f(map[string]string{"FRESHTRACK_BILLING_FREE_SENSORS": "unlimited"}, "")
	f(map[string]string{"FRESHTRACK_BILLING_PAST_DUE_GRACE": "-1h"}, "FRESHTRACK_BILLING_PAST_DUE_GRACE")
	f(map[string]string{"FRESHTRACK_STORAGE": "postgres"}, "")
	f(map[string]string{"FRESHTRACK_STORAGE": "timescale"}, "")
	f(map[string]string{"FRESHTRACK_STORAGE": "mysql"}, "FRESHTRACK_STORAGE")
	f(map[string]string{"DATABASE_URL": "host=localhost user=postgres"}, "")
	f(map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL")
	f(map[string]string{"FRESHTRACK_DATABASE_REPLICA_URL": "postgres://reader@replica:5432/freshtrack"}, "")
	f(map[string]string{"FRESHTRACK_DATABASE_REPLICA_URL": "mysql://x"}, "FRESHTRACK_DATABASE_REPLICA_URL")
	f(map[string]string{"FRESHTRACK_REPLICA_MAX_LAG": "30s"}, "")
	f(map[string]string{"FRESHTRACK_REPLICA_MAX_LAG": "10ms"}, "FRESHTRACK_REPLICA_MAX_LAG")
	f(map[string]string{"FRESHTRACK_REPLICA_MAX_LAG": "2h"}, "FRESHTRACK_REPLICA_MAX_LAG")
	f(map[string]string{"FRESHTRACK_DATABASE_DIRECT_URL": "postgres://postgres@db:5432/freshtrack"}, "")
	f(map[string]string{"FRESHTRACK_DATABASE_DIRECT_URL": "host=db user=postgres"}, "")
	f(map[string]string{"FRESHTRACK_DATABASE_DIRECT_URL": "mysql://x"}, "FRESHTRACK_DATABASE_DIRECT_URL")
	f(map[string]string{"FRESHTRACK_DATABASE_DIRECT_URL": "postgres://db:notaport/x"}, "FRESHTRACK_DATABASE_DIRECT_URL")
	f(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}, "")
	f(map[string]string{"REDIS_URL": "http://nope"}, "REDIS_URL")
	f(map[string]string{"FRESHTRACK_ADDR": "8080"}, "FRESHTRACK_ADDR")
	f(map[string]string{"FRESHTRACK_ADDR": ":9000"}, "")
	f(map[string]string{"FRESHTRACK_ROLE": "api,ingest"}, "")
	f(map[string]string{"FRESHTRACK_ROLE": "api,cron"}, "FRESHTRACK_ROLE")
	f(map[string]string{"FRESHTRACK_DB_MAX_CONNS": "2"}, "FRESHTRACK_DB_MAX_CONNS")
	f(map[string]string{"FRESHTRACK_DB_MAX_CONNS": "lots"}, "FRESHTRACK_DB_MAX_CONNS")
	f(map[string]string{"FRESHTRACK_RETENTION_DAYS": "-5"}, "FRESHTRACK_RETENTION_DAYS")
	f(map[string]string{"FRESHTRACK_PARTITIONS_AHEAD_DAYS": "1000"}, "FRESHTRACK_PARTITIONS_AHEAD_DAYS")
	f(map[string]string{"FRESHTRACK_ROLLUP_INTERVAL": "10ms"}, "FRESHTRACK_ROLLUP_INTERVAL")
	f(map[string]string{"FRESHTRACK_ROLLUP_INTERVAL": "soon"}, "FRESHTRACK_ROLLUP_INTERVAL")
	f(map[string]string{"FRESHTRACK_WORKERS": "ten"}, "FRESHTRACK_WORKERS")
	f(map[string]string{"FRESHTRACK_SHUTDOWN_TIMEOUT": "1h"}, "FRESHTRACK_SHUTDOWN_TIMEOUT")
	f(map[string]string{"FRESHTRACK_SHUTDOWN_DELAY": "5s"}, "")
	f(map[string]string{"FRESHTRACK_SHUTDOWN_DELAY": "2m"}, "FRESHTRACK_SHUTDOWN_DELAY")
	f(map[string]string{"FRESHTRACK_LOG_LEVEL": "verbose"}, "FRESHTRACK_LOG_LEVEL")
	f(map[string]string{"FRESHTRACK_LOG_FORMAT": "xml"}, "FRESHTRACK_LOG_FORMAT")
	f(map[string]string{"FRESHTRACK_MIGRATE": "maybe"}, "FRESHTRACK_MIGRATE")
	f(map[string]string{"FRESHTRACK_INGEST_MAX_BODY_BYTES": "10"}, "FRESHTRACK_INGEST_MAX_BODY_BYTES")
	f(map[string]string{"FRESHTRACK_INGEST_MAX_READINGS": "many"}, "FRESHTRACK_INGEST_MAX_READINGS")
	f(map[string]string{"FRESHTRACK_INGEST_QUEUE_ROWS": "1000"}, "FRESHTRACK_INGEST_QUEUE_ROWS")
	f(map[string]string{"FRESHTRACK_INGEST_WRITERS": "19"}, "FRESHTRACK_INGEST_WRITERS")
	f(map[string]string{"FRESHTRACK_INGEST_BATCH_ROWS": "-1"}, "FRESHTRACK_INGEST_BATCH_ROWS")
	f(map[string]string{"FRESHTRACK_INGEST_FLUSH_DELAY": "5s"}, "FRESHTRACK_INGEST_FLUSH_DELAY")
	f(map[string]string{"FRESHTRACK_INGEST_MAX_FUTURE_SKEW": "48h"}, "FRESHTRACK_INGEST_MAX_FUTURE_SKEW")
	f(map[string]string{"FRESHTRACK_INGEST_MIN_TEMP_C": "300"}, "FRESHTRACK_INGEST_MIN_TEMP_C")
	f(map[string]string{"FRESHTRACK_APIKEY_CACHE_TTL": "1h"}, "FRESHTRACK_APIKEY_CACHE_TTL")
	f(map[string]string{"FRESHTRACK_OIDC_ISSUER": "https://issuer.example"}, "FRESHTRACK_OIDC_AUDIENCE")
	f(map[string]string{"FRESHTRACK_OIDC_ISSUER": "issuer", "FRESHTRACK_OIDC_AUDIENCE": "a"}, "FRESHTRACK_OIDC_ISSUER")
	f(map[string]string{"FRESHTRACK_OIDC_ALGORITHMS": "HS256"}, "FRESHTRACK_OIDC_ALGORITHMS")
	f(map[string]string{"FRESHTRACK_OIDC_JWKS_URL": "ftp://x"}, "FRESHTRACK_OIDC_JWKS_URL")
	f(map[string]string{"FRESHTRACK_PUBLIC_URL": "freshtrack.example"}, "FRESHTRACK_PUBLIC_URL")
	f(map[string]string{"FRESHTRACK_TELNYX_API_KEY": "KEY"}, "FRESHTRACK_TELNYX_FROM")
	f(map[string]string{"FRESHTRACK_TELNYX_RATE": "0"}, "")
	f(map[string]string{"FRESHTRACK_TELNYX_RATE": "-1"}, "FRESHTRACK_TELNYX_RATE")
	f(map[string]string{"FRESHTRACK_SMTP_HOST": "mail"}, "FRESHTRACK_SMTP_FROM")
	f(map[string]string{"FRESHTRACK_SMTP_PORT": "70000"}, "FRESHTRACK_SMTP_PORT")
	f(map[string]string{"FRESHTRACK_SMTP_TLS": "ssl3"}, "FRESHTRACK_SMTP_TLS")
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	c, err := load(t, []string{"--addr", "127.0.0.1:9999"}, map[string]string{
		"FRESHTRACK_ADDR":    "127.0.0.1:1111",
		"FRESHTRACK_WORKERS": "3",
		"FRESHTRACK_ROLE":    "ingest",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" {
		t.Errorf("Addr = %q, want the flag's value", c.Addr)
	}
	if c.Workers != 3 {
		t.Errorf("Workers = %d, want 3 from the environment", c.Workers)
	}
	if !c.HasRole(RoleIngest) || c.HasRole(RoleWorker) {
		t.Errorf("Role = %v, want [ingest]", c.Role)
	}
	if c.DatabaseReplicaURL != "" || c.ReplicaMaxLag != 10*time.Second {
		t.Errorf("replica: %q, max lag %s, want none and the default 10s", c.DatabaseReplicaURL, c.ReplicaMaxLag)
	}
	if c.RetentionDays != 730 || c.Retention() != 730*24*time.Hour {
		t.Errorf("RetentionDays = %d, want the default 730", c.RetentionDays)
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	t.Parallel()
	c := Defaults()
	c.DatabaseURL = "postgres://app:s3cret-pw@db.example:5432/ft"
	c.RedisURL = "redis://:r3dis-pw@cache:6379/0"
	c.DatabaseReplicaURL = "postgres://app:repl1ca-pw@replica.example:5432/ft"
	c.TelnyxAPIKey = "KEYtelnyx-secret"
	c.SMTPPassword = "smtp-secret"
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	out := b.String()
	for _, secret := range []string{"s3cret-pw", "repl1ca-pw", "r3dis-pw", "telnyx-secret", "smtp-secret"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log line leaks %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "db.example") || !strings.Contains(out, "replica.example") {
		t.Fatalf("log line lost the host: %s", out)
	}
	if got := Redact("postgres://u@h/db?password=hunter2"); strings.Contains(got, "hunter2") {
		t.Fatalf("Redact kept a password query parameter: %s", got)
	}
	_, err := load(t, nil, map[string]string{"DATABASE_URL": "mysql://root:topsecret@h/db"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("validation error leaks the password or is missing: %v", err)
	}
}

func TestFreeSensorsDefaultFollowsStripe(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil, nil)
	if err != nil || c.BillingFreeSensors != "unlimited" || c.BillingConfigured() {
		t.Errorf("without Stripe: %q %v", c.BillingFreeSensors, err)
	}
	c, err = load(t, nil, map[string]string{"FRESHTRACK_STRIPE_SECRET_KEY": "sk_test_x"})
	if err != nil || c.BillingFreeSensors != "10" || !c.BillingConfigured() {
		t.Errorf("with Stripe: %q %v", c.BillingFreeSensors, err)
	}
}

func TestReplicaSettings(t *testing.T) {
	t.Parallel()
	c, err := load(t, []string{"--replica-max-lag", "3s"}, map[string]string{
		"FRESHTRACK_DATABASE_REPLICA_URL": "postgres://reader@replica:5432/freshtrack",
		"FRESHTRACK_REPLICA_MAX_LAG":      "1m",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseReplicaURL != "postgres://reader@replica:5432/freshtrack" || c.ReplicaMaxLag != 3*time.Second {
		t.Errorf("replica %q, max lag %s: want the environment's URL and the flag's 3s", c.DatabaseReplicaURL, c.ReplicaMaxLag)
	}
	if _, err := load(t, []string{"--database-replica-url", "mysql://reader:hidden@replica/x"}, nil); err == nil || strings.Contains(err.Error(), "hidden") {
		t.Errorf("a bad --database-replica-url: error %v, want one without the password", err)
	}
}
