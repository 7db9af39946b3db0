package protocol

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

var (
	testID       = uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	v1           = workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}
	v2           = workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"}
	unregistered = workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "9.0.0.0"}
)

// condition is an instance in state with identity v1, for which one update is registered: v1 → v2.
func condition(state workflow.State, c workflow.Completion) host.Condition {
	return host.Condition{Exists: true, State: state, Completion: c, Identity: v1,
		CanUpdate: func(to workflow.Identity) error {
			if to.Equal(v2) {
				return nil
			}
			return errors.New("no update registered")
		}}
}

func subcode(f *soap.Fault) string {
	if f == nil {
		return ""
	}
	if len(f.Subcodes) == 0 {
		return "(none)"
	}
	return f.Subcodes[0].Local
}

// faultOf is the fault a decision's refusal becomes on the wire.
func faultOf(t *testing.T, op Op, d host.Decision, c host.Condition) *soap.Fault {
	t.Helper()
	if d.Refuse == nil {
		return nil
	}
	err := Fault(&host.Error{Kind: d.Refuse, Instance: testID, Operation: op.Name, Completion: c.Completion, Detail: d.Why})
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("%s: refusal %v maps to %v, not a fault", op.Name, d.Refuse, err)
	}
	return f
}

// TestStateTable checks every cell of the state table (docs/protocol.md) for every one of the
// 13 operations. The expectations are written from the documented table, not from Table.
func TestStateTable(t *testing.T) {
	conditions := map[string]host.Condition{
		"Active":     condition(workflow.Active, ""),
		"Suspended":  condition(workflow.Suspended, ""),
		"Closed":     condition(workflow.Completed, workflow.Closed),
		"Canceled":   condition(workflow.Completed, workflow.Canceled),
		"Terminated": condition(workflow.Completed, workflow.Terminated),
		"Faulted":    condition(workflow.Completed, workflow.Faulted),
		"unknown":    {},
	}
	completedCells := map[string]string{
		"Closed": "InstanceCompleted", "Canceled": "InstanceCompleted",
		"Terminated": "InstanceTerminated", "Faulted": "InstanceTerminated", "unknown": "InstanceNotFound",
	}
	// What Active and Suspended instances give, per operation kind (an effect or a fault subcode).
	type cell struct {
		effect host.Effect
		fault  string
	}
	rows := map[Kind][2]cell{
		Run:       {{effect: host.Execute}, {fault: "InstanceSuspended"}},
		Suspend:   {{effect: host.Suspend}, {effect: host.Suspend}},
		Unsuspend: {{effect: host.NoChange}, {effect: host.Resume}},
		Cancel:    {{effect: host.Cancel}, {effect: host.Cancel}},
		Terminate: {{effect: host.Terminate}, {effect: host.Terminate}},
		Abandon:   {{effect: host.Abandon}, {effect: host.Abandon}},
		Update:    {{effect: host.Update}, {effect: host.Update}}, // with v2: a registered update
	}
	reason := "because"
	cells := 0
	for _, op := range Ops {
		for name, c := range conditions {
			cmd := Command{Op: op, InstanceID: testID, Reason: &reason, Identity: &v2}
			d := Decide(cmd, c)
			var want cell
			switch name {
			case "Active":
				want = rows[op.Kind][0]
			case "Suspended":
				want = rows[op.Kind][1]
			default:
				want = cell{fault: completedCells[name]}
			}
			f := faultOf(t, op, d, c)
			if got := subcode(f); got != want.fault {
				t.Errorf("%s on %s: fault %q, want %q", op.Name, name, got, want.fault)
			}
			if f == nil && d.Effect != want.effect {
				t.Errorf("%s on %s: effect %v, want %v", op.Name, name, d.Effect, want.effect)
			}
			if f != nil && f.Code != soap.Sender {
				t.Errorf("%s on %s: fault code %v, want Sender", op.Name, name, f.Code)
			}
			if f != nil && f.Subcodes[0].Space != "http://schemas.datacontract.org/2008/10/WorkflowServices" {
				t.Errorf("%s on %s: subcode namespace %q", op.Name, name, f.Subcodes[0].Space)
			}
			cells++
		}
	}
	if cells != 13*7 {
		t.Fatalf("checked %d cells", cells)
	}
}

func TestAllZeroGUIDIsNeverAnInstance(t *testing.T) {
	for _, op := range Ops {
		c := condition(workflow.Active, "")
		d := Decide(Command{Op: op, InstanceID: uuid.Nil}, c)
		if f := faultOf(t, op, d, c); subcode(f) != "InstanceNotFound" {
			t.Errorf("%s on the zero GUID: %v", op.Name, f)
		}
	}
}

