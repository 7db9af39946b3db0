package protocol

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store"
)

var (
	testID       = uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	v1           = store.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}
	v2           = store.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"}
	unregistered = store.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "9.0.0.0"}
)

// canUpdate registers one update: v1 → v2.
func canUpdate(from, to store.Identity) error {
	if SameIdentity(from, v1) && SameIdentity(to, v2) {
		return nil
	}
	return errors.New("no update registered")
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

// TestStateTable checks every cell of DESIGN §3's state table for every one of the 13
// operations. The expectations are written from the DESIGN text, not from the Table variable.
func TestStateTable(t *testing.T) {
	statuses := map[string]Status{
		"Active":     {Exists: true, State: store.Active, Identity: v1},
		"Suspended":  {Exists: true, State: store.Suspended, Identity: v1},
		"Closed":     {Exists: true, State: store.Completed, Completion: store.Closed, Identity: v1},
		"Canceled":   {Exists: true, State: store.Completed, Completion: store.Canceled, Identity: v1},
		"Terminated": {Exists: true, State: store.Completed, Completion: store.Terminated, Identity: v1},
		"Faulted":    {Exists: true, State: store.Completed, Completion: store.Faulted, Identity: v1},
		"unknown":    {},
	}
	completedCells := map[string]string{
		"Closed": "InstanceCompleted", "Canceled": "InstanceCompleted",
		"Terminated": "InstanceTerminated", "Faulted": "InstanceTerminated", "unknown": "InstanceNotFound",
	}
	// What Active and Suspended instances give, per operation kind (an Effect or a fault subcode).
	type cell struct {
		effect Effect
		fault  string
	}
	rows := map[Kind][2]cell{
		Run:       {{effect: Execute}, {fault: "InstanceSuspended"}},
		Suspend:   {{effect: SuspendIt}, {effect: SuspendIt}},
		Unsuspend: {{effect: NoChange}, {effect: Resume}},
		Cancel:    {{effect: CancelIt}, {effect: CancelIt}},
		Terminate: {{effect: TerminateIt}, {effect: TerminateIt}},
		Abandon:   {{effect: AbandonIt}, {effect: AbandonIt}},
		Update:    {{effect: UpdateIt}, {effect: UpdateIt}},
	}
	reason := "because"
	cells := 0
	for _, op := range Ops {
		for name, st := range statuses {
			cmd := Command{Op: op, InstanceID: testID, Reason: &reason, Identity: &v1}
			d := Decide(cmd, st, canUpdate)
			var want cell
			switch name {
			case "Active":
				want = rows[op.Kind][0]
			case "Suspended":
				want = rows[op.Kind][1]
			default:
				want = cell{fault: completedCells[name]}
			}
			if got := subcode(d.Fault); got != want.fault {
				t.Errorf("%s on %s: fault %q, want %q", op.Name, name, got, want.fault)
			}
			if d.Fault == nil && d.Effect != want.effect {
				t.Errorf("%s on %s: effect %v, want %v", op.Name, name, d.Effect, want.effect)
			}
			if d.Fault != nil && d.Fault.Code != soap.Sender {
				t.Errorf("%s on %s: fault code %v, want Sender", op.Name, name, d.Fault.Code)
			}
			if d.Fault != nil && d.Fault.Subcodes[0].Space != NS {
				t.Errorf("%s on %s: subcode namespace %q", op.Name, name, d.Fault.Subcodes[0].Space)
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
		d := Decide(Command{Op: op, InstanceID: uuid.Nil}, Status{Exists: true, State: store.Active}, nil)
		if subcode(d.Fault) != "InstanceNotFound" {
			t.Errorf("%s on the zero GUID: %v", op.Name, d.Fault)
		}
	}
}

func TestUpdateIdentityRules(t *testing.T) {
	update, _ := OpByName("Update")
	tupdate, _ := OpByName("TransactedUpdate")
	same := v1
	same.Version = "1.0.0.0"
	for _, tc := range []struct {
		name     string
		op       Op
		state    store.State
		identity *store.Identity
		fault    string
		switchTo *store.Identity
		run      bool
	}{
		{"equal identity on Active runs", update, store.Active, &same, "", nil, true},
		{"equal identity on Suspended does not run", update, store.Suspended, &same, "", nil, false},
		{"registered update on Active switches and runs", update, store.Active, &v2, "", &v2, true},
		{"registered update on Suspended switches, no run", tupdate, store.Suspended, &v2, "", &v2, false},
		{"unregistered identity", update, store.Active, &unregistered, "UpdateFailed", nil, false},
		{"nil identity never equals", update, store.Active, nil, "UpdateFailed", nil, false},
		{"nil identity on Suspended", tupdate, store.Suspended, nil, "UpdateFailed", nil, false},
		{"other name", update, store.Active, &store.Identity{Name: "Other", Package: "wimp.samples", Version: "1.0.0.0"}, "UpdateFailed", nil, false},
		{"version compared as System.Version", update, store.Active, &store.Identity{Name: v1.Name, Package: v1.Package, Version: "1.00.0.0"}, "", nil, true},
		{"1.0 is not 1.0.0.0", update, store.Active, &store.Identity{Name: v1.Name, Package: v1.Package, Version: "1.0"}, "UpdateFailed", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Command{Op: tc.op, InstanceID: testID, Identity: tc.identity},
				Status{Exists: true, State: tc.state, Identity: v1}, canUpdate)
			if got := subcode(d.Fault); got != tc.fault && !(got == "" && tc.fault == "") {
				t.Fatalf("fault %q, want %q", got, tc.fault)
			}
			if d.Fault != nil {
				return
			}
			if (d.NewIdentity == nil) != (tc.switchTo == nil) || (d.NewIdentity != nil && *d.NewIdentity != *tc.switchTo) {
				t.Errorf("NewIdentity %v, want %v", d.NewIdentity, tc.switchTo)
			}
			if d.Run != tc.run {
				t.Errorf("Run %v, want %v", d.Run, tc.run)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, ok := range map[string]bool{
		"1.0": true, "1.0.0": true, "1.0.0.0": true, " 1 . 2 ": true, "2147483647.0": true,
		"1": false, "1.0.0.0.0": false, "": false, "a.b": false, "-1.0": false, "1..0": false, "2147483648.0": false,
	} {
		if _, err := ParseVersion(in); (err == nil) != ok {
			t.Errorf("ParseVersion(%q) error %v, want ok=%v", in, err, ok)
		}
	}
}
