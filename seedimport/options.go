package seedimport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// Temperature units of the seed's readings (Options.ReadingsUnit).
const (
	Celsius    = "C"
	Fahrenheit = "F"
)

// Options configure Import and Verify.
type Options struct {
	// Source is the seed's PostgreSQL URL. It is only read, in REPEATABLE
	// READ READ ONLY transactions. Required.
	Source string
	// Target is FreshTrack's database, migrated. Required.
	Target *pgxpool.Pool
	// Issuer is the exact iss claim of the seed's Stack Auth access tokens,
	// stored as users.issuer so that a person's first sign-in finds their
	// imported row. The caller checks it against FRESHTRACK_OIDC_ISSUER.
	// Required.
	Issuer string
	// ReadingsUnit is the unit the seed's sensor_readings.temperature (and
	// alerts.trigger_temperature, manual_temperature_logs.temperature) are
	// in: C for a fresh-staged database, F for one that came from FrostGuard.
	// Unit thresholds are read in each unit's own temp_unit. Defaults to C.
	ReadingsUnit string
	// DryRun reads the seed and reports what an import would do, without
	// writing anything. Defaults to false.
	DryRun bool
	// Since imports only what the seed received after the last finished
	// import (readings newer than its watermark, or received after its
	// snapshot), and refreshes every other table. Defaults to false: a full
	// import (or the continuation of one that was interrupted).
	Since bool
	// Workers is how many chunks of readings are copied at once, each on its
	// own pair of connections. Defaults to 2.
	Workers int
	// Chunk is the time span of readings committed in one transaction; it
	// divides a UTC day (1h, 6h, 24h, ...). Defaults to 24h.
	Chunk time.Duration
	// RetentionDays is FreshTrack's FRESHTRACK_RETENTION_DAYS: an import
	// whose oldest reading is older is refused, because upkeep would drop
	// it. Zero does not check. Defaults to 0.
	RetentionDays int
	// Progress receives progress lines (a bar redrawn in place when
	// Terminal is set). Defaults to nil: none.
	Progress io.Writer
	// Terminal makes Progress a redrawn bar with rows/s and ETA instead of
	// a plain line every 10 seconds. Defaults to false.
	Terminal bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock (sensor retirement, report times). Defaults to time.Now.
	Now func() time.Time
	// LegacySecrets, when set, stores each active ttn_connections.webhook_secret
	// as an ingest credential of its organisation, in the transaction that
	// imports the organisations (auth.CreateLegacySecret has this shape; it
	// is idempotent, which a rerun needs). Defaults to nil: the secrets are
	// only counted in the report, as "to legacy secrets".
	LegacySecrets func(ctx context.Context, db database.Querier, orgID, secret, source string) (string, error)
	// TTNEncryptionSalt is the seed's TTN_ENCRYPTION_SALT, which reads the
	// webhook secrets it provisioned on TTN (ttn_webhook_secret_encrypted).
	// Defaults to DefaultTTNEncryptionSalt, the seed's own default.
	TTNEncryptionSalt string
	// ChunkCommitted, when set, is called after each chunk of readings
	// commits, with how many chunks this call committed so far. Tests use
	// it to interrupt an import at a known point. Defaults to nil.
	ChunkCommitted func(committed int)
}

// SinceSlack is how far before the last import's snapshot a --since run
// looks for readings the seed received: a seed transaction that began
// before the snapshot and committed after it stamped its rows with its own
// start time (received_at DEFAULT now()). Rows in the overlap that were
// imported already are recognised by (sensor, time) and counted as present.
const SinceSlack = 10 * time.Minute

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	o.ReadingsUnit = cmp.Or(o.ReadingsUnit, Celsius)
	o.TTNEncryptionSalt = cmp.Or(o.TTNEncryptionSalt, DefaultTTNEncryptionSalt)
	o.Workers = cmp.Or(o.Workers, 2)
	o.Chunk = cmp.Or(o.Chunk, 24*time.Hour)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports the first invalid field.
func (o Options) Validate() error {
	switch {
	case o.Source == "":
		return errors.New("seedimport: Options.Source (--from) is required: the seed database's URL")
	case o.Target == nil:
		return errors.New("seedimport: Options.Target is required")
	case o.ReadingsUnit != Celsius && o.ReadingsUnit != Fahrenheit:
		return fmt.Errorf("seedimport: ReadingsUnit %q must be C or F", o.ReadingsUnit)
	case o.Workers < 1 || o.Workers > 16:
		return fmt.Errorf("seedimport: Workers %d must be between 1 and 16", o.Workers)
	case o.Chunk < time.Hour || o.Chunk > 24*time.Hour || (24*time.Hour)%o.Chunk != 0:
		return fmt.Errorf("seedimport: Chunk %s must divide a day: 1h, 2h, 3h, 4h, 6h, 8h, 12h or 24h", o.Chunk)
	case o.RetentionDays < 0:
		return fmt.Errorf("seedimport: RetentionDays %d must not be negative", o.RetentionDays)
	}
	if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("seedimport: Issuer %q must be the issuer URL of the seed's access tokens, e.g. https://api.stack-auth.com/api/v1/projects/<project id>", o.Issuer)
	}
	return nil
}

// redactURL is a URL without its password, for reports and import_runs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
