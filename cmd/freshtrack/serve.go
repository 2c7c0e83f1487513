package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/compat"
	"github.com/freshtrack/freshtrack/digest"
	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/lifecycle"
	"github.com/freshtrack/freshtrack/internal/replica"
	"github.com/freshtrack/freshtrack/jobs"
	"github.com/freshtrack/freshtrack/live"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/schema"
	"github.com/freshtrack/freshtrack/web"
)

func newServeCmd(e env) *cobra.Command {
	var cfg config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API, the ingest pipeline and the background workers",
		Long: `Serve runs FreshTrack: the HTTP API (/v1, /healthz, /readyz, /metrics), the
ingest pipeline (with FreshTrack Pro's /api device routes and /health) and the
River workers, in one process. --role splits them across processes. Serve refuses to start on a schema older than it expects; run
'freshtrack migrate up' first or pass --migrate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
				return err
			}
			return serve(cmd.Context(), &cfg, e, nil)
		},
	}
	cfg.Bind(cmd.Flags(), config.GroupDatabase, config.GroupServe, config.GroupIngest, config.GroupAuth, config.GroupNotify, config.GroupBilling, config.GroupLog)
	return cmd
}

// userVerifier builds the verifier of people's access tokens: the
// configured OIDC issuer, or with --dev-auth the development issuer that
// this process serves itself (registered on app). It returns the dev
// issuer's routes for the OpenAPI document.
func userVerifier(cfg *config.Config, addr string, pool *pgxpool.Pool, app *fiber.App, log *slog.Logger) (*auth.UserVerifier, []api.Route, error) {
	if cfg.DevAuth {
		dev, err := auth.LoadDevIssuer(cfg.DevAuthKey, auth.DevIssuerURL(addr))
		if err != nil {
			return nil, nil, err
		}
		routes := api.ServeDevIssuer(app, dev)
		log.Warn("development sign-in enabled: tokens from `freshtrack dev-token` are accepted", "issuer", dev.Issuer())
		v, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: dev.Issuer(), Audience: auth.DevAudience, JWKSURL: dev.JWKSURL(), Algorithms: []string{"ES256"}}, pool)
		return v, routes, err
	}
	if cfg.OIDCIssuer == "" {
		log.Warn("no identity provider configured (FRESHTRACK_OIDC_ISSUER): the people-facing API refuses every request until one is")
		return nil, nil, nil
	}
	v, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, JWKSURL: cfg.OIDCJWKSURL, Algorithms: cfg.OIDCAlgorithms}, pool)
	return v, nil, err
}

// senders builds the SMS and email senders that are configured. With
// Redis, every instance's SMS share the account's rate.
func senders(cfg *config.Config, rdb *redis.Client, log *slog.Logger) (sms, email notify.Sender, err error) {
	if cfg.TelnyxAPIKey != "" {
		tc := notify.TelnyxConfig{APIKey: cfg.TelnyxAPIKey, From: cfg.TelnyxFrom, BaseURL: cfg.TelnyxBaseURL,
			MessagingProfileID: cfg.TelnyxMessagingProfileID, RatePerSecond: cfg.TelnyxRate, WebhookURL: telnyxWebhookURL(cfg.PublicURL)}
		if tc.WebhookURL == "" {
			log.Warn("FRESHTRACK_PUBLIC_URL is a loopback address, which Telnyx cannot reach: SMS carry no webhook_url and delivery receipts come only if the messaging profile has a webhook", "public_url", cfg.PublicURL)
		}
		if rdb != nil {
			tc.Shared = notify.NewRedisRate(rdb, "freshtrack:telnyx:rate:"+cfg.TelnyxFrom, cfg.TelnyxRate)
		}
		t, err := notify.NewTelnyx(tc)
		if err != nil {
			return nil, nil, fmt.Errorf("telnyx: %w", err)
		}
		sms = t
	} else {
		log.Warn("SMS is not configured (FRESHTRACK_TELNYX_API_KEY): SMS notifications are recorded as not_configured and their text logged")
	}
	if cfg.SMTPHost != "" {
		m, err := notify.NewSMTP(notify.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
		if err != nil {
			return nil, nil, fmt.Errorf("smtp: %w", err)
		}
		email = m
	} else {
		log.Warn("email is not configured (FRESHTRACK_SMTP_HOST): email notifications are recorded as not_configured and their text logged")
	}
	return sms, email, nil
}

// ingestConfig maps configuration onto the ingest service's settings.
func ingestConfig(cfg *config.Config) ingest.Config {
	limits := ingest.DefaultLimits()
	limits.MinTempC, limits.MaxTempC = cfg.IngestMinTempC, cfg.IngestMaxTempC
	limits.MaxFutureSkew = cfg.IngestMaxFutureSkew
	// Readings older than the retention period would be dropped at once.
	limits.MaxAge = cfg.Retention()
	return ingest.Config{
		MaxBodyBytes: cfg.IngestMaxBodyBytes,
		MaxReadings:  cfg.IngestMaxReadings,
		Limits:       limits,
		Writer: ingest.WriterConfig{
			Writers:      cfg.IngestWriters,
			MaxBatchRows: cfg.IngestBatchRows,
			FlushDelay:   cfg.IngestFlushDelay,
			QueueRows:    cfg.IngestQueueRows,
		},
	}
}

// loadServeConfig parses serve's flags and environment without running it.
func loadServeConfig(e env, args ...string) (*config.Config, error) {
	var cfg config.Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.Bind(fs, config.GroupDatabase, config.GroupServe, config.GroupIngest, config.GroupAuth, config.GroupNotify, config.GroupBilling, config.GroupLog)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &cfg, cfg.Load(fs, e.getenv)
}

// serve runs until ctx is cancelled, then drains. ready, when not nil,
// receives the listen address once the server accepts connections.
func serve(ctx context.Context, cfg *config.Config, e env, ready chan<- string) error {
	log := newLogger(cfg, e.stderr)
	log.Info("starting freshtrack", "version", buildVersion(), "config", *cfg)

	// pool does the ordinary work; sessions is what needs a session of its
	// own (LISTEN, session advisory locks, River, migrations): the same
	// pool, or with FRESHTRACK_DATABASE_DIRECT_URL a small one on
	// PostgreSQL itself, past the transaction pooler that DATABASE_URL is.
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	sessions := pool
	if cfg.PooledDatabase() {
		if sessions, err = openSessionPool(ctx, cfg, sessionPoolConns); err != nil {
			return err
		}
		defer sessions.Close()
		log.Info("DATABASE_URL is a transaction pooler: sessions go to the direct URL", "exec_mode", pool.Config().ConnConfig.DefaultQueryExecMode.String())
	}

	if cfg.Migrate {
		if _, err := schema.Up(ctx, sessions, schema.MigrateOptions{Storage: cfg.Storage, Logger: log}); err != nil {
			return err
		}
	}
	st, err := schema.CheckCurrent(ctx, pool)
	if err != nil {
		return err
	}
	store, err := schema.OpenPooledStore(ctx, pool, sessions, log)
	if err != nil {
		return err
	}
	log.Info("database ready", "storage", st.Mode, "schema_version", st.Version, "river_version", st.RiverVersion)
	// Only the API reads what a replica may serve; writes never go there.
	var reads *replica.Reads
	if cfg.HasRole(config.RoleAPI) {
		var closeReplica func()
		if reads, closeReplica, err = openReads(ctx, cfg, pool, log); err != nil {
			return err
		}
		defer closeReplica()
	}

	// An insert-only River client lets the evaluator enqueue notification
	// and escalation jobs before the working client (which needs the
	// evaluator for its workers) exists.
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("river insert client: %w", err)
	}
	var rdb *redis.Client
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		rdb = redis.NewClient(opts)
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			log.Warn("redis unreachable; caches fall back to the database until it answers", "redis_url", config.Redact(cfg.RedisURL), "err", err)
		}
	}
	sms, email, err := senders(cfg, rdb, log)
	if err != nil {
		return err
	}
	unsubscribeKey, err := notify.LoadUnsubscribeKey(ctx, pool, cfg.UnsubscribeKey)
	if err != nil {
		return err
	}
	unsubscribe, err := notify.NewUnsubscriber(unsubscribeKey, cfg.PublicURL)
	if err != nil {
		return err
	}
	people := &notify.Service{DB: pool, Jobs: inserter, SMS: sms, Unsubscribe: unsubscribe}

	// Live updates: ingest's commits (through a feed) and the evaluator's
	// unit states reach the publisher; the bus carries its events to the
	// hubs of every instance (Redis) or of this one.
	hub := live.NewHub(live.HubConfig{Recheck: func(ctx context.Context, orgID, userID string) (bool, error) {
		return auth.MayRead(ctx, pool, orgID, userID)
	}})
	var bus live.Bus = live.LocalBus{Hub: hub}
	var redisBus *live.RedisBus
	if rdb != nil {
		redisBus = live.NewRedisBus(rdb, hub, log)
		bus = redisBus
	}
	publisher := live.NewPublisher(live.PublisherConfig{Bus: bus, Logger: log})

	fault, err := alerting.ParseFault(e.getenv(alerting.FaultEnv))
	if err != nil {
		return err
	}
	if fault != nil {
		log.Warn("alert evaluation faults are injected: this is a test setting", "env", alerting.FaultEnv, "value", e.getenv(alerting.FaultEnv))
	}
	alerts, err := alerting.NewEvaluator(alerting.Config{
		Pool:     pool,
		Sessions: sessions,
		Jobs:     inserter,
		Notifier: &notify.AlertNotifier{Jobs: inserter, PublicURL: cfg.PublicURL, Unsubscribe: unsubscribe},
		Logger:   log,
		Fault:    fault,
		Hooks:    alerting.Hooks{UnitState: publisher.UnitState},
	})
	if err != nil {
		return err
	}
	digests, err := digest.New(digest.Config{Pool: pool, Jobs: inserter, PublicURL: cfg.PublicURL, Unsubscribe: unsubscribe, Logger: log})
	if err != nil {
		return err
	}
	bill, err := billingService(cfg, pool, inserter, log)
	if err != nil {
		return err
	}
	worker, err := jobs.New(pool, store, jobs.Config{
		Insight:         insight.NewRunner(pool, alerts, insight.Config{Logger: log}),
		InsightInterval: cfg.InsightInterval,
		Digests:         digests,
		Billing:         bill,
		SMS:             sms,
		Email:           email,
		SMSLimits:       notify.SMSLimits{PerPerson: cfg.SMSLimitPerPerson, PerOrg: cfg.SMSLimitPerOrg},
		Alerting:        alerts,
		Workers:         cfg.Workers,
		Work:            cfg.HasRole(config.RoleWorker),
		RollupInterval:  cfg.RollupInterval,
		Upkeep:          schema.UpkeepConfig{PartitionsAhead: cfg.PartitionsAheadDays, Retention: cfg.Retention()},
		Logger:          log,
		Sessions:        sessions,
	})
	if err != nil {
		return err
	}

	if cfg.DevAuth && !auth.IsLoopback(cfg.Addr) {
		return fmt.Errorf("--dev-auth serves a development identity provider and is refused on %s: listen on a loopback address such as 127.0.0.1:8080", cfg.Addr)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set FRESHTRACK_ADDR or --addr)", cfg.Addr, err)
	}
	defer ln.Close()

	// Components start in the order they depend on each other and stop in
	// reverse: requests drain first, then ingest flushes, then the pipe
	// evaluates what was committed, then jobs stop. A start that fails
	// stops what had started (the deferred Stop; a second Stop is a no-op).
	components := lifecycle.New(log)
	defer components.Stop(ctx, cfg.ShutdownTimeout)
	if cfg.PprofAddr != "" {
		if err := components.Start(ctx, "profiles", pprofServer(cfg.PprofAddr, log)); err != nil {
			return err
		}
	}
	if cfg.HasRole(config.RoleWorker) {
		if err := components.Start(ctx, "river", worker); err != nil {
			return err
		}
	}
	if redisBus != nil && cfg.HasRole(config.RoleAPI) {
		if err := components.Start(ctx, "live events from redis", redisBus); err != nil {
			return err
		}
	}
	// Before the pipe, so that it stops after the last evaluation.
	if err := components.Start(ctx, "live publisher", publisher); err != nil {
		return err
	}

	// From the shutdown signal on, /readyz answers 503 (and, for
	// ShutdownDelay, everything else is still served), so that a load
	// balancer stops sending requests before the listener closes.
	var draining atomic.Bool
	app := api.New(api.Config{Pool: pool, Reads: reads, Logger: log, Version: buildVersion(), MaxConns: cfg.HTTPMaxConns, Draining: draining.Load})
	// FreshTrack Pro's monitors watch /health: every role answers it.
	environment := "production"
	if cfg.DevAuth {
		environment = "development"
	}
	compat.RegisterHealth(app, compat.HealthConfig{Pool: pool, Redis: rdb, Version: buildVersion(), Environment: environment, Logger: log})
	// One admission for every route's body: ingest, the API and webhooks
	// share the bound on bodies in memory.
	admission := httpbody.NewAdmission(cfg.HTTPBodySlots, cfg.HTTPBodyWait)
	var ingester *ingest.Service
	if cfg.HasRole(config.RoleIngest) {
		var legacy *compat.Service
		if ingester, legacy, err = startIngest(ctx, components, cfg, pool, store, rdb, alerts, publisher, admission, bill, log); err != nil {
			return err
		}
		ingester.Register(app)
		legacy.Register(app)
	}
	if cfg.HasRole(config.RoleAPI) {
		if err := components.Start(ctx, "live events from the database", live.NewTail(sessions, hub, log)); err != nil {
			return err
		}
		if err := registerAPI(app, cfg, ln.Addr().String(), pool, reads, alerts, ingester, hub, admission, bill, log, people); err != nil {
			return err
		}
	}
	api.NotFound(app)

	server := api.NewServer(app, ln)
	if err := components.Start(ctx, "http", server); err != nil {
		return err
	}
	// Stopped first: open streams end (with a reset event) before the HTTP
	// server drains, which they would otherwise hold up.
	if err := components.Start(ctx, "live streams", hub); err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case <-server.Done():
		return fmt.Errorf("http server: %w", server.Err())
	case <-ctx.Done():
	}
	draining.Store(true)
	if cfg.ShutdownDelay > 0 {
		log.Info("shutting down: /readyz answers 503, serving on until load balancers notice", "delay", cfg.ShutdownDelay)
		select {
		case <-server.Done():
		case <-time.After(cfg.ShutdownDelay):
		}
	}
	log.Info("shutting down: draining requests, ingest, evaluation and jobs", "timeout", cfg.ShutdownTimeout)
	err = components.Stop(ctx, cfg.ShutdownTimeout)
	log.Info("stopped")
	return err
}

// startIngest builds the ingest service, the alerting pipe that evaluates
// what it commits and the live feed that publishes it, and adds them to
// components (the pipe and the feed first, so that they stop after the
// writer closed and finish what was committed). It also returns FreshTrack
// Pro's device routes, which store through the same service.
func startIngest(ctx context.Context, components *lifecycle.Sequence, cfg *config.Config, pool *pgxpool.Pool, store *schema.Store,
	rdb *redis.Client, alerts *alerting.Evaluator, publisher *live.Publisher, admission *httpbody.Admission, bill *billing.Service, log *slog.Logger) (*ingest.Service, *compat.Service, error) {
	keyOpts := auth.KeyVerifierOptions{TTL: cfg.APIKeyCacheTTL, Redis: rdb, Logger: log}
	keys, secrets := auth.NewKeyVerifier(pool, keyOpts), auth.NewLegacySecretVerifier(pool, keyOpts)
	stopKeys := lifecycle.Hooks{OnStop: func(context.Context) error { keys.Close(); secrets.Close(); return nil }}
	if err := components.Start(ctx, "api key cache", stopKeys); err != nil {
		return nil, nil, err
	}
	// Every flush records what it stored in evaluation_backlog, owned by
	// this process while it lives: the durable handoff to alerting.
	owner, err := alerts.Claim(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := components.Start(ctx, "backlog ownership", lifecycle.Hooks{OnStop: func(context.Context) error { owner.Release(); return nil }}); err != nil {
		return nil, nil, err
	}
	icfg := ingestConfig(cfg)
	icfg.Writer.BacklogOwner = owner.Key
	icfg.Admission = admission
	// Auto-registration stays within the plan; readings of registered
	// sensors are never refused for billing.
	icfg.SensorRoom = bill.Limits().Room
	ingester, err := ingest.NewService(ctx, pool, store, keys, icfg, log)
	if err != nil {
		return nil, nil, err
	}
	// Alert rules evaluate every committed batch, right after its commit.
	if err := components.Start(ctx, "alert pipe", alerting.NewPipe(alerts, ingester.Writer(), owner, log)); err != nil {
		ingester.Close()
		return nil, nil, err
	}
	// Live reading events, right after each commit: they do not wait for
	// the evaluation, which may run behind.
	if err := components.Start(ctx, "live feed", live.NewFeed(ingester.Writer(), alerts, publisher, log)); err != nil {
		ingester.Close()
		return nil, nil, err
	}
	// Closing the service flushes the writer, which ends the pipe's and the
	// feed's subscriptions once everything committed was handed to them.
	stopIngest := lifecycle.Hooks{OnStop: func(context.Context) error { ingester.Close(); return nil }}
	if err := components.Start(ctx, "ingest", stopIngest); err != nil {
		return nil, nil, err
	}
	legacy, err := compat.New(compat.Config{Pool: pool, Ingest: ingester, Keys: keys, Secrets: secrets, Admission: admission, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return ingester, legacy, nil
}

// webApp builds the web app: sign-in with the configured issuer, or the
// development issuer (with its one-click demo personas) under --dev-auth.
func webApp(cfg *config.Config, addr string, pool *pgxpool.Pool, users *auth.UserVerifier, log *slog.Logger) (*web.App, error) {
	wc := web.Config{Pool: pool, Users: users, PublicURL: cfg.PublicURL, SessionTTL: cfg.WebSessionTTL, Version: buildVersion(), Logger: log,
		OIDC: web.OIDCClient{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			AuthURL: cfg.OIDCAuthURL, TokenURL: cfg.OIDCTokenURL}}
	if cfg.DevAuth {
		wc.OIDC = web.OIDCClient{Issuer: auth.DevIssuerURL(addr), ClientID: auth.DevAudience}
		wc.Personas = auth.DevPersonas()
		// The callback must come back to the address the issuer serves.
		wc.PublicURL = "http://" + addr
	}
	return web.New(wc)
}

// registerAPI mounts the people-facing API, the Telnyx webhook and the
// OpenAPI document on app.
func registerAPI(fiberApp *fiber.App, cfg *config.Config, addr string, pool *pgxpool.Pool, reads *replica.Reads, alerts *alerting.Evaluator,
	ingester *ingest.Service, hub *live.Hub, admission *httpbody.Admission, bill *billing.Service, log *slog.Logger, people *notify.Service) error {
	users, extra, err := userVerifier(cfg, addr, pool, fiberApp, log)
	if err != nil {
		return err
	}
	deps := api.Deps{Pool: pool, Reads: reads, Users: users, Logger: log, Alerts: alerts, Admission: admission,
		Live: hub, Tickets: live.NewTickets([]byte(cfg.EventsTicketKey)), Billing: bill, Notify: people}
	// The web app signs people in with the same identity provider and
	// calls the same API with its session cookie.
	if users != nil {
		app, err := webApp(cfg, addr, pool, users, log)
		if err != nil {
			return err
		}
		deps.Sessions = app.Sessions()
		app.Register(fiberApp)
	} else {
		web.RegisterUnconfigured(fiberApp, buildVersion())
	}
	if ingester != nil {
		deps.SensorsChanged = ingester.SensorsChanged
		deps.Latest = ingester.Latest()
	}
	router := api.NewRouter(fiberApp, deps)
	api.RegisterV1(router)
	var telnyxKey ed25519.PublicKey
	if cfg.TelnyxPublicKey != "" {
		if telnyxKey, err = notify.ParseTelnyxPublicKey(cfg.TelnyxPublicKey); err != nil {
			return fmt.Errorf("FRESHTRACK_TELNYX_PUBLIC_KEY: %w", err)
		}
	}
	api.RegisterTelnyxWebhook(fiberApp, pool, telnyxKey, admission, log)
	api.RegisterStripeWebhook(fiberApp, bill, admission, log)
	var unsubscribe *notify.Unsubscriber
	if people != nil {
		unsubscribe = people.Unsubscribe
	}
	api.RegisterUnsubscribe(fiberApp, pool, unsubscribe, admission, log)
	extra = append(extra, api.TelnyxWebhookRoute, api.StripeWebhookRoute)
	extra = append(extra, api.UnsubscribeRoutes...)
	router.ServeOpenAPI(buildVersion(), append(extra, api.OperationalRoutes()...)...)
	return nil
}

// telnyxWebhookURL is where Telnyx posts the delivery receipts of the SMS
// this server sends: the public URL plus the webhook's path. A loopback
// public URL (the default http://<addr>) cannot be reached from Telnyx, so
// it gives none rather than a URL that would only produce failed webhooks.
func telnyxWebhookURL(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	if h := u.Hostname(); h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + api.TelnyxWebhookRoute.Path
}
