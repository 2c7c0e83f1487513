package api

import (
	"crypto/ed25519"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/notify"
)

// TelnyxWebhookRoute documents POST /v1/webhooks/telnyx.
var TelnyxWebhookRoute = Route{Method: "POST", Path: "/v1/webhooks/telnyx", Summary: "Telnyx delivery-status webhook (Ed25519-signed)", Tag: "webhooks", Public: true,
	Request:  map[string]any{"type": "object", "description": "a Telnyx v2 event (message.sent, message.finalized, ...)"},
	Response: obj(map[string]any{"updated": map[string]any{"type": "boolean", "description": "whether a notification's status changed"}}, "updated")}

// RegisterTelnyxWebhook mounts the Telnyx delivery-status webhook. Requests
// must carry a valid telnyx-signature-ed25519 over "timestamp|body" made
// within the last five minutes; a nil key answers every call with 503. The
// body is read uncompressed and small (the signature covers the bytes as
// sent) and nothing else is done with it before the signature checks out.
func RegisterTelnyxWebhook(app *fiber.App, pool *database.Pool, key ed25519.PublicKey, adm *httpbody.Admission, log *slog.Logger) {
	app.Post(TelnyxWebhookRoute.Path, func(c *fiber.Ctx) error {
		if key == nil {
			return problem.Unavailable("Telnyx webhooks are not configured (FRESHTRACK_TELNYX_PUBLIC_KEY)", 60)
		}
		if c.Get(notify.TelnyxSignatureHeader) == "" || c.Get(notify.TelnyxTimestampHeader) == "" {
			return problem.New(fiber.StatusUnauthorized, "bad-signature", "Invalid signature",
				"Telnyx webhooks carry "+notify.TelnyxSignatureHeader+" and "+notify.TelnyxTimestampHeader)
		}
		if ct := string(c.Request().Header.ContentType()); ct != "" && !httpbody.IsJSON(ct) {
			return httpbody.WrongContentType(ct, "application/json")
		}
		b, err := httpbody.Read(c, adm, httpbody.Options{Limit: notify.MaxTelnyxWebhookBody, Identity: true})
		defer b.Close()
		if err != nil {
			return err
		}
		body := b.Bytes
		err = notify.VerifyTelnyxSignature(key, c.Get(notify.TelnyxSignatureHeader), c.Get(notify.TelnyxTimestampHeader), body, time.Now())
		if err != nil {
			return problem.New(fiber.StatusUnauthorized, "bad-signature", "Invalid signature", err.Error())
		}
		if err := httpbody.CheckJSON(body); err != nil {
			return err
		}
		updated, err := notify.ApplyTelnyxEvent(c.UserContext(), pool, body)
		if errors.Is(err, notify.ErrBadEvent) {
			return problem.BadRequest(err.Error())
		}
		if err != nil {
			log.ErrorContext(c.UserContext(), "apply telnyx event", "err", err)
			return err // 500: Telnyx retries
		}
		return c.JSON(fiber.Map{"updated": updated})
	})
}
