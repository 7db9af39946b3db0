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
	Insert Op = iota // Instance must not exist yet
	Update           // Instance.Version must equal the stored version (optimistic concurrency)
	Delete           // removes the instance (purge); its tracking records are kept
	Track            // only appends Records
)

// Change is one instance's change plus the tracking records describing it.
// All Changes passed to one Commit call are applied atomically.
type Change struct {
	Op       Op
	Instance *Instance // for Insert/Update; for Delete/Track only Instance.ID (and Version for Delete) is used
	Records  []Record
}

// Query selects instances for List.
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
	Get(ctx context.Context, id uuid.UUID) (*Instance, error)
	List(ctx context.Context, q Query) ([]*Instance, error)
	// Records returns the instance's tracking records with Seq > after, oldest first.
	Records(ctx context.Context, id uuid.UUID, after int64) ([]Record, error)
	// DueTimers returns up to limit ids of Active instances whose PendingTimer <= now.
	DueTimers(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error)
	// NextTimer returns the earliest PendingTimer of an Active instance.
	NextTimer(ctx context.Context) (time.Time, bool, error)
	// Runnable returns ids of Active instances whose ExecutionStatus is "Executing" (recovery).
	Runnable(ctx context.Context) ([]uuid.UUID, error)
	Close() error
}
