package config

import (
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// flagEnv maps a flag name to its environment variable.
func flagEnv(name string) string {
	switch name {
	case "database-url":
		return "DATABASE_URL"
	case "redis-url":
		return "REDIS_URL"
	}
	return "FRESHTRACK_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Bind registers flags for the fields in groups on fs. Each flag's usage names
// its environment variable; call Load after parsing to apply the environment
// to flags that were not set on the command line.
func (c *Config) Bind(fs *pflag.FlagSet, groups ...Group) {
	d := Defaults()
	u := func(name, text string) string { return text + " [$" + flagEnv(name) + "]" }
	for _, g := range groups {
		switch g {
		case GroupDatabase:
			fs.StringVar(&c.DatabaseURL, "database-url", d.DatabaseURL, u("database-url", "PostgreSQL connection URL"))
			fs.StringVar(&c.DatabaseDirectURL, "database-direct-url", d.DatabaseDirectURL, u("database-direct-url", "PostgreSQL itself when --database-url is a transaction pooler such as PgBouncer (empty: --database-url serves both)"))
			fs.IntVar(&c.DBMaxConns, "db-max-conns", d.DBMaxConns, u("db-max-conns", "maximum pooled database connections"))
			fs.StringVar(&c.Storage, "storage", d.Storage, u("storage", "storage mode chosen at migrate time: auto, timescale or postgres"))
			fs.IntVar(&c.RetentionDays, "retention-days", d.RetentionDays, u("retention-days", "days of raw readings to keep"))
		case GroupServe:
			fs.StringVar(&c.DatabaseReplicaURL, "database-replica-url", d.DatabaseReplicaURL, u("database-replica-url", "streaming replica serving series, latest values and reports while within --replica-max-lag (empty: none)"))
			fs.DurationVar(&c.ReplicaMaxLag, "replica-max-lag", d.ReplicaMaxLag, u("replica-max-lag", "replay lag under which the replica serves reads; beyond it they go to the primary"))
			fs.StringVar(&c.RedisURL, "redis-url", d.RedisURL, u("redis-url", "Redis URL for shared caches and fan-out (empty: in-process)"))
			fs.StringVar(&c.Addr, "addr", d.Addr, u("addr", "HTTP listen address"))
			fs.StringSliceVar(&c.Role, "role", d.Role, u("role", "roles this process runs: api, ingest, worker"))
			fs.BoolVar(&c.Migrate, "migrate", d.Migrate, u("migrate", "run pending migrations before serving"))
			fs.IntVar(&c.PartitionsAheadDays, "partitions-ahead-days", d.PartitionsAheadDays, u("partitions-ahead-days", "daily readings partitions to create ahead (postgres mode)"))
			fs.DurationVar(&c.RollupInterval, "rollup-interval", d.RollupInterval, u("rollup-interval", "how often late readings are folded into the downsampled series"))
			fs.DurationVar(&c.InsightInterval, "insight-interval", d.InsightInterval, u("insight-interval", "how often the food-safety detectors look at what arrived"))
			fs.IntVar(&c.Workers, "workers", d.Workers, u("workers", "River workers for background jobs"))
			fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, u("shutdown-timeout", "time allowed to drain requests and jobs on shutdown"))
			fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", d.ShutdownDelay, u("shutdown-delay", "time serving on after a shutdown signal, /readyz answering 503, before draining (behind a load balancer: more than its health check interval)"))
			fs.IntVar(&c.HTTPMaxConns, "http-max-conns", d.HTTPMaxConns, u("http-max-conns", "most open HTTP connections; more are refused"))
			fs.IntVar(&c.HTTPBodySlots, "http-body-slots", d.HTTPBodySlots, u("http-body-slots", "request bodies read and decoded at once (default 4 per CPU)"))
			fs.DurationVar(&c.HTTPBodyWait, "http-body-wait", d.HTTPBodyWait, u("http-body-wait", "longest a request waits for a body slot before 503"))
			fs.StringVar(&c.EventsTicketKey, "events-ticket-key", d.EventsTicketKey, u("events-ticket-key", "key signing event-stream tickets, shared by every instance (secret; empty: random per process)"))
			fs.StringVar(&c.PprofAddr, "pprof-addr", d.PprofAddr, u("pprof-addr", "serve Go's /debug/pprof/ profiles on this loopback address (empty: off)"))
		case GroupIngest:
			fs.IntVar(&c.IngestMaxBodyBytes, "ingest-max-body-bytes", d.IngestMaxBodyBytes, u("ingest-max-body-bytes", "largest ingest body after gzip decoding"))
			fs.IntVar(&c.IngestMaxReadings, "ingest-max-readings", d.IngestMaxReadings, u("ingest-max-readings", "most readings in one ingest request"))
			fs.IntVar(&c.IngestQueueRows, "ingest-queue-rows", d.IngestQueueRows, u("ingest-queue-rows", "rows that may wait for a database flush before requests get 503"))
			fs.IntVar(&c.IngestWriters, "ingest-writers", d.IngestWriters, u("ingest-writers", "connections writing readings concurrently"))
			fs.IntVar(&c.IngestBatchRows, "ingest-batch-rows", d.IngestBatchRows, u("ingest-batch-rows", "rows per database flush"))
			fs.DurationVar(&c.IngestFlushDelay, "ingest-flush-delay", d.IngestFlushDelay, u("ingest-flush-delay", "longest a flush waits for more requests"))
			fs.DurationVar(&c.IngestMaxFutureSkew, "ingest-max-future-skew", d.IngestMaxFutureSkew, u("ingest-max-future-skew", "how far in the future a reading may be"))
			fs.Float64Var(&c.IngestMinTempC, "ingest-min-temp-c", d.IngestMinTempC, u("ingest-min-temp-c", "lowest plausible temperature"))
			fs.Float64Var(&c.IngestMaxTempC, "ingest-max-temp-c", d.IngestMaxTempC, u("ingest-max-temp-c", "highest plausible temperature"))
			fs.DurationVar(&c.APIKeyCacheTTL, "apikey-cache-ttl", d.APIKeyCacheTTL, u("apikey-cache-ttl", "how long a verified API key is trusted; revocations apply within it"))
		case GroupAuth:
			fs.StringVar(&c.OIDCIssuer, "oidc-issuer", d.OIDCIssuer, u("oidc-issuer", "issuer (iss) of user access tokens"))
			fs.StringVar(&c.OIDCAudience, "oidc-audience", d.OIDCAudience, u("oidc-audience", "audience (aud) of user access tokens"))
			fs.StringVar(&c.OIDCJWKSURL, "oidc-jwks-url", d.OIDCJWKSURL, u("oidc-jwks-url", "issuer's JWKS URL (empty: OIDC discovery)"))
			fs.StringSliceVar(&c.OIDCAlgorithms, "oidc-algorithms", d.OIDCAlgorithms, u("oidc-algorithms", "accepted token signing algorithms"))
			fs.StringVar(&c.OIDCClientID, "oidc-client-id", d.OIDCClientID, u("oidc-client-id", "the web app's OAuth client id at the issuer (default: the audience)"))
			fs.StringVar(&c.OIDCClientSecret, "oidc-client-secret", d.OIDCClientSecret, u("oidc-client-secret", "the web app's OAuth client secret (secret; empty: a public client with PKCE)"))
			fs.StringVar(&c.OIDCAuthURL, "oidc-auth-url", d.OIDCAuthURL, u("oidc-auth-url", "the issuer's authorization endpoint (empty: OIDC discovery)"))
			fs.StringVar(&c.OIDCTokenURL, "oidc-token-url", d.OIDCTokenURL, u("oidc-token-url", "the issuer's token endpoint (empty: OIDC discovery)"))
			fs.DurationVar(&c.WebSessionTTL, "web-session-ttl", d.WebSessionTTL, u("web-session-ttl", "how long a web sign-in lasts"))
			fs.BoolVar(&c.DevAuth, "dev-auth", d.DevAuth, u("dev-auth", "also serve a development OIDC issuer (loopback addresses only); mint tokens with freshtrack dev-token"))
			fs.StringVar(&c.DevAuthKey, "dev-auth-key", d.DevAuthKey, u("dev-auth-key", "development issuer's signing key file (created when missing)"))
		case GroupNotify:
			fs.StringVar(&c.PublicURL, "public-url", d.PublicURL, u("public-url", "base URL for links in alert messages (default http://<addr>)"))
			fs.StringVar(&c.TelnyxAPIKey, "telnyx-api-key", d.TelnyxAPIKey, u("telnyx-api-key", "Telnyx API key for SMS (secret)"))
			fs.StringVar(&c.TelnyxFrom, "telnyx-from", d.TelnyxFrom, u("telnyx-from", "sending number, E.164"))
			fs.StringVar(&c.TelnyxBaseURL, "telnyx-base-url", d.TelnyxBaseURL, u("telnyx-base-url", "Telnyx API base URL"))
			fs.StringVar(&c.TelnyxMessagingProfileID, "telnyx-messaging-profile-id", d.TelnyxMessagingProfileID, u("telnyx-messaging-profile-id", "Telnyx messaging profile"))
			fs.StringVar(&c.TelnyxPublicKey, "telnyx-public-key", d.TelnyxPublicKey, u("telnyx-public-key", "base64 Ed25519 key that signs Telnyx webhooks"))
			fs.Float64Var(&c.TelnyxRate, "telnyx-rate", d.TelnyxRate, u("telnyx-rate", "SMS per second for the account"))
			fs.StringVar(&c.UnsubscribeKey, "unsubscribe-key", d.UnsubscribeKey, u("unsubscribe-key", "key signing one-click unsubscribe links, shared by every instance (secret; empty: generated once and kept in the database)"))
			fs.IntVar(&c.SMSLimitPerPerson, "sms-limit-per-person", d.SMSLimitPerPerson, u("sms-limit-per-person", "most SMS to one number per hour; more are suppressed (critical alerts: twice)"))
			fs.IntVar(&c.SMSLimitPerOrg, "sms-limit-per-org", d.SMSLimitPerOrg, u("sms-limit-per-org", "most SMS of one organisation per hour; more are suppressed (critical alerts: twice)"))
			fs.StringVar(&c.SMTPHost, "smtp-host", d.SMTPHost, u("smtp-host", "SMTP server for email"))
			fs.IntVar(&c.SMTPPort, "smtp-port", d.SMTPPort, u("smtp-port", "SMTP port"))
			fs.StringVar(&c.SMTPUsername, "smtp-username", d.SMTPUsername, u("smtp-username", "SMTP user"))
			fs.StringVar(&c.SMTPPassword, "smtp-password", d.SMTPPassword, u("smtp-password", "SMTP password (secret)"))
			fs.StringVar(&c.SMTPFrom, "smtp-from", d.SMTPFrom, u("smtp-from", "sender address"))
			fs.StringVar(&c.SMTPTLS, "smtp-tls", d.SMTPTLS, u("smtp-tls", "starttls, tls or none"))
		case GroupBilling:
			fs.StringVar(&c.StripeSecretKey, "stripe-secret-key", d.StripeSecretKey, u("stripe-secret-key", "Stripe secret key; enables billing (secret)"))
			fs.StringVar(&c.StripeWebhookSecret, "stripe-webhook-secret", d.StripeWebhookSecret, u("stripe-webhook-secret", "signing secret of the Stripe webhook endpoint, whsec_... (secret)"))
			fs.DurationVar(&c.StripeWebhookTolerance, "stripe-webhook-tolerance", d.StripeWebhookTolerance, u("stripe-webhook-tolerance", "how old a signed Stripe webhook may be"))
			fs.StringVar(&c.StripeAPIURL, "stripe-api-url", d.StripeAPIURL, u("stripe-api-url", "Stripe API base URL (a stripe-mock in tests)"))
			fs.IntVar(&c.StripeTrialDays, "stripe-trial-days", d.StripeTrialDays, u("stripe-trial-days", "trial days of subscriptions started from Checkout"))
			fs.StringVar(&c.StripeMeterSensors, "stripe-meter-sensors", d.StripeMeterSensors, u("stripe-meter-sensors", "Billing Meter event name of active sensors (off: not sent)"))
			fs.StringVar(&c.StripeMeterReadings, "stripe-meter-readings", d.StripeMeterReadings, u("stripe-meter-readings", "Billing Meter event name of reading volume (off: not sent)"))
			fs.StringVar(&c.BillingPlans, "billing-plans", d.BillingPlans, u("billing-plans", "plans as name=price id:sensor limit, comma-separated"))
			fs.StringVar(&c.BillingFreeSensors, "billing-free-sensors", "", u("billing-free-sensors", "sensors allowed without a live subscription, a number or unlimited (default 10 with Stripe, unlimited without)"))
			fs.DurationVar(&c.BillingPastDueGrace, "billing-past-due-grace", d.BillingPastDueGrace, u("billing-past-due-grace", "how long a past-due subscription may still add sensors"))
		case GroupLog:
			fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, u("log-level", "log level: debug, info, warn, error"))
			fs.StringVar(&c.LogFormat, "log-format", d.LogFormat, u("log-format", "log format: text or json"))
		}
	}
}

// Group selects a set of related flags for Bind.
type Group int

// Flag groups.
const (
	GroupDatabase Group = iota
	GroupServe
	GroupIngest
	GroupAuth
	GroupNotify
	GroupBilling
	GroupLog
)

// Load applies environment variables (looked up with getenv, usually
// os.Getenv) to every flag of fs that was not set on the command line, fills
// defaults and validates. Flags win over the environment.
func (c *Config) Load(fs *pflag.FlagSet, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		env := flagEnv(f.Name)
		v := getenv(env)
		if v == "" {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if err := sv.Replace(strings.Split(v, ",")); err != nil {
				errs = append(errs, &FieldError{Env: env, Value: v, Allowed: err.Error()})
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, &FieldError{Env: env, Value: v, Allowed: "must be a valid " + f.Value.Type()})
		}
	})
	if len(errs) > 0 {
		return errs[0]
	}
	c.WithDefaults()
	return c.Validate()
}
