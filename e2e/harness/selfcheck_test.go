package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/hosting"
)

// The checks can fail: histories and records with the defects the harness looks for are
// refused, and their correct counterparts accepted. (No server: a check of the checker.)
func TestCheckerCatchesDefects(t *testing.T) {
	id := uuid.New()
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	op := func(call, ret int64, a action, o outcome) porcupine.Operation {
		a.ID = id
		o.Sent = ms(call)
		return porcupine.Operation{Input: a, Output: o, Call: ms(call), Return: ms(ret)}
	}
	create := op(0, 1, action{Op: "Create", Amount: 1500}, outcome{})
	active := outcome{View: view{State: "Active", Status: "Pending", Waiting: true}}
	suspended := outcome{View: view{State: "Suspended", SuspensionReason: "r1", Status: "Pending", Waiting: true}}
	terminated := outcome{View: view{State: "Completed", Completion: "Terminated", CompletionReason: "t1", Status: "Pending"}}
	suspend := action{Op: "Suspend", Reason: "r1"}
	for _, c := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"an acknowledged Suspend is read", []porcupine.Operation{create, op(2, 3, suspend, outcome{}), op(4, 5, action{Op: "Get"}, suspended)}, porcupine.Ok},
		{"an acknowledged Suspend is lost", []porcupine.Operation{create, op(2, 3, suspend, outcome{}), op(4, 5, action{Op: "Get"}, active)}, porcupine.Illegal},
		{"a Suspend without a reply took effect", []porcupine.Operation{create, op(2, 9, suspend, outcome{Unknown: true}), op(10, 11, action{Op: "Get"}, suspended)}, porcupine.Ok},
		{"a Suspend without a reply did not", []porcupine.Operation{create, op(2, 9, suspend, outcome{Unknown: true}), op(10, 11, action{Op: "Get"}, active)}, porcupine.Ok},
		{"a Suspend without a reply took effect after the server was gone", []porcupine.Operation{create, op(2, 9, suspend, outcome{Unknown: true}),
			op(10, 11, action{Op: "Get"}, active), op(12, 13, action{Op: "Get"}, suspended)}, porcupine.Illegal},
		{"a read the store could not answer (Receiver) fits any state", []porcupine.Operation{create, op(2, 3, suspend, outcome{}),
			op(4, 5, action{Op: "Get"}, outcome{Fault: "Receiver"}), op(6, 7, action{Op: "Get"}, suspended)}, porcupine.Ok},
		{"a refused (Receiver) change is applied", []porcupine.Operation{create, op(2, 3, suspend, outcome{Fault: "Receiver"}), op(4, 5, action{Op: "Get"}, suspended)}, porcupine.Illegal},
		{"Run on a suspended instance succeeds", []porcupine.Operation{create, op(2, 3, suspend, outcome{}), op(4, 5, action{Op: "Run"}, outcome{})}, porcupine.Illegal},
		{"Run on a suspended instance is refused", []porcupine.Operation{create, op(2, 3, suspend, outcome{}), op(4, 5, action{Op: "TransactedRun"}, outcome{Fault: "InstanceSuspended"})}, porcupine.Ok},
		{"Terminate wins over a concurrent Suspend", []porcupine.Operation{create, op(2, 6, suspend, outcome{}),
			op(3, 7, action{Op: "Terminate", Reason: "t1"}, outcome{}), op(8, 9, action{Op: "Get"}, terminated),
			op(10, 11, action{Op: "Unsuspend"}, outcome{Fault: "InstanceTerminated"})}, porcupine.Ok},
		{"a terminated instance answers InstanceCompleted", []porcupine.Operation{create, op(3, 7, action{Op: "Terminate", Reason: "t1"}, outcome{}),
			op(10, 11, action{Op: "Unsuspend"}, outcome{Fault: "InstanceCompleted"})}, porcupine.Illegal},
		{"two approvals complete an amount above 1000", []porcupine.Operation{create,
			op(2, 3, action{Op: "ResumeBookmark", Review: "approve", Nonce: "a"}, outcome{}),
			op(4, 5, action{Op: "ResumeBookmark", Review: "malformed", Nonce: "b"}, outcome{}),
			op(6, 7, action{Op: "ResumeBookmark", Review: "approve", Nonce: "c"}, outcome{}),
			op(8, 9, action{Op: "Get"}, outcome{View: view{State: "Completed", Completion: "Closed", Status: "Approved", Approvals: 2}})}, porcupine.Ok},
		{"one approval completes an amount above 1000", []porcupine.Operation{create,
			op(2, 3, action{Op: "ResumeBookmark", Review: "approve", Nonce: "a"}, outcome{}),
			op(8, 9, action{Op: "Get"}, outcome{View: view{State: "Completed", Completion: "Closed", Status: "Approved", Approvals: 1}})}, porcupine.Illegal},
	} {
		if got := porcupine.CheckOperations(instanceModel, c.ops); (got && c.want != porcupine.Ok) || (!got && c.want == porcupine.Ok) {
			t.Errorf("%s: linearizable = %v, want %s", c.name, got, c.want)
		}
	}

	// The commit order: records rank the changes, and a reply before a change could have
	// happened is caught.
	ranked := []porcupine.Operation{create, op(2, 6, suspend, outcome{}), op(3, 7, action{Op: "Terminate", Reason: "t1"}, outcome{}),
		op(8, 9, action{Op: "Get"}, terminated)}
	recs := []hosting.Record{
		{Seq: 10, Kind: "Instance", Name: "Terminated", Reason: "t1", Data: `{"operation":"Terminate"}`, Time: time.Unix(0, 0).Add(3 * time.Millisecond)},
		{Seq: 11, Kind: "Instance", Name: "Suspended", Reason: "r1", Data: `{"operation":"Suspend"}`, Time: time.Unix(0, 0).Add(4 * time.Millisecond)},
	}
	_, r, _ := narrow(ranked, matchRecords(ranked, recs, time.Unix(0, 0)))
	if porcupine.CheckOperations(instanceModel, r) {
		t.Errorf("a Suspend committed after a Terminate succeeded: the ranked history is linearizable")
	}
	early := []porcupine.Operation{create, op(2, 3, action{Op: "Unsuspend"}, outcome{Fault: "InstanceTerminated"}),
		op(5, 7, action{Op: "Terminate", Reason: "t1"}, outcome{})}
	_, r, _ = narrow(early, matchRecords(early, recs[:1], time.Unix(0, 0).Add(-2*time.Millisecond)))
	if _, _, violation := foldRanked(r); !strings.Contains(violation, "fits nowhere") {
		t.Errorf("a refusal for a completion that came later: foldRanked says %q", violation)
	}

	lost := []porcupine.Operation{create, op(2, 3, suspend, outcome{}), op(4, 5, action{Op: "Get"}, active)}
	_, r, _ = narrow(lost, matchRecords(lost, recs[1:], time.Unix(0, 0).Add(2*time.Millisecond)))
	if f, _, violation := foldRanked(r); !strings.Contains(violation, "fits nowhere") || porcupine.CheckOperations(instanceModel, f) {
		t.Errorf("a read that misses an acknowledged Suspend: foldRanked says %q", violation)
	}

	// Tracking records: lost, duplicated and phantom records are defects.
	l := newLedger()
	l.note(action{Op: "Run", ID: id}, outcome{})
	l.note(action{Op: "Run", ID: id}, outcome{})
	l.note(action{Op: "Suspend", ID: id, Reason: "s1"}, outcome{Fault: "Receiver"})
	l.note(action{Op: "ResumeBookmark", ID: id, Review: "malformed", Nonce: "n1"}, outcome{})
	good := []hosting.Record{
		{Seq: 1, Kind: "Instance", Name: "Run", Data: `{"operation":"Run"}`},
		{Seq: 2, Kind: "Instance", Name: "Run", Data: `{"operation":"Run"}`},
		{Seq: 3, Kind: "Bookmark", Name: "Review", Data: `{"note":"n1"}`},
	}
	if n, d := l.verify(id, good); len(d) != 0 || n != 3 {
		t.Errorf("correct records: %d verified, defects %v", n, d)
	}
	for name, recs := range map[string][]hosting.Record{
		"lost their record":   {good[0], good[2]},
		"records too many":    append(append([]hosting.Record{}, good...), good[0]),
		"was refused":         append(append([]hosting.Record{}, good...), hosting.Record{Seq: 4, Kind: "Instance", Name: "Suspended", Reason: "s1", Data: `{"operation":"Suspend"}`}),
		"want exactly 1":      {good[0], good[1]},
		"matches no request":  append(append([]hosting.Record{}, good...), hosting.Record{Seq: 5, Kind: "Instance", Name: "Aborted", Reason: "zz", Data: `{"operation":"Abandon"}`}),
		"want one of [Run]":   {good[0], {Seq: 2, Kind: "Instance", Name: "Suspended", Data: `{"operation":"Run"}`}, good[2]},
		"Bookmark \"Review\"": {good[0], good[1]},
	} {
		_, d := l.verify(id, recs)
		if !strings.Contains(strings.Join(d, "\n"), name) {
			t.Errorf("records with a defect (%q): defects %q", name, d)
		}
	}
}
