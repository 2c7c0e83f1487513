package api

import (
	"crypto/ed25519"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/notify"
)

// TelnyxWebhookRoute documents POST /v1/webhooks/telnyx.
var TelnyxWebhookRoute = Route{Method: "POST", Path: "/v1/webhooks/telnyx", Summary: "Telnyx delivery-status webhook (Ed25519-signed)", Tag: "webhooks", Public: true}

// RegisterTelnyxWebhook mounts the Telnyx delivery-status webhook. Requests
// must carry a valid telnyx-signature-ed25519 over "timestamp|body" made
// within the last five minutes; a nil key answers every call with 503.
func RegisterTelnyxWebhook(app *fiber.App, pool *pgxpool.Pool, key ed25519.PublicKey, log *slog.Logger) {
	app.Post(TelnyxWebhookRoute.Path, func(c *fiber.Ctx) error {
		if key == nil {
			return problem.Unavailable("Telnyx webhooks are not configured (FRESHTRACK_TELNYX_PUBLIC_KEY)", 60)
		}
		body := c.Body()
		if len(body) > notify.MaxTelnyxWebhookBody {
			return problem.New(fiber.StatusRequestEntityTooLarge, "too-large", "Request body too large", "webhook bodies are small; this one is not")
		}
		err := notify.VerifyTelnyxSignature(key, c.Get(notify.TelnyxSignatureHeader), c.Get(notify.TelnyxTimestampHeader), body, time.Now())
		if err != nil {
			return problem.New(fiber.StatusUnauthorized, "bad-signature", "Invalid signature", err.Error())
		}
		updated, err := notify.ApplyTelnyxEvent(c.UserContext(), pool, body)
		if errors.Is(err, notify.ErrBadEvent) {
			return problem.BadRequest(err.Error())
		}
		if err != nil {
			log.Error("apply telnyx event", "err", err)
			return err // 500: Telnyx retries
		}
		return c.JSON(fiber.Map{"updated": updated})
	})
}
