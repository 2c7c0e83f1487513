package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times (100 on Linux).
const clockTicks = 100

// ProcCPU returns the user+system CPU seconds a process has used so far,
// from /proc/<pid>/stat.
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc stat line.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", b)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat line %q", b)
	}
	return (ut + st) / clockTicks, nil
}

// PeakRSS returns a process's peak resident set size in bytes (VmHWM).
func PeakRSS(pid int) (int64, error) { return statusBytes(pid, "VmHWM:") }

// RSS returns a process's resident set size now, in bytes (VmRSS).
func RSS(pid int) (int64, error) { return statusBytes(pid, "VmRSS:") }

// statusBytes reads a size in kB (field, such as "VmRSS:") from
// /proc/<pid>/status.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %q: %w", field, rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// BackendCPU samples the CPU seconds of every PostgreSQL backend serving the
// pool's database. It works when PostgreSQL runs on this machine and /proc
// is readable for its processes; otherwise ok is false.
type BackendCPU struct {
	pool *pgxpool.Pool
	at   map[int]float64
}

// NewBackendCPU starts a measurement.
func NewBackendCPU(ctx context.Context, pool *pgxpool.Pool) *BackendCPU {
	b := &BackendCPU{pool: pool}
	b.at, _ = b.sample(ctx)
	return b
}

func (b *BackendCPU) sample(ctx context.Context) (map[int]float64, error) {
	rows, err := b.pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]float64{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		if cpu, err := ProcCPU(pid); err == nil {
			out[pid] = cpu
		}
	}
	return out, rows.Err()
}

// Seconds returns the CPU seconds the backends used since the start (or the
// previous call), and false when they could not be read.
func (b *BackendCPU) Seconds(ctx context.Context) (float64, bool) {
	now, err := b.sample(ctx)
	if err != nil || len(now) == 0 {
		return 0, false
	}
	total := 0.0
	for pid, cpu := range now {
		total += cpu - b.at[pid]
	}
	b.at = now
	return total, true
}
