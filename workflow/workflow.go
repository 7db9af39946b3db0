// Package workflow is wimp's shared vocabulary: a definition's identity and its .NET
// System.Version, an instance's state and completion, and the tracking record. The engine, the
// store, the host and both SOAP contracts speak it, so each concept is defined once.
package workflow

import (
	"fmt"
	"strings"
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

// TrackingProfile selects which tracking records are written. Instance records (lifecycle and
// management operations) are always written; activity and bookmark records only when the
// profile includes them, so that a heavy loop need not write a row per step.
type TrackingProfile struct {
	Activities bool // ActivityRecord (WriteLine output included)
	Bookmarks  bool // BookmarkRecord
}

// TrackAll is the default profile: every record.
var TrackAll = TrackingProfile{Activities: true, Bookmarks: true}

// Keeps reports whether the profile writes records of kind k.
func (p TrackingProfile) Keeps(k RecordKind) bool {
	switch k {
	case ActivityRecord:
		return p.Activities
	case BookmarkRecord:
		return p.Bookmarks
	}
	return true
}

// ParseTrackingProfile reads a profile as written in a definition's Tracking attribute and the
// server's --tracking flag: All, or Instance followed by any of Activity and Bookmark, separated
// by commas or spaces (Instance alone: instance records only).
func ParseTrackingProfile(s string) (TrackingProfile, error) {
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(words) == 1 && words[0] == "All" {
		return TrackAll, nil
	}
	var p TrackingProfile
	instance := false
	for _, w := range words {
		switch w {
		case "Instance":
			instance = true
		case "Activity":
			p.Activities = true
		case "Bookmark":
			p.Bookmarks = true
		default:
			return TrackingProfile{}, fmt.Errorf("tracking profile %q: unknown word %q (want All, or Instance with Activity and/or Bookmark)", s, w)
		}
	}
	if !instance {
		return TrackingProfile{}, fmt.Errorf("tracking profile %q: instance records are always written; write All, or Instance with Activity and/or Bookmark", s)
	}
	return p, nil
}
