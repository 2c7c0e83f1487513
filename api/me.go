package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/digest"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/notify"
)

var nullStr = map[string]any{"type": []string{"string", "null"}}

// meSchema is GET /v1/me: the profile and the digests of every organisation.
var meSchema = obj(map[string]any{
	"id": map[string]any{"type": "string", "format": "uuid"}, "name": nullStr, "email": nullStr,
	"phone":          map[string]any{"type": []string{"string", "null"}, "description": "E.164; used for alerts only once phone_verified"},
	"phone_verified": map[string]any{"type": "boolean"},
	"phone_pending":  map[string]any{"type": "boolean", "description": "a code was sent to phone and waits for POST /v1/me/phone/confirm"},
	"sms_opt_in":     map[string]any{"type": "boolean"}, "email_opt_in": map[string]any{"type": "boolean"},
	"timezone": map[string]any{"type": []string{"string", "null"}, "description": "IANA time zone"},
	"digests":  map[string]any{"type": "array", "items": subscriptionSchema},
}, "id", "name", "email", "phone", "phone_verified", "phone_pending", "sms_opt_in", "email_opt_in", "timezone", "digests")

var mePatchSchema = map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
	"name":         map[string]any{"type": "string", "minLength": 1, "maxLength": 200},
	"phone":        map[string]any{"type": "string", "pattern": `^\+[1-9][0-9]{1,14}$`, "description": "a new number is stored unverified and a 6-digit code is sent to it by SMS"},
	"sms_opt_in":   map[string]any{"type": "boolean"},
	"email_opt_in": map[string]any{"type": "boolean"},
	"timezone":     map[string]any{"type": "string", "description": "IANA time zone; empty clears it"},
	"digests": map[string]any{"type": "array", "maxItems": 100, "items": map[string]any{"type": "object", "additionalProperties": false,
		"required": []string{"org_id", "frequency"}, "properties": map[string]any{
			"org_id": map[string]any{"type": "string", "format": "uuid"}, "frequency": map[string]any{"type": "string", "enum": []string{"daily", "weekly"}},
			"local_hour": map[string]any{"type": "integer", "minimum": 0, "maximum": 23}, "weekday": map[string]any{"type": "integer", "minimum": 0, "maximum": 6},
			"timezone": str, "enabled": map[string]any{"type": "boolean"},
			"site_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string", "format": "uuid"}, "description": "only these sites; [] for every site"},
		}}},
}}

// mePatch is the body of PATCH /v1/me.
type mePatch struct {
	Name       *string       `json:"name"`
	Phone      *string       `json:"phone"`
	SMSOptIn   *bool         `json:"sms_opt_in"`
	EmailOptIn *bool         `json:"email_opt_in"`
	Timezone   *string       `json:"timezone"`
	Digests    []digestPatch `json:"digests"`
}

type digestPatch struct {
	OrgID     string    `json:"org_id"`
	Frequency string    `json:"frequency"`
	LocalHour *int      `json:"local_hour"`
	Weekday   *int      `json:"weekday"`
	Timezone  string    `json:"timezone"`
	Enabled   *bool     `json:"enabled"`
	SiteIDs   *[]string `json:"site_ids"`
}

func (r *Router) me(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), UserOf(c).ID
	p, err := notify.GetProfile(ctx, r.deps.Pool, id)
	if err != nil {
		return capabilityError("user", err)
	}
	subs, err := digest.ListForUser(ctx, r.deps.Pool, id)
	if err != nil {
		return err
	}
	if subs == nil {
		subs = []digest.Subscription{}
	}
	return c.JSON(fiber.Map{"id": p.ID, "name": p.Name, "email": p.Email, "phone": p.Phone, "phone_verified": p.PhoneVerified,
		"phone_pending": p.PhonePending, "sms_opt_in": p.SMSOptIn, "email_opt_in": p.EmailOptIn, "timezone": p.Timezone, "digests": subs})
}

