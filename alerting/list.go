package alerting

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// ListParams are the inputs of ListAlerts.
type ListParams struct {
	// OrgID is the caller's organisation.
	OrgID string
	// Status is "" (all), "open" (not resolved), "triggered",
	// "acknowledged" or "resolved".
	Status string
	// UnitID limits the list to one unit; "" for all. A malformed one is a
	// *ValidationError naming "unit", the API's query parameter.
	UnitID string
	// From and To bound opened_at: From <= opened_at < To. Zero is unbounded.
	From, To time.Time
	// Cursor is Page.NextCursor of the previous page; "" for the first.
	Cursor string
	// Limit is the page size, 1 to 200. Defaults to 50.
	Limit int
	// Scope, when set, limits the list further (an inspector link's view).
	Scope *SiteScope
}

// SiteScope limits a list to alerts of units at some sites that opened
// within a range of days, each site's local days.
type SiteScope struct {
	// SiteIDs are the sites; at least one.
	SiteIDs []string
	// PeriodFrom and PeriodTo are the first and last day (YYYY-MM-DD); nil
	// is unbounded.
	PeriodFrom, PeriodTo *string
}

// Page is one page of alerts, newest opened first, in the shape of every
// list the API answers: items and next_cursor.
type Page struct {
	// Items are the alerts, newest opened first.
	Items []Alert `json:"items"`
	// NextCursor fetches the next page; nil (null on the wire) on the last
	// page.
	NextCursor *string `json:"next_cursor"`
}

// ListAlerts lists an organisation's alerts, newest opened first, with
// cursor pagination: the cursor is an opaque encoding of the last row's
// (opened_at, id), so pages stay stable while new alerts open. Invalid
// filters give a *ValidationError naming the field.
func ListAlerts(ctx context.Context, db database.DB, p ListParams) (Page, error) {
	if !uuids.Valid(p.OrgID) {
		return Page{}, ErrNotFound
	}
	switch p.Status {
	case "", "open", StatusTriggered, StatusAcknowledged, StatusResolved:
	default:
		return Page{}, &ValidationError{Field: "status", Reason: "must be open, triggered, acknowledged or resolved"}
	}
	var unit *string
	if p.UnitID != "" {
		if !uuids.Valid(p.UnitID) {
			return Page{}, &ValidationError{Field: "unit", Reason: "must be a unit id (UUID)"}
		}
		unit = &p.UnitID
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return Page{}, &ValidationError{Field: "from", Reason: "must be before to"}
	}
	limit := p.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 1 || limit > 200:
		return Page{}, &ValidationError{Field: "limit", Reason: "must be from 1 to 200"}
	}
	var curAt *time.Time
	var curID *string
	if p.Cursor != "" {
		at, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return Page{}, &ValidationError{Field: "cursor", Reason: "is not a cursor this API returned"}
		}
		curAt, curID = &at, &id
	}
	var scopeSites []string
	var scopeFrom, scopeTo *string
	if p.Scope != nil {
		scopeSites, scopeFrom, scopeTo = p.Scope.SiteIDs, p.Scope.PeriodFrom, p.Scope.PeriodTo
		if scopeSites == nil {
			scopeSites = []string{} // no sites: no alerts, never all of them
		}
	}
	rows, err := db.Query(ctx, alertSelect+`
		 WHERE a.org_id = $1
		   AND CASE $2::text WHEN '' THEN true WHEN 'open' THEN a.status <> 'resolved' ELSE a.status = $2 END
		   AND ($3::uuid IS NULL OR a.unit_id = $3)
		   AND ($4::timestamptz IS NULL OR a.opened_at >= $4)
		   AND ($5::timestamptz IS NULL OR a.opened_at < $5)
		   AND ($6::timestamptz IS NULL OR (a.opened_at, a.id) < ($6, $7::uuid))
		   AND ($9::uuid[] IS NULL OR EXISTS (
		       SELECT 1 FROM units u JOIN sites s ON s.id = u.site_id
		        WHERE u.id = a.unit_id AND s.id = ANY($9::uuid[])
		          AND ($10::date IS NULL OR a.opened_at >= $10::date::timestamp AT TIME ZONE s.timezone)
		          AND ($11::date IS NULL OR a.opened_at < ($11::date + 1)::timestamp AT TIME ZONE s.timezone)))
		 ORDER BY a.opened_at DESC, a.id DESC
		 LIMIT $8`,
		p.OrgID, p.Status, unit, nullTime(p.From), nullTime(p.To), curAt, curID, limit+1, scopeSites, scopeFrom, scopeTo)
	if err != nil {
		return Page{}, fmt.Errorf("list alerts: %w", err)
	}
	alerts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Alert, error) { return scanAlert(r) })
	if err != nil {
		return Page{}, fmt.Errorf("list alerts: %w", err)
	}
	page := Page{Items: alerts}
	if len(alerts) > limit {
		page.Items = alerts[:limit]
		last := page.Items[limit-1]
		next := encodeCursor(last.OpenedAt, last.ID)
		page.NextCursor = &next
	}
	return page, nil
}

