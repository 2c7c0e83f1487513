package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// ListNotifications returns the organisation's delivery log, newest first
// (at most 500), each row in its wire form; alertID, when not empty, keeps
// only that alert's notifications. The caller checks alertID is a UUID.
func ListNotifications(ctx context.Context, db database.Querier, orgID, alertID string) ([]json.RawMessage, error) {
	rows, err := db.Query(ctx, `
				SELECT jsonb_build_object('id', id, 'alert_id', alert_id, 'contact_id', contact_id, 'channel', channel, 'recipient', recipient,
				       'status', status, 'provider_id', provider_id, 'attempts', attempts, 'last_error', last_error, 'suppressed_reason', suppressed_reason,
				       'created_at', created_at, 'sent_at', sent_at, 'delivered_at', delivered_at)
				  FROM notifications WHERE org_id = $1 AND ($2 = '' OR alert_id::text = $2)
				 ORDER BY created_at DESC LIMIT 500`, orgID, alertID)
	if err != nil {
		return nil, err
	}
	return database.JSONList(rows)
}

// RecordedStatus is a message's status as a live stream shows it
// (freshtrack_notification_json, the JSON the database announces when it
// changes).
type RecordedStatus = database.Scoped

// StatusesChangedSince returns the status of orgID's alert messages that
// changed after since, oldest change first, at most limit of them; more
// reports whether there were more.
func StatusesChangedSince(ctx context.Context, db database.Querier, orgID string, since time.Time, limit int) (out []RecordedStatus, more bool, err error) {
	if !uuids.Valid(orgID) {
		return nil, false, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT coalesce(d->>'site_id', ''), coalesce(d->>'unit_id', ''), d
		  FROM (SELECT freshtrack_notification_json(n) AS d
		          FROM notifications n
		         WHERE n.org_id = $1 AND n.alert_id IS NOT NULL AND n.updated_at > $2
		         ORDER BY n.updated_at, n.id
		         LIMIT $3) x
		 WHERE d IS NOT NULL`, orgID, since, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("notification statuses since: %w", err)
	}
	out, more, err = database.ScopedUpTo(rows, limit)
	if err != nil {
		return nil, false, fmt.Errorf("notification statuses since: %w", err)
	}
	return out, more, nil
}
