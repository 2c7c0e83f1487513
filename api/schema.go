package api

import "strings"

// schema is the JSON Schema of a resource: the wire form, or (forCreate)
// the create body with its required fields.
func (res *resource) schema(forCreate bool) map[string]any {
	props := map[string]any{}
	var required []string
	if !forCreate {
		props["id"] = map[string]any{"type": "string", "format": "uuid", "readOnly": true}
		props["version"] = map[string]any{"type": "integer", "description": "optimistic-lock version; the ETag carries it too"}
		props["created_at"] = map[string]any{"type": "string", "format": "date-time", "readOnly": true}
		props["updated_at"] = map[string]any{"type": "string", "format": "date-time", "readOnly": true}
		if res.softDelete != "" {
			props[res.softDelete] = map[string]any{"type": []string{"string", "null"}, "format": "date-time", "readOnly": true}
		}
	}
	for _, f := range res.fields {
		if forCreate && f.readOnly {
			continue
		}
		s := f.jsonSchema()
		if f.readOnly {
			s["readOnly"] = true
		}
		props[f.json] = s
		if forCreate && f.required {
			required = append(required, f.json)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func (f field) jsonSchema() map[string]any {
	s := map[string]any{}
	switch f.kind {
	case kText:
		s["type"], s["minLength"], s["maxLength"] = "string", 1, f.maxLen
	case kRef:
		s["type"], s["format"] = "string", "uuid"
		s["description"] = "id of a " + f.ref + " of the same organisation"
	case kEnum:
		s["type"], s["enum"] = "string", f.enum
	case kNumber, kInt:
		s["type"] = "number"
		if f.kind == kInt {
			s["type"] = "integer"
		}
		if f.min != nil {
			s["minimum"] = *f.min
		}
		if f.max != nil {
			s["maximum"] = *f.max
		}
	case kBool:
		s["type"] = "boolean"
	case kTimezone:
		s["type"], s["description"] = "string", "IANA time zone, e.g. Europe/Berlin"
	case kPhone:
		s["type"], s["pattern"] = "string", `^\+[1-9][0-9]{1,14}$`
	case kEmail:
		s["type"], s["format"] = "string", "email"
	case kJSON:
		s["type"] = "array"
	case kTime:
		s["type"], s["format"] = "string", "date-time"
	}
	if f.nullable || f.readOnly && f.kind != kBool {
		if t, ok := s["type"].(string); ok {
			s["type"] = []string{t, "null"}
		}
	}
	if f.doc != "" {
		s["description"] = strings.TrimSpace(f.doc)
	}
	return s
}
