package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// sendJSON answers status with a JSON document a capability made, compact
// like everything c.JSON encodes: PostgreSQL writes jsonb with a space
// after every colon and comma.
func sendJSON(c *fiber.Ctx, status int, doc []byte) error {
	var buf bytes.Buffer
	buf.Grow(len(doc))
	if err := json.Compact(&buf, doc); err != nil {
		return fmt.Errorf("compact answer: %w", err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(buf.Bytes())
}

// Every list the API answers has one shape, {"items": [...], "next_cursor":
// ...}: next_cursor is the cursor of the next page, or null on the last
// one. Lists that are never paged (a site's units, your digests) answer
// null straight away, so a client pages every list the same way.

// sendList answers a list that is never paged.
func sendList(c *fiber.Ctx, items any) error {
	return c.JSON(fiber.Map{"items": items, "next_cursor": nil})
}

// listSchema is the JSON Schema of a list of item.
func listSchema(item map[string]any) map[string]any {
	return map[string]any{"type": "object", "additionalProperties": false, "required": []string{"items", "next_cursor"},
		"properties": map[string]any{
			"items":       map[string]any{"type": "array", "items": item},
			"next_cursor": map[string]any{"type": []string{"string", "null"}, "description": "pass as ?cursor= for the next page; null on the last page"},
		}}
}
