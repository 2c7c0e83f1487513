package auth

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// AuditRow is one audit_log row as the audit trail API answers it, with
// its hashes so a reader can check the chain independently.
type AuditRow struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	Details    json.RawMessage `json:"details"`
	// Hash and PrevHash are hex SHA-256; PrevHash is the hash of the
	// organisation's row before this one ("" for the first).
	Hash     string `json:"hash"`
	PrevHash string `json:"prev_hash"`
}

// AuditListParams are the inputs of [ListAudit].
type AuditListParams struct {
	OrgID string
	// Action, Actor, TargetType and TargetID match exactly when not empty.
	Action, Actor, TargetType, TargetID string
	// From and To bound at: From <= at < To. Zero is unbounded.
	From, To time.Time
	// Ascending lists oldest first (by id); the default is newest first.
	Ascending bool
	// Cursor is NextCursor of the previous page.
	Cursor string
	// Limit is the page size, 1 to 200. Defaults to 50.
	Limit int
	// Inspector, when set, limits the rows to those about the link's sites'
	// objects within its period, and the link's own rows.
	Inspector *InspectorLink
}

// AuditPage is one page of the audit trail.
type AuditPage struct {
	Items      []AuditRow `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

// inspectorAuditScope is the rows an inspector link sees: rows about its
// own use, and rows whose target (a site, or an area, unit, sensor, alert
// or alert rule of a site) is at one of its sites, written within the
// link's period in that site's time zone. A row about an object that was
// deleted since cannot be placed at a site and is left out; so are rows
// about the organisation as a whole (members, keys, billing, settings).
const inspectorAuditScope = `
	AND ((a.target_type = 'inspector_link' AND a.target_id = $10)
	  OR EXISTS (
		SELECT 1 FROM sites s
		 WHERE s.org_id = $1 AND s.id = ANY($11::uuid[])
		   AND s.id = CASE a.target_type
		       WHEN 'site' THEN ` + targetUUID + `
		       WHEN 'area' THEN (SELECT x.site_id FROM areas x WHERE x.id = ` + targetUUID + ` AND x.org_id = $1)
		       WHEN 'unit' THEN (SELECT x.site_id FROM units x WHERE x.id = ` + targetUUID + ` AND x.org_id = $1)
		       WHEN 'sensor' THEN (SELECT u.site_id FROM sensors x JOIN units u ON u.id = x.unit_id WHERE x.public_id = ` + targetUUID + ` AND x.org_id = $1)
		       WHEN 'alert' THEN (SELECT u.site_id FROM alerts x JOIN units u ON u.id = x.unit_id WHERE x.id = ` + targetUUID + ` AND x.org_id = $1)
		       WHEN 'alert_rule' THEN (SELECT u.site_id FROM alert_rules x JOIN units u ON u.id = x.unit_id WHERE x.id = ` + targetUUID + ` AND x.org_id = $1)
		       WHEN 'alert rule' THEN (SELECT u.site_id FROM alert_rules x JOIN units u ON u.id = x.unit_id WHERE x.id = ` + targetUUID + ` AND x.org_id = $1)
		       END
		   AND ($12::date IS NULL OR a.at >= $12::date::timestamp AT TIME ZONE s.timezone)
		   AND ($13::date IS NULL OR a.at < ($13::date + 1)::timestamp AT TIME ZONE s.timezone)))`

// targetUUID is an audit row's target_id as a uuid, or NULL when it is not
// one, so that the lookups above use the tables' primary keys (and a
// target_id that is no UUID never fails the cast).
const targetUUID = `(CASE WHEN a.target_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN a.target_id::uuid END)`

// ListAudit lists an organisation's audit trail with filters and cursor
// paging (the cursor is the last row's id). Invalid parameters give a
// *ValidationError naming the API's query parameter.
func ListAudit(ctx context.Context, db database.Querier, p AuditListParams) (AuditPage, error) {
	if !uuids.Valid(p.OrgID) {
		return AuditPage{}, ErrNotFound
	}
	limit := p.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 1 || limit > 200:
		return AuditPage{}, &ValidationError{Field: "limit", Reason: "must be from 1 to 200"}
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return AuditPage{}, &ValidationError{Field: "from", Reason: "must be before to"}
	}
	var cursor *int64
	if p.Cursor != "" {
		n, err := strconv.ParseInt(p.Cursor, 10, 64)
		if err != nil || n <= 0 {
			return AuditPage{}, &ValidationError{Field: "cursor", Reason: "is not a cursor this API returned"}
		}
		cursor = &n
	}
	for field, v := range map[string]string{"action": p.Action, "actor": p.Actor, "target_type": p.TargetType, "target_id": p.TargetID} {
		if len(v) > 200 {
			return AuditPage{}, &ValidationError{Field: field, Reason: "at most 200 characters"}
		}
	}
	order, after := "DESC", "<"
	if p.Ascending {
		order, after = "ASC", ">"
	}
	sql := `
		SELECT a.id, a.at, a.actor, a.action, a.target_type, a.target_id, a.details, a.hash, a.prev_hash
		  FROM audit_log a
		 WHERE a.org_id = $1
		   AND ($2 = '' OR a.action = $2) AND ($3 = '' OR a.actor = $3)
		   AND ($4 = '' OR a.target_type = $4) AND ($5 = '' OR a.target_id = $5)
		   AND ($6::timestamptz IS NULL OR a.at >= $6) AND ($7::timestamptz IS NULL OR a.at < $7)
		   AND ($8::bigint IS NULL OR a.id ` + after + ` $8)`
	args := []any{p.OrgID, p.Action, p.Actor, p.TargetType, p.TargetID, nullTime(p.From), nullTime(p.To), cursor, limit + 1}
	if l := p.Inspector; l != nil {
		sql += inspectorAuditScope
		args = append(args, l.ID, l.SiteIDs(), l.PeriodFrom, l.PeriodTo)
	}
	sql += ` ORDER BY a.id ` + order + ` LIMIT $9`
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit trail: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditRow, error) {
		var a AuditRow
		var hash, prev []byte
		err := r.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.TargetType, &a.TargetID, &a.Details, &hash, &prev)
		a.Hash, a.PrevHash = hex.EncodeToString(hash), hex.EncodeToString(prev)
		return a, err
	})
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit trail: %w", err)
	}
	page := AuditPage{Items: items}
	if page.Items == nil {
		page.Items = []AuditRow{}
	}
	if len(items) > limit {
		page.Items = items[:limit]
		next := strconv.FormatInt(page.Items[limit-1].ID, 10)
		page.NextCursor = &next
	}
	return page, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// VerifyAuditRows checks some rows of an organisation's chain without
// reading all of it: each row's content against its hash, and its
// prev_hash against the hash of the organisation's row just before it
// (visible to the caller or not). It returns how many rows were checked
// and the first (lowest id) that fails as an *AuditBreak. It proves the
// rows were not modified and that nothing was removed or inserted right
// before each of them; [VerifyAudit] checks the whole chain.
func VerifyAuditRows(ctx context.Context, db database.Querier, orgID string, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	rows, err := db.Query(ctx, `
		SELECT a.id, a.prev_hash, a.hash,
		       sha256(a.prev_hash || convert_to(concat_ws(E'\x1f', a.id::text, coalesce(a.org_id::text, ''),
		              to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		              a.actor, a.action, a.target_type, a.target_id, a.details::text), 'UTF8')),
		       coalesce((SELECT p.hash FROM audit_log p WHERE p.org_id = a.org_id AND p.id < a.id ORDER BY p.id DESC LIMIT 1), '\x'::bytea)
		  FROM audit_log a WHERE a.org_id = $1 AND a.id = ANY($2) ORDER BY a.id`, orgID, ids)
	if err != nil {
		return 0, fmt.Errorf("verify audit rows: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var prev, hash, recomputed, before []byte
		if err := rows.Scan(&id, &prev, &hash, &recomputed, &before); err != nil {
			return n, fmt.Errorf("verify audit rows: %w", err)
		}
		if !bytes.Equal(prev, before) {
			return n, &AuditBreak{ID: id, Reason: "it does not follow the row before it (a row was removed, inserted or reordered)"}
		}
		if !bytes.Equal(hash, recomputed) {
			return n, &AuditBreak{ID: id, Reason: "its content does not match its hash (it was modified)"}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("verify audit rows: %w", err)
	}
	return n, nil
}
