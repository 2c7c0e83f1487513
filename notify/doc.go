// Package notify delivers alert notifications to people, by SMS (Telnyx) and
// email (SMTP), and keeps the delivery log.
//
// # Senders
//
// [Sender] is the one interface: Send(ctx, [Message]) returns a [Receipt] with
// the provider's id, or an error that is either permanent ([ErrPermanent],
// test with [IsPermanent]: invalid or unroutable number, blocked or rejected
// message, bad address, SMTP 5xx, HTTP 4xx other than 408 and 429) or
// retryable (everything else). Errors are classified by status and error
// codes ([TelnyxError], [SMTPError]), never by message text.
//
// [Telnyx] posts to the Messaging API v2. One instance per process: its rate
// limiter (RatePerSecond) is what keeps the account under Telnyx's limits,
// and it retries 429 (honouring Retry-After), 5xx, timeouts and connection
// errors itself before giving up. [SMTP] sends multipart plain-text and HTML
// email with go-mail. Neither logs its credentials.
//
// # Delivery log and jobs
//
// The notifications table is the log. [InsertNotificationTx] writes a row
// (status queued, unique on its dedupe key) and enqueues a [SendArgs] River
// job (kind "notify_send", queue [QueueNotify]) in the caller's transaction,
// so an alert and its notification commit together and a retried caller does
// not notify twice. [SendWorker] runs the job:
//
//	queued -> sending -> sent -> delivered   (delivered via the webhook)
//	               \-> queued (retryable error, River retries)
//	               \-> failed (permanent error, sender not configured, or out of attempts)
//
// [ListNotifications] reads the log for the API's
// GET /v1/orgs/:org/notifications (the api package runs no SQL of its own).
//
// Delivery is at least once; see [SendWorker] for the one window in which a
// crash can duplicate a message. Register the worker and the queue where the
// River client is built:
//
//	river.AddWorker(workers, &notify.SendWorker{DB: pool, SMS: telnyx, Email: smtp, Logger: logger})
//	queues[notify.QueueNotify] = river.QueueConfig{MaxWorkers: 10}
//
// # Rendering
//
// [RenderSMS] and [RenderEmail] turn an [AlertNotice] into the texts to send:
// the unit, the temperature against its limit in °C, how long, and a link.
//
// # Delivery webhooks
//
// Telnyx reports what happened to a message with signed webhooks. A handler
// mounted by the api package reads the raw body (at most
// [MaxTelnyxWebhookBody]) and does:
//
//	sig, ts := header(notify.TelnyxSignatureHeader), header(notify.TelnyxTimestampHeader)
//	if err := notify.VerifyTelnyxSignature(key, sig, ts, body, time.Now()); err != nil {
//		// 401: errors.Is(err, notify.ErrBadSignature)
//	}
//	if _, err := notify.ApplyTelnyxEvent(ctx, pool, body); err != nil {
//		// 400 when errors.Is(err, notify.ErrBadEvent); otherwise 500, so Telnyx retries
//	}
//	// 200
//
// key comes from [ParseTelnyxPublicKey] at startup. [ApplyTelnyxEvent] only
// moves a row forward (sent, then delivered or failed), so duplicate and
// out-of-order webhooks are harmless.
//
// # Boundaries
//
// notify owns the notifications table and the senders. It must not import
// the api package, fiber or internal/problem (api maps its errors to HTTP),
// and must not change alerts, escalation steps or contacts: alerting decides
// who is notified and when, fleet owns the contacts.
package notify
