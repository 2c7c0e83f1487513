package api

import "github.com/gofiber/fiber/v2"

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
