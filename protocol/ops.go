// Package protocol is MS-WFIM: the 13 operations of IWorkflowInstanceManagement, the decoding of
// their request bodies, the validation order, the state-transition table (docs/protocol.md) and
// the faults. It is an adapter: it turns requests into host commands whose rules are the table,
// and host refusals into the contract's faults; the host applies them.
package protocol

import "github.com/wimp-project/wimp/host"

// Namespaces of the contract.
const (
	// NS is the contract, body and fault-subcode namespace.
	NS = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	// ActivitiesNS is the namespace of the WorkflowIdentity data contract.
	ActivitiesNS = "http://schemas.datacontract.org/2004/07/System.Activities"
	// DispatcherNS is WCF's dispatcher fault namespace (DeserializationFailed).
	DispatcherNS = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"

	actionPrefix = NS + "/IWorkflowInstanceManagement/"
)

// Kind is what an operation does; a Transacted variant has the same Kind as its plain counterpart.
type Kind int

const (
	Run Kind = iota
	Suspend
	Unsuspend
	Cancel
	Terminate
	Abandon
	Update
	numKinds
)

var kindNames = [numKinds]string{"Run", "Suspend", "Unsuspend", "Cancel", "Terminate", "Abandon", "Update"}

func (k Kind) String() string { return kindNames[k] }

// Param is an optional request child beyond instanceId.
type Param int

const (
	NoParam Param = iota
	ReasonParam
	IdentityParam
)

// Op is one of the 13 operations.
type Op struct {
	Name       string // e.g. "TransactedSuspend": the body wrapper's local name and the action's last segment
	Kind       Kind
	Transacted bool
	Param      Param
}

// Requires is the role an operation needs (README, Security): Run, Suspend and Unsuspend are
// an operator's, Cancel, Terminate, Abandon and Update an admin's, Transacted or not.
func (o Op) Requires() host.Role {
	switch o.Kind {
	case Run, Suspend, Unsuspend:
		return host.Operator
	}
	return host.Admin
}

// Action is the request action URI.
func (o Op) Action() string { return actionPrefix + o.Name }

// ReplyAction is the reply action URI.
func (o Op) ReplyAction() string { return actionPrefix + o.Name + "Response" }

// Ops lists the operations in the order of the spec's portType.
var Ops = []Op{
	{"TransactedUnsuspend", Unsuspend, true, NoParam},
	{"Abandon", Abandon, false, ReasonParam},
	{"Cancel", Cancel, false, NoParam},
	{"Run", Run, false, NoParam},
	{"Suspend", Suspend, false, ReasonParam},
	{"Terminate", Terminate, false, ReasonParam},
	{"Unsuspend", Unsuspend, false, NoParam},
	{"TransactedCancel", Cancel, true, NoParam},
	{"TransactedRun", Run, true, NoParam},
	{"TransactedSuspend", Suspend, true, ReasonParam},
	{"TransactedTerminate", Terminate, true, ReasonParam},
	{"Update", Update, false, IdentityParam},
	{"TransactedUpdate", Update, true, IdentityParam},
}

// OpByName returns the operation with that name.
func OpByName(name string) (Op, bool) {
	for _, o := range Ops {
		if o.Name == name {
			return o, true
		}
	}
	return Op{}, false
}
