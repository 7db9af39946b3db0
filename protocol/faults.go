package protocol

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
)

// Faults of the contract: Sender with one subcode in the contract namespace, no detail.

func contractFault(subcode, reason string) *soap.Fault {
	return soap.NewFault(soap.Sender, reason, soap.QName{Space: NS, Local: subcode})
}

// InstanceNotFound is the fault for an id that is not in the instance table.
func InstanceNotFound(id uuid.UUID) *soap.Fault {
	return contractFault("InstanceNotFound", fmt.Sprintf("There is no workflow instance with id '%s'.", id))
}

// InstanceSuspended is the fault for Run (or a bookmark resumption) on a suspended instance.
func InstanceSuspended(operation string, id uuid.UUID) *soap.Fault {
	return contractFault("InstanceSuspended", fmt.Sprintf(
		"The operation '%s' could not be performed on workflow instance '%s' because it is suspended.", operation, id))
}

// InstanceCompleted is the fault for an operation on a completed instance: InstanceTerminated
// for one that was terminated or faulted, InstanceCompleted for one that closed or was canceled.
func InstanceCompleted(operation string, id uuid.UUID, terminated bool) *soap.Fault {
	if terminated {
		return contractFault("InstanceTerminated", fmt.Sprintf(
			"The operation '%s' could not be performed on workflow instance '%s' because it has been terminated.", operation, id))
	}
	return contractFault("InstanceCompleted", fmt.Sprintf(
		"The operation '%s' could not be performed on workflow instance '%s' because it has completed.", operation, id))
}

// UpdateFailed is the fault for an Update that cannot move the instance to the requested identity.
func UpdateFailed(id uuid.UUID, why string) *soap.Fault {
	return contractFault("UpdateFailed", fmt.Sprintf("Workflow instance '%s' could not be updated: %s.", id, why))
}

// Unavailable is the Receiver fault for a request the host could not complete with the store
// (a write timed out or failed, a read failed, another node holds the instance): nothing was
// changed and the client may retry.
func Unavailable(err error) *soap.Fault {
	msg := "The workflow store could not complete the request; nothing was changed. Retry later."
	var he *host.Error
	if errors.As(err, &he) && he.Cause != nil {
		msg = fmt.Sprintf("The workflow store could not complete the request (%v); nothing was changed. Retry later.", he.Cause)
	}
	return soap.NewFault(soap.Receiver, msg)
}

// OutcomeUnknownReason begins the Receiver fault of a request whose commit lost its connection
// to the database: unlike Unavailable's, it does not say nothing was changed.
const OutcomeUnknownReason = "The workflow store lost its connection while committing the request; it may or may not have been applied."

// OutcomeUnknown is the Receiver fault for a request whose outcome the store could not learn.
func OutcomeUnknown() *soap.Fault {
	return soap.NewFault(soap.Receiver, OutcomeUnknownReason+" Read the instance before retrying.")
}

// AccessDeniedReason is the reason of WCF's access-denied fault.
const AccessDeniedReason = "Access is denied."

// AccessDenied is WCF's fault for a caller whose role does not allow the operation: Sender,
// subcode AccessDenied in the dispatcher namespace, with the dispatcher's fault action.
func AccessDenied() *soap.Fault {
	f := soap.NewFault(soap.Sender, AccessDeniedReason, soap.QName{Space: DispatcherNS, Local: "AccessDenied"})
	f.Action = soap.FaultActionDispatcher
	return f
}

// InstanceFault maps the host's refusals that concern an instance's condition or the caller's
// role — shared by
// every contract over the host — to their MS-WFIM faults, and a failure to commit to the
// Receiver fault. ok is false for any other error.
func InstanceFault(err error) (f *soap.Fault, ok bool) {
	var he *host.Error
	if !errors.As(err, &he) {
		return nil, false
	}
	switch {
	case errors.Is(he.Kind, host.ErrAccessDenied):
		return AccessDenied(), true
	case errors.Is(he.Kind, host.ErrNotFound):
		return InstanceNotFound(he.Instance), true
	case errors.Is(he.Kind, host.ErrSuspended):
		return InstanceSuspended(he.Operation, he.Instance), true
	case errors.Is(he.Kind, host.ErrCompleted):
		return InstanceCompleted(he.Operation, he.Instance, he.Completion.Terminated()), true
	case errors.Is(he.Kind, host.ErrUnavailable):
		return Unavailable(err), true
	case errors.Is(he.Kind, host.ErrOutcomeUnknown):
		return OutcomeUnknown(), true
	}
	return nil, false
}

// Fault maps what the host returned for an MS-WFIM command to the contract's fault; errors
// that are no refusal stay errors (the SOAP endpoint answers InternalServiceFault and logs them).
func Fault(err error) error {
	if f, ok := InstanceFault(err); ok {
		return f
	}
	var he *host.Error
	if errors.As(err, &he) && errors.Is(he.Kind, host.ErrUpdateRefused) {
		return UpdateFailed(he.Instance, he.Detail)
	}
	return err
}
