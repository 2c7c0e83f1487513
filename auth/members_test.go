package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestMembershipsProtectOwners: the membership lookup, adding members, and
// the owner rules (only an owner changes an owner; the last owner stays),
// each change with its audit row.
func TestMembershipsProtectOwners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	user := func(name string) auth.User {
		u, err := auth.UpsertUser(ctx, tx, "https://issuer.test", "sub-"+name, name+"@example.com", name)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	owner, cook, outsider := user("owner"), user("cook"), user("outsider")
	raw, err := auth.CreateOwnedOrganization(ctx, tx, auth.CreateOwnedOrganizationParams{Name: "Bistro", OwnerID: owner.ID, Actor: "user:" + owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	var org struct{ ID, Role string }
	if err := json.Unmarshal(raw, &org); err != nil || org.Role != "owner" {
		t.Fatalf("created %s (%v)", raw, err)
	}

	if r, err := auth.MemberRole(ctx, tx, org.ID, owner.ID); err != nil || r != auth.Owner {
		t.Fatalf("owner's role = %q, %v", r, err)
	}
	for _, c := range [][2]string{{org.ID, outsider.ID}, {"not-a-uuid", owner.ID}} {
		if _, err := auth.MemberRole(ctx, tx, c[0], c[1]); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("MemberRole(%s, %s) = %v, want ErrNotFound", c[0], c[1], err)
		}
	}

	if _, err := auth.AddMember(ctx, tx, auth.AddMemberParams{OrgID: org.ID, Email: " COOK@example.com ", Role: auth.Staff, Actor: "user:" + owner.ID}); err != nil {
		t.Fatal(err)
	}
	var ce *auth.ConflictError
	if _, err := auth.AddMember(ctx, tx, auth.AddMemberParams{OrgID: org.ID, Email: "cook@example.com", Role: auth.Staff}); !errors.As(err, &ce) {
		t.Errorf("adding a member twice = %v, want a ConflictError", err)
	}
	var ve *auth.ValidationError
	if _, err := auth.AddMember(ctx, tx, auth.AddMemberParams{OrgID: org.ID, Email: "nobody@example.com", Role: auth.Staff}); !errors.As(err, &ve) || ve.Field != "email" {
		t.Errorf("adding an unknown email = %v, want a ValidationError naming email", err)
	}

	var fe *auth.ForbiddenError
	byAdmin := auth.MemberChange{OrgID: org.ID, UserID: cook.ID, By: auth.Admin, Actor: "user:admin"}
	if _, err := auth.SetMemberRole(ctx, tx, byAdmin, auth.Owner); !errors.As(err, &fe) {
		t.Errorf("an admin making an owner = %v, want a ForbiddenError", err)
	}
	byOwner := auth.MemberChange{OrgID: org.ID, UserID: cook.ID, By: auth.Owner, Actor: "user:" + owner.ID}
	raw, err = auth.SetMemberRole(ctx, tx, byOwner, auth.Manager)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := auth.MemberRole(ctx, tx, org.ID, cook.ID); r != auth.Manager {
		t.Fatalf("cook is %q after %s", r, raw)
	}
	self := auth.MemberChange{OrgID: org.ID, UserID: owner.ID, By: auth.Owner, Actor: "user:" + owner.ID}
	if err := auth.RemoveMember(ctx, tx, self); !errors.As(err, &ce) {
		t.Errorf("removing the last owner = %v, want a ConflictError", err)
	}
	if _, err := auth.SetMemberRole(ctx, tx, self, auth.Admin); !errors.As(err, &ce) {
		t.Errorf("demoting the last owner = %v, want a ConflictError", err)
	}
	if err := auth.RemoveMember(ctx, tx, byOwner); err != nil {
		t.Fatal(err)
	}
	if err := auth.RemoveMember(ctx, tx, byOwner); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("removing a non-member = %v, want ErrNotFound", err)
	}

	var actions []string
	for _, a := range auditRows(t, tx, org.ID) {
		actions = append(actions, a.Action)
	}
	if want := []string{"organization.create", "member.add", "member.role", "member.remove"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions = %v, want %v", actions, want)
	}

	if err := auth.DeleteOrganization(ctx, tx, org.ID, "user:"+owner.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.MemberRole(ctx, tx, org.ID, owner.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("role in a deleted organisation = %v, want ErrNotFound", err)
	}
}
