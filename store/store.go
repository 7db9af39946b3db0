// Package store persists workflow instances and their tracking records.
// The Store interface is what the host needs; sqlite.go is the SQLite backend and
// storetest holds the behavioural suite every backend must pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Errors returned by every backend; check with errors.Is.
var (
	ErrNotFound = errors.New("store: instance not found")
	ErrExists   = errors.New("store: instance already exists")
	ErrConflict = errors.New("store: instance was changed concurrently (version mismatch)")
	ErrClosed   = errors.New("store: closed")
	// ErrInvalid reports a malformed Change (nil Instance, nil id, unknown Op or State, a Record of
	// another instance). It is returned before anything is written.
	ErrInvalid = errors.New("store: invalid change")
)

// State is the MS-WFIM instance state.
type State string

const (
	Active    State = "Active"
	Suspended State = "Suspended"
	Completed State = "Completed"
)

// Completion says how a Completed instance ended ("" while not completed).
type Completion string

const (
	NotCompleted Completion = ""
	Closed       Completion = "Closed"
	Canceled     Completion = "Canceled"
	Terminated   Completion = "Terminated"
	Faulted      Completion = "Faulted"
)

// Identity is a workflow definition identity (WF4's WorkflowIdentity).
type Identity struct {
	Name, Package, Version string
}

// Instance is one row of the instances table.
type Instance struct {
	ID                  uuid.UUID
	Definition          Identity
	State               State
	Completion          Completion
	SuspensionReason    string
	SuspensionException string // exception name when suspended by an unhandled exception
	CompletionReason    string // termination reason, or the fault message of a Faulted instance
	Bookmarks           []string
	PendingTimer        time.Time // zero: none. The earliest durable timer due time (UTC)
	ExecutionStatus     string    // "Idle", "Executing", "Closed", "Canceled", "Faulted"
	Image               []byte    // serialised execution image (engine format), nil if none
	Variables           []byte    // JSON object of the workflow variables at the last persist
	Version             int64     // incremented by every committed update; 1 after insert
	LockOwner           string
	LockExpiry          time.Time
	Created, Updated    time.Time
}

// RecordKind classifies tracking records.
type RecordKind string

const (
	InstanceRecord RecordKind = "Instance" // lifecycle and management: Started, Suspended, Terminated, ...
	ActivityRecord RecordKind = "Activity" // activity state changes: Executing, Closed, Canceled, Faulted
	BookmarkRecord RecordKind = "Bookmark" // bookmark resumptions
)

// Record is one tracking (audit) record.
type Record struct {
	Seq        int64 // assigned by the store, increasing per store
	InstanceID uuid.UUID
	Time       time.Time
	Kind       RecordKind
	Name       string // e.g. "Suspended", "Closed", the bookmark name
	Activity   string // activity id/name for activity and bookmark records
	Reason     string
	Principal  string // who asked, for management operations
	Data       string // optional JSON payload
}

// Op is what a Change does to its instance.
type Op int

const (
	Insert Op = iota // Instance must not exist yet (ErrExists); sets Version=1, Created=Updated=now
	Update           // Instance.Version must equal the stored version (ErrConflict; ErrNotFound if absent)
	Delete           // removes the instance (purge); its tracking records are kept. Version 0: unconditional
	Track            // only appends Records; the instance must exist (ErrNotFound)
)

// Change is one instance's change plus the tracking records describing it.
// All Changes passed to one Commit call are applied atomically: if any fails, none of that
// call's changes (nor their Records) are applied, the error is returned and the caller's structs
// are left as they were. Concurrent Commit calls are independent of each other, even when a
// backend batches them into one transaction.
//
// On success the store writes back into the caller's values: Instance.Version, Updated (and
// Created on Insert), and for each Record its Seq, its InstanceID when it was uuid.Nil, and its
// Time (now when zero, else as stored: UTC, millisecond precision). A Record's InstanceID must be
// uuid.Nil or the Change's instance id (ErrInvalid otherwise).
type Change struct {
	Op       Op
	Instance *Instance // for Insert/Update; for Delete/Track only Instance.ID (and Version for Delete) is used
	Records  []Record
}

// Query selects instances for List (ordered by Created, then id).
type Query struct {
	State State // "" for all
	Limit int   // 0 for no limit
}

// Store is the persistence contract the host relies on.
type Store interface {
	// Commit applies the changes in one transaction and returns only once it is durable
	// (fsync'd). Updates succeed only if the stored Version equals Instance.Version; on success
	// each changed Instance has its Version and Updated fields advanced in place.
	Commit(ctx context.Context, changes ...Change) error
	// Get returns a fresh copy of the instance, or ErrNotFound. Times are UTC (at least ms
	// precision); Bookmarks is nil when there are none; Image and Variables keep nil and
	// empty apart.
	Get(ctx context.Context, id uuid.UUID) (*Instance, error)
	List(ctx context.Context, q Query) ([]*Instance, error)
	// Records returns the instance's tracking records with Seq > after, oldest first (also
	// after the instance was deleted; an id without records gives none and no error).
	Records(ctx context.Context, id uuid.UUID, after int64) ([]Record, error)
	// DueTimers returns up to limit (0: all) ids of Active instances whose PendingTimer <= now,
	// earliest due first.
	DueTimers(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error)
	// NextTimer returns the earliest PendingTimer of an Active instance; false if none.
	NextTimer(ctx context.Context) (time.Time, bool, error)
	// Runnable returns ids of Active instances whose ExecutionStatus is "Executing" (recovery).
	Runnable(ctx context.Context) ([]uuid.UUID, error)
	// Close lets commits already submitted finish, then releases the store. Every later call,
	// Close included, returns ErrClosed.
	Close() error
}
