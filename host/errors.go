package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
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
	// ErrInvalidQuery: a query's filter, page size, page token or grouping is invalid.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrJobNotFound: no bulk job has the id.
	ErrJobNotFound = errors.New("no such bulk job")
	// ErrUnavailable: the change could not be made durable now (the store timed out, failed, or
	// another node holds the instance). Nothing of it was applied; the caller may retry.
	ErrUnavailable = errors.New("the workflow store cannot commit the change now")
	// ErrOutcomeUnknown: the store lost its connection while committing the change, and whether
	// it was applied is unknown (store.ErrOutcomeUnknown); reading the instance tells.
	ErrOutcomeUnknown = errors.New("the workflow store lost its connection while committing; the change may or may not have been applied")
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

// unavailable wraps a store failure (nothing of the operation was applied), counts it and logs
// it: the operator sees the cause, the client a Receiver fault.
func (h *Host) unavailable(id uuid.UUID, op string, cause error) *Error {
	if h.ctx.Err() != nil && errors.Is(cause, context.Canceled) {
		// Background work cut short by Close (an unload, a firing), not a store failure.
		return &Error{Kind: ErrUnavailable, Instance: id, Operation: op, Cause: cause}
	}
	kind := storeErrorKind(cause)
	h.countFenced(cause)
	level := slog.LevelWarn
	if errors.Is(cause, store.ErrLeased) {
		// Another live node holds the instance: with several nodes the everyday case, not a
		// store failure, and the operation goes there (a hand-over that fails is logged and
		// counted by wimp_forwarded_operations_total).
		level = slog.LevelDebug
	} else {
		h.storeErrors.inc(kind)
	}
	h.log.Log(context.Background(), level, "the store could not complete an operation", "kind", kind, "id", id, "operation", op, "err", cause)
	if errors.Is(cause, store.ErrOutcomeUnknown) {
		return &Error{Kind: ErrOutcomeUnknown, Instance: id, Operation: op, Cause: cause}
	}
	return &Error{Kind: ErrUnavailable, Instance: id, Operation: op, Cause: cause}
}

// storeErrorKind classifies a store failure for the metric: timeout, lease (this node's lease
// lapsed; another live node holding the instance is not counted), conflict, closed, or other
// (I/O errors, full disk).
func storeErrorKind(err error) string {
	switch {
	case errors.Is(err, store.ErrTimeout):
		return "timeout"
	case errors.Is(err, store.ErrLeased), errors.Is(err, store.ErrLeaseLost):
		return "lease"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrClosed):
		return "closed"
	case errors.Is(err, store.ErrOutcomeUnknown):
		return "unknown"
	}
	return "other"
}

// counters counts events by kind.
type counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counters) inc(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	c.m[kind]++
}

func (c *counters) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// StoreErrors counts, by kind, the operations the store could not complete since start.
func (h *Host) StoreErrors() map[string]uint64 { return h.storeErrors.snapshot() }
