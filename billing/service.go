package billing

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// ErrNotConfigured is returned by everything that needs Stripe when no
// secret key is configured.
var ErrNotConfigured = errors.New("billing is not configured on this server (FRESHTRACK_STRIPE_SECRET_KEY)")

// ErrWebhookNotConfigured is returned by the webhook without a signing
// secret.
var ErrWebhookNotConfigured = errors.New("Stripe webhooks are not configured on this server (FRESHTRACK_STRIPE_WEBHOOK_SECRET)")

// Config configures a Service.
type Config struct {
	// Pool holds subscriptions, stripe_events, usage_reports and sensors.
	Pool *pgxpool.Pool
	// Jobs inserts the payment-failed emails, in the webhook's transaction.
	Jobs *river.Client[pgx.Tx]
	// Limits decide the sensor limits. Required.
	Limits *Limits
	// SecretKey is the Stripe secret key; empty turns Stripe off (limits
	// still apply).
	SecretKey string
	// WebhookSecret verifies Stripe-Signature (whsec_...).
	WebhookSecret string
	// WebhookTolerance is the oldest signature accepted. Defaults to 5m.
	WebhookTolerance time.Duration
	// APIURL is Stripe's API. Defaults to https://api.stripe.com.
	APIURL string
	// TrialDays starts Checkout subscriptions with a trial when above 0.
	TrialDays int
	// MeterSensors and MeterReadings are the Billing Meter event names;
	// empty or "off" sends none.
	MeterSensors, MeterReadings string
	// PublicURL is where the web app is, for Checkout's and the portal's
	// return addresses and the links in billing emails.
	PublicURL string
	// HTTPClient calls Stripe. Defaults to one with a 30 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Service is billing: the Stripe customer of each organisation, Checkout
// and the portal, the webhook that keeps subscriptions current, the usage
// meters and the sensor limits.
type Service struct {
	cfg    Config
	limits *Limits
	api    *client.API
	log    *slog.Logger
	// afterSend, set by tests, runs after a meter event was accepted and
	// before that is recorded: a crash there.
	afterSend func(identifier string) error
}

// New returns a Service. Without a secret key it still enforces the
// limits; everything that needs Stripe returns ErrNotConfigured.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Limits == nil {
		return nil, errors.New("billing: Config.Pool and Config.Limits are required")
	}
	cfg.WebhookTolerance = cmp.Or(cfg.WebhookTolerance, 5*time.Minute)
	cfg.APIURL = strings.TrimSuffix(cmp.Or(cfg.APIURL, "https://api.stripe.com"), "/")
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, limits: cfg.Limits, log: cfg.Logger}
	if cfg.SecretKey != "" {
		if cfg.Jobs == nil {
			return nil, errors.New("billing: Config.Jobs is required with a secret key (payment-failed emails)")
		}
		be := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
			URL:        stripe.String(cfg.APIURL),
			HTTPClient: cfg.HTTPClient,
			// stripe-go retries network errors and 409/429/5xx with an
			// idempotency key of its own, so a retried POST is not doubled.
			MaxNetworkRetries: stripe.Int64(2),
			LeveledLogger:     stripeLogger{cfg.Logger},
			EnableTelemetry:   stripe.Bool(false),
		})
		s.api = &client.API{}
		s.api.Init(cfg.SecretKey, &stripe.Backends{API: be, Connect: be, Uploads: be})
	}
	return s, nil
}

// Configured reports whether Stripe is configured.
func (s *Service) Configured() bool { return s.api != nil }

// Limits returns the sensor limits.
func (s *Service) Limits() *Limits { return s.limits }

// Catalog returns the configured plans.
func (s *Service) Catalog() Catalog { return s.limits.Catalog }

// meters returns the meter event names in use.
func (s *Service) meters() []meter {
	var ms []meter
	if n := s.cfg.MeterSensors; n != "" && n != "off" {
		ms = append(ms, meter{metric: MetricActiveSensors, event: n})
	}
	if n := s.cfg.MeterReadings; n != "" && n != "off" {
		ms = append(ms, meter{metric: MetricReadings, event: n})
	}
	return ms
}

// StripeError is a call Stripe refused or that did not reach it.
type StripeError struct {
	Op  string
	Err error
}

func (e *StripeError) Error() string {
	var se *stripe.Error
	if errors.As(e.Err, &se) {
		return fmt.Sprintf("Stripe refused to %s: %s (%d %s)", e.Op, se.Msg, se.HTTPStatusCode, se.Type)
	}
	return fmt.Sprintf("cannot reach Stripe to %s: %v", e.Op, e.Err)
}

func (e *StripeError) Unwrap() error { return e.Err }

// permanent reports whether retrying the call cannot help: Stripe
// refused it as invalid (4xx other than 409 and 429).
func (e *StripeError) permanent() bool {
	var se *stripe.Error
	if !errors.As(e.Err, &se) {
		return false
	}
	c := se.HTTPStatusCode
	return c >= 400 && c < 500 && c != http.StatusConflict && c != http.StatusTooManyRequests
}

// stripeLogger sends stripe-go's own messages to slog at debug level
// (errors are returned to, and logged by, their callers).
type stripeLogger struct{ log *slog.Logger }

func (l stripeLogger) Debugf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l stripeLogger) Infof(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l stripeLogger) Warnf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l stripeLogger) Errorf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
