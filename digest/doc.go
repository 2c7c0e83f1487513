// Package digest sends daily and weekly summary emails: per person and
// organisation, opt-in, at a chosen local hour in the subscription's time
// zone, exactly once per person and period however many instances run.
//
// # Subscriptions
//
// A member subscribes to an organisation's digest with Put (daily and/or
// weekly), reads their subscriptions with Get and stops one with Delete;
// the API mounts them under /v1/orgs/{org}/digest for the signed-in user.
// The zone defaults to the organisation's first site's, the address to the
// user's, the hour to 07:00 and a weekly digest's day to Monday.
//
// # Periods
//
// A daily digest covers the previous local day [yesterday 00:00, today
// 00:00) and is due from LocalHour today; a weekly one covers the 7 local
// days that end where the chosen weekday begins and is due from LocalHour
// on that day (Schedule.Current). Boundaries are local midnights computed
// by calendar arithmetic, so days across daylight-saving changes last 23 or
// 25 hours. A period stays due until the next one is, so an instance that
// was down at the due hour catches up; the first digest is the first one
// due after subscribing; and a period that overlaps one already sent (the
// zone or weekday changed) is skipped.
//
// # Exactly once
//
// RunDue, run by a River periodic job (PeriodicJob, every 5 minutes, on the
// leader), sends each due digest in one transaction: an advisory lock on the
// subscription, the digests_sent row (primary key org, user, frequency,
// period start; ON CONFLICT DO NOTHING), the content, the notifications row
// and its River email job (notify.InsertNotificationTx, with a dedupe key
// naming the period). Either all of it commits or none, so several
// instances, retries and restarts never send a period twice, and a crash
// never records a digest that was not enqueued.
//
// # Content
//
// Load gathers the alerts opened and resolved in the period, the
// temperature excursions open during it with their peak, the units offline
// now (query.Latest, from the persisted latest values) and every unit's
// lowest and highest temperature, from one aggregate over the hourly
// series (5-minute series for zones at :30 or :45 offsets). Render makes
// the subject, plain text and HTML.
package digest
