package interoptest

import "testing"

// The expectation table is docs/protocol.md's State table; pin the parts the interop assertions rely
// on so a change to it is deliberate.
func TestExpectationTable(t *testing.T) {
	for _, c := range []struct {
		op    string
		s     State
		fault string
		state string
	}{
		{"Run", Active, "", "Active"},
		{"TransactedRun", Suspended, "InstanceSuspended", "Suspended"},
		{"Suspend", Suspended, "", "Suspended"},
		{"Unsuspend", Suspended, "", "Active"},
		{"Cancel", Suspended, "", "Completed"},
		{"TransactedTerminate", Active, "", "Completed"},
		{"Abandon", Suspended, "", "Suspended"},
		{"Update", Suspended, "", "Suspended"},
		{"Unsuspend", Canceled, "InstanceCompleted", "Completed"},
		{"Run", Closed, "InstanceCompleted", "Completed"},
		{"Update", Terminated, "InstanceTerminated", "Completed"},
		{"Abandon", Unknown, "InstanceNotFound", ""},
	} {
		if w := Expect(c.op, c.s, "r"); w.Fault != c.fault || w.State != c.state {
			t.Errorf("%s on %s: %+v", c.op, c.s, w)
		}
	}
}

func TestBuildCases(t *testing.T) {
	ids := Identities{
		Expense:   Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"},
		Hello:     Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0.0.0"},
		ExpenseV1: Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"},
	}
	for _, cl := range []Client{
		{Name: "guid-only"},
		{Name: "any-id", AnyID: true},
		{Name: "any-id-absent", AnyID: true, Absent: true},
	} {
		cs := BuildCases(cl, "b", ids)
		if err := CheckCoverage(cs); err != nil {
			t.Errorf("%s: %v", cl.Name, err)
		}
		if len(cs) < 13*len(AllStates) {
			t.Errorf("%s: only %d cases", cl.Name, len(cs))
		}
		for _, c := range cs {
			if !cl.AnyID && c.TextID() {
				t.Errorf("%s: %s sends an id the client cannot", cl.Name, c.Name)
			}
			if !cl.Absent && (c.ReasonMode != "" || c.IdentityMode != "") {
				t.Errorf("%s: %s leaves an element out", cl.Name, c.Name)
			}
			if c.Want.State != "" && c.Want.Definition == nil {
				t.Errorf("%s: %s does not check the definition", cl.Name, c.Name)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	fault := func(codeNs, code, subNs, sub string) Outcome {
		return Outcome{Outcome: "fault", Reason: "r", CodeNs: codeNs, CodeName: code, SubcodeNs: subNs, SubcodeName: sub}
	}
	sender12 := func(sub string) Outcome { return fault(NSSOAP12Env, "Sender", NSWorkflowServices, sub) }
	noReason := fault(NSWorkflowServices, "InstanceNotFound", "", "")
	noReason.Reason = ""
	notFound := Want{Fault: "InstanceNotFound"}
	for _, c := range []struct {
		w      Want
		soap12 bool
		o      Outcome
		ok     bool
	}{
		{Want{}, false, Outcome{Outcome: "ok"}, true},
		{Want{}, false, fault(NSSOAP11Env, "Client", "", ""), false},
		{notFound, true, sender12("InstanceNotFound"), true},
		{notFound, true, sender12("InstanceCompleted"), false},
		{notFound, false, fault(NSWorkflowServices, "InstanceNotFound", "", ""), true},
		{notFound, false, noReason, false},
		{Want{Fault: Sender}, false, fault(NSSOAP11Env, "Client", "", ""), true},
		{Want{Fault: Sender}, true, sender12("X"), false},
		{Want{Fault: "DeserializationFailed", FaultNS: NSDispatcher}, false, fault(NSDispatcher, "DeserializationFailed", "", ""), true},
		{notFound, false, Outcome{Outcome: "error", Error: "boom"}, false},
	} {
		if msg := Check(c.w, c.soap12, c.o); (msg == "") != c.ok {
			t.Errorf("Check(%+v, %v, %+v) = %q", c.w, c.soap12, c.o, msg)
		}
	}
}
