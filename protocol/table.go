package protocol

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store"
)

// Effect is what the host must do to the instance when the table says OK.
type Effect int

const (
	NoChange    Effect = iota // reply OK, change nothing (Unsuspend of an Active instance)
	Execute                   // give the instance a chance to execute (load it, make it runnable)
	SuspendIt                 // → Suspended with the reason (replaces the reason if already suspended)
	Resume                    // Suspended → Active; execution resumes, due timers fire
	CancelIt                  // run cancellation (unsuspending first) → Completed(Canceled)
	TerminateIt               // → Completed(Terminated) at once with the reason, no handlers
	AbandonIt                 // discard the in-memory image; revert to the last persisted point
	UpdateIt                  // apply the Update identity rules (resolved by Decide)
)

// FaultKind names the table's fault cells.
type FaultKind int

const (
	NoFault FaultKind = iota
	NotFound
	IsSuspended
	IsCompleted // InstanceCompleted or InstanceTerminated, by how the instance completed
)

// Rule is one cell of the state table.
type Rule struct {
	Effect Effect
	Fault  FaultKind
}

// Column is the instance condition a request finds.
type Column int

const (
	InActive Column = iota
	InSuspended
	InCompleted
	Unknown
	numColumns
)

// Table is DESIGN §3's state table: one row per operation kind (Transacted variants share the
// row of their plain counterpart), one column per instance condition.
var Table = [numKinds][numColumns]Rule{
	Run:       {{Effect: Execute}, {Fault: IsSuspended}, {Fault: IsCompleted}, {Fault: NotFound}},
	Suspend:   {{Effect: SuspendIt}, {Effect: SuspendIt}, {Fault: IsCompleted}, {Fault: NotFound}},
	Unsuspend: {{Effect: NoChange}, {Effect: Resume}, {Fault: IsCompleted}, {Fault: NotFound}},
	Cancel:    {{Effect: CancelIt}, {Effect: CancelIt}, {Fault: IsCompleted}, {Fault: NotFound}},
	Terminate: {{Effect: TerminateIt}, {Effect: TerminateIt}, {Fault: IsCompleted}, {Fault: NotFound}},
	Abandon:   {{Effect: AbandonIt}, {Effect: AbandonIt}, {Fault: IsCompleted}, {Fault: NotFound}},
	Update:    {{Effect: UpdateIt}, {Effect: UpdateIt}, {Fault: IsCompleted}, {Fault: NotFound}},
}

// Status is what the host knows of the addressed instance when it decides.
type Status struct {
	Exists     bool
	State      store.State
	Completion store.Completion
	Identity   store.Identity
}

func (s Status) column(id uuid.UUID) Column {
	switch {
	case !s.Exists || id == uuid.Nil:
		return Unknown
	case s.State == store.Completed:
		return InCompleted
	case s.State == store.Suspended:
		return InSuspended
	}
	return InActive
}

// Decision is the outcome of Decide: a fault, or an effect to apply.
type Decision struct {
	Effect Effect
	// For Update: the identity to switch to (nil: keep the current one) and whether the
	// instance is then given a chance to run (only when Active).
	NewIdentity *store.Identity
	Run         bool
	Fault       *soap.Fault
}

// UpdateCheck reports whether a registered definition with identity `to` declares it can
// update instances of identity `from`. A non-nil error explains a refusal.
type UpdateCheck func(from, to store.Identity) error

// Decide applies the state table to a decoded command and the instance's status.
func Decide(cmd Command, st Status, canUpdate UpdateCheck) Decision {
	col := st.column(cmd.InstanceID)
	rule := Table[cmd.Op.Kind][col]
	switch rule.Fault {
	case NotFound:
		return Decision{Fault: InstanceNotFound(cmd.InstanceID)}
	case IsSuspended:
		return Decision{Fault: InstanceSuspended(cmd.Op, cmd.InstanceID)}
	case IsCompleted:
		return Decision{Fault: completedFault(cmd.Op, cmd.InstanceID, st.Completion)}
	}
	d := Decision{Effect: rule.Effect}
	if rule.Effect != UpdateIt {
		return d
	}
	// Update: equal identity → like Run; a registered definition that can update from the
	// current identity → switch; otherwise UpdateFailed. Only an Active instance runs.
	d.Run = col == InActive
	switch {
	case cmd.Identity == nil:
		return Decision{Fault: UpdateFailed(cmd.InstanceID, "no updatedDefinitionIdentity was given")}
	case SameIdentity(*cmd.Identity, st.Identity):
		return d
	}
	if canUpdate == nil {
		return Decision{Fault: UpdateFailed(cmd.InstanceID, "no definition update is registered")}
	}
	if err := canUpdate(st.Identity, *cmd.Identity); err != nil {
		return Decision{Fault: UpdateFailed(cmd.InstanceID, err.Error())}
	}
	id := *cmd.Identity
	d.NewIdentity = &id
	return d
}

// Faults of the contract: Sender with one subcode in the contract namespace, no detail.

func contractFault(subcode, reason string) *soap.Fault {
	return soap.NewFault(soap.Sender, reason, soap.QName{Space: NS, Local: subcode})
}

// InstanceNotFound is the fault for an id that is not in the instance table.
func InstanceNotFound(id uuid.UUID) *soap.Fault {
	return contractFault("InstanceNotFound", fmt.Sprintf("There is no workflow instance with id '%s'.", id))
}

// InstanceSuspended is the fault for Run on a suspended instance.
func InstanceSuspended(op Op, id uuid.UUID) *soap.Fault {
	return contractFault("InstanceSuspended", fmt.Sprintf(
		"The operation '%s' could not be performed on workflow instance '%s' because it is suspended.", op.Name, id))
}

// UpdateFailed is the fault for an Update that cannot move the instance to the requested identity.
func UpdateFailed(id uuid.UUID, why string) *soap.Fault {
	return contractFault("UpdateFailed", fmt.Sprintf("Workflow instance '%s' could not be updated: %s.", id, why))
}

func completedFault(op Op, id uuid.UUID, c store.Completion) *soap.Fault {
	if c == store.Terminated || c == store.Faulted {
		return contractFault("InstanceTerminated", fmt.Sprintf(
			"The operation '%s' could not be performed on workflow instance '%s' because it has been terminated.", op.Name, id))
	}
	return contractFault("InstanceCompleted", fmt.Sprintf(
		"The operation '%s' could not be performed on workflow instance '%s' because it has completed.", op.Name, id))
}
