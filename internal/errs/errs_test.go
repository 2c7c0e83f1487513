package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/freshtrack/freshtrack/internal/errs"
)

func TestErrorsMatchThroughWrapping(t *testing.T) {
	wrapped := fmt.Errorf("loading unit: %w", errs.ErrNotFound)
	if !errors.Is(wrapped, errs.ErrNotFound) {
		t.Fatal("a wrapped ErrNotFound is not found by errors.Is")
	}
	var ve *errs.ValidationError
	err := fmt.Errorf("create: %w", &errs.ValidationError{Field: "from", Reason: "must be before to"})
	if !errors.As(err, &ve) || ve.Field != "from" {
		t.Fatalf("errors.As lost the field: %v", err)
	}
	if got, want := ve.Error(), "invalid from: must be before to"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	var ce *errs.ConflictError
	if !errors.As(fmt.Errorf("x: %w", &errs.ConflictError{Reason: "already a member"}), &ce) || ce.Error() != "already a member" {
		t.Fatal("ConflictError does not carry its reason")
	}
	var fe *errs.ForbiddenError
	if !errors.As(fmt.Errorf("x: %w", &errs.ForbiddenError{Reason: "only an owner"}), &fe) || fe.Error() != "only an owner" {
		t.Fatal("ForbiddenError does not carry its reason")
	}
}
