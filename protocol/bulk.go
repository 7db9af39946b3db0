package protocol

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// Bulk is the MS-WFIM contract as bulk jobs use it (host.BulkContract): a job's operation on
// each instance is the same command, decided by the same state table, as a single call of the
// non-transacted operation, and a refusal is named by its fault's subcode.
type Bulk struct{}

var _ host.BulkContract = Bulk{}

// Command is the non-transacted MS-WFIM operation op on instance id.
func (Bulk) Command(op string, id uuid.UUID, reason string, to *workflow.Identity) (host.Command, error) {
	o, ok := OpByName(op)
	if !ok || o.Transacted {
		return host.Command{}, fmt.Errorf("%q is not an operation a bulk job can apply (Suspend, Unsuspend, Run, Cancel, Terminate, Abandon or Update)", op)
	}
	c := Command{Op: o, InstanceID: id}
	switch o.Param {
	case ReasonParam:
		if reason != "" {
			c.Reason = &reason
		}
	case IdentityParam:
		if to == nil {
			return host.Command{}, errors.New("an Update needs the identity to update the instances to")
		}
		c.Identity = to
	}
	return c.Host(), nil
}

// Outcome is the subcode of the fault a single call would have been answered with:
// InstanceNotFound, InstanceSuspended, InstanceCompleted, InstanceTerminated, UpdateFailed,
// AccessDenied; Unavailable for the store's Receiver fault; OutcomeUnknown when the store
// lost its connection committing it; Error for anything else.
func (Bulk) Outcome(err error) string {
	if errors.Is(err, host.ErrOutcomeUnknown) {
		return "OutcomeUnknown"
	}
	var f *soap.Fault
	if errors.As(Fault(err), &f) {
		if len(f.Subcodes) > 0 {
			return f.Subcodes[len(f.Subcodes)-1].Local
		}
		if f.Code == soap.Receiver {
			return "Unavailable"
		}
	}
	return "Error"
}
