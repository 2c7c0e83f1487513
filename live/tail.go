package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NotifyChannel is the PostgreSQL channel the triggers of migration 0009
// announce on.
const NotifyChannel = "freshtrack_live"

// announcement is one NOTIFY payload.
type announcement struct {
	T      string          `json:"t"` // alert, notification, membership, organization
	OrgID  string          `json:"org_id"`
	SiteID string          `json:"site_id"`
	UnitID string          `json:"unit_id"`
	UserID string          `json:"user_id"`
	Data   json.RawMessage `json:"data"`
}

// Tail listens to the database's announcements (alert events,
// notification status changes, membership changes) and hands them to the
// hub. It holds one pool connection while it runs. It is a
// lifecycle.Service.
type Tail struct {
	pool *pgxpool.Pool
	hub  *Hub
	log  *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

// NewTail returns a tail of pool's announcements for hub. LISTEN holds a
// session, so pool must reach PostgreSQL itself, never a transaction
// pooler such as PgBouncer (whose connections serve one transaction at a
// time and would deliver notifications to whichever client, or none).
func NewTail(pool *pgxpool.Pool, hub *Hub, log *slog.Logger) *Tail {
	if log == nil {
		log = slog.Default()
	}
	return &Tail{pool: pool, hub: hub, log: log}
}

// Start listens in the background until Stop. A lost connection is
// replaced; the streams are then told to reload (announcements may have
// passed meanwhile), and a resume replays what they missed.
func (t *Tail) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel, t.done = cancel, make(chan struct{})
	go t.run(ctx)
	return nil
}

func (t *Tail) run(ctx context.Context) {
	defer close(t.done)
	first := true
	for ctx.Err() == nil {
		err := t.listen(ctx, func() {
			if !first {
				t.hub.EndAll("live updates were interrupted; reload and reconnect")
			}
			first = false
		})
		if ctx.Err() != nil {
			return
		}
		t.log.Warn("live: lost the database's announcements; listening again", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
}

// listen holds one connection on LISTEN until it fails or ctx ends.
func (t *Tail) listen(ctx context.Context, listening func()) error {
	pooled, err := t.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool for good and is closed at the end: a
	// connection that is listening must not serve anyone else.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		t.handle(ctx, n.Payload)
	}
}

func (t *Tail) handle(ctx context.Context, payload string) {
	var a announcement
	if err := json.Unmarshal([]byte(payload), &a); err != nil {
		t.log.Warn("live: ignoring a malformed announcement", "err", err)
		return
	}
	switch a.T {
	case "alert", "notification":
		typ := TypeAlert
		if a.T == "notification" {
			typ = TypeNotification
		}
		// NOTIFY arrives at commit: now is the commit, to within the
		// delivery of the notification.
		t.hub.Deliver([]Event{{Type: typ, OrgID: a.OrgID, SiteID: a.SiteID, UnitID: a.UnitID, Data: a.Data, Committed: time.Now()}})
	case "membership":
		// The check asks the database: not on this goroutine, which must
		// keep reading announcements.
		go t.hub.EndMember(ctx, a.OrgID, a.UserID)
	case "organization":
		t.hub.EndOrg(a.OrgID, "the organisation was deleted")
	}
}

// Stop stops listening.
func (t *Tail) Stop(context.Context) error {
	if t.cancel == nil {
		return nil
	}
	t.cancel()
	<-t.done
	return nil
}
