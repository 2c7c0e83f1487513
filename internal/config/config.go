package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Storage modes accepted by FRESHTRACK_STORAGE.
const (
	StorageAuto      = "auto"
	StoragePostgres  = "postgres"
	StorageTimescale = "timescale"
)

// Roles a serve process can take (FRESHTRACK_ROLE).
const (
	RoleAPI    = "api"
	RoleIngest = "ingest"
	RoleWorker = "worker"
)

// Config is the whole configuration of a freshtrack process. Each field maps
// 1:1 onto a flag and an environment variable (see Bind).
type Config struct {
	// DatabaseURL is the PostgreSQL connection string (DATABASE_URL).
	// Defaults to postgres://postgres@127.0.0.1:5432/freshtrack?sslmode=disable.
	DatabaseURL string
	// DatabaseReplicaURL is a streaming replica of DatabaseURL that serves
	// the reads which may trail it by up to ReplicaMaxLag: unit series,
	// persisted latest values and HACCP reports
	// (FRESHTRACK_DATABASE_REPLICA_URL). Its pool has DBMaxConns
	// connections too. Defaults to empty: every read goes to DatabaseURL.
	DatabaseReplicaURL string
	// ReplicaMaxLag is the replay lag under which the replica serves those
	// reads; beyond it, or while the replica does not answer, they go to
	// the primary (FRESHTRACK_REPLICA_MAX_LAG). Defaults to 10s.
	ReplicaMaxLag time.Duration
	// DatabaseDirectURL is PostgreSQL itself when DatabaseURL points at a
	// transaction pooler such as PgBouncer (FRESHTRACK_DATABASE_DIRECT_URL):
	// what needs a session (LISTEN, session advisory locks, River,
	// migrations) connects here, and DatabaseURL's pool then sends no named
	// prepared statements (see PooledDatabase). Defaults to empty: DatabaseURL
	// is PostgreSQL itself and serves both.
	DatabaseDirectURL string
	// DBMaxConns caps the connection pool shared by the API, the ingest writers
	// and the River workers (FRESHTRACK_DB_MAX_CONNS). Defaults to 20.
	DBMaxConns int
	// RedisURL enables shared caches and cross-instance fan-out when set
	// (REDIS_URL). Defaults to empty: everything runs in-process.
	RedisURL string
	// Addr is the HTTP listen address (FRESHTRACK_ADDR). Defaults to 127.0.0.1:8080.
	Addr string
	// Role lists what this serve process runs: api, ingest, worker
	// (FRESHTRACK_ROLE). Defaults to all three.
	Role []string
	// Storage chooses the storage mode at migrate time: auto, timescale or
	// postgres (FRESHTRACK_STORAGE). Defaults to auto (timescale when the
	// extension is available).
	Storage string
	// Migrate runs pending migrations when serve starts (FRESHTRACK_MIGRATE).
	// Defaults to false.
	Migrate bool
	// RetentionDays is how long raw readings are kept (FRESHTRACK_RETENTION_DAYS).
	// Defaults to 730 (two years).
	RetentionDays int
	// PartitionsAheadDays is how many daily readings partitions postgres mode
	// creates ahead of today (FRESHTRACK_PARTITIONS_AHEAD_DAYS). Defaults to 7.
	PartitionsAheadDays int
	// RollupInterval is how often new and late readings are folded into the
	// downsampled series, in both storage modes (FRESHTRACK_ROLLUP_INTERVAL):
	// a late reading shows at every resolution within about this long of its
	// commit. Defaults to 5s.
	RollupInterval time.Duration
	// InsightInterval is how often the food-safety detectors (early
	// warning, defrost, doors, time out of temperature, cooling logs,
	// manual logs, calibrations) look at what arrived
	// (FRESHTRACK_INSIGHT_INTERVAL). Defaults to 1m.
	InsightInterval time.Duration
	// Workers is the number of River workers for background jobs
	// (FRESHTRACK_WORKERS). Defaults to 10.
	Workers int
	// ShutdownTimeout bounds the drain of in-flight requests and jobs on
	// SIGTERM/SIGINT (FRESHTRACK_SHUTDOWN_TIMEOUT). Defaults to 15s.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long serve goes on serving after SIGTERM/SIGINT,
	// answering /readyz with 503, before it stops accepting connections and
	// drains (FRESHTRACK_SHUTDOWN_DELAY): behind a load balancer, set it
	// above the health checks' interval plus timeout, so the balancer stops
	// sending requests before the instance stops taking them. Defaults to 0s.
	ShutdownDelay time.Duration
	// PprofAddr serves Go's runtime profiles (/debug/pprof/) on this
	// loopback address, for finding where CPU and memory go under load
	// (FRESHTRACK_PPROF_ADDR). Defaults to empty: off.
	PprofAddr string
	// HTTPMaxConns caps open HTTP connections; past it new ones are refused
	// (FRESHTRACK_HTTP_MAX_CONNS). Defaults to 8192.
	HTTPMaxConns int
	// HTTPBodySlots is how many request bodies are read and decoded at once
	// (FRESHTRACK_HTTP_BODY_SLOTS). Defaults to 4 per CPU.
	HTTPBodySlots int
	// HTTPBodyWait is the longest a request waits for a body slot before
	// it is answered 503 with Retry-After (FRESHTRACK_HTTP_BODY_WAIT).
	// Defaults to 2s.
	HTTPBodyWait time.Duration
	// EventsTicketKey signs the tickets that open an event stream from a
	// browser (FRESHTRACK_EVENTS_TICKET_KEY, secret, at least 32
	// characters). Every instance behind one address needs the same key.
	// Defaults to a random key per process: tickets then open streams on
	// the instance that issued them only.
	EventsTicketKey string
	// IngestMaxBodyBytes caps an ingest request body after gzip decoding
	// (FRESHTRACK_INGEST_MAX_BODY_BYTES). Defaults to 8388608 (8 MiB).
	IngestMaxBodyBytes int
	// IngestMaxReadings caps the readings of one ingest request
	// (FRESHTRACK_INGEST_MAX_READINGS). Defaults to 20000.
	IngestMaxReadings int
	// IngestQueueRows bounds the rows waiting for a database flush; beyond it
	// requests get 503 with Retry-After (FRESHTRACK_INGEST_QUEUE_ROWS).
	// Defaults to 100000.
	IngestQueueRows int
	// IngestWriters is the number of connections writing readings
	// concurrently (FRESHTRACK_INGEST_WRITERS). Defaults to 2.
	IngestWriters int
	// IngestBatchRows flushes a batch once it has this many rows
	// (FRESHTRACK_INGEST_BATCH_ROWS). Defaults to 5000.
	IngestBatchRows int
	// IngestFlushDelay is the longest a batch waits for more requests
	// (FRESHTRACK_INGEST_FLUSH_DELAY). Defaults to 2ms.
	IngestFlushDelay time.Duration
	// IngestMaxFutureSkew is how far in the future a reading's time may be
	// (FRESHTRACK_INGEST_MAX_FUTURE_SKEW). Defaults to 5m.
	IngestMaxFutureSkew time.Duration
	// IngestMinTempC and IngestMaxTempC bound plausible temperatures
	// (FRESHTRACK_INGEST_MIN_TEMP_C, FRESHTRACK_INGEST_MAX_TEMP_C).
	// Default to -100 and 200.
	IngestMinTempC float64
	IngestMaxTempC float64
	// APIKeyCacheTTL is how long a verified API key is trusted before it is
	// checked again, so a revoked key stops working within it
	// (FRESHTRACK_APIKEY_CACHE_TTL). Defaults to 5s.
	APIKeyCacheTTL time.Duration
	// OIDCIssuer is the exact iss claim of user access tokens
	// (FRESHTRACK_OIDC_ISSUER), e.g.
	// https://api.stack-auth.com/api/v1/projects/<project id>. Defaults to
	// empty: no sign-in unless DevAuth.
	OIDCIssuer string
	// OIDCAudience is the exact aud claim (FRESHTRACK_OIDC_AUDIENCE); for
	// Stack Auth the project id. Defaults to empty.
	OIDCAudience string
	// OIDCJWKSURL is the issuer's key set (FRESHTRACK_OIDC_JWKS_URL). Empty
	// uses OIDC discovery. Defaults to empty.
	OIDCJWKSURL string
	// OIDCAlgorithms are the accepted signing algorithms
	// (FRESHTRACK_OIDC_ALGORITHMS). Defaults to ES256,RS256.
	OIDCAlgorithms []string
	// DevAuth also serves a development OIDC issuer on the (loopback only)
	// listen address and trusts it (FRESHTRACK_DEV_AUTH). Defaults to false.
	DevAuth bool
	// DevAuthKey is the development issuer's signing key file, created when
	// missing (FRESHTRACK_DEV_AUTH_KEY). Defaults to .freshtrack/dev-issuer.pem.
	DevAuthKey string
	// OIDCClientID identifies the web app to the identity provider for
	// sign-in (FRESHTRACK_OIDC_CLIENT_ID). Defaults to OIDCAudience.
	OIDCClientID string
	// OIDCClientSecret is the web app's client secret
	// (FRESHTRACK_OIDC_CLIENT_SECRET). Defaults to empty: a public client,
	// protected by PKCE.
	OIDCClientSecret string
	// OIDCAuthURL and OIDCTokenURL are the provider's authorization and
	// token endpoints (FRESHTRACK_OIDC_AUTH_URL, FRESHTRACK_OIDC_TOKEN_URL).
	// Defaults to empty: from OIDC discovery.
	OIDCAuthURL, OIDCTokenURL string
	// WebSessionTTL is how long a web sign-in lasts
	// (FRESHTRACK_WEB_SESSION_TTL). Defaults to 12h.
	WebSessionTTL time.Duration
	// PublicURL is the base URL people reach the service at, for links in
	// alert messages and the web sign-in's callback (FRESHTRACK_PUBLIC_URL).
	// Defaults to http://<Addr>.
	PublicURL string
	// TelnyxAPIKey enables SMS through Telnyx (FRESHTRACK_TELNYX_API_KEY).
	// Defaults to empty: SMS notifications fail as "sms not configured".
	TelnyxAPIKey string
	// TelnyxFrom is the sending number in E.164 (FRESHTRACK_TELNYX_FROM).
	// Defaults to empty.
	TelnyxFrom string
	// TelnyxBaseURL is the Telnyx API (FRESHTRACK_TELNYX_BASE_URL).
	// Defaults to https://api.telnyx.com.
	TelnyxBaseURL string
	// TelnyxMessagingProfileID is sent with every message when set
	// (FRESHTRACK_TELNYX_MESSAGING_PROFILE_ID). Defaults to empty.
	TelnyxMessagingProfileID string
	// TelnyxPublicKey (base64 Ed25519) verifies delivery webhooks at
	// /v1/webhooks/telnyx (FRESHTRACK_TELNYX_PUBLIC_KEY). Defaults to empty:
	// the webhook answers 503.
	TelnyxPublicKey string
	// TelnyxRate caps messages per second for the account
	// (FRESHTRACK_TELNYX_RATE). Defaults to 10.
	TelnyxRate float64
	// UnsubscribeKey signs the one-click unsubscribe links in emails
	// (FRESHTRACK_UNSUBSCRIBE_KEY, secret, at least 32 characters). Every
	// instance needs the same key. Defaults to empty: a key generated once
	// and kept in the database (server_secrets), so links keep working
	// across restarts and instances without configuration.
	UnsubscribeKey string
	// SMSLimitPerPerson is the most SMS sent to one number in an hour; more
	// are recorded as suppressed (FRESHTRACK_SMS_LIMIT_PER_PERSON). Critical
	// alerts get twice the limit. Defaults to 10.
	SMSLimitPerPerson int
	// SMSLimitPerOrg is the most SMS of one organisation in an hour
	// (FRESHTRACK_SMS_LIMIT_PER_ORG). Critical alerts get twice the limit.
	// Defaults to 200.
	SMSLimitPerOrg int
	// SMTPHost enables email (FRESHTRACK_SMTP_HOST). Defaults to empty.
	SMTPHost string
	// SMTPPort (FRESHTRACK_SMTP_PORT). Defaults to 587.
	SMTPPort int
	// SMTPUsername and SMTPPassword authenticate to the SMTP server
	// (FRESHTRACK_SMTP_USERNAME, FRESHTRACK_SMTP_PASSWORD). Default to empty.
	SMTPUsername string
	SMTPPassword string
	// SMTPFrom is the sender address (FRESHTRACK_SMTP_FROM). Defaults to empty.
	SMTPFrom string
	// SMTPTLS is starttls, tls or none (FRESHTRACK_SMTP_TLS). Defaults to starttls.
	SMTPTLS string
	// StripeSecretKey enables billing through Stripe
	// (FRESHTRACK_STRIPE_SECRET_KEY, secret). Defaults to empty: the billing
	// routes answer 503 and sensor limits come from configuration alone.
	StripeSecretKey string
	// StripeWebhookSecret verifies Stripe-Signature on /v1/webhooks/stripe
	// (FRESHTRACK_STRIPE_WEBHOOK_SECRET, secret, whsec_...). Defaults to
	// empty: the webhook answers 503.
	StripeWebhookSecret string
	// StripeWebhookTolerance is how old a signed webhook may be
	// (FRESHTRACK_STRIPE_WEBHOOK_TOLERANCE). Defaults to 5m, Stripe's own.
	StripeWebhookTolerance time.Duration
	// StripeAPIURL is Stripe's API (FRESHTRACK_STRIPE_API_URL), e.g. a
	// stripe-mock for tests. Defaults to https://api.stripe.com.
	StripeAPIURL string
	// StripeTrialDays starts subscriptions from Checkout with a trial
	// (FRESHTRACK_STRIPE_TRIAL_DAYS). Defaults to 0: no trial.
	StripeTrialDays int
	// StripeMeterSensors and StripeMeterReadings are the event names of the
	// Billing Meters for active sensors (aggregated as last) and reading
	// volume (sum) (FRESHTRACK_STRIPE_METER_SENSORS,
	// FRESHTRACK_STRIPE_METER_READINGS). Default to FreshTrack Pro's:
	// active_sensors and temperature_readings. "off" sends none.
	StripeMeterSensors, StripeMeterReadings string
	// BillingPlans are the plans an organisation can subscribe to, as
	// name=stripe price id:sensor limit, comma-separated
	// (FRESHTRACK_BILLING_PLANS). Defaults to FreshTrack Pro's plans without
	// prices: starter=:5,pro=:25,haccp=:100 (a plan needs a price for
	// Checkout).
	BillingPlans string
	// BillingFreeSensors is how many sensors an organisation without a
	// live subscription may have, a number or "unlimited"
	// (FRESHTRACK_BILLING_FREE_SENSORS). Defaults to 10 with Stripe and to
	// unlimited without.
	BillingFreeSensors string
	// BillingPastDueGrace is how long a past-due subscription keeps adding
	// sensors (FRESHTRACK_BILLING_PAST_DUE_GRACE). Defaults to 168h (7 days).
	// Readings of existing sensors are never refused for billing.
	BillingPastDueGrace time.Duration
	// LogLevel is debug, info, warn or error (FRESHTRACK_LOG_LEVEL). Defaults to info.
	LogLevel string
	// LogFormat is text or json (FRESHTRACK_LOG_FORMAT). Defaults to text.
	LogFormat string
}

