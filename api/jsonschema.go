package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
)

// schemaOf is the JSON Schema of what encoding/json writes for a value of
// v's type: the answers a capability returns as a Go struct are described
// from that struct, so the document cannot drift from the handler. A
// field is required unless it is omitempty or omitzero; a pointer may be
// null; an embedded struct's fields are the outer object's; a
// json.RawMessage may be any JSON.
func schemaOf(v any) map[string]any { return typeSchema(reflect.TypeOf(v)) }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func typeSchema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return orNull(typeSchema(t.Elem()))
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		structFields(t, props, &required)
		s := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Interface:
		return map[string]any{}
	}
	panic(fmt.Sprintf("api: no JSON Schema for %s", t))
}

func structFields(t reflect.Type, props map[string]any, required *[]string) {
	for f := range t.Fields() {
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			structFields(f.Type, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = typeSchema(f.Type)
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			*required = append(*required, name)
		}
	}
}

// orNull lets a schema also be null.
func orNull(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []string{t, "null"}
	case nil:
		// Any JSON already includes null.
	}
	return s
}

// refine adds keywords (an enum, a description) to properties of an object
// schema; it panics on a property the schema does not have, so a renamed
// field fails at start-up (and in every test) instead of documenting
// nothing.
func refine(s map[string]any, props map[string]map[string]any) map[string]any {
	have := s["properties"].(map[string]any)
	for name, extra := range props {
		p, ok := have[name].(map[string]any)
		if !ok {
			panic(fmt.Sprintf("api: refine: no property %q", name))
		}
		for k, v := range extra {
			p[k] = v
		}
	}
	return s
}

// describe returns a copy of a schema with a description: shared schemas
// such as str stay as they are.
func describe(s map[string]any, d string) map[string]any {
	out := maps.Clone(s)
	out["description"] = d
	return out
}
