package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/safety"
	"github.com/freshtrack/freshtrack/schema"
)

// Config configures the ingest service.
type Config struct {
	// MaxBodyBytes caps a request body after gzip decoding. Defaults to 8 MiB.
	MaxBodyBytes int
	// MaxReadings caps the readings of one request. Defaults to 20000.
	MaxReadings int
	// Limits are the per-reading plausibility checks. Defaults to DefaultLimits().
	Limits Limits
	// Writer configures the group-commit writer.
	Writer WriterConfig
	// PersistInterval is how often latest values are written to
	// sensor_latest. Defaults to 2s.
	PersistInterval time.Duration
	// SensorTTL is how long a resolved sensor is trusted before it is checked
	// again (so retirements apply within it). Defaults to 30s.
	SensorTTL time.Duration
	// OrgTTL is how long organisation settings (auto-registration, TTN
	// field names) are cached. Defaults to 30s.
	OrgTTL time.Duration
	// SensorRoom, when set, bounds auto-registration by the organisation's
	// plan (billing); without it auto-registration has no limit.
	SensorRoom SensorRoom
	// Admission bounds the request bodies read and parsed at once, shared
	// with the API's routes (nil: unbounded). A request gives its slot up
	// once its rows are ready, before it waits for the group commit.
	Admission *httpbody.Admission
}

// WithDefaults returns c with zero fields (and the writer's) set to their
// defaults.
func (c Config) WithDefaults() Config {
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 8<<20)
	c.MaxReadings = cmp.Or(c.MaxReadings, 20_000)
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits()
	}
	c.PersistInterval = cmp.Or(c.PersistInterval, 2*time.Second)
	c.SensorTTL = cmp.Or(c.SensorTTL, 30*time.Second)
	c.OrgTTL = cmp.Or(c.OrgTTL, 30*time.Second)
	c.Writer = c.Writer.WithDefaults()
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("ingest: Config.MaxBodyBytes %d must be at least 1024", c.MaxBodyBytes)
	case c.MaxReadings < 1:
		return fmt.Errorf("ingest: Config.MaxReadings %d must be at least 1", c.MaxReadings)
	case c.MaxReadings > c.Writer.QueueRows:
		return fmt.Errorf("ingest: the queue (WriterConfig.QueueRows %d) must hold at least one full request (Config.MaxReadings %d)", c.Writer.QueueRows, c.MaxReadings)
	case c.PersistInterval < 10*time.Millisecond:
		return fmt.Errorf("ingest: Config.PersistInterval %s must be at least 10ms", c.PersistInterval)
	case c.SensorTTL < 0 || c.OrgTTL < 0:
		return fmt.Errorf("ingest: Config.SensorTTL %s and OrgTTL %s must not be negative", c.SensorTTL, c.OrgTTL)
	case c.Limits.MinTempC >= c.Limits.MaxTempC:
		return fmt.Errorf("ingest: Limits.MinTempC %g must be below MaxTempC %g", c.Limits.MinTempC, c.Limits.MaxTempC)
	}
	return c.Writer.Validate()
}

// Service is the ingest path: HTTP adapter, decoding, validation, sensor
// resolution and the group-commit writer.
type Service struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	cfg     Config
	keys    *auth.KeyVerifier
	sensors *SensorDirectory
	orgs    *orgCache
	writer  *Writer
	latest  *Latest
	parsers ParserPool
	reqs    sync.Pool // *reqCtx

	stopPersist context.CancelFunc
	persistDone chan struct{}

	mRejected  map[string]*metrics.Counter
	mReqRows   *metrics.Histogram
	mBodyBytes *metrics.Histogram
}