// Defaults returns a Config with every default filled in.
func Defaults() Config {
	var c Config
	c.WithDefaults()
	return c
}

// WithDefaults fills zero values with their defaults.
func (c *Config) WithDefaults() {
	c.DatabaseURL = cmp.Or(c.DatabaseURL, "postgres://postgres@127.0.0.1:5432/freshtrack?sslmode=disable")
	c.DBMaxConns = cmp.Or(c.DBMaxConns, 20)
	c.ReplicaMaxLag = cmp.Or(c.ReplicaMaxLag, 10*time.Second)
	c.Addr = cmp.Or(c.Addr, "127.0.0.1:8080")
	if len(c.Role) == 0 {
		c.Role = []string{RoleAPI, RoleIngest, RoleWorker}
	}
	c.Storage = cmp.Or(c.Storage, StorageAuto)
	c.RetentionDays = cmp.Or(c.RetentionDays, 730)
	c.PartitionsAheadDays = cmp.Or(c.PartitionsAheadDays, 7)
	c.RollupInterval = cmp.Or(c.RollupInterval, 5*time.Second)
	c.InsightInterval = cmp.Or(c.InsightInterval, time.Minute)
	c.Workers = cmp.Or(c.Workers, 10)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 15*time.Second)
	c.HTTPMaxConns = cmp.Or(c.HTTPMaxConns, 8192)
	c.HTTPBodySlots = cmp.Or(c.HTTPBodySlots, 4*runtime.GOMAXPROCS(0))
	c.HTTPBodyWait = cmp.Or(c.HTTPBodyWait, 2*time.Second)
	c.IngestMaxBodyBytes = cmp.Or(c.IngestMaxBodyBytes, 8<<20)
	c.IngestMaxReadings = cmp.Or(c.IngestMaxReadings, 20_000)
	c.IngestQueueRows = cmp.Or(c.IngestQueueRows, 100_000)
	c.IngestWriters = cmp.Or(c.IngestWriters, 2)
	c.IngestBatchRows = cmp.Or(c.IngestBatchRows, 5000)
	c.IngestFlushDelay = cmp.Or(c.IngestFlushDelay, 2*time.Millisecond)
	c.IngestMaxFutureSkew = cmp.Or(c.IngestMaxFutureSkew, 5*time.Minute)
	if c.IngestMinTempC == 0 && c.IngestMaxTempC == 0 {
		c.IngestMinTempC, c.IngestMaxTempC = -100, 200
	}
	c.APIKeyCacheTTL = cmp.Or(c.APIKeyCacheTTL, 5*time.Second)
	if len(c.OIDCAlgorithms) == 0 {
		c.OIDCAlgorithms = []string{"ES256", "RS256"}
	}
	c.DevAuthKey = cmp.Or(c.DevAuthKey, ".freshtrack/dev-issuer.pem")
	c.PublicURL = cmp.Or(c.PublicURL, "http://"+c.Addr)
	c.OIDCClientID = cmp.Or(c.OIDCClientID, c.OIDCAudience)
	c.WebSessionTTL = cmp.Or(c.WebSessionTTL, 12*time.Hour)
	c.TelnyxBaseURL = cmp.Or(c.TelnyxBaseURL, "https://api.telnyx.com")
	c.TelnyxRate = cmp.Or(c.TelnyxRate, 10)
	c.SMSLimitPerPerson = cmp.Or(c.SMSLimitPerPerson, 10)
	c.SMSLimitPerOrg = cmp.Or(c.SMSLimitPerOrg, 200)
	c.SMTPPort = cmp.Or(c.SMTPPort, 587)
	c.SMTPTLS = cmp.Or(c.SMTPTLS, "starttls")
	c.StripeWebhookTolerance = cmp.Or(c.StripeWebhookTolerance, 5*time.Minute)
	c.StripeAPIURL = cmp.Or(c.StripeAPIURL, "https://api.stripe.com")
	c.StripeMeterSensors = cmp.Or(c.StripeMeterSensors, "active_sensors")
	c.StripeMeterReadings = cmp.Or(c.StripeMeterReadings, "temperature_readings")
	c.BillingPlans = cmp.Or(c.BillingPlans, "starter=:5,pro=:25,haccp=:100")
	if c.BillingFreeSensors == "" {
		c.BillingFreeSensors = "unlimited"
		if c.StripeSecretKey != "" {
			c.BillingFreeSensors = "10"
		}
	}
	c.BillingPastDueGrace = cmp.Or(c.BillingPastDueGrace, 7*24*time.Hour)
	c.LogLevel = cmp.Or(c.LogLevel, "info")
	c.LogFormat = cmp.Or(c.LogFormat, "text")
}

