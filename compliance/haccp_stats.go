package compliance

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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
// site's sensors in [period start − gap threshold, period end + gap
// threshold) are read one UTC day at a time (a bitmap scan of one daily
// partition, no ORDER BY) and folded in Go, unit by unit in time order, in
// one pass with integer microsecond arithmetic. The readings before and
// after the period only say how long the period's first and last readings
// stand for, and whether an excursion began before the period or ended
// after it.
//
// The fold was chosen over SQL window functions by measurement: for a
// one-month report of a 50-unit site (2.2 M readings) on a 2-CPU machine,
// one SQL pass with lead() over the site's readings took 3.2 to 5.3 s
// (sorting 2.2 M rows and the WindowAgg dominate; per-unit LATERAL windows
// revisit every heap page once per unit), while streaming the daily
// partitions unsorted and folding them takes well under a second. Memory is
// bounded by one day of the site's readings.

// sample is one reading: unix microseconds, the sensor and the temperature.
type sample struct {
	t      int64
	sensor int64
	temp   float64
}

type dayAcc struct {
	n             int64
	min, max, sum float64
	cov, out      int64 // microseconds
}

type runAcc struct {
	start  int64 // first out-of-range reading
	end    int64 // first in-range reading after it; 0 while open
	hi, lo float64
	n      int64 // readings in the period
	out    int64 // covered microseconds
}

// unitFold accumulates one unit's report from its readings in time order.
type unitFold struct {
	w       *foldWindow
	lo, hi  float64
	days    []dayAcc
	gaps    [][2]int64
	runs    []*runAcc
	open    *runAcc
	prev    sample
	seen    bool
	firstAt int64
}