// NewService builds the ingest service and starts its writer and the
// persistence of latest values. Close stops them.
func NewService(ctx context.Context, pool *pgxpool.Pool, store *schema.Store, keys *auth.KeyVerifier, cfg Config, log *slog.Logger) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	latest := NewLatest()
	if err := latest.Load(ctx, pool, 3*24*time.Hour); err != nil {
		return nil, err
	}
	writer, err := NewWriter(pool, store, latest, cfg.Writer, log)
	if err != nil {
		return nil, err
	}
	s := &Service{
		pool:       pool,
		log:        log,
		cfg:        cfg,
		keys:       keys,
		sensors:    NewSensorDirectory(pool, cfg.SensorTTL, 5*time.Second),
		orgs:       &orgCache{pool: pool, ttl: cfg.OrgTTL, m: map[string]orgEntry{}},
		latest:     latest,
		writer:     writer,
		mReqRows:   metrics.GetOrCreateHistogram(`freshtrack_ingest_request_readings`),
		mBodyBytes: metrics.GetOrCreateHistogram(`freshtrack_ingest_request_bytes`),
		mRejected:  map[string]*metrics.Counter{},
	}
	s.sensors.room = cfg.SensorRoom
	for _, reason := range []string{"invalid", "out_of_range", "unknown_sensor", "retired_sensor", "sensor_limit"} {
		s.mRejected[reason] = metrics.GetOrCreateCounter(`freshtrack_ingest_rows_total{result="rejected",reason="` + reason + `"}`)
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopPersist = cancel
	s.persistDone = make(chan struct{})
	go func() {
		defer close(s.persistDone)
		latest.RunPersist(pctx, pool, cfg.PersistInterval, log)
	}()
	return s, nil
}

// Writer is the service's group-commit writer (for subscribers).
func (s *Service) Writer() *Writer { return s.writer }

// Latest is the service's cache of latest values.
func (s *Service) Latest() *Latest { return s.latest }

// Close drains the writer and persists latest values one last time. Call it
// after the HTTP server stopped taking requests.
func (s *Service) Close() {
	s.writer.Close()
	s.stopPersist()
	<-s.persistDone
}

// Register adds the ingest routes to app.
func (s *Service) Register(app *fiber.App) {
	app.Post("/v1/readings", s.postReadings)
	app.Post("/v1/ingest/ttn", s.postTTN)
}

// reqCtx holds one request's reusable buffers.
type reqCtx struct {
	batch Batch
	ids   []int64
	rows  []Row
	doors doors
	out   []byte
	body  *httpbody.Body
}

func (s *Service) getReq() *reqCtx {
	if v := s.reqs.Get(); v != nil {
		return v.(*reqCtx)
	}
	return &reqCtx{}
}

func (s *Service) putReq(rc *reqCtx) {
	rc.batch.Reset()
	rc.doors.reset()
	rc.body.Close()
	rc.ids, rc.rows, rc.out, rc.body = rc.ids[:0], rc.rows[:0], rc.out[:0], nil
	// Don't keep giant buffers from the odd huge request.
	if cap(rc.rows) > 1<<16 {
		return
	}
	s.reqs.Put(rc)
}

var errUnauthorized = &problem.Problem{
	Type: problem.TypeBase + "unauthorized", Title: "Unauthorized", Status: fiber.StatusUnauthorized,
	Detail: "send a valid API key as 'Authorization: Bearer ftk_...' or 'X-API-Key: ftk_...'",
}

func (s *Service) authenticate(c *fiber.Ctx) (auth.Principal, error) {
	key, ok := auth.ParseAuthorization(c.Request().Header.Peek(fiber.HeaderAuthorization), c.Request().Header.Peek("X-API-Key"))
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="freshtrack"`)
		return auth.Principal{}, errUnauthorized
	}
	p, err := s.keys.Verify(c.UserContext(), key)
	if errors.Is(err, auth.ErrUnauthorized) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="freshtrack", error="invalid_token"`)
		return p, errUnauthorized
	}
	if err != nil {
		return p, problem.Unavailable("cannot verify the API key right now; retry shortly", 2)
	}
	if !slices.Contains(p.Scopes, "ingest") {
		return p, problem.New(fiber.StatusForbidden, "forbidden", "Forbidden", "this API key lacks the ingest scope")
	}
	return p, nil
}

