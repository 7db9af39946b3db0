package host

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// The kinds of Error; check with errors.Is. The SOAP contracts turn each into their faults.
var (
	ErrNotFound           = errors.New("no such workflow instance")
	ErrSuspended          = errors.New("the workflow instance is suspended")
	ErrCompleted          = errors.New("the workflow instance has completed") // see Error.Completion
	ErrUpdateRefused      = errors.New("the workflow instance cannot be updated")
	ErrBookmarkNotFound   = errors.New("bookmark not found")
	ErrDefinitionNotFound = errors.New("definition not found")
	ErrInvalidInput       = errors.New("invalid input")
	ErrExists             = errors.New("a workflow instance with this id already exists")
	// ErrUnavailable: the change could not be made durable now (the store timed out, failed, or
	// another node holds the instance). Nothing of it was applied; the caller may retry.
	ErrUnavailable = errors.New("the workflow store cannot commit the change now")
)

// Error is the host's refusal of a command, or its failure to carry one out.
type Error struct {
	Kind       error // one of the Err* values above
	Instance   uuid.UUID
	Operation  string              // the command's name, e.g. "Suspend" or "ResumeBookmark"
	Completion workflow.Completion // with ErrCompleted: how the instance ended
	Detail     string              // why, for people
	Cause      error               // the underlying error, if any
}

func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Operation != "" {
		s = e.Operation + ": " + s
	}
	if e.Instance != uuid.Nil {
		s += fmt.Sprintf(" (instance %s)", e.Instance)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap gives errors.Is and errors.As both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

func refuse(kind error, id uuid.UUID, op, detail string) *Error {
	return &Error{Kind: kind, Instance: id, Operation: op, Detail: detail}
}

// unavailable wraps a store failure: nothing of the operation was applied.
func unavailable(id uuid.UUID, op string, cause error) *Error {
	return &Error{Kind: ErrUnavailable, Instance: id, Operation: op, Cause: cause}
}
