package compliance

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/safety"
)

// window is the period of a report: days between bounds, [p0, p1), with
// data considered up to end (p1, or now for a period still running).
type window struct {
	p0, p1, end time.Time
	bounds      []time.Time
	gap         time.Duration
	loc         *time.Location
	now         time.Time
}

// ReadChunk is how much time each statement that reads a report's readings
// covers: one UTC day, the size of a readings partition in postgres mode and
// of a chunk in timescale mode.
const ReadChunk = 24 * time.Hour

// How the readings of a report are folded.
//
// Every number of the report comes from raw readings: the readings of the
// site's sensors in [period start − 2 × gap threshold, period end + gap
// threshold) are read one UTC day at a time (from the packed hours where
// they are complete, see haccp_read.go, else a bitmap scan of one daily
// partition, no ORDER BY) and folded in Go, unit by unit in time order, in
// one pass. The readings before the period only say what the unit's probes
// read when it began (and how often they report, for how long a reading
// stands), and whether an excursion began before it; those after it
// whether an excursion ended after it. The probes' error codes
// (sensor_faults) of the same time are read in one statement and folded in
// with the readings.
//
// Each unit's readings go through a safety.Mixer, so the unit's
// temperature over time is exactly package safety's: a reading stands for
// safety.Stand (MaxGap = the report's gap threshold), a probe that reported
// an error code is dead until it measures again, the unit is out of range
// while any live probe is outside its limits and in a gap while no probe is
// live. Between two records the unit's state changes only where a probe's
// reading stops standing (safety.Unit.Until), so the fold accounts time in
// segments of constant state: one per record, plus one per reading that
// ran out.
//
// The fold was chosen over SQL window functions by measurement: for a
// one-month report of a 50-unit site (2.2 M readings) on a 2-CPU machine,
// one SQL pass with lead() over the site's readings took 3.2 to 5.3 s
// (sorting 2.2 M rows and the WindowAgg dominate; per-unit LATERAL windows
// revisit every heap page once per unit), while streaming the daily
// partitions unsorted and folding them takes well under a second. Memory is
// bounded by two days of the site's readings (one read while the other is
// folded).

// sample is one record: unix microseconds, the sensor and the temperature,
// or a probe's error code (fault).
type sample struct {
	t      int64
	sensor int64
	temp   float64
	fault  bool
}

type dayAcc struct {
	n             int64
	min, max, sum float64
	cov, out      int64 // microseconds
}

type runAcc struct {
	start  int64 // when the unit went out of range
	end    int64 // when it was back in range; 0 while open
	hi, lo float64
	n      int64 // out-of-range readings in the period
	out    int64 // covered microseconds
}

// unitFold accumulates one unit's report from its records in time order.
type unitFold struct {
	w    *foldWindow
	lim  safety.Limits
	mix  *safety.Mixer
	days []dayAcc
	gaps [][2]int64
	// outs are the stretches out of range, for time out of temperature.
	outs [][2]int64
	runs []*runAcc
	open *runAcc
	// cursor is the time accounted up to; from it the unit is u (a gap
	// when u.Live is 0) until untilUs, when a probe's reading stops
	// standing.
	cursor, untilUs int64
	u               safety.Unit
	// The fast path's probe (see add), u.MaxSensor: while pending, the
	// mixer has not seen the readings the fast path took, and lastAt,
	// prevAt and lastC are the probe's newest two reading times and newest
	// temperature.
	pending        bool
	lastAt, prevAt int64
	lastC          float64
	dayHint        int
}

