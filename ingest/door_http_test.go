package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
)

// doorStates lists the stored door states as "SENSOR@unix-micros=open".
func (e *env) doorStates(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT s.external_id || '@' || (extract(epoch FROM d.at) * 1e6)::bigint || '=' || d.open
		  FROM door_events d JOIN sensors s ON s.id = d.sensor_id AND s.org_id = d.org_id
		 WHERE d.org_id = $1 ORDER BY d.at, 1`, e.orgID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func doorUplink(devEUI string, at time.Time, payload string) []byte {
	return []byte(fmt.Sprintf(`{"end_device_ids": {"device_id": "door-1", "dev_eui": %q}, "received_at": %q,
	  "uplink_message": {"f_port": 10, "f_cnt": 7, "decoded_payload": %s, "received_at": %q}}`,
		devEUI, at.Format(time.RFC3339Nano), payload, at.Format(time.RFC3339Nano)))
}

func TestIngestTTNDoorStates(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "A84041000181C0D1", "A84041000181C0D2")
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	post := func(body []byte) string {
		t.Helper()
		code, out, _ := e.post(t, "/v1/ingest/ttn", e.key, "application/json", body)
		if code != 200 {
			t.Fatalf("uplink = %d %s", code, out)
		}
		return out
	}
	// A door-only uplink (Dragino LDS02) is a door state, not a reading;
	// sent again it is a duplicate.
	lds02 := doorUplink("a8:40:41:00:01:81:c0:d1", at, `{"DOOR_OPEN_STATUS": 1, "DOOR_OPEN_TIMES": 3, "BAT_V": 3.1}`)
	for i, want := range []string{`{"accepted":1,"duplicates":0,"rejected":[]}`, `{"accepted":0,"duplicates":1,"rejected":[]}`} {
		if out := post(lds02); out != want {
			t.Fatalf("door uplink %d = %s, want %s", i, out, want)
		}
	}
	// A door state with a temperature stores both; the answer counts the
	// reading.
	post(doorUplink("A84041000181C0D2", at.Add(time.Second), `{"temperature": 3.5, "door": "Closed"}`))
	// A value that is no door state is refused, and stores nothing.
	out := post(doorUplink("A84041000181C0D2", at.Add(2*time.Second), `{"temperature": 3.6, "door": "ajar"}`))
	if !strings.Contains(out, `"accepted":0`) || !strings.Contains(out, `decoded_payload \"door\" must be a door state`) {
		t.Fatalf("bad door value = %s", out)
	}
	want := []string{
		fmt.Sprintf("A84041000181C0D1@%d=true", at.UnixMicro()),
		fmt.Sprintf("A84041000181C0D2@%d=false", at.Add(time.Second).UnixMicro()),
	}
	if got := e.doorStates(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("door states %v, want %v", got, want)
	}
	readings := e.stored(t)
	if len(readings) != 1 || !strings.HasPrefix(readings[0], "A84041000181C0D2@") || !strings.HasSuffix(readings[0], "=3.5") {
		t.Fatalf("readings %v, want only the one with a temperature", readings)
	}
	// An unknown device's door state is refused like its readings.
	out = post(doorUplink("A84041000181FFFF", at, `{"open": true}`))
	if !strings.Contains(out, `unknown sensor`) || len(e.doorStates(t)) != 2 {
		t.Fatalf("unknown door sensor = %s, %v", out, e.doorStates(t))
	}
}

func TestIngestJSONDoorOpen(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "FT-D1", "FT-D2")
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	body := batch(at,
		fmt.Sprintf(`{"sensor":"FT-D1","time":%q,"temp_c":4.5,"door_open":true}`, at.Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"sensor":"FT-D1","time":%q,"temp_c":4.75,"door_open":false}`, at.Add(time.Minute).Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"sensor":"FT-D2","time":%q,"temp_c":2}`, at.Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"sensor":"FT-D2","time":%q,"temp_c":2,"door_open":"yes"}`, at.Add(time.Minute).Format(time.RFC3339Nano)))
	a := e.readings(t, body)
	if a.Accepted != 3 || len(a.Rejected) != 1 || a.Rejected[0].Index != 3 || a.Rejected[0].Reason != `"door_open" must be true or false` {
		t.Fatalf("answer %+v", a)
	}
	want := []string{
		fmt.Sprintf("FT-D1@%d=true", at.UnixMicro()),
		fmt.Sprintf("FT-D1@%d=false", at.Add(time.Minute).UnixMicro()),
	}
	if got := e.doorStates(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("door states %v, want %v", got, want)
	}
	if n := len(e.stored(t)); n != 3 {
		t.Fatalf("%d readings stored, want 3", n)
	}
	// Resent, everything is a duplicate and nothing is stored twice.
	if a := e.readings(t, body); a.Accepted != 0 || a.Duplicates != 3 || len(e.doorStates(t)) != 2 {
		t.Fatalf("resent: %+v, door states %v", a, e.doorStates(t))
	}
}
