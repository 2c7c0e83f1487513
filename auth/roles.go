package auth

import "fmt"

// Role is a member's role in an organisation. Each role has every
// permission of the roles below it: owner > admin > manager > staff > viewer.
type Role string

// Roles, lowest first.
const (
	Viewer  Role = "viewer"
	Staff   Role = "staff"
	Manager Role = "manager"
	Admin   Role = "admin"
	Owner   Role = "owner"
)

// Roles lists every role, lowest first.
var Roles = []Role{Viewer, Staff, Manager, Admin, Owner}

// Rank orders roles: viewer 1 … owner 5, 0 for an unknown role.
func (r Role) Rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// AtLeast reports whether r has every permission of min.
func (r Role) AtLeast(min Role) bool { return r.Rank() > 0 && r.Rank() >= min.Rank() }

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.Rank() == 0 {
		return "", &ValidationError{Field: "role", Reason: fmt.Sprintf("%q is not a role; use viewer, staff, manager, admin or owner", s)}
	}
	return r, nil
}

// Permission is something a role may do in an organisation.
type Permission string

// The permission matrix: the one place that says who may do what. The
// README's table is written from it.
const (
	// PermRead: read everything in the organisation (sites, units, series,
	// alerts, reports, members, contacts, API key prefixes).
	PermRead Permission = "read"
	// PermOperate: acknowledge and resolve alerts, comment, record corrective
	// actions and manual temperature checks.
	PermOperate Permission = "operate"
	// PermManage: manage sites, areas, units, sensors, alert rules,
	// escalation policies and contacts.
	PermManage Permission = "manage"
	// PermAdminister: manage members and API keys, edit organisation settings.
	PermAdminister Permission = "administer"
	// PermOwn: manage billing and delete the organisation.
	PermOwn Permission = "own"
)

// Matrix maps each permission to the lowest role that has it.
var Matrix = map[Permission]Role{
	PermRead:       Viewer,
	PermOperate:    Staff,
	PermManage:     Manager,
	PermAdminister: Admin,
	PermOwn:        Owner,
}

// Can reports whether role r has permission p.
func (r Role) Can(p Permission) bool {
	min, ok := Matrix[p]
	return ok && r.AtLeast(min)
}
