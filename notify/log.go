package notify

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// ListNotifications returns the organisation's delivery log, newest first
// (at most 500), each row in its wire form; alertID, when not empty, keeps
// only that alert's notifications. The caller checks alertID is a UUID.
func ListNotifications(ctx context.Context, db database.Querier, orgID, alertID string) ([]json.RawMessage, error) {
	rows, err := db.Query(ctx, `
				SELECT jsonb_build_object('id', id, 'alert_id', alert_id, 'contact_id', contact_id, 'channel', channel, 'recipient', recipient,
				       'status', status, 'provider_id', provider_id, 'attempts', attempts, 'last_error', last_error,
				       'created_at', created_at, 'sent_at', sent_at, 'delivered_at', delivered_at)
				  FROM notifications WHERE org_id = $1 AND ($2 = '' OR alert_id::text = $2)
				 ORDER BY created_at DESC LIMIT 500`, orgID, alertID)
	if err != nil {
		return nil, err
	}
	items, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return items, nil
}
