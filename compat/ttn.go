package compat

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/ingest"
)

// uplinkAnswer is FreshTrack Pro's answer to a TTN uplink. Success is false
// (with 202) for an uplink that was not stored but must not make TTN
// disable the webhook: a device the organisation has not registered.
type uplinkAnswer struct {
	Success         bool   `json:"success"`
	Message         string `json:"message"`
	AlertsTriggered int    `json:"alertsTriggered"`
}

// checkOrg refuses a request whose URL names another organisation than the
// credential's (the TTN webhooks FreshTrack Pro provisioned put it there).
func checkOrg(c *fiber.Ctx, p auth.Principal) error {
	if org := c.Params("orgId"); org != "" && !strings.EqualFold(org, p.OrgID) {
		return newError(fiber.StatusForbidden, "this webhook's URL names organisation "+org+
			", but its secret belongs to another one: correct the URL or the secret")
	}
	return nil
}

// postUplink stores one TTN v3 uplink through the native TTN decoder and
// pipeline (ingest.IngestTTN) and answers as FreshTrack Pro did: 200 once
// stored (or already stored), 202 for a device the organisation has no
// sensor for, 422 for an uplink with neither a usable temperature nor a
// door state.
func (s *Service) postUplink(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	if err := checkOrg(c, p); err != nil {
		return err
	}
	body, err := s.readJSON(c)
	if err != nil {
		return err
	}
	defer body.Close()
	out, err := s.cfg.Ingest.IngestTTN(c.UserContext(), p.OrgID, body)
	if err != nil {
		return err
	}
	if out.Accepted+out.Duplicates > 0 {
		return send(c, fiber.StatusOK, uplinkAnswer{Success: true, Message: "Uplink processed successfully"})
	}
	if len(out.Rejected) == 0 {
		return newError(fiber.StatusUnprocessableEntity, "the uplink held no reading")
	}
	switch r := out.Rejected[0]; r.Cause {
	case ingest.CauseSensorLimit:
		return send(c, fiber.StatusAccepted, uplinkAnswer{Message: "Device " + out.Sensor + " was not stored: " + r.Reason})
	case ingest.CauseUnknownSensor, ingest.CauseRetiredSensor:
		return send(c, fiber.StatusAccepted, uplinkAnswer{Message: "Device " + out.Sensor +
			" is not a sensor of this organisation (or is retired); the uplink was not stored. Register the device as a sensor with this id to store its readings."})
	default:
		return newError(fiber.StatusUnprocessableEntity, r.Reason)
	}
}

// postJoin answers a join-accept with 200 and stores nothing; its body is
// read (bounded) and checked all the same.
func (s *Service) postJoin(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	if err := checkOrg(c, p); err != nil {
		return err
	}
	body, err := s.readJSON(c)
	if err != nil {
		return err
	}
	body.Close()
	return send(c, fiber.StatusOK, uplinkAnswer{Success: true, Message: "Join accepted"})
}
