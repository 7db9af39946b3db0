package harness

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"
)

// The model is the state table of docs/protocol.md ("State table") for one instance of the
// ExpenseApproval sample (engine/samples/ExpenseApproval.xml), written from the documents, not
// from the server's code:
//
//   - a Transacted* operation behaves as its plain counterpart;
//   - on a Completed instance every operation is refused, InstanceTerminated if it was
//     terminated (or faulted), InstanceCompleted otherwise, and nothing changes;
//   - Run: Active OK, nothing changes (the sample is idle); Suspended: InstanceSuspended;
//   - Suspend: → Suspended with the reason (a new reason replaces the old);
//   - Unsuspend: Active OK, nothing changes; Suspended → Active (no timer falls due here);
//   - Cancel: → Completed (Canceled), from Active or Suspended;
//   - Terminate: → Completed (Terminated) with the reason;
//   - Abandon: back to the last persisted point, which is the state every acknowledged change
//     left (each is committed before its reply, and the sample is idle between operations): no
//     change, Suspended stays Suspended;
//   - Update to the current identity: OK, no change (Active runs as with Run);
//   - hosting ResumeBookmark "Review" (the hosting contract answers instance conditions with
//     MS-WFIM's faults, README): Suspended: InstanceSuspended; Active: the review is delivered:
//     an approval counts, and with `required` approvals (2 above an amount of 1000, else 1) the
//     instance completes Closed with status Approved; a denial completes it Closed, Denied; a
//     malformed review is ignored and the instance waits for Review again;
//   - an unknown id: InstanceNotFound;
//   - a Receiver fault without subcode (the change could not be committed, docs/protocol.md
//     "Durability") changes nothing, then or later;
//   - an operation without a reply (the kill dropped its connection) may or may not have taken
//     effect: the model allows both, up to the moment the server was gone.

// action is one client request: the input of a history operation.
type action struct {
	Op     string // MS-WFIM name (Run, TransactedRun, ...), or ResumeBookmark, Get, Create
	ID     uuid.UUID
	Reason string // Suspend*, Terminate*, Abandon: unique per request
	Review string // ResumeBookmark: approve, deny or malformed
	Nonce  string // ResumeBookmark: unique per request, carried in the payload
	Amount int    // Create
	// Rank, when not 0, is the position of the operation's tracking record in the server's
	// commit order among the history's matched records (see narrow): the model then applies
	// ranked operations only in that order.
	Rank int
}

// kind is the state-table row of an operation.
func (a action) kind() string { return strings.TrimPrefix(a.Op, "Transacted") }

func (a action) String() string {
	switch {
	case a.Reason != "":
		return fmt.Sprintf("%s(%q)", a.Op, a.Reason)
	case a.Op == "ResumeBookmark":
		return fmt.Sprintf("ResumeBookmark(Review, %s %s)", a.Review, a.Nonce)
	case a.Op == "Create":
		return fmt.Sprintf("Create(amount=%d)", a.Amount)
	}
	return a.Op
}

// outcome is what the client learnt: the output of a history operation.
type outcome struct {
	Unknown bool   // no reply: it may or may not have taken effect
	Fault   string // "" for success; a subcode (InstanceSuspended ...); "Receiver" (not committed); "InternalServiceFault"; "Sender" (no subcode)
	Detail  string // the fault's reason text, for messages
	View    view   // Get: what was read
	Conn    string // the connection's local address (the principal's address in records)
	Sent    int64  // when the request was sent (the history's Call may be later: recorder.pin)
}

func (o outcome) String() string {
	switch {
	case o.Unknown:
		return "no reply (unknown)"
	case o.Fault != "":
		return "fault " + o.Fault
	}
	return "ok"
}

// view is what a GetInstance read shows of an instance, in the model's terms.
type view struct {
	State            string
	Completion       string
	SuspensionReason string
	CompletionReason string // only for Terminated
	Status           string
	Approvals        int
	Waiting          bool // the Review bookmark is pending
}

func (v view) String() string {
	s := v.State
	if v.Completion != "" {
		s += "/" + v.Completion
	}
	if v.SuspensionReason != "" {
		s += fmt.Sprintf(" suspensionReason=%q", v.SuspensionReason)
	}
	if v.CompletionReason != "" {
		s += fmt.Sprintf(" completionReason=%q", v.CompletionReason)
	}
	return s + fmt.Sprintf(" status=%s approvals=%d waiting=%v", v.Status, v.Approvals, v.Waiting)
}