// foldWindow is the window in unix microseconds: the period [p0, p1), the
// data's end, where reading starts, and the day bounds.
type foldWindow struct {
	p0, p1, end, from int64
	bounds            []int64
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// readSpan is the time whose records a report reads: from twice the gap
// threshold before the period (a reading that stands into the period is at
// most one gap threshold before it, and its previous reading, which says
// how long it stands, at most another before that) to a gap threshold
// after it (to see excursions end).
func (w window) readSpan() (from, to time.Time) { return w.p0.Add(-2 * w.gap), w.p1.Add(w.gap) }

func newFoldWindow(w window) *foldWindow {
	from, _ := w.readSpan()
	fw := &foldWindow{p0: micros(w.p0), p1: micros(w.p1), end: micros(w.end), from: micros(from)}
	for _, b := range w.bounds {
		fw.bounds = append(fw.bounds, micros(b))
	}
	return fw
}

// day returns the index of the day holding t (p0 <= t < p1).
func (w *foldWindow) day(t int64) int {
	return sort.Search(len(w.bounds)-1, func(i int) bool { return w.bounds[i+1] > t })
}

// dayFrom is day for a fold, whose times mostly fall in the day of the
// one before.
func (f *unitFold) dayFrom(t int64) int {
	b := f.w.bounds
	if k := f.dayHint; b[k] <= t && t < b[k+1] {
		return k
	}
	f.dayHint = f.w.day(t)
	return f.dayHint
}

func newUnitFold(w *foldWindow, lim safety.Limits, gap time.Duration, days int) *unitFold {
	return &unitFold{w: w, lim: lim, mix: safety.NewMixer(gap), days: make([]dayAcc, days), cursor: w.from}
}

// add folds the unit's next record.
//
// Most records are the fast case: one probe live, the unit in range, and
// the probe's next in-range reading arriving while its last one still
// stands. Such a reading only moves time on in one segment and replaces
// the probe's reading, which add does in integer microseconds without the
// mixer (70 ns a reading → about 15 on the one-month report); the mixer is
// told (flush) before anything else looks at it, so every number is the
// slow path's.
func (f *unitFold) add(s sample) {
	if f.fastCase(s) {
		at := f.lastAt
		if !f.pending {
			p, _ := f.mix.Probe(s.sensor)
			at = micros(p.At)
		}
		f.account(f.cursor, s.t)
		f.cursor = s.t
		stand := safety.Stand(time.Duration(s.t-at)*time.Microsecond, f.mix.MaxGap)
		f.pending = true
		f.prevAt, f.lastAt, f.lastC = at, s.t, s.temp
		f.untilUs = s.t + int64(stand/time.Microsecond)
		f.u.MaxC, f.u.MinC = s.temp, s.temp
		f.count(s)
		return
	}
	f.flush()
	f.advance(s.t)
	at := fromMicros(s.t)
	measured := !s.fault && !safety.IsFaultCode(s.temp) && !math.IsNaN(s.temp)
	if measured {
		f.mix.Observe(s.sensor, at, s.temp)
	} else {
		f.mix.Fault(s.sensor, at)
	}
	f.state(s.t)
	if !measured {
		return
	}
	f.count(s)
}

// fastCase reports whether s takes add's fast path: a measured in-range
// reading of the one live probe, newer than its last and before that one
// stops standing, while the unit is in range with no excursion open.
func (f *unitFold) fastCase(s sample) bool {
	return foldFastPath && !s.fault && f.u.Live == 1 && f.u.MaxSensor == s.sensor && f.open == nil &&
		s.t > f.cursor && s.t < f.untilUs && (!f.pending || s.t > f.lastAt) &&
		math.Abs(s.temp) < 327 && f.lim.Contains(s.temp) && f.u.In(f.lim)
}

// foldFastPath is off only in the test that compares the two paths.
var foldFastPath = true

// flush gives the mixer the fast path's readings: the probe's last two
// times and last temperature are all it keeps.
func (f *unitFold) flush() {
	if !f.pending {
		return
	}
	f.pending = false
	f.mix.Observe(f.u.MaxSensor, fromMicros(f.prevAt), f.lastC)
	f.mix.Observe(f.u.MaxSensor, fromMicros(f.lastAt), f.lastC)
}

// count adds a measurement to its day's statistics and the open excursion.
func (f *unitFold) count(s sample) {
	w := f.w
	inPeriod := s.t >= w.p0 && s.t < w.end
	if inPeriod {
		d := &f.days[f.dayFrom(s.t)]
		if d.n == 0 || s.temp < d.min {
			d.min = s.temp
		}
		if d.n == 0 || s.temp > d.max {
			d.max = s.temp
		}
		d.n++
		d.sum += s.temp
	}
	if o := f.open; o != nil && s.t < w.end && !f.lim.Contains(s.temp) {
		o.hi, o.lo = math.Max(o.hi, s.temp), math.Min(o.lo, s.temp)
		if inPeriod {
			o.n++
		}
	}
}

// state takes the unit's state at t from the mix and opens or ends the
// excursion: one opens when the unit goes out of range before the end of
// the data, and ends when the unit is in range again (a gap, neither,
// does not end it).
func (f *unitFold) state(t int64) {
	f.flush()
	f.u = f.mix.At(fromMicros(t))
	f.untilUs = 0
	if f.u.Live > 0 {
		f.untilUs = micros(f.u.Until)
	}
	switch {
	case f.u.Out(f.lim):
		if f.open == nil && t < f.w.end {
			f.open = &runAcc{start: t, hi: math.Inf(-1), lo: math.Inf(1)}
			if f.u.MaxC > f.lim.High.C {
				f.open.hi = f.u.MaxC
			}
			if f.u.MinC < f.lim.Low.C {
				f.open.lo = f.u.MinC
			}
			f.runs = append(f.runs, f.open)
		}
	case f.u.In(f.lim):
		if f.open != nil {
			f.open.end = t
			f.open = nil
		}
	}
}

// advance accounts the time from the cursor to t, in segments of constant
// state: the state changes where a probe's reading stops standing.
func (f *unitFold) advance(t int64) {
	for f.cursor < t {
		stop := t
		if f.u.Live > 0 && f.untilUs < stop {
			stop = f.untilUs
		}
		f.account(f.cursor, stop)
		f.cursor = stop
		if stop < t {
			f.state(stop)
		}
	}
}

// account adds [start, stop), in the state f.u, to the period's days,
// gaps and open excursion, clipped to [p0, end).
func (f *unitFold) account(start, stop int64) {
	w := f.w
	start, stop = max(start, w.p0), min(stop, w.end)
	if stop <= start {
		return
	}
	if f.u.Live == 0 {
		if n := len(f.gaps); n > 0 && f.gaps[n-1][1] == start {
			f.gaps[n-1][1] = stop
		} else {
			f.gaps = append(f.gaps, [2]int64{start, stop})
		}
		return
	}
	out := f.u.Out(f.lim)
	if out && f.open != nil {
		f.open.out += stop - start
	}
	if out {
		if n := len(f.outs); n > 0 && f.outs[n-1][1] == start {
			f.outs[n-1][1] = stop
		} else {
			f.outs = append(f.outs, [2]int64{start, stop})
		}
	}
	for k := f.dayFrom(start); start < stop; k++ {
		seg := min(stop, w.bounds[k+1])
		f.days[k].cov += seg - start
		if out {
			f.days[k].out += seg - start
		}
		start = seg
	}
}

// finish accounts the time after the last record to the end of the data.
func (f *unitFold) finish() { f.advance(f.w.end) }

// foldReadings reads the units' readings one UTC day at a time and folds
// them with the probes' error codes, unit by unit in time order. The next
// day is read while the units of the day before are folded, those side by
// side, one goroutine a CPU: units share nothing but the window.
func foldReadings(ctx context.Context, db database.Querier, units []unitRow, w window) ([]*unitFold, error) {
	fw := newFoldWindow(w)
	folds := make([]*unitFold, len(units))
	unitOf := map[int64]int{}
	var ids []int64
	for i, u := range units {
		folds[i] = newUnitFold(fw, u.limits, w.gap, len(w.bounds)-1)
		for _, id := range u.sensorIDs {
			unitOf[id] = i
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		lo, hi := w.readSpan()
		faults, err := readFaults(ctx, db, ids, lo, hi)
		if err != nil {
			return nil, err
		}
		plan, err := loadHourPlan(ctx, db, lo, hi)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// Two sets of per-unit buffers: one being read, one being folded.
		free := make(chan [][]sample, 2)
		free <- make([][]sample, len(units))
		free <- make([][]sample, len(units))
		type day struct {
			perUnit [][]sample
			err     error
		}
		days := make(chan day, 1)
		go func() {
			defer close(days)
			for from := lo; from.Before(hi); {
				to := from.Truncate(ReadChunk).Add(ReadChunk)
				if to.After(hi) {
					to = hi
				}
				var perUnit [][]sample
				select {
				case perUnit = <-free:
				case <-ctx.Done():
					return
				}
				for i := range perUnit {
					perUnit[i] = perUnit[i][:0]
				}
				err := plan.readSpanFrom(ctx, db, ids, from, to, func(s sample) {
					i := unitOf[s.sensor]
					perUnit[i] = append(perUnit[i], s)
				}, func(sensor int64, packed []byte) error {
					i := unitOf[sensor]
					var err error
					perUnit[i], err = appendPacked(perUnit[i], sensor, packed, micros(from), micros(to))
					return err
				})
				for len(faults) > 0 && faults[0].t < micros(to) {
					i := unitOf[faults[0].sensor]
					perUnit[i] = append(perUnit[i], faults[0])
					faults = faults[1:]
				}
				days <- day{perUnit, err}
				if err != nil {
					return
				}
				from = to
			}
		}()
		for d := range days {
			if d.err != nil {
				cancel()
				for range days {
				}
				return nil, d.err
			}
			eachOnCPUs(len(units), func(i int) { foldDay(folds[i], d.perUnit[i]) })
			free <- d.perUnit
		}
	}
	for _, f := range folds {
		f.finish()
	}
	return folds, nil
}

// eachOnCPUs calls fn(i) for every i in [0, n), one goroutine a CPU, and
// returns when all calls have.
func eachOnCPUs(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// foldDay folds one unit's records of a day, sorting them first unless
// they are in order already (packed hours are, and so is a single probe's
// physical order, nearly).
func foldDay(f *unitFold, ss []sample) {
	less := func(a, b sample) int {
		if a.t != b.t {
			return cmpInt(a.t, b.t)
		}
		return cmpInt(a.sensor, b.sensor)
	}
	if !slices.IsSortedFunc(ss, less) {
		slices.SortFunc(ss, less)
	}
	for _, s := range ss {
		f.add(s)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// assembleUnit turns a unit's fold into its report: days, summary,
// excursions and gaps.
func assembleUnit(u unitRow, f *unitFold, w window) UnitReport {
	ur := UnitReport{
		UnitID: u.id, Name: u.name, Kind: u.kind, Sensors: nonNil(u.sensors),
		SafeMin: u.safeMin, SafeMax: u.safeMax, LimitMin: u.limits.Low.C, LimitMax: u.limits.High.C,
		Days:       make([]DayStats, len(f.days)),
		Excursions: []Excursion{},
		Gaps:       []Gap{},
	}
	var total dayAcc
	for i, d := range f.days {
		ur.Days[i] = DayStats{Date: w.bounds[i].In(w.loc).Format(time.DateOnly), Stats: makeStats(d)}
		if d.n > 0 {
			if total.n == 0 || d.min < total.min {
				total.min = d.min
			}
			if total.n == 0 || d.max > total.max {
				total.max = d.max
			}
		}
		total.n += d.n
		total.sum += d.sum
		total.cov += d.cov
		total.out += d.out
	}
	ur.Summary = makeStats(total)
	for _, g := range f.gaps {
		ur.Gaps = append(ur.Gaps, Gap{Start: fromMicros(g[0]), End: fromMicros(g[1]), DurationMinutes: float64(g[1]-g[0]) / 6e7})
	}
	slices.SortFunc(ur.Gaps, func(a, b Gap) int { return a.Start.Compare(b.Start) })
	fw := f.w
	for _, r := range f.runs {
		if r.end != 0 && r.end <= fw.p0 {
			continue // ended before the period
		}
		e := Excursion{Readings: r.n, MinutesOutOfRange: float64(r.out) / 6e7, Alerts: []AlertRecord{}, seenFrom: fromMicros(r.start)}
		start := r.start
		if start < fw.p0 {
			start, e.StartedBeforePeriod = fw.p0, true
		}
		end := r.end
		if r.end != 0 {
			e.seenTo = fromMicros(r.end)
		}
		if r.end == 0 || r.end > fw.end {
			end, e.Ongoing = fw.end, true
		}
		e.Start, e.End = fromMicros(start), fromMicros(end)
		e.DurationMinutes = float64(end-start) / 6e7
		if r.hi-u.limits.High.C >= u.limits.Low.C-r.lo {
			e.Direction, e.Peak = "high", r.hi
		} else {
			e.Direction, e.Peak = "low", r.lo
		}
		ur.Excursions = append(ur.Excursions, e)
	}
	return ur
}

func makeStats(d dayAcc) Stats {
	s := Stats{Readings: d.n, MinutesCovered: float64(d.cov) / 6e7, MinutesOutOfRange: float64(d.out) / 6e7}
	if d.n > 0 {
		lo, hi, avg := d.min, d.max, d.sum/float64(d.n)
		s.Min, s.Max, s.Avg = &lo, &hi, &avg
	}
	if d.cov > 0 {
		pct := 100 * float64(d.cov-d.out) / float64(d.cov)
		s.PercentInRange = &pct
	}
	return s
}