// FieldError names the configuration field (as its environment variable) that
// holds a bad value and says what is allowed.
type FieldError struct {
	Env     string
	Value   string
	Allowed string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid %s=%q: %s", e.Env, e.Value, e.Allowed)
}

// Validate reports the first bad field. It expects WithDefaults to have run.
func (c *Config) Validate() error {
	bad := func(env string, v any, allowed string) error {
		return &FieldError{Env: env, Value: fmt.Sprint(v), Allowed: allowed}
	}
	if _, err := pgconn.ParseConfig(c.DatabaseURL); err != nil {
		return bad("DATABASE_URL", Redact(c.DatabaseURL), "must be a PostgreSQL URL (postgres://user@host:5432/db) or key=value connection string")
	}
	if c.DatabaseReplicaURL != "" {
		if _, err := pgconn.ParseConfig(c.DatabaseReplicaURL); err != nil {
			return bad("FRESHTRACK_DATABASE_REPLICA_URL", Redact(c.DatabaseReplicaURL), "must be a PostgreSQL URL (postgres://user@replica:5432/db) or key=value connection string, or empty")
		}
	}
	if c.ReplicaMaxLag < 100*time.Millisecond || c.ReplicaMaxLag > time.Hour {
		return bad("FRESHTRACK_REPLICA_MAX_LAG", c.ReplicaMaxLag, "must be between 100ms and 1h")
	}
	if c.DatabaseDirectURL != "" {
		if _, err := pgconn.ParseConfig(c.DatabaseDirectURL); err != nil {
			return bad("FRESHTRACK_DATABASE_DIRECT_URL", Redact(c.DatabaseDirectURL), "must be a PostgreSQL URL (postgres://user@host:5432/db) or key=value connection string of PostgreSQL itself, or empty when DATABASE_URL is not a pooler")
		}
	}
	if c.DBMaxConns < 4 || c.DBMaxConns > 1000 {
		return bad("FRESHTRACK_DB_MAX_CONNS", c.DBMaxConns, "must be between 4 and 1000")
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return bad("REDIS_URL", Redact(c.RedisURL), "must be a redis://, rediss:// or unix:// URL, or empty")
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return bad("FRESHTRACK_ADDR", c.Addr, "must be host:port, e.g. 127.0.0.1:8080 or :8080")
	}
	if len(c.Role) == 0 {
		return bad("FRESHTRACK_ROLE", "", "must list at least one of api, ingest, worker")
	}
	for _, r := range c.Role {
		if r != RoleAPI && r != RoleIngest && r != RoleWorker {
			return bad("FRESHTRACK_ROLE", strings.Join(c.Role, ","), "must be a comma-separated list of api, ingest, worker")
		}
	}
	if c.Storage != StorageAuto && c.Storage != StoragePostgres && c.Storage != StorageTimescale {
		return bad("FRESHTRACK_STORAGE", c.Storage, "must be auto, timescale or postgres")
	}
	if c.RetentionDays < 1 || c.RetentionDays > 36500 {
		return bad("FRESHTRACK_RETENTION_DAYS", c.RetentionDays, "must be between 1 and 36500 days")
	}
	if c.PartitionsAheadDays < 1 || c.PartitionsAheadDays > 366 {
		return bad("FRESHTRACK_PARTITIONS_AHEAD_DAYS", c.PartitionsAheadDays, "must be between 1 and 366 days")
	}
	if c.RollupInterval < time.Second || c.RollupInterval > time.Hour {
		return bad("FRESHTRACK_ROLLUP_INTERVAL", c.RollupInterval, "must be between 1s and 1h")
	}
	if c.InsightInterval < time.Second || c.InsightInterval > 15*time.Minute {
		return bad("FRESHTRACK_INSIGHT_INTERVAL", c.InsightInterval, "must be between 1s and 15m")
	}
	if c.Workers < 1 || c.Workers > 10000 {
		return bad("FRESHTRACK_WORKERS", c.Workers, "must be between 1 and 10000")
	}
	if c.ShutdownTimeout < 0 || c.ShutdownTimeout > 10*time.Minute {
		return bad("FRESHTRACK_SHUTDOWN_TIMEOUT", c.ShutdownTimeout, "must be between 0s and 10m")
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > time.Minute {
		return bad("FRESHTRACK_SHUTDOWN_DELAY", c.ShutdownDelay, "must be between 0s and 1m")
	}
	if c.HTTPMaxConns < 16 || c.HTTPMaxConns > 1<<20 {
		return bad("FRESHTRACK_HTTP_MAX_CONNS", c.HTTPMaxConns, "must be between 16 and 1048576")
	}
	if c.HTTPBodySlots < 1 || c.HTTPBodySlots > 4096 {
		return bad("FRESHTRACK_HTTP_BODY_SLOTS", c.HTTPBodySlots, "must be between 1 and 4096")
	}
	if c.EventsTicketKey != "" && len(c.EventsTicketKey) < 32 {
		return bad("FRESHTRACK_EVENTS_TICKET_KEY", "(secret)", "must be at least 32 characters")
	}
	if c.HTTPBodyWait < time.Millisecond || c.HTTPBodyWait > time.Minute {
		return bad("FRESHTRACK_HTTP_BODY_WAIT", c.HTTPBodyWait, "must be between 1ms and 1m")
	}
	if c.IngestMaxBodyBytes < 1024 || c.IngestMaxBodyBytes > 1<<30 {
		return bad("FRESHTRACK_INGEST_MAX_BODY_BYTES", c.IngestMaxBodyBytes, "must be between 1024 and 1073741824 bytes")
	}
	if c.IngestMaxReadings < 1 || c.IngestMaxReadings > 1_000_000 {
		return bad("FRESHTRACK_INGEST_MAX_READINGS", c.IngestMaxReadings, "must be between 1 and 1000000")
	}
	if c.IngestQueueRows < c.IngestMaxReadings || c.IngestQueueRows > 100_000_000 {
		return bad("FRESHTRACK_INGEST_QUEUE_ROWS", c.IngestQueueRows, fmt.Sprintf("must be at least FRESHTRACK_INGEST_MAX_READINGS (%d) and at most 100000000", c.IngestMaxReadings))
	}
	if c.IngestWriters < 1 || c.IngestWriters > 64 || c.IngestWriters > c.DBMaxConns-2 {
		return bad("FRESHTRACK_INGEST_WRITERS", c.IngestWriters, "must be between 1 and 64 and leave 2 of FRESHTRACK_DB_MAX_CONNS free")
	}
	if c.IngestBatchRows < 1 || c.IngestBatchRows > 1_000_000 {
		return bad("FRESHTRACK_INGEST_BATCH_ROWS", c.IngestBatchRows, "must be between 1 and 1000000")
	}
	if c.IngestFlushDelay < 0 || c.IngestFlushDelay > time.Second {
		return bad("FRESHTRACK_INGEST_FLUSH_DELAY", c.IngestFlushDelay, "must be between 0s and 1s")
	}
	if c.IngestMaxFutureSkew < 0 || c.IngestMaxFutureSkew > 24*time.Hour {
		return bad("FRESHTRACK_INGEST_MAX_FUTURE_SKEW", c.IngestMaxFutureSkew, "must be between 0s and 24h")
	}
	if c.IngestMinTempC >= c.IngestMaxTempC {
		return bad("FRESHTRACK_INGEST_MIN_TEMP_C", c.IngestMinTempC, fmt.Sprintf("must be below FRESHTRACK_INGEST_MAX_TEMP_C (%g)", c.IngestMaxTempC))
	}
	if c.APIKeyCacheTTL < 0 || c.APIKeyCacheTTL > time.Minute {
		return bad("FRESHTRACK_APIKEY_CACHE_TTL", c.APIKeyCacheTTL, "must be between 0s and 1m")
	}
	if (c.OIDCIssuer == "") != (c.OIDCAudience == "") {
		return bad("FRESHTRACK_OIDC_AUDIENCE", c.OIDCAudience, "set both FRESHTRACK_OIDC_ISSUER and FRESHTRACK_OIDC_AUDIENCE, or neither")
	}
	if c.OIDCIssuer != "" {
		if u, err := url.Parse(c.OIDCIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("FRESHTRACK_OIDC_ISSUER", c.OIDCIssuer, "must be the issuer's URL, e.g. https://api.stack-auth.com/api/v1/projects/<id>")
		}
	}
	for _, e := range []struct{ env, v string }{{"FRESHTRACK_OIDC_AUTH_URL", c.OIDCAuthURL}, {"FRESHTRACK_OIDC_TOKEN_URL", c.OIDCTokenURL}} {
		if e.v == "" {
			continue
		}
		if u, err := url.Parse(e.v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad(e.env, e.v, "must be an http(s) URL or empty for discovery")
		}
	}
	if c.WebSessionTTL < time.Minute || c.WebSessionTTL > 30*24*time.Hour {
		return bad("FRESHTRACK_WEB_SESSION_TTL", c.WebSessionTTL.String(), "must be between 1m and 720h")
	}
	if c.OIDCJWKSURL != "" {
		if u, err := url.Parse(c.OIDCJWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("FRESHTRACK_OIDC_JWKS_URL", c.OIDCJWKSURL, "must be an http(s) URL or empty for discovery")
		}
	}
	for _, a := range c.OIDCAlgorithms {
		if !slices.Contains([]string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}, a) {
			return bad("FRESHTRACK_OIDC_ALGORITHMS", strings.Join(c.OIDCAlgorithms, ","), "must list asymmetric JWS algorithms such as ES256,RS256 (never none or HS*)")
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("FRESHTRACK_PUBLIC_URL", c.PublicURL, "must be an http(s) base URL such as https://freshtrack.example.com")
	}
	if (c.TelnyxAPIKey == "") != (c.TelnyxFrom == "") {
		return bad("FRESHTRACK_TELNYX_FROM", c.TelnyxFrom, "set both FRESHTRACK_TELNYX_API_KEY and FRESHTRACK_TELNYX_FROM (an E.164 number), or neither")
	}
	if c.TelnyxRate <= 0 || c.TelnyxRate > 1000 {
		return bad("FRESHTRACK_TELNYX_RATE", c.TelnyxRate, "must be between 0 and 1000 messages per second")
	}
	if c.UnsubscribeKey != "" && len(c.UnsubscribeKey) < 32 {
		return bad("FRESHTRACK_UNSUBSCRIBE_KEY", "(secret)", "must be at least 32 characters (empty: generated and kept in the database)")
	}
	if c.SMSLimitPerPerson < 1 || c.SMSLimitPerPerson > 100000 {
		return bad("FRESHTRACK_SMS_LIMIT_PER_PERSON", c.SMSLimitPerPerson, "must be between 1 and 100000 SMS per hour")
	}
	if c.SMSLimitPerOrg < 1 || c.SMSLimitPerOrg > 10000000 {
		return bad("FRESHTRACK_SMS_LIMIT_PER_ORG", c.SMSLimitPerOrg, "must be between 1 and 10000000 SMS per hour")
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		return bad("FRESHTRACK_SMTP_FROM", c.SMTPFrom, "must be set when FRESHTRACK_SMTP_HOST is")
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		return bad("FRESHTRACK_SMTP_PORT", c.SMTPPort, "must be a TCP port")
	}
	if c.SMTPTLS != "starttls" && c.SMTPTLS != "tls" && c.SMTPTLS != "none" {
		return bad("FRESHTRACK_SMTP_TLS", c.SMTPTLS, "must be starttls, tls or none")
	}
	if c.StripeWebhookSecret != "" && c.StripeSecretKey == "" {
		return bad("FRESHTRACK_STRIPE_SECRET_KEY", "", "must be set when FRESHTRACK_STRIPE_WEBHOOK_SECRET is")
	}
	if c.StripeWebhookTolerance < time.Second || c.StripeWebhookTolerance > time.Hour {
		return bad("FRESHTRACK_STRIPE_WEBHOOK_TOLERANCE", c.StripeWebhookTolerance, "must be between 1s and 1h")
	}
	if u, err := url.Parse(c.StripeAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return bad("FRESHTRACK_STRIPE_API_URL", c.StripeAPIURL, "must be an http(s) base URL without a path, such as https://api.stripe.com")
	}
	if c.StripeTrialDays < 0 || c.StripeTrialDays > 730 {
		return bad("FRESHTRACK_STRIPE_TRIAL_DAYS", c.StripeTrialDays, "must be between 0 and 730 days (Stripe's limit)")
	}
	for _, m := range []struct{ env, v string }{{"FRESHTRACK_STRIPE_METER_SENSORS", c.StripeMeterSensors}, {"FRESHTRACK_STRIPE_METER_READINGS", c.StripeMeterReadings}} {
		if !meterName.MatchString(m.v) {
			return bad(m.env, m.v, "must be a Billing Meter event name (letters, digits, _ . - and :, at most 100) or off")
		}
	}
	if c.BillingFreeSensors != "unlimited" {
		if n, err := strconv.Atoi(c.BillingFreeSensors); err != nil || n < 0 || n > 10_000_000 {
			return bad("FRESHTRACK_BILLING_FREE_SENSORS", c.BillingFreeSensors, "must be a number of sensors (0 to 10000000) or unlimited")
		}
	}
	if c.BillingPastDueGrace < 0 || c.BillingPastDueGrace > 90*24*time.Hour {
		return bad("FRESHTRACK_BILLING_PAST_DUE_GRACE", c.BillingPastDueGrace, "must be between 0s and 2160h (90 days)")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		return bad("FRESHTRACK_LOG_LEVEL", c.LogLevel, "must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("FRESHTRACK_LOG_FORMAT", c.LogFormat, "must be text or json")
	}
	return nil
}

var meterName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)

// BillingConfigured reports whether billing through Stripe is on.
func (c *Config) BillingConfigured() bool { return c.StripeSecretKey != "" }

// HasRole reports whether this process runs the given role.
func (c *Config) HasRole(role string) bool { return slices.Contains(c.Role, role) }

// Retention is RetentionDays as a duration.
func (c *Config) Retention() time.Duration { return time.Duration(c.RetentionDays) * 24 * time.Hour }

// LogValue keeps secrets out of logs: URLs are logged without passwords.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", Redact(c.DatabaseURL)),
		slog.String("database_replica_url", Redact(c.DatabaseReplicaURL)),
		slog.String("database_direct_url", Redact(c.DatabaseDirectURL)),
		slog.String("redis_url", Redact(c.RedisURL)),
		slog.String("addr", c.Addr),
		slog.String("role", strings.Join(c.Role, ",")),
		slog.String("storage", c.Storage),
		slog.Int("retention_days", c.RetentionDays),
		slog.Int("db_max_conns", c.DBMaxConns),
		slog.Int("workers", c.Workers),
	)
}

// Redact returns a URL with its password replaced, for logs and messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "(unparseable URL with credentials)"
		}
		return raw
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// IsFieldError reports whether err is a configuration error.
func IsFieldError(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe)
}
