package live

import (
	"bufio"
	"encoding/json"
	"strconv"
	"time"
)

// Event types.
const (
	// TypeReading is a unit's newest reading, with its state.
	TypeReading = "reading"
	// TypeUnitState is a unit's new state (alerting.UnitOK, ...).
	TypeUnitState = "unit_state"
	// TypeAlert is an alert event: opened, acknowledged, resolved, ...
	TypeAlert = "alert"
	// TypeNotification is a message's new delivery status.
	TypeNotification = "notification"
	// TypeReset ends a stream, or starts one that cannot resume: the client
	// must reload what it shows before it reconnects.
	TypeReset = "reset"
)

// Event is one message for the streams of an organisation.
type Event struct {
	// Type is TypeReading, TypeUnitState, TypeAlert or TypeNotification.
	Type string `json:"type"`
	// OrgID is the organisation whose streams may see it.
	OrgID string `json:"org_id"`
	// SiteID and UnitID scope it for filtered streams; empty when the
	// event belongs to no unit.
	SiteID string `json:"site_id,omitempty"`
	UnitID string `json:"unit_id,omitempty"`
	// Data is the event's JSON object, as the client reads it.
	Data json.RawMessage `json:"data"`
	// Committed is when the change it reports committed (fan-out latency
	// is measured from it); zero when unknown.
	Committed time.Time `json:"committed,omitzero"`
}

// writeFrame writes one SSE frame: id, event type and data. Data is JSON on
// one line (encoding/json and PostgreSQL's json output never contain raw
// newlines), so it needs no splitting.
func writeFrame(w *bufio.Writer, id int64, typ string, data []byte) {
	w.WriteString("id: ")
	w.WriteString(strconv.FormatInt(id, 10))
	w.WriteString("\nevent: ")
	w.WriteString(typ)
	w.WriteString("\ndata: ")
	w.Write(data)
	w.WriteString("\n\n")
}
