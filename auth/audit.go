package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/freshtrack/freshtrack/internal/database"
)

// AuditBreak is where an organisation's audit chain stops being consistent.
type AuditBreak struct {
	// ID is the first audit_log row that fails.
	ID int64
	// Reason says how: its content no longer matches its hash, or it does
	// not link to the row before it (a row was removed or reordered).
	Reason string
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit trail broken at row %d: %s", b.ID, b.Reason)
}

// VerifyAudit recomputes the hash chain of an organisation's audit trail and
// returns the number of rows checked and the newest hash; a broken chain
// yields an *AuditBreak naming the first row that fails. The hash is the one
// the database's audit_log_chain trigger computes.
func VerifyAudit(ctx context.Context, db database.Querier, orgID string) (int, []byte, error) {
	rows, err := db.Query(ctx, `
		SELECT id, prev_hash, hash,
		       sha256(prev_hash || convert_to(concat_ws(E'\x1f', id::text, coalesce(org_id::text, ''),
		              to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		              actor, action, target_type, target_id, details::text), 'UTF8'))
		  FROM audit_log WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return 0, nil, fmt.Errorf("read audit trail: %w", err)
	}
	defer rows.Close()
	var (
		n                      int
		id                     int64
		prev, hash, recomputed []byte
		want                   = []byte{}
	)
	for rows.Next() {
		if err := rows.Scan(&id, &prev, &hash, &recomputed); err != nil {
			return n, nil, fmt.Errorf("read audit trail: %w", err)
		}
		if !bytes.Equal(prev, want) {
			return n, nil, &AuditBreak{ID: id, Reason: "it does not follow the row before it (a row was removed, inserted or reordered)"}
		}
		if !bytes.Equal(hash, recomputed) {
			return n, nil, &AuditBreak{ID: id, Reason: "its content does not match its hash (it was modified)"}
		}
		want = hash
		n++
	}
	if err := rows.Err(); err != nil {
		return n, nil, fmt.Errorf("read audit trail: %w", err)
	}
	return n, want, nil
}

// AuditEntry is one audit_log row.
type AuditEntry struct {
	// OrgID is the organisation the action was taken in.
	OrgID string
	// Actor is who did it ("user:<id>", "cli", "system").
	Actor string
	// Action is what was done ("site.create", "member.role").
	Action string
	// TargetType and TargetID name what it was done to.
	TargetType, TargetID string
	// Details are stored as JSON; nil (or a value that does not marshal)
	// is stored as {}.
	Details any
}

// WriteAudit appends an audit_log row. Given the caller's transaction, the
// row commits with the change it records, or not at all; the database's
// audit_log_chain trigger links it into the organisation's hash chain.
func WriteAudit(ctx context.Context, db database.Querier, e AuditEntry) error {
	_, err := AppendAudit(ctx, db, e)
	return err
}

// AppendAudit is WriteAudit that returns the new row's id, for records
// whose audit entry is their substance (an electronic signature).
func AppendAudit(ctx context.Context, db database.Querier, e AuditEntry) (int64, error) {
	d, err := json.Marshal(e.Details)
	if err != nil || string(d) == "null" {
		d = []byte("{}")
	}
	var id int64
	err = db.QueryRow(ctx, `INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		e.OrgID, e.Actor, e.Action, e.TargetType, e.TargetID, json.RawMessage(d)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	return id, nil
}
