package bench

import "testing"

func TestCompareWithBaseline(t *testing.T) {
	t.Parallel()
	runs := []LiveRun{
		{Streams: 1000, Ingest: Run{RowsPerSec: 47_500}, ServerCPUPercent: 70, AvgRSS: 1300},
		{Streams: 0, Ingest: Run{RowsPerSec: 50_000}, ServerCPUPercent: 50, AvgRSS: 1100},
		{Streams: 10, Ingest: Run{RowsPerSec: 50_000}, ServerCPUPercent: 51, AvgRSS: 1101},
	}
	compareWithBaseline(runs)
	if r := runs[0]; r.IngestRatio != 0.95 || r.CPUPer1k != 20 || r.RSSPer1k != 200 {
		t.Errorf("1000 streams against the baseline: ratio %v, cpu/1k %v, rss/1k %v; want 0.95, 20, 200", r.IngestRatio, r.CPUPer1k, r.RSSPer1k)
	}
	if r := runs[1]; r.IngestRatio != 1 || r.CPUPer1k != 0 {
		t.Errorf("baseline: %+v", r)
	}
	if r := runs[2]; r.IngestRatio != 1 || r.CPUPer1k != 0 || r.RSSPer1k != 0 {
		t.Errorf("10 streams are too few for a cost per 1,000: %+v", r)
	}
	none := []LiveRun{{Streams: 1000, Ingest: Run{RowsPerSec: 1}}}
	if compareWithBaseline(none); none[0].IngestRatio != 0 {
		t.Errorf("without a baseline the ratio is %v", none[0].IngestRatio)
	}
}
