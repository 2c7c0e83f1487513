package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/notify"
)

// Config configures a Sender.
type Config struct {
	// Pool holds the subscriptions, the digests' data and River's tables.
	// Required.
	Pool *pgxpool.Pool
	// Jobs inserts the email send jobs, in the transaction that records
	// the digest; an insert-only client is enough. Required.
	Jobs *river.Client[pgx.Tx]
	// PublicURL is the base of links in digests, such as
	// https://freshtrack.example.com. Defaults to none (digests without links).
	PublicURL string
	// Unsubscribe, when set, signs the one-click unsubscribe link every
	// digest email carries. Defaults to none (digests without the link).
	Unsubscribe *notify.Unsubscriber
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Sender sends the digests that are due. Any number of Senders, in any
// number of processes, may run RunDue at the same time on one database:
// each digest is still sent once.
type Sender struct {
	pool      *pgxpool.Pool
	jobs      *river.Client[pgx.Tx]
	publicURL string
	unsub     *notify.Unsubscriber
	now       func() time.Time
	log       *slog.Logger

	mSent, mErrors *metrics.Counter
	mRunSeconds    *metrics.Histogram
}

// WithDefaults returns c with unset fields set to their documented defaults.
func (c Config) WithDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first required field that is missing.
func (c Config) Validate() error {
	if c.Pool == nil {
		return errors.New("digest: Config.Pool is required")
	}
	if c.Jobs == nil {
		return errors.New("digest: Config.Jobs is required (an insert-only River client is enough)")
	}
	return nil
}

// New returns a Sender.
func New(cfg Config) (*Sender, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sender{
		pool: cfg.Pool, jobs: cfg.Jobs, publicURL: strings.TrimRight(cfg.PublicURL, "/"), unsub: cfg.Unsubscribe, now: cfg.Now, log: cfg.Logger,
		mSent:       metrics.GetOrCreateCounter(`freshtrack_digests_sent_total`),
		mErrors:     metrics.GetOrCreateCounter(`freshtrack_digest_errors_total`),
		mRunSeconds: metrics.GetOrCreateHistogram(`freshtrack_digest_run_seconds`),
	}, nil
}

// subscriber is a subscription with what deciding and sending need.
type subscriber struct {
	orgID, userID, frequency string
	localHour, weekday       int
	timezone, email          string
	siteIDs                  []string
	createdAt                time.Time
	// lastEnd is the end of the newest period sent; nil before the first.
	lastEnd *time.Time
}

func (s subscriber) String() string {
	return s.orgID + "/" + s.userID + "/" + s.frequency
}

// due returns the subscription's current period and whether its digest is
// to be sent at now: its due time has come (Schedule.Current), it was due
// no earlier than the subscription was created (the first digest is the
// first one due after subscribing), and it does not overlap a period
// already sent (so changing the zone or weekday never covers a day twice).
func (s subscriber) due(now time.Time) (Period, *time.Location, bool, error) {
	if s.timezone == "" || s.timezone == "Local" {
		return Period{}, nil, false, fmt.Errorf("digest subscription %s: time zone %q is not an IANA zone (fix it with PUT …/digest)", s, s.timezone)
	}
	loc, err := time.LoadLocation(s.timezone)
	if err != nil {
		return Period{}, nil, false, fmt.Errorf("digest subscription %s: time zone %q: %w (fix it with PUT …/digest)", s, s.timezone, err)
	}
	p := Schedule{Frequency: s.frequency, LocalHour: s.localHour, Weekday: time.Weekday(s.weekday), Location: loc}.Current(now)
	ok := !p.DueAt.After(now) && !p.DueAt.Before(s.createdAt) && (s.lastEnd == nil || !s.lastEnd.After(p.Start))
	return p, loc, ok, nil
}

// subscribersSQL lists enabled subscriptions of members of live
// organisations, with the end of the newest period sent to each; it reads
// one subscription when $1.. are set.
const subscribersSQL = `
	SELECT s.org_id::text, s.user_id::text, s.frequency, s.local_hour, s.weekday, s.timezone, s.email, s.site_ids::text[], s.created_at,
	       (SELECT max(d.period_end) FROM digests_sent d
	         WHERE d.org_id = s.org_id AND d.user_id = s.user_id AND d.frequency = s.frequency)
	  FROM digest_subscriptions s
	  JOIN memberships m ON m.org_id = s.org_id AND m.user_id = s.user_id
	  JOIN organizations o ON o.id = s.org_id AND o.deleted_at IS NULL
	 WHERE s.enabled
	   AND ($1::uuid IS NULL OR (s.org_id = $1 AND s.user_id = $2 AND s.frequency = $3))`

func scanSubscribers(rows pgx.Rows) ([]subscriber, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (subscriber, error) {
		var s subscriber
		err := r.Scan(&s.orgID, &s.userID, &s.frequency, &s.localHour, &s.weekday, &s.timezone, &s.email, &s.siteIDs, &s.createdAt, &s.lastEnd)
		return s, err
	})
}