// readBody reads the request body through httpbody (decoded, limited to
// MaxBodyBytes, under admission) into rc.body; ndjson says whether it is
// newline-delimited. Devices that send no Content-Type are taken to send
// JSON.
func (s *Service) readBody(c *fiber.Ctx, rc *reqCtx, allowNDJSON bool) (body []byte, ndjson bool, err error) {
	ct := string(c.Request().Header.ContentType())
	switch mt, utf8 := httpbody.MediaType(ct); {
	case ct == "" || utf8 && httpbody.IsJSON(mt):
	case allowNDJSON && utf8 && (mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/x-jsonlines"):
		ndjson = true
	case allowNDJSON:
		return nil, false, httpbody.WrongContentType(ct, "application/json or application/x-ndjson")
	default:
		return nil, false, httpbody.WrongContentType(ct, "application/json")
	}
	rc.body, err = httpbody.Read(c, s.cfg.Admission, httpbody.Options{Limit: s.cfg.MaxBodyBytes})
	if err != nil {
		return nil, false, err
	}
	return rc.body.Bytes, ndjson, nil
}

func (s *Service) postReadings(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	rc := s.getReq()
	defer s.putReq(rc)
	body, ndjson, err := s.readBody(c, rc, true)
	if err != nil {
		return err
	}
	s.mBodyBytes.Update(float64(len(body)))
	parser := s.parsers.Get()
	defer s.parsers.Put(parser)
	if ndjson {
		err = parser.ParseNDJSON(body, &rc.batch)
	} else {
		err = parser.ParseJSON(body, &rc.batch)
	}
	if err != nil {
		return problem.BadRequest(err.Error())
	}
	return s.store(c, p, rc)
}

func (s *Service) postTTN(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	rc := s.getReq()
	defer s.putReq(rc)
	body, _, err := s.readBody(c, rc, false)
	if err != nil {
		return err
	}
	org, err := s.orgs.get(c.UserContext(), p.OrgID)
	if err != nil {
		return err
	}
	parser := s.parsers.Get()
	defer s.parsers.Put(parser)
	if err := parser.ParseTTN(body, org.ttn, &rc.batch); err != nil {
		return problem.BadRequest(err.Error())
	}
	return s.store(c, p, rc)
}

// store validates, resolves sensors, writes and answers. The parser holding
// rc.batch's sensor bytes must still be checked out.
func (s *Service) store(c *fiber.Ctx, p auth.Principal, rc *reqCtx) error {
	res, err := s.submit(c.UserContext(), p.OrgID, &rc.batch, rc, rc.body, nil)
	if err != nil {
		return err
	}
	rc.out = appendResponse(rc.out[:0], res, rc.batch.Rejected)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(rc.out)
}

// submit checks b's readings against the limits, resolves their sensors in
// org (or takes preset's, when the caller resolved them: preset[i] for
// b.Readings[i], > 0), writes them and returns once they are durable.
// Every reading not stored ends up in b.Rejected, sorted by index. body's
// admission slot is released once the rows are built. Errors are problems
// for the client (413, 401, 503).
func (s *Service) submit(ctx context.Context, org string, b *Batch, rc *reqCtx, body *httpbody.Body, preset []int64) (Result, error) {
	if b.Total() > s.cfg.MaxReadings {
		return Result{}, problem.New(fiber.StatusRequestEntityTooLarge, "too-many-readings", "Too many readings",
			fmt.Sprintf("a request may carry at most %d readings, this one has %d; split it", s.cfg.MaxReadings, b.Total()))
	}
	s.mReqRows.Update(float64(b.Total()))
	if n := len(b.Rejected); n > 0 {
		s.mRejected["invalid"].Add(n)
	}
	var settings orgEntry
	if preset == nil {
		var err error
		if settings, err = s.orgs.get(ctx, org); err != nil {
			return Result{}, err
		}
	}
	now := time.Now().UnixMicro()
	rc.ids = slices.Grow(rc.ids[:0], len(b.Readings))[:len(b.Readings)]
	for i := range b.Readings {
		rc.ids[i] = 0
		if preset != nil {
			rc.ids[i] = sensorUnknown
			if preset[i] > 0 {
				rc.ids[i] = preset[i]
			}
		}
		r := &b.Readings[i]
		if safety.IsFaultCode(r.TempC) {
			// A probe's error code is not a temperature, but it is news: it
			// is stored as a sensor fault and raises a sensor_fault alert.
			// The rest of the reading must still be plausible.
			checked := *r
			checked.TempC = 0
			r = &checked
		}
		if reason := s.cfg.Limits.Check(r, now); reason != "" {
			b.Rejected = append(b.Rejected, Rejection{Index: b.Index[i], Reason: reason, Cause: CauseOutOfRange})
			s.mRejected["out_of_range"].Inc()
			rc.ids[i] = sensorRejected
		}
	}
	if preset == nil {
		if err := s.sensors.Resolve(ctx, org, settings.autoRegister, b.Readings, rc.ids); err != nil {
			s.log.Error("resolve sensors", "org", org, "err", err)
			return Result{}, problem.Unavailable("cannot look up sensors right now; retry shortly", 1)
		}
	}
	// Why auto-registration stopped short is the same for every reading it
	// refused: asked once, only if one was.
	var limitWhy string
	for i := range b.Readings {
		r := &b.Readings[i]
		switch id := rc.ids[i]; {
		case id > 0:
			if r.Door != DoorNone {
				rc.doors.add(id, r)
			}
			if r.HasTemp() {
				rc.rows = append(rc.rows, Row{TimeMicros: r.TimeMicros, SensorID: id, TempC: r.TempC, Humidity: r.Humidity, Battery: r.Battery,
					Fault: safety.IsFaultCode(r.TempC)})
			}
		case id == sensorUnknown:
			reason := fmt.Sprintf("unknown sensor %q: register it first (or enable auto-registration for the organisation)", r.Sensor)
			if settings.autoRegister {
				reason = fmt.Sprintf("sensor %q could not be registered", r.Sensor)
			}
			b.Rejected = append(b.Rejected, Rejection{Index: b.Index[i], Reason: reason, Cause: CauseUnknownSensor})
			s.mRejected["unknown_sensor"].Inc()
		case id == sensorRetired:
			b.Rejected = append(b.Rejected, Rejection{Index: b.Index[i], Reason: fmt.Sprintf("sensor %q is retired", r.Sensor), Cause: CauseRetiredSensor})
			s.mRejected["retired_sensor"].Inc()
		case id == sensorOverLimit:
			if limitWhy == "" {
				limitWhy = s.sensors.LimitReason(org)
			}
			b.Rejected = append(b.Rejected, Rejection{Index: b.Index[i], Cause: CauseSensorLimit,
				Reason: fmt.Sprintf("sensor %q was not registered: %s", r.Sensor, limitWhy)})
			s.mRejected["sensor_limit"].Inc()
		}
	}
	// The rows are built: waiting for the commit costs no more memory, so
	// it holds no admission slot.
	body.ReleaseSlot()
	res, err := s.writer.Write(ctx, rc.rows)
	switch {
	case errors.Is(err, ErrOverloaded):
		return Result{}, problem.Unavailable("ingest queue full; retry after 1s or raise FRESHTRACK_INGEST_QUEUE_ROWS", 1)
	case errors.Is(err, ErrClosed):
		return Result{}, problem.Unavailable("the server is shutting down; retry against another instance or after 5s", 5)
	case errors.Is(err, ErrNotStored):
		return Result{}, problem.Unavailable("the readings could not be stored and none of them was; retry after 1s", 1)
	case err != nil:
		return Result{}, err
	}
	stored, dup, err := rc.doors.store(ctx, s.pool, org)
	if err != nil {
		s.log.Error("store door states", "org", org, "err", err)
		return Result{}, problem.Unavailable("the door states could not be stored; retry after 1s (readings already stored are skipped)", 1)
	}
	res.Accepted += stored
	res.Duplicates += dup
	slices.SortFunc(b.Rejected, func(x, y Rejection) int { return x.Index - y.Index })
	return res, nil
}

// Outcome is what became of readings another adapter (the legacy routes)
// handed to the service: what the write stored, and why each other reading
// was not stored.
type Outcome struct {
	Result
	// Rejected are the readings not stored, sorted by index.
	Rejected []Rejection
	// Sensor is the sensor id a TTN uplink named, as resolved ("" when it
	// named none that decoded).
	Sensor string
}

// IngestTTN stores one The Things Network uplink of an organisation
// exactly as POST /v1/ingest/ttn does (the organisation's TTN fields, the
// sensor lookup and auto-registration, the limits, the group commit) and
// returns once it is durable. body was read by the caller through
// httpbody; its admission slot is released before the wait for the commit
// and the caller still closes it. Errors are problems: 400 for a body that
// is not a JSON object, 401 for a deleted organisation, 503 when nothing
// could be stored.
func (s *Service) IngestTTN(ctx context.Context, org string, body *httpbody.Body) (Outcome, error) {
	rc := s.getReq()
	defer s.putReq(rc)
	settings, err := s.orgs.get(ctx, org)
	if err != nil {
		return Outcome{}, err
	}
	parser := s.parsers.Get()
	defer s.parsers.Put(parser)
	if err := parser.ParseTTN(body.Bytes, settings.ttn, &rc.batch); err != nil {
		return Outcome{}, problem.BadRequest(err.Error())
	}
	var out Outcome
	if len(rc.batch.Readings) == 1 {
		out.Sensor = string(rc.batch.Readings[0].Sensor)
	}
	if out.Result, err = s.submit(ctx, org, &rc.batch, rc, body, nil); err != nil {
		return out, err
	}
	out.Rejected = slices.Clone(rc.batch.Rejected)
	return out, nil
}

// IngestResolved stores readings whose sensors the caller has resolved
// itself (sensorIDs[i] > 0, the sensor key of b.Readings[i]; any other
// value rejects the reading as of an unknown sensor) after the limits
// every reading passes, and returns once they are durable, exactly as the
// native routes store theirs: alert evaluation and live updates follow
// from the commit. Rejections are added to b.Rejected (with b.Index's
// indices); body's admission slot is released as for IngestTTN.
func (s *Service) IngestResolved(ctx context.Context, b *Batch, sensorIDs []int64, body *httpbody.Body) (Outcome, error) {
	if len(sensorIDs) != len(b.Readings) || len(b.Index) != len(b.Readings) {
		return Outcome{}, fmt.Errorf("ingest: %d sensor ids and %d indices for %d readings", len(sensorIDs), len(b.Index), len(b.Readings))
	}
	rc := s.getReq()
	defer s.putReq(rc)
	res, err := s.submit(ctx, "", b, rc, body, sensorIDs)
	return Outcome{Result: res, Rejected: b.Rejected}, err
}

func appendResponse(out []byte, res Result, rejected []Rejection) []byte {
	out = append(out, `{"accepted":`...)
	out = strconv.AppendInt(out, int64(res.Accepted), 10)
	out = append(out, `,"duplicates":`...)
	out = strconv.AppendInt(out, int64(res.Duplicates), 10)
	out = append(out, `,"rejected":`...)
	if len(rejected) == 0 {
		out = append(out, "[]}"...)
		return out
	}
	rej, _ := json.Marshal(rejected)
	out = append(out, rej...)
	return append(out, '}')
}

// orgCache caches the organisation settings that ingest needs.
type orgCache struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	mu   sync.RWMutex
	m    map[string]orgEntry
}

