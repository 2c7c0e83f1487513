package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/httpbody"
)

// TestIngestForOtherAdapters: the entry points of the legacy routes store
// like the native routes and classify what they do not store.
func TestIngestForOtherAdapters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, ingest.Config{}, "70B3D57ED005A1B2", "probe-1")
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	uplink := func(eui, payload string) *httpbody.Body {
		return &httpbody.Body{Bytes: fmt.Appendf(nil, `{"end_device_ids":{"dev_eui":%q},"received_at":%q,"uplink_message":{"decoded_payload":%s}}`,
			eui, at.Format(time.RFC3339Nano), payload)}
	}

	out, err := e.svc.IngestTTN(ctx, e.orgID, uplink("70-b3-d5-7e-d0-05-a1-b2", `{"temperature_f":41}`))
	if err != nil || out.Accepted != 1 || len(out.Rejected) != 0 || out.Sensor != "70B3D57ED005A1B2" {
		t.Fatalf("known device: %+v, %v", out, err)
	}
	out, err = e.svc.IngestTTN(ctx, e.orgID, uplink("70-b3-d5-7e-d0-05-a1-b2", `{"temperature_f":41}`))
	if err != nil || out.Accepted != 0 || out.Duplicates != 1 {
		t.Fatalf("the same uplink again: %+v, %v", out, err)
	}
	for _, c := range []struct {
		eui, payload string
		cause        ingest.Cause
	}{
		{"0004A30B001C0530", `{"temperature":3}`, ingest.CauseUnknownSensor},
		{"70B3D57ED005A1B2", `{"humidity":40}`, ingest.CauseInvalid},
		{"70B3D57ED005A1B2", `{"temperature":300}`, ingest.CauseOutOfRange},
	} {
		out, err := e.svc.IngestTTN(ctx, e.orgID, uplink(c.eui, c.payload))
		if err != nil || out.Accepted != 0 || len(out.Rejected) != 1 || out.Rejected[0].Cause != c.cause {
			t.Errorf("%s %s: %+v, %v; want one rejection of cause %d", c.eui, c.payload, out, err, c.cause)
		}
	}
	if _, err := e.svc.IngestTTN(ctx, e.orgID, &httpbody.Body{Bytes: []byte(`[1]`)}); err == nil {
		t.Error("an array is not an uplink")
	}

	var sensor int64
	if err := e.pool.QueryRow(ctx, `SELECT id FROM sensors WHERE external_id = 'probe-1'`).Scan(&sensor); err != nil {
		t.Fatal(err)
	}
	b := &ingest.Batch{
		Readings: []ingest.Reading{
			{TimeMicros: at.UnixMicro(), TempC: 4.5, Humidity: 40, Battery: ingest.Absent},
			{TimeMicros: at.UnixMicro(), TempC: 999, Humidity: ingest.Absent, Battery: ingest.Absent},
			{TimeMicros: at.Add(time.Second).UnixMicro(), TempC: 4, Humidity: ingest.Absent, Battery: 50},
		},
		Index: []int{7, 8, 9},
	}
	out, err = e.svc.IngestResolved(ctx, b, []int64{sensor, sensor, 0}, nil)
	if err != nil || out.Accepted != 1 || len(out.Rejected) != 2 ||
		out.Rejected[0].Index != 8 || out.Rejected[0].Cause != ingest.CauseOutOfRange ||
		out.Rejected[1].Index != 9 || out.Rejected[1].Cause != ingest.CauseUnknownSensor {
		t.Fatalf("resolved: %+v, %v", out, err)
	}
	var temp, hum float64
	if err := e.pool.QueryRow(ctx, `SELECT temp_c, humidity FROM readings WHERE sensor_id = $1`, sensor).Scan(&temp, &hum); err != nil || temp != 4.5 || hum != 40 {
		t.Fatalf("stored %v %v, %v", temp, hum, err)
	}
	if _, err := e.svc.IngestResolved(ctx, b, []int64{sensor}, nil); err == nil {
		t.Fatal("mismatched sensor ids accepted")
	}
}
