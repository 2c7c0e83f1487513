package compat

import (
	"cmp"
	"errors"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/httpbody"
)

// Config configures the legacy device routes.
type Config struct {
	// Pool holds the units and sensors readings are mapped to.
	Pool *pgxpool.Pool
	// Ingest stores the readings, as the native routes do.
	Ingest *ingest.Service
	// Keys verifies FreshTrack API keys (ftk_...) and Secrets FreshTrack
	// Pro's secrets.
	Keys    *auth.KeyVerifier
	Secrets *auth.LegacySecretVerifier
	// Admission bounds the bodies read at once, shared with every route
	// (nil: unbounded).
	Admission *httpbody.Admission
	// MaxBodyBytes caps a request body once decoded. Defaults to 1 MiB,
	// FreshTrack Pro's (Fastify's) limit, which its devices kept to.
	MaxBodyBytes int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service answers the legacy device routes.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns the legacy routes' service.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Ingest == nil || cfg.Keys == nil || cfg.Secrets == nil {
		return nil, errors.New("compat: Config needs Pool, Ingest, Keys and Secrets")
	}
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, 1<<20)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Logger}, nil
}

// Register adds the legacy device routes to app (the health routes are
// RegisterHealth's).
func (s *Service) Register(app *fiber.App) {
	app.Post("/api/ingest/readings", handle(s.log, s.postReadings))
	app.Post("/api/webhooks/ttn", handle(s.log, s.postUplink))
	app.Post("/api/webhooks/ttn/:orgId/uplink", handle(s.log, s.postUplink))
	app.Post("/api/webhooks/ttn/:orgId/join", handle(s.log, s.postJoin))
}

// readJSON reads a JSON body through httpbody (bounded, under admission)
// and checks it is one valid JSON text. A request without Content-Type is
// taken to send JSON, as devices often do. The caller closes the body.
func (s *Service) readJSON(c *fiber.Ctx) (*httpbody.Body, error) {
	if ct := string(c.Request().Header.ContentType()); ct != "" && !httpbody.IsJSON(ct) {
		return nil, httpbody.WrongContentType(ct, "application/json")
	}
	body, err := httpbody.Read(c, s.cfg.Admission, httpbody.Options{Limit: s.cfg.MaxBodyBytes})
	if err != nil {
		return nil, err
	}
	if err := httpbody.CheckJSON(body.Bytes); err != nil {
		body.Close()
		return nil, err
	}
	return body, nil
}

// ingestAnswer is the answer of POST /api/ingest/readings: FreshTrack Pro's
// four members, and what FreshTrack adds.
type ingestAnswer struct {
	Success bool `json:"success"`
	// InsertedCount is how many of the request's readings are stored now:
	// new ones and those already stored by an earlier try (Duplicates).
	InsertedCount int `json:"insertedCount"`
	// ReadingIDs is always empty: FreshTrack has no per-reading ids.
	ReadingIDs []string `json:"readingIds"`
	// AlertsTriggered is always 0: alerts are evaluated after the commit.
	AlertsTriggered int `json:"alertsTriggered"`
	Duplicates      int `json:"duplicates"`
	// Rejected are the readings not stored, with why: of another
	// organisation's unit, implausible, of a unit with no usable sensor.
	Rejected []ingest.Rejection `json:"rejected"`
}

func (s *Service) postReadings(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	body, err := s.readJSON(c)
	if err != nil {
		return err
	}
	defer body.Close()
	readings, err := parseReadings(body.Bytes)
	if err != nil {
		return err
	}
	units, devices := distinctIDs(readings)
	m, err := resolve(c.UserContext(), s.cfg.Pool, p.OrgID, units, devices)
	if err != nil {
		s.log.Error("legacy readings: resolve units", "org", p.OrgID, "err", err)
		e := newError(fiber.StatusServiceUnavailable, "cannot look up units right now; retry shortly")
		e.RetryAfter = 1
		return e
	}
	b := &ingest.Batch{}
	ids := make([]int64, 0, len(readings))
	foreign := 0
	for i := range readings {
		r := &readings[i]
		id, isForeign, reason := m.sensorFor(r)
		if isForeign {
			foreign++
		}
		if id == 0 {
			b.Rejected = append(b.Rejected, ingest.Rejection{Index: i, Reason: reason})
			continue
		}
		b.Readings = append(b.Readings, r.Reading)
		b.Index = append(b.Index, i)
		ids = append(ids, id)
	}
	if foreign == len(readings) {
		return errForeign
	}
	out, err := s.cfg.Ingest.IngestResolved(c.UserContext(), b, ids, body)
	if err != nil {
		return err
	}
	stored := out.Accepted + out.Duplicates
	if stored == 0 {
		e := newError(fiber.StatusUnprocessableEntity, "no reading could be stored: reading "+strconv.Itoa(out.Rejected[0].Index)+": "+out.Rejected[0].Reason)
		for _, r := range out.Rejected[:min(len(out.Rejected), maxDetails)] {
			e.Details = append(e.Details, Detail{Field: "readings." + strconv.Itoa(r.Index), Message: r.Reason})
		}
		return e
	}
	rejected := out.Rejected
	if rejected == nil {
		rejected = []ingest.Rejection{}
	}
	return send(c, fiber.StatusOK, ingestAnswer{Success: true, InsertedCount: stored, ReadingIDs: []string{},
		Duplicates: out.Duplicates, Rejected: rejected})
}

// distinctIDs lists the units and devices a batch names, once each.
func distinctIDs(readings []seedReading) (units, devices []string) {
	seenUnit, seenDevice := map[string]bool{}, map[string]bool{}
	for i := range readings {
		if u := readings[i].Unit; !seenUnit[u] {
			seenUnit[u] = true
			units = append(units, u)
		}
		if d := readings[i].Device; d != "" && !seenDevice[d] {
			seenDevice[d] = true
			devices = append(devices, d)
		}
	}
	return units, devices
}