type orgEntry struct {
	autoRegister bool
	ttn          TTNFields
	loaded       time.Time
}

func (o *orgCache) get(ctx context.Context, id string) (orgEntry, error) {
	o.mu.RLock()
	e, ok := o.m[id]
	o.mu.RUnlock()
	if ok && time.Since(e.loaded) < o.ttl {
		return e, nil
	}
	org, err := auth.GetOrganization(ctx, o.pool, id)
	if errors.Is(err, auth.ErrNotFound) {
		return e, errUnauthorized
	}
	if err != nil {
		return e, problem.Unavailable("cannot load the organisation right now; retry shortly", 1)
	}
	e = orgEntry{autoRegister: org.Settings.AutoRegisterSensors, ttn: DefaultTTNFields, loaded: time.Now()}
	if t := org.Settings.TTN; t != nil {
		if len(t.Temperature) > 0 {
			e.ttn.Temperature = t.Temperature
		}
		if len(t.Humidity) > 0 {
			e.ttn.Humidity = t.Humidity
		}
		if len(t.Battery) > 0 {
			e.ttn.Battery = t.Battery
		}
	}
	o.mu.Lock()
	o.m[id] = e
	o.mu.Unlock()
	return e, nil
}

// SensorsChanged drops the cached sensors of an organisation, after sensors
// were added, reassigned or retired through the API.
func (s *Service) SensorsChanged(orgID string) { s.sensors.Forget(orgID) }
