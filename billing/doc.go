// Package billing bills organisations through Stripe and holds them to
// their plan's sensor limit.
//
// # Plans and limits
//
// Plans are configuration ([ParsePlans]: a Stripe price and a sensor
// limit each), not code. [Limits] decides what an organisation may have
// from its subscriptions row: a live subscription (trialing, active, past
// due, unpaid) gets its plan's limit, anything else the free limit, a
// contract limit ([SetContractLimit]) overrides both, and a past-due one
// refuses every new sensor once the grace period after it went past due is
// over. [Limits.Reserve] takes the organisation's advisory lock in the
// transaction that inserts sensors, so concurrent creates never pass the
// limit together; the API's sensor create ([Limits.GuardFor]) and ingest's
// auto-registration ([Limits.Room]) both go through it. Nothing here ever
// refuses a reading of a registered sensor.
//
// # Stripe
//
// [Service] creates the organisation's customer on first need (org id in
// its metadata, one per organisation under a row lock and an idempotency
// key), starts Checkout and portal sessions, and applies webhook events
// ([Service.HandleWebhook]): verified on the raw body, recorded by id in
// stripe_events in the transaction of their effect (so applied once), and
// ordered by Stripe's created time (an older subscription state never
// replaces a newer one, and an ended subscription stays ended). A failed
// payment emails the owners through notify's delivery path.
//
// # Usage meters
//
// [Service.Meter], run hourly by River ([MeterWorker], [MeterPeriodicJob]),
// sends each closed hour's active sensors and readings as Billing Meter
// events. The hour's value and identifier ([Identifier]) are recorded in
// usage_reports before the send, so every retry sends the same event,
// which Stripe deduplicates for 24 hours; hours older than Stripe accepts
// are recorded as skipped, refusals as failed.
package billing