// foldWindow is the window in unix microseconds.
type foldWindow struct {
	p0, p1, end, horizon, gap int64
	bounds                    []int64
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func newFoldWindow(w window) *foldWindow {
	fw := &foldWindow{p0: micros(w.p0), p1: micros(w.p1), end: micros(w.end), gap: w.gap.Microseconds()}
	// A reading with no successor in the data read was followed by silence
	// at least until the end of what was read (period end + gap) or now.
	fw.horizon = min(fw.p1+fw.gap, micros(w.now))
	fw.horizon = max(fw.horizon, fw.end)
	for _, b := range w.bounds {
		fw.bounds = append(fw.bounds, micros(b))
	}
	return fw
}

// day returns the index of the day holding t (p0 <= t < p1).
func (w *foldWindow) day(t int64) int {
	return sort.Search(len(w.bounds)-1, func(i int) bool { return w.bounds[i+1] > t })
}

func (f *unitFold) out(temp float64) bool { return temp < f.lo || temp > f.hi }

// add folds the next reading of the unit.
func (f *unitFold) add(s sample) {
	w := f.w
	if !f.seen {
		f.seen, f.firstAt = true, s.t
	} else {
		f.settle(f.prev, s.t, true)
	}
	out := f.out(s.temp)
	switch {
	case !out && f.open != nil:
		f.open.end = s.t
		f.open = nil
	case out && s.t < w.end:
		if f.open == nil {
			f.open = &runAcc{start: s.t, hi: s.temp, lo: s.temp}
			f.runs = append(f.runs, f.open)
		}
		f.open.hi, f.open.lo = math.Max(f.open.hi, s.temp), math.Min(f.open.lo, s.temp)
	}
	if s.t >= w.p0 && s.t < w.end {
		d := &f.days[w.day(s.t)]
		if d.n == 0 || s.temp < d.min {
			d.min = s.temp
		}
		if d.n == 0 || s.temp > d.max {
			d.max = s.temp
		}
		d.n++
		d.sum += s.temp
		if out && f.open != nil {
			f.open.n++
		}
	}
	f.prev = s
}

// settle decides what reading p stands for, now that the next reading's
// time is known (hasNext) or known not to exist in the data read: the time
// until the next reading when the silence is at most the gap threshold,
// else nothing, the silence being a gap.
func (f *unitFold) settle(p sample, next int64, hasNext bool) {
	w := f.w
	if p.t >= w.end {
		return
	}
	silenceEnd := next
	if !hasNext {
		silenceEnd = w.horizon
	}
	start := max(p.t, w.p0)
	if silenceEnd-p.t <= w.gap {
		if stop := min(silenceEnd, w.end); stop > start {
			f.cover(start, stop, f.out(p.temp))
		}
		return
	}
	stop := w.end
	if hasNext {
		stop = min(next, w.end)
	}
	if stop > start {
		f.gaps = append(f.gaps, [2]int64{start, stop})
	}
}

// cover adds [start, stop) to the days it spans (and to the open
// excursion when out of range).
func (f *unitFold) cover(start, stop int64, out bool) {
	w := f.w
	if out && f.open != nil {
		f.open.out += stop - start
	}
	for k := w.day(start); start < stop; k++ {
		seg := min(stop, w.bounds[k+1])
		f.days[k].cov += seg - start
		if out {
			f.days[k].out += seg - start
		}
		start = seg
	}
}

// finish settles the last reading and the period's leading silence.
func (f *unitFold) finish() {
	w := f.w
	if !f.seen {
		if w.end > w.p0 {
			f.gaps = append(f.gaps, [2]int64{w.p0, w.end})
		}
		return
	}
	f.settle(f.prev, 0, false)
	if f.firstAt > w.p0 {
		// Nothing in the gap threshold before the first reading: the unit
		// was silent when the period began.
		if stop := min(f.firstAt, w.end); stop > w.p0 {
			f.gaps = append(f.gaps, [2]int64{w.p0, stop})
		}
	}
}

// foldReadings reads the units' readings one UTC day at a time and folds
// them, unit by unit in time order.
func foldReadings(ctx context.Context, db Querier, units []unitRow, w window) ([]*unitFold, error) {
	fw := newFoldWindow(w)
	folds := make([]*unitFold, len(units))
	unitOf := map[int64]int{}
	var ids []int64
	for i, u := range units {
		folds[i] = &unitFold{w: fw, lo: u.safeMin, hi: u.safeMax, days: make([]dayAcc, len(w.bounds)-1)}
		for _, id := range u.sensorIDs {
			unitOf[id] = i
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		lo, hi := w.p0.Add(-w.gap), w.p1.Add(w.gap)
		perUnit := make([][]sample, len(units))
		for from := lo; from.Before(hi); {
			to := from.Truncate(ReadChunk).Add(ReadChunk)
			if to.After(hi) {
				to = hi
			}
			for i := range perUnit {
				perUnit[i] = perUnit[i][:0]
			}
			if err := readChunk(ctx, db, ids, from, to, func(s sample) {
				i := unitOf[s.sensor]
				perUnit[i] = append(perUnit[i], s)
			}); err != nil {
				return nil, err
			}
			for i, ss := range perUnit {
				// Physical order is nearly time order: this is cheap.
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
					folds[i].add(s)
				}
			}
			from = to
		}
	}
	for _, f := range folds {
		f.finish()
	}
	return folds, nil
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

// pgEpochMicros is 2000-01-01T00:00:00Z in unix microseconds, the origin of
// PostgreSQL's binary timestamptz.
const pgEpochMicros = 946684800 * 1_000_000

// readChunk streams the readings of [from, to), decoding the binary row
// format directly (the report's hot loop).
func readChunk(ctx context.Context, db Querier, ids []int64, from, to time.Time, fn func(sample)) error {
	rows, err := db.Query(ctx, `
		SELECT sensor_id, time, temp_c FROM readings
		 WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3`, ids, from, to)
	if err != nil {
		return fmt.Errorf("haccp report: readings: %w", err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	binaryRows := len(fds) == 3 &&
		fds[0].Format == pgx.BinaryFormatCode && fds[0].DataTypeOID == pgtype.Int8OID &&
		fds[1].Format == pgx.BinaryFormatCode && fds[1].DataTypeOID == pgtype.TimestamptzOID &&
		fds[2].Format == pgx.BinaryFormatCode && fds[2].DataTypeOID == pgtype.Float8OID
	for rows.Next() {
		var s sample
		if raw := rows.RawValues(); binaryRows && len(raw[0]) == 8 && len(raw[1]) == 8 && len(raw[2]) == 8 {
			s.sensor = int64(binary.BigEndian.Uint64(raw[0]))
			s.t = int64(binary.BigEndian.Uint64(raw[1])) + pgEpochMicros
			s.temp = math.Float64frombits(binary.BigEndian.Uint64(raw[2]))
		} else {
			var t time.Time
			if err := rows.Scan(&s.sensor, &t, &s.temp); err != nil {
				return fmt.Errorf("haccp report: readings: %w", err)
			}
			s.t = t.UnixMicro()
		}
		fn(s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("haccp report: readings: %w", err)
	}
	return nil
}

// assembleUnit turns a unit's fold into its report: days, summary,
// excursions and gaps.
func assembleUnit(u unitRow, f *unitFold, w window) UnitReport {
	ur := UnitReport{
		UnitID: u.id, Name: u.name, Kind: u.kind, Sensors: nonNil(u.sensors),
		SafeMin: u.safeMin, SafeMax: u.safeMax,
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
		if r.hi-u.safeMax >= u.safeMin-r.lo {
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
