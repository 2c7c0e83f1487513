package api

import (
	"maps"
	"slices"
	"strings"

	"github.com/freshtrack/freshtrack/internal/crud"
)

// schema is the JSON Schema of a resource: the wire form, which always
// has every field (null when unset), or (forCreate) the create body with
// its required fields.
func (res *resource) schema(forCreate bool) map[string]any {
	props := map[string]any{}
	var required []string
	if !forCreate {
		props["id"] = map[string]any{"type": "string", "format": "uuid", "readOnly": true}
		props["version"] = map[string]any{"type": "integer", "description": "optimistic-lock version; the ETag carries it too"}
		props["created_at"] = map[string]any{"type": "string", "format": "date-time", "readOnly": true}
		props["updated_at"] = map[string]any{"type": "string", "format": "date-time", "readOnly": true}
		if res.SoftDelete != "" {
			props[res.SoftDelete] = map[string]any{"type": []string{"string", "null"}, "format": "date-time", "readOnly": true}
		}
	}
	for _, f := range res.Fields {
		if forCreate && f.ReadOnly {
			continue
		}
		s := jsonSchema(f)
		for k, v := range res.fieldSchemas[f.JSON] {
			s[k] = v
		}
		if f.ReadOnly {
			s["readOnly"] = true
		}
		props[f.JSON] = s
		if forCreate && f.Required {
			required = append(required, f.JSON)
		}
	}
	if !forCreate {
		required = slices.Sorted(maps.Keys(props))
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func jsonSchema(f crud.Field) map[string]any {
	s := map[string]any{}
	switch f.Kind {
	case crud.Text:
		s["type"], s["minLength"], s["maxLength"] = "string", 1, f.MaxLen
	case crud.Ref:
		s["type"], s["format"] = "string", "uuid"
		s["description"] = "id of a " + f.Ref + " of the same organisation"
	case crud.Enum:
		s["type"], s["enum"] = "string", f.Enum
	case crud.Number, crud.Int:
		s["type"] = "number"
		if f.Kind == crud.Int {
			s["type"] = "integer"
		}
		if f.Min != nil {
			s["minimum"] = *f.Min
		}
		if f.Max != nil {
			s["maximum"] = *f.Max
		}
	case crud.Bool:
		s["type"] = "boolean"
	case crud.Timezone:
		s["type"], s["description"] = "string", "IANA time zone, e.g. Europe/Berlin"
	case crud.Phone:
		s["type"], s["pattern"] = "string", `^\+[1-9][0-9]{1,14}$`
	case crud.Email:
		s["type"], s["format"] = "string", "email"
	case crud.JSON:
		s["type"] = "array"
	case crud.Time:
		s["type"], s["format"] = "string", "date-time"
	}
	if f.Nullable || f.ReadOnly && f.Kind != crud.Bool {
		if t, ok := s["type"].(string); ok {
			s["type"] = []string{t, "null"}
		}
	}
	if f.Doc != "" {
		s["description"] = strings.TrimSpace(f.Doc)
	}
	return s
}
