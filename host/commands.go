package host

import (
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// Effect is what a management command does to an instance once its rules allow it.
type Effect int

const (
	NoChange  Effect = iota // record the command and change nothing
	Execute                 // give the instance a chance to execute (load it, make it runnable)
	Suspend                 // → Suspended with the reason (replacing an earlier one); stops at the next work-item boundary
	Resume                  // Suspended → Active; execution resumes and timers that fell due fire now
	Cancel                  // unsuspend if needed and run cancellation → Completed(Canceled)
	Terminate               // → Completed(Terminated) at once with the reason; no handlers run
	Abandon                 // discard the in-memory image; back to the last persisted point
	Update                  // switch to Decision.Identity, then run if Active
)

var effectNames = [...]string{"NoChange", "Execute", "Suspend", "Resume", "Cancel", "Terminate", "Abandon", "Update"}

func (e Effect) String() string {
	if e >= 0 && int(e) < len(effectNames) {
		return effectNames[e]
	}
	return "Effect(?)"
}

// Condition is what the host knows of the addressed instance when a command's rules decide.
type Condition struct {
	Exists     bool
	State      workflow.State
	Completion workflow.Completion
	Identity   workflow.Identity
	// CanUpdate reports whether a registered definition with identity `to` declares that it can
	// update instances of this one's definition; an error says why not.
	CanUpdate func(to workflow.Identity) error
}

// Decision is a command's verdict: an effect, or a refusal.
type Decision struct {
	Effect Effect
	// Refuse is one of ErrNotFound, ErrSuspended, ErrCompleted or ErrUpdateRefused (with Why);
	// nil to apply Effect.
	Refuse error
	Why    string
	// Identity is Update's target definition.
	Identity *workflow.Identity
}

// Rules decide a command's effect from the instance's condition: a contract's state table.
type Rules func(Condition) Decision

// Command is a management command: an operation of some contract on one instance, decided by
// the contract's rules under the instance lock.
type Command struct {
	Instance  uuid.UUID
	Operation string // the contract's name for it, recorded in tracking and errors ("TransactedSuspend")
	Reason    string // Suspend, Terminate, Abandon
	Requires  Role   // the role the caller needs (Authorize)
	Rules     Rules
}
