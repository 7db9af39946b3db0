package protocol

import (
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// Rule is one cell of the state table: the host effect to apply, or the refusal (one of the
// host's error kinds) to answer with.
type Rule struct {
	Effect host.Effect
	Refuse error
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

// Table is the MS-WFIM state table (docs/protocol.md, "State table"): one row per operation
// kind (Transacted variants share the row of their plain counterpart), one column per instance
// condition. Completed instances are refused with ErrCompleted, which the fault mapping turns
// into InstanceCompleted or InstanceTerminated by how they ended.
var Table = [numKinds][numColumns]Rule{
	Run:       {{Effect: host.Execute}, {Refuse: host.ErrSuspended}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
	Suspend:   {{Effect: host.Suspend}, {Effect: host.Suspend}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
	Unsuspend: {{Effect: host.NoChange}, {Effect: host.Resume}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
	Cancel:    {{Effect: host.Cancel}, {Effect: host.Cancel}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
	Terminate: {{Effect: host.Terminate}, {Effect: host.Terminate}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
	Abandon:   {{Effect: host.Abandon}, {Effect: host.Abandon}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
	Update:    {{Effect: host.Update}, {Effect: host.Update}, {Refuse: host.ErrCompleted}, {Refuse: host.ErrNotFound}},
}

func column(id uuid.UUID, c host.Condition) Column {
	switch {
	case !c.Exists || id == uuid.Nil: // the all-zero GUID is never an instance
		return Unknown
	case c.State == workflow.Completed:
		return InCompleted
	case c.State == workflow.Suspended:
		return InSuspended
	}
	return InActive
}

// Decide applies the state table to a decoded command and the instance's condition. Update's
// cell is refined by the identity rules (docs/protocol.md, "Update"): the current identity →
// like Run on an Active instance, nothing on a Suspended one; a registered definition that
// declares it can update the current one → switch; anything else, a nil identity included →
// UpdateFailed.
func Decide(cmd Command, c host.Condition) host.Decision {
	col := column(cmd.InstanceID, c)
	rule := Table[cmd.Op.Kind][col]
	if rule.Refuse != nil {
		return host.Decision{Refuse: rule.Refuse}
	}
	if rule.Effect != host.Update {
		return host.Decision{Effect: rule.Effect}
	}
	switch {
	case cmd.Identity == nil:
		return host.Decision{Refuse: host.ErrUpdateRefused, Why: "no updatedDefinitionIdentity was given"}
	case cmd.Identity.Equal(c.Identity):
		if col == InActive {
			return host.Decision{Effect: host.Execute}
		}
		return host.Decision{Effect: host.NoChange}
	case c.CanUpdate == nil:
		return host.Decision{Refuse: host.ErrUpdateRefused, Why: "no definition update is registered"}
	}
	if err := c.CanUpdate(*cmd.Identity); err != nil {
		return host.Decision{Refuse: host.ErrUpdateRefused, Why: err.Error()}
	}
	to := *cmd.Identity
	return host.Decision{Effect: host.Update, Identity: &to}
}
