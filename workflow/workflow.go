// Package workflow is wimp's shared vocabulary: a definition's identity and its .NET
// System.Version, an instance's state and completion, and the tracking record. The engine, the
// store, the host and both SOAP contracts speak it, so each concept is defined once.
package workflow

import (
	"time"

	"github.com/google/uuid"
)

// State is an instance's MS-WFIM state.
type State string

const (
	Active    State = "Active"
	Suspended State = "Suspended"
	Completed State = "Completed"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool { return s == Active || s == Suspended || s == Completed }

// Completion says how a Completed instance ended ("" while it has not).
type Completion string

const (
	NotCompleted Completion = ""
	Closed       Completion = "Closed"
	Canceled     Completion = "Canceled"
	Terminated   Completion = "Terminated"
	Faulted      Completion = "Faulted"
)

// Terminated reports whether the instance ended terminated (by Terminate or by an exception
// that faulted it), as opposed to closing or being canceled: MS-WFIM answers operations on it
// with InstanceTerminated rather than InstanceCompleted.
func (c Completion) Terminated() bool { return c == Terminated || c == Faulted }

// RecordKind classifies tracking records.
type RecordKind string

const (
	InstanceRecord RecordKind = "Instance" // lifecycle and management: Started, Suspended, Terminated, ...
	ActivityRecord RecordKind = "Activity" // activity state changes: Executing, Closed, Canceled, Faulted
	BookmarkRecord RecordKind = "Bookmark" // bookmark resumptions
)

// Record is one tracking (audit) record. The engine fills in Kind, Name, Activity, Reason and
// Data; the host adds the instance, the time and who asked; the store assigns Seq.
type Record struct {
	Seq        int64 // assigned by the store, increasing per store
	InstanceID uuid.UUID
	Time       time.Time
	Kind       RecordKind
	Name       string // e.g. "Suspended", "Closed", the bookmark name
	Activity   string // activity id for activity and bookmark records
	Reason     string
	Principal  string // who asked, for management operations
	Data       string // optional JSON payload
}