// GetAlert returns an alert with its events (oldest first), corrective
// actions and notifications. Another organisation's alert gives
// ErrNotFound, as a missing one does.
func GetAlert(ctx context.Context, db database.DB, orgID, id string) (AlertDetail, error) {
	if !uuids.Valid(orgID) || !uuids.Valid(id) {
		return AlertDetail{}, ErrNotFound
	}
	a, err := getAlert(ctx, db, orgID, id)
	if err != nil {
		return AlertDetail{}, err
	}
	d := AlertDetail{Alert: a}
	rows, err := db.Query(ctx, `
		SELECT id, at, kind, coalesce(actor_id::text, ''), details FROM alert_events
		 WHERE org_id = $1 AND alert_id = $2 ORDER BY at, id`, orgID, id)
	if err != nil {
		return AlertDetail{}, fmt.Errorf("alert events: %w", err)
	}
	if d.Events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var ev Event
		err := r.Scan(&ev.ID, &ev.At, &ev.Kind, &ev.ActorID, &ev.Details)
		return ev, err
	}); err != nil {
		return AlertDetail{}, fmt.Errorf("alert events: %w", err)
	}
	rows, err = db.Query(ctx, `
		SELECT id::text, action, disposition, coalesce(taken_by::text, ''), taken_at, coalesce(notes, '')
		  FROM corrective_actions WHERE org_id = $1 AND alert_id = $2 ORDER BY taken_at, id`, orgID, id)
	if err != nil {
		return AlertDetail{}, fmt.Errorf("corrective actions: %w", err)
	}
	if d.CorrectiveActions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (CorrectiveAction, error) {
		var c CorrectiveAction
		err := r.Scan(&c.ID, &c.Action, &c.Disposition, &c.TakenBy, &c.TakenAt, &c.Notes)
		return c, err
	}); err != nil {
		return AlertDetail{}, fmt.Errorf("corrective actions: %w", err)
	}
	rows, err = db.Query(ctx, `
		SELECT id::text, coalesce(contact_id::text, ''), channel, recipient, status, attempts, coalesce(last_error, ''),
		       created_at, sent_at, delivered_at
		  FROM notifications WHERE org_id = $1 AND alert_id = $2 ORDER BY created_at, id`, orgID, id)
	if err != nil {
		return AlertDetail{}, fmt.Errorf("notifications: %w", err)
	}
	if d.Notifications, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.ContactID, &n.Channel, &n.Recipient, &n.Status, &n.Attempts, &n.LastError,
			&n.CreatedAt, &n.SentAt, &n.DeliveredAt)
		return n, err
	}); err != nil {
		return AlertDetail{}, fmt.Errorf("notifications: %w", err)
	}
	if d.Notification, err = loadRecipients(ctx, db, orgID, id, a.Kind); err != nil {
		return AlertDetail{}, err
	}
	return d, nil
}

// alertThresholdSQL is an alert's threshold: the one it opened at, else (an
// alert opened before thresholds were recorded on alerts) its rule's, else
// the unit's safe range side the rule follows.
const alertThresholdSQL = `coalesce(a.threshold_c, r.threshold,
	       CASE a.kind WHEN 'temp_low' THEN u.safe_min_c WHEN 'temp_high' THEN u.safe_max_c ELSE 0 END)`

const alertSelect = `
	SELECT a.id::text, a.org_id::text, a.unit_id::text, u.name, u.site_id::text, si.name, a.rule_id::text,
	       coalesce(se.public_id::text, ''), a.kind, a.severity, a.status, a.started_at, a.opened_at,
	       a.peak_c, a.last_reading_c, ` + alertThresholdSQL + `, a.escalation_step,
	       a.acknowledged_at, coalesce(a.acknowledged_by::text, ''), a.resolved_at, coalesce(a.resolved_by::text, ''),
	       a.auto_resolved, coalesce(a.summary, '')
	  FROM alerts a
	  JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
	  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
	  JOIN alert_rules r ON r.org_id = a.org_id AND r.id = a.rule_id
	  LEFT JOIN sensors se ON se.id = a.sensor_id`

func scanAlert(row pgx.Row) (Alert, error) {
	var a Alert
	err := row.Scan(&a.ID, &a.OrgID, &a.UnitID, &a.UnitName, &a.SiteID, &a.SiteName, &a.RuleID,
		&a.SensorID, &a.Kind, &a.Severity, &a.Status, &a.StartedAt, &a.OpenedAt,
		&a.PeakC, &a.LastReadingC, &a.Threshold, &a.EscalationStep,
		&a.AcknowledgedAt, &a.AcknowledgedBy, &a.ResolvedAt, &a.ResolvedBy, &a.AutoResolved, &a.Summary)
	return a, err
}

func getAlert(ctx context.Context, db database.DB, orgID, id string) (Alert, error) {
	a, err := scanAlert(db.QueryRow(ctx, alertSelect+` WHERE a.org_id = $1 AND a.id = $2`, orgID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Alert{}, ErrNotFound
	}
	if err != nil {
		return Alert{}, fmt.Errorf("get alert: %w", err)
	}
	return a, nil
}

// encodeCursor makes the opaque cursor of a row: base64 of
// "<opened_at in µs since the epoch>.<id>".
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", err
	}
	us, id, ok := strings.Cut(string(b), ".")
	if !ok || !uuids.Valid(id) {
		return time.Time{}, "", errors.New("malformed cursor")
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return time.Time{}, "", err
	}
	return time.UnixMicro(n).UTC(), id, nil
}