// RunDue sends every digest that is due and returns how many this call sent.
//
// It lists the enabled subscriptions of current members, and for each one
// whose current period (see Schedule.Current) is due and not yet sent,
// runs one transaction that
//
//  1. takes a transaction-level advisory lock on the subscription and reads
//     it again (still enabled, still a member, period still due);
//  2. inserts the digests_sent row (org, user, frequency, period_start) ON
//     CONFLICT DO NOTHING, and skips when it already existed;
//  3. gathers and renders the content;
//  4. records the email notification and enqueues its River send job
//     (notify.InsertNotificationTx, dedupe key
//     "digest:<org>:<user>:<frequency>:<period start, RFC 3339 UTC>");
//  5. stores the notification id on the digests_sent row, and commits.
//
// So a digest, its delivery-log row and its send job commit together or not
// at all; a concurrent RunDue (another instance) waits on the lock and then
// finds the period sent, and a crash before commit leaves nothing behind
// for the next run to trip over. One subscription failing does not stop the
// others: the errors are logged and returned joined.
func (s *Sender) RunDue(ctx context.Context) (sent int, err error) {
	start := time.Now()
	defer s.mRunSeconds.UpdateDuration(start)
	now := s.now()
	rows, err := s.pool.Query(ctx, subscribersSQL, nil, nil, nil)
	if err != nil {
		return 0, fmt.Errorf("digest: list subscriptions: %w", err)
	}
	subs, err := scanSubscribers(rows)
	if err != nil {
		return 0, fmt.Errorf("digest: list subscriptions: %w", err)
	}
	var errs []error
	for _, sub := range subs {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		_, _, ok, err := sub.due(now)
		if err != nil {
			s.log.Error("digest not sent: subscription has a bad time zone", "subscription", sub.String(), "err", err)
			continue
		}
		if !ok {
			continue
		}
		done, err := s.sendOne(ctx, sub, now)
		if err != nil {
			s.mErrors.Inc()
			s.log.Error("digest not sent; the next run retries it", "subscription", sub.String(), "err", err)
			errs = append(errs, err)
			continue
		}
		if done {
			sent++
			s.mSent.Inc()
		}
	}
	return sent, errors.Join(errs...)
}

// sendOne sends sub's current digest if it is still due, in one
// transaction, and reports whether it did.
func (s *Sender) sendOne(ctx context.Context, candidate subscriber, now time.Time) (bool, error) {
	var (
		sent   bool
		period Period
		notice string
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('freshtrack.digest:' || $1 || ':' || $2 || ':' || $3, 0))`,
			candidate.orgID, candidate.userID, candidate.frequency); err != nil {
			return fmt.Errorf("lock subscription: %w", err)
		}
		// Read it again under the lock: another instance may have sent it,
		// or the person changed or left it, since the list was read.
		rows, err := tx.Query(ctx, subscribersSQL, candidate.orgID, candidate.userID, candidate.frequency)
		if err != nil {
			return fmt.Errorf("reload subscription: %w", err)
		}
		subs, err := scanSubscribers(rows)
		if err != nil {
			return fmt.Errorf("reload subscription: %w", err)
		}
		if len(subs) == 0 {
			return nil // disabled, deleted, or no longer a member
		}
		sub := subs[0]
		p, loc, ok, err := sub.due(now)
		if err != nil || !ok {
			return err
		}
		var inserted bool
		err = tx.QueryRow(ctx, `
			INSERT INTO digests_sent (org_id, user_id, frequency, period_start, period_end)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING
			RETURNING true`, sub.orgID, sub.userID, sub.frequency, p.Start, p.End).Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // sent already
		}
		if err != nil {
			return fmt.Errorf("record digest: %w", err)
		}

		c, err := Load(ctx, tx, LoadParams{OrgID: sub.orgID, Frequency: sub.frequency, Period: p, Location: loc,
			BaseURL: s.publicURL, Now: func() time.Time { return now }, SiteIDs: sub.siteIDs})
		if err != nil {
			return err
		}
		subject, text, html := Render(c)
		var unsubscribe string
		if s.unsub != nil {
			unsubscribe = s.unsub.URL(notify.UnsubscribeToken{UserID: sub.userID, OrgID: sub.orgID, List: sub.frequency})
		}
		id, _, err := notify.InsertNotificationTx(ctx, tx, s.jobs, notify.EnqueueParams{
			OrgID: sub.orgID, Channel: notify.Email, Recipient: sub.email,
			Subject: subject, Text: text, HTML: html, ListUnsubscribe: unsubscribe,
			DedupeKey: DedupeKey(sub.orgID, sub.userID, sub.frequency, p.Start),
		})
		if err != nil {
			return fmt.Errorf("enqueue digest email: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE digests_sent SET notification_id = $5
			 WHERE org_id = $1 AND user_id = $2 AND frequency = $3 AND period_start = $4`,
			sub.orgID, sub.userID, sub.frequency, p.Start, id); err != nil {
			return fmt.Errorf("record digest notification: %w", err)
		}
		sent, period, notice = true, p, id
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("digest %s: %w", candidate, err)
	}
	if sent {
		s.log.Info("digest sent", "subscription", candidate.String(), "period_start", period.Start, "period_end", period.End, "notification_id", notice)
	}
	return sent, nil
}

// DedupeKey is the notifications.dedupe_key of a digest:
// "digest:<org>:<user>:<frequency>:<period start, RFC 3339 UTC>".
func DedupeKey(orgID, userID, frequency string, periodStart time.Time) string {
	return fmt.Sprintf("digest:%s:%s:%s:%s", orgID, userID, frequency, periodStart.UTC().Format(time.RFC3339))
}