// registerMe mounts the signed-in person's own profile.
func (r *Router) registerMe() {
	r.Handle(Route{Method: "GET", Path: "/v1/me", Summary: "Your profile: name, phone, opt-ins, time zone and digests", Tag: "profile", Response: meSchema}, r.me)
	r.Handle(Route{Method: "PATCH", Path: "/v1/me", Summary: "Change your profile; a new phone gets a verification code by SMS", Tag: "profile",
		Request: mePatchSchema, Response: meSchema,
		Example: func(map[string]string) map[string]any {
			// No digests: the route matrix calls it as an outsider too.
			return map[string]any{"name": "Sam Cook", "timezone": "Europe/Berlin", "email_opt_in": true}
		}},
		func(c *fiber.Ctx) error {
			var p mePatch
			if err := strictBody(c, &p); err != nil {
				return err
			}
			if p.Phone != nil && !notify.ValidPhone(*p.Phone) {
				return problem.Validation(problem.FieldError{Field: "phone", Reason: "must be an E.164 number: + then country code and number, e.g. +15550002222"})
			}
			ctx, id := c.UserContext(), UserOf(c).ID
			change := notify.ProfileChange{Name: p.Name, SMSOptIn: p.SMSOptIn, EmailOptIn: p.EmailOptIn, Timezone: p.Timezone}
			err := notify.UpdateProfileTx(ctx, r.deps.Pool, id, change, func(ctx context.Context, tx database.DB) error {
				for i, d := range p.Digests {
					_, err := digest.Put(ctx, tx, digest.PutParams{OrgID: d.OrgID, UserID: id, Frequency: d.Frequency, LocalHour: d.LocalHour,
						Weekday: d.Weekday, Timezone: d.Timezone, Enabled: d.Enabled, SiteIDs: d.SiteIDs})
					var ve *digest.ValidationError
					switch {
					case errors.Is(err, digest.ErrNotFound):
						return &digest.ValidationError{Field: "digests[" + strconv.Itoa(i) + "].org_id", Reason: "is not an organisation you are a member of"}
					case errors.As(err, &ve):
						return &digest.ValidationError{Field: "digests[" + strconv.Itoa(i) + "]." + ve.Field, Reason: ve.Reason}
					case err != nil:
						return err
					}
				}
				return nil
			})
			if err != nil {
				return capabilityError("user", err)
			}
			if p.Phone != nil {
				if err := r.startPhone(c, id, *p.Phone); err != nil {
					return err
				}
			}
			return r.me(c)
		})
	r.Handle(Route{Method: "POST", Path: "/v1/me/phone/confirm", Summary: "Confirm your phone with the 6-digit code sent to it; it then reaches you for alerts", Tag: "profile",
		Request: obj(map[string]any{"code": map[string]any{"type": "string", "pattern": "^[0-9]{6}$"}}, "code"), Response: meSchema,
		Example: func(map[string]string) map[string]any { return map[string]any{"code": TestPhoneCode} }},
		func(c *fiber.Ctx) error {
			var p struct {
				Code string `json:"code"`
			}
			if err := strictBody(c, &p); err != nil {
				return err
			}
			if r.deps.Notify == nil {
				return problem.Unavailable("phone verification is not available on this server", 60)
			}
			_, err := r.deps.Notify.ConfirmPhone(c.UserContext(), UserOf(c).ID, p.Code)
			switch {
			case errors.Is(err, notify.ErrWrongCode), errors.Is(err, notify.ErrCodeExpired), errors.Is(err, notify.ErrNoPendingPhone):
				return problem.Validation(problem.FieldError{Field: "code", Reason: err.Error()})
			case errors.Is(err, notify.ErrTooManyAttempts):
				return problem.New(fiber.StatusTooManyRequests, "too-many-attempts", "Too many attempts", err.Error())
			case err != nil:
				return capabilityError("user", err)
			}
			return r.me(c)
		})
	r.Handle(Route{Method: "POST", Path: "/v1/orgs/:org/contacts/:id/test", Summary: "Send a test SMS or email to a contact through the real delivery path", Tag: "contacts",
		Perm: auth.PermManage, Success: fiber.StatusAccepted,
		Request: obj(map[string]any{"channel": map[string]any{"type": "string", "enum": []string{"sms", "email"}}}, "channel"),
		Response: obj(map[string]any{"notification_id": map[string]any{"type": "string", "format": "uuid", "description": "its status is in GET /v1/orgs/{org}/notifications"},
			"status": map[string]any{"type": "string"}}, "notification_id", "status"),
		Example: func(map[string]string) map[string]any { return map[string]any{"channel": "sms"} }},
		func(c *fiber.Ctx) error {
			var p struct {
				Channel string `json:"channel"`
			}
			if err := strictBody(c, &p); err != nil {
				return err
			}
			if r.deps.Notify == nil {
				return problem.Unavailable("test messages are not available on this server", 60)
			}
			id, err := r.deps.Notify.SendTest(c.UserContext(), notify.TestParams{OrgID: OrgOf(c), ContactID: c.Params("id"),
				Channel: notify.Channel(p.Channel), Actor: Actor(c)})
			if err != nil {
				return capabilityError("contact", err)
			}
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"notification_id": id, "status": "queued"})
		})
}

// TestPhoneCode is the code the route tests' fixtures prepare; it has no
// meaning to the server.
const TestPhoneCode = "424242"

func (r *Router) startPhone(c *fiber.Ctx, userID, phone string) error {
	if r.deps.Notify == nil {
		return problem.Unavailable("phone verification is not available on this server", 60)
	}
	_, err := r.deps.Notify.StartPhoneVerification(c.UserContext(), userID, phone)
	var soon *notify.ResendTooSoonError
	switch {
	case errors.As(err, &soon):
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(soon.RetryAfter.Seconds())+1))
		return problem.New(fiber.StatusTooManyRequests, "too-soon", "Too soon", err.Error()+"; your other changes were saved")
	case errors.Is(err, notify.ErrSMSNotConfigured):
		return problem.Unavailable(err.Error(), 3600)
	case errors.Is(err, notify.ErrPermanent):
		return problem.Validation(problem.FieldError{Field: "phone", Reason: "the SMS provider refused this number: " + err.Error()})
	case err != nil:
		var ve *notify.ValidationError
		if errors.As(err, &ve) {
			return capabilityError("user", err)
		}
		return problem.New(fiber.StatusBadGateway, "sms-failed", "SMS not sent", fmt.Sprintf("the code could not be sent (%v); try again", err))
	}
	return nil
}