// mstate is the model's state of one instance.
type mstate struct {
	Exists           bool
	State            string // Active, Suspended, Completed
	Completion       string // Closed, Canceled, Terminated
	SuspensionReason string
	CompletionReason string
	Status           string // Pending, Approved, Denied
	Approvals        int
	Required         int
	Applied          int // ranked operations applied so far
}

func (m mstate) view() view {
	return view{State: m.State, Completion: m.Completion, SuspensionReason: m.SuspensionReason,
		CompletionReason: m.CompletionReason, Status: m.Status, Approvals: m.Approvals, Waiting: m.State != "Completed"}
}

func (m mstate) String() string {
	if !m.Exists {
		return "(no instance)"
	}
	return m.view().String()
}

func (m mstate) complete(how, reason string) mstate {
	m.State, m.Completion, m.SuspensionReason = "Completed", how, ""
	if how == "Terminated" {
		m.CompletionReason = reason
	}
	return m
}

// apply is the state table: the state after a and the fault it must get ("" for success).
func (m mstate) apply(a action) (mstate, string) {
	if a.Op == "Create" {
		if m.Exists {
			return m, "InstanceExists"
		}
		required := 1
		if a.Amount > 1000 {
			required = 2
		}
		return mstate{Exists: true, State: "Active", Status: "Pending", Required: required}, ""
	}
	if !m.Exists {
		return m, "InstanceNotFound"
	}
	if m.State == "Completed" {
		if m.Completion == "Terminated" || m.Completion == "Faulted" {
			return m, "InstanceTerminated"
		}
		return m, "InstanceCompleted"
	}
	suspended := m.State == "Suspended"
	switch a.kind() {
	case "Run":
		if suspended {
			return m, "InstanceSuspended"
		}
		return m, ""
	case "Suspend":
		m.State, m.SuspensionReason = "Suspended", a.Reason
		return m, ""
	case "Unsuspend":
		m.State, m.SuspensionReason = "Active", ""
		return m, ""
	case "Cancel":
		return m.complete("Canceled", ""), ""
	case "Terminate":
		return m.complete("Terminated", a.Reason), ""
	case "Abandon", "Update":
		return m, ""
	case "ResumeBookmark":
		if suspended {
			return m, "InstanceSuspended"
		}
		switch a.Review {
		case "approve":
			m.Approvals++
			if m.Approvals >= m.Required {
				m.Status = "Approved"
				return m.complete("Closed", ""), ""
			}
		case "deny":
			m.Status = "Denied"
			return m.complete("Closed", ""), ""
		}
		return m, ""
	}
	panic("model: no row for " + a.Op)
}

// step is the model's transition: the states that can follow s when a has outcome o.
func step(s mstate, a action, o outcome) []mstate {
	if a.Op == "Get" {
		switch {
		case o.Fault == "Receiver" || o.Unknown:
			return []mstate{s} // a read the store could not answer tells nothing and changes nothing
		case o.Fault == "InstanceNotFound" && !s.Exists:
			return []mstate{s}
		case o.Fault == "" && s.Exists && o.View == s.view():
			return []mstate{s}
		}
		return nil
	}
	next, fault := s.apply(a)
	if a.Rank > 0 {
		// Committed (its record is there), and in the commit order.
		if s.Applied != a.Rank-1 || (!o.Unknown && o.Fault != fault && o.Fault != "InternalServiceFault") {
			return nil
		}
		next.Applied = a.Rank
		return []mstate{next}
	}
	switch o.Fault {
	case "Receiver":
		return []mstate{s} // not committed: nothing applied
	case "InternalServiceFault":
		return []mstate{s, next} // reported as a failure on its own; either may be true
	}
	if o.Unknown {
		return []mstate{s, next}
	}
	if o.Fault == fault {
		return []mstate{next}
	}
	return nil
}

var instanceModel = (&porcupine.NondeterministicModel{
	Init: func() []interface{} { return []interface{}{mstate{}} },
	Step: func(state, input, output interface{}) []interface{} {
		var out []interface{}
		for _, s := range step(state.(mstate), input.(action), output.(outcome)) {
			out = append(out, s)
		}
		return out
	},
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		fmt.Fprintf(h, "%+v", state.(mstate))
		return h.Sum64()
	},
	DescribeOperation: func(input, output interface{}) string {
		a, o := input.(action), output.(outcome)
		if a.Op == "Get" && o.Fault == "" && !o.Unknown {
			return "Get → " + o.View.String()
		}
		return a.String() + " → " + o.String()
	},
	DescribeState: func(state interface{}) string { return state.(mstate).String() },
}).ToModel()
