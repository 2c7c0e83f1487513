package bench

import (
	"os"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	f := func(line string, want float64, ok bool) {
		t.Helper()
		got, err := parseStatCPU([]byte(line))
		if (err == nil) != ok || (ok && got != want) {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v ok=%v", line, got, err, want, ok)
		}
	}
	f("1234 (postgres) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10 18446744073709551615", 3, true)
	f("99 (odd) name) (x) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1 1", 0.1, true)
	f("garbage", 0, false)
	f("1 (x) S 1 2", 0, false)
}

func TestOwnProcessCounters(t *testing.T) {
	t.Parallel()
	cpu, err := ProcCPU(os.Getpid())
	if err != nil || cpu < 0 {
		t.Fatalf("ProcCPU(self) = %v, %v", cpu, err)
	}
	rss, err := PeakRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("PeakRSS(self) = %v, %v", rss, err)
	}
}
