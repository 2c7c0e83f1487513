package auth

import (
	"bytes"
	"context"
	"fmt"
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
func VerifyAudit(ctx context.Context, db Querier, orgID string) (int, []byte, error) {
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
