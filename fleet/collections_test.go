package fleet

import (
	"testing"

	"github.com/freshtrack/freshtrack/internal/crud"
)

// TestCollectionsNameTheirOwnFields: every filter and every CHECK
// constraint's field is a field of its collection, so a list filter
// reaches a column and a violation names something the client sent.
func TestCollectionsNameTheirOwnFields(t *testing.T) {
	for _, c := range []*crud.Collection{Sites, Areas, Units, Sensors, Contacts} {
		has := map[string]bool{}
		for _, f := range c.Fields {
			has[f.JSON] = true
		}
		for _, f := range c.Filters {
			if !has[f] {
				t.Errorf("%s: filter %s is not a field", c.Singular, f)
			}
		}
		for constraint, fe := range c.Checks {
			if !has[fe.Field] {
				t.Errorf("%s: %s names %s, not a field", c.Singular, constraint, fe.Field)
			}
		}
	}
}
