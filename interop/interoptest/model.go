// Package interoptest holds what the interop tests (interop, interop/gsoap,
// interop/svcutil) share: the expected outcome (docs/protocol.md, State table) of
// every operation on an instance in every state (Expect), the calls each client
// makes (BuildCases), the wimp-server they run against with the wimpctl set-up and
// state checks (Server), the outcome the drivers report and its comparison with
// the expectation (Outcome, Check), the run of a whole client with its SUMMARY
// line (Run), and the C# driver support compiled into both Mono drivers
// (CompileCSharp).
//
// Each client package keeps only what is its own: how to build and run its
// driver, how its driver's input and output look, and the client's quirks.
package interoptest

import (
	"strings"

	"github.com/wimp-project/wimp/wsdl"
)

// Namespaces the clients report fault codes in.
const (
	NSWorkflowServices = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	NSSOAP11Env        = "http://schemas.xmlsoap.org/soap/envelope/"
	NSSOAP12Env        = "http://www.w3.org/2003/05/soap-envelope"
	NSDispatcher       = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
)

// State is the state an instance is put in before the call under test.
type State int

const (
	Active     State = iota // ExpenseApproval, waiting for its Review bookmark
	Suspended               // the same, suspended with SetupSuspendReason
	Closed                  // Completed(Closed): a Hello instance, which completes at once
	Canceled                // Completed(Canceled)
	Terminated              // Completed(Terminated)
	Unknown                 // an id no instance has
)

// AllStates lists every State.
var AllStates = []State{Active, Suspended, Closed, Canceled, Terminated, Unknown}

func (s State) String() string {
	return [...]string{"Active", "Suspended", "Closed", "Canceled", "Terminated", "Unknown"}[s]
}

// Definition is the sample definition an instance set up in s runs.
func (s State) Definition() string {
	if s == Closed {
		return "Hello"
	}
	return "ExpenseApproval"
}

const (
	SetupSuspendReason   = "set up: suspended by the interop test"
	SetupTerminateReason = "set up: terminated by the interop test"
	// NonASCIIReason has markup characters, non-ASCII (Latin-1, BMP and an astral
	// character, which is a surrogate pair in .NET strings) and quotes.
	NonASCIIReason = `R&D <urgent> "q" 'a' > Grüße ✓ 日本語 🚀`
)

// Identity is a workflow definition identity, as wimpctl get --json prints it and
// as the JSON drivers take it.
type Identity struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Version string `json:"version"`
}

// Sender is Want.Fault for a Sender fault without subcode.
const Sender = "Sender"

// Want is the expected outcome of a call and the instance's state after it.
type Want struct {
	// Fault: "" = success; Sender = a Sender fault without subcode; otherwise the
	// local name of the subcode, in FaultNS.
	Fault string
	// FaultNS is the subcode's namespace; "" means the WorkflowServices namespace.
	FaultNS string
	// State/Completion after the call ("" for unknown ids: the id must stay unknown).
	State, Completion string
	// Reason is the suspensionReason after the call, checked when State is Suspended.
	Reason string
	// Definition is the instance's definition identity after the call, if checked.
	Definition *Identity
	// Eventually: the state may be reached shortly after the reply (Cancel runs
	// cancellation handlers); otherwise it must hold when the reply arrives.
	Eventually bool
}

// Operations are the 13 operations of the published contract.
func Operations() []string {
	var names []string
	for _, op := range wsdl.Operations() {
		names = append(names, op.Name)
	}
	return names
}

// Base strips the Transacted prefix: TransactedSuspend behaves as Suspend.
func Base(op string) string { return strings.TrimPrefix(op, "Transacted") }

// TakesReason tells whether op has a reason parameter.
func TakesReason(op string) bool {
	switch Base(op) {
	case "Suspend", "Terminate", "Abandon":
		return true
	}
	return false
}

// IsUpdate tells whether op has an updatedDefinitionIdentity parameter.
func IsUpdate(op string) bool { return Base(op) == "Update" }

// StateOf is the (state, completion, suspensionReason) of an instance just set up in s.
func StateOf(s State) Want {
	switch s {
	case Active:
		return Want{State: "Active"}
	case Suspended:
		return Want{State: "Suspended", Reason: SetupSuspendReason}
	case Closed:
		return Want{State: "Completed", Completion: "Closed"}
	case Canceled:
		return Want{State: "Completed", Completion: "Canceled"}
	case Terminated:
		return Want{State: "Completed", Completion: "Terminated"}
	}
	return Want{}
}

// Expect is docs/protocol.md's State table for a well-formed call (valid id, a non-empty
// reason where one is required, the instance's current identity for Update).
func Expect(op string, s State, reason string) Want {
	unchanged := StateOf(s)
	switch s {
	case Unknown:
		return Want{Fault: "InstanceNotFound"}
	case Closed, Canceled:
		unchanged.Fault = "InstanceCompleted"
		return unchanged
	case Terminated:
		unchanged.Fault = "InstanceTerminated"
		return unchanged
	}
	suspended := s == Suspended
	switch Base(op) {
	case "Run":
		if suspended {
			unchanged.Fault = "InstanceSuspended"
		}
		return unchanged
	case "Suspend":
		return Want{State: "Suspended", Reason: reason}
	case "Unsuspend":
		return Want{State: "Active"}
	case "Cancel":
		return Want{State: "Completed", Completion: "Canceled", Eventually: true}
	case "Terminate":
		return Want{State: "Completed", Completion: "Terminated"}
	case "Abandon", "Update":
		// Abandon: back to the last persisted point, which is the current state
		// (wimp persists on idle and on every management operation). Update to the
		// current identity: like Run, but does not run a suspended instance.
		return unchanged
	}
	panic("unknown operation " + op)
}