func TestUpdateIdentityRules(t *testing.T) {
	update, _ := OpByName("Update")
	tupdate, _ := OpByName("TransactedUpdate")
	same := v1
	for _, tc := range []struct {
		name     string
		op       Op
		state    workflow.State
		identity *workflow.Identity
		fault    string
		effect   host.Effect
		switchTo *workflow.Identity
	}{
		{"equal identity on Active runs", update, workflow.Active, &same, "", host.Execute, nil},
		{"equal identity on Suspended changes nothing", update, workflow.Suspended, &same, "", host.NoChange, nil},
		{"registered update on Active switches", update, workflow.Active, &v2, "", host.Update, &v2},
		{"registered update on Suspended switches", tupdate, workflow.Suspended, &v2, "", host.Update, &v2},
		{"unregistered identity", update, workflow.Active, &unregistered, "UpdateFailed", 0, nil},
		{"nil identity never equals", update, workflow.Active, nil, "UpdateFailed", 0, nil},
		{"nil identity on Suspended", tupdate, workflow.Suspended, nil, "UpdateFailed", 0, nil},
		{"other name", update, workflow.Active, &workflow.Identity{Name: "Other", Package: "wimp.samples", Version: "1.0.0.0"}, "UpdateFailed", 0, nil},
		{"version compared as System.Version", update, workflow.Active, &workflow.Identity{Name: v1.Name, Package: v1.Package, Version: "1.00.0.0"}, "", host.Execute, nil},
		{"1.0 is not 1.0.0.0", update, workflow.Active, &workflow.Identity{Name: v1.Name, Package: v1.Package, Version: "1.0"}, "UpdateFailed", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := condition(tc.state, "")
			d := Decide(Command{Op: tc.op, InstanceID: testID, Identity: tc.identity}, c)
			f := faultOf(t, tc.op, d, c)
			if got := subcode(f); got != tc.fault {
				t.Fatalf("fault %q, want %q", got, tc.fault)
			}
			if f != nil {
				return
			}
			if d.Effect != tc.effect {
				t.Errorf("effect %v, want %v", d.Effect, tc.effect)
			}
			if (d.Identity == nil) != (tc.switchTo == nil) || (d.Identity != nil && *d.Identity != *tc.switchTo) {
				t.Errorf("Identity %v, want %v", d.Identity, tc.switchTo)
			}
		})
	}
}

// The host's refusals and failures as MS-WFIM faults: the reason texts name the operation and
// the instance; a failure to commit is a Receiver fault; anything else stays an internal error.
func TestFaultMapping(t *testing.T) {
	he := func(kind error, c workflow.Completion) error {
		return &host.Error{Kind: kind, Instance: testID, Operation: "TransactedRun", Completion: c, Detail: "why"}
	}
	for _, tc := range []struct {
		err            error
		code           soap.FaultCode
		subcode, after string
	}{
		{he(host.ErrNotFound, ""), soap.Sender, "InstanceNotFound", "There is no workflow instance with id '3f2504e0-4f89-41d3-9a0c-0305e82c3301'."},
		{he(host.ErrSuspended, ""), soap.Sender, "InstanceSuspended", "The operation 'TransactedRun' could not be performed on workflow instance '3f2504e0-4f89-41d3-9a0c-0305e82c3301' because it is suspended."},
		{he(host.ErrCompleted, workflow.Closed), soap.Sender, "InstanceCompleted", "The operation 'TransactedRun' could not be performed on workflow instance '3f2504e0-4f89-41d3-9a0c-0305e82c3301' because it has completed."},
		{he(host.ErrCompleted, workflow.Faulted), soap.Sender, "InstanceTerminated", "The operation 'TransactedRun' could not be performed on workflow instance '3f2504e0-4f89-41d3-9a0c-0305e82c3301' because it has been terminated."},
		{he(host.ErrUpdateRefused, ""), soap.Sender, "UpdateFailed", "Workflow instance '3f2504e0-4f89-41d3-9a0c-0305e82c3301' could not be updated: why."},
		{&host.Error{Kind: host.ErrUnavailable, Instance: testID, Cause: errors.New("store: write timed out")}, soap.Receiver, "(none)",
			"The workflow store could not complete the request (store: write timed out); nothing was changed. Retry later."},
		// A commit whose connection broke: the reply must not say that nothing was changed.
		{&host.Error{Kind: host.ErrOutcomeUnknown, Instance: testID, Cause: errors.New("connection lost during COMMIT")}, soap.Receiver, "(none)",
			"The workflow store lost its connection while committing the request; it may or may not have been applied. Read the instance before retrying."},
	} {
		var f *soap.Fault
		if !errors.As(Fault(tc.err), &f) {
			t.Fatalf("%v: not a fault", tc.err)
		}
		if f.Code != tc.code || subcode(f) != tc.subcode || f.Reason != tc.after {
			t.Errorf("%v → %v %q %q, want %v %q %q", tc.err, f.Code, subcode(f), f.Reason, tc.code, tc.subcode, tc.after)
		}
	}
	internal := fmt.Errorf("snapshot failed")
	if err := Fault(internal); err != internal {
		t.Errorf("an error that is no refusal became %v", err)
	}
}
