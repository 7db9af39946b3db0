package e2e

import (
	"strings"
	"testing"
	"time"
)

// cleanupRan reports whether CancellationDemo's CancellationHandler wrote its line.
func cleanupRan(recs []record) bool {
	for _, r := range recs {
		if r.Kind == "Activity" && r.Name == "WriteLine" && r.Activity == "logCleanup" {
			return true
		}
	}
	return false
}

// Cancel runs cancellation — CancellationDemo's CancellationScope handler sets cleanedUp and
// status — and completes the instance Canceled; later operations answer InstanceCompleted.
// Terminate runs no handler and completes it Terminated with the reason; later operations
// answer InstanceTerminated. Both from Active and from Suspended (docs/protocol.md, State table).
func TestCancelRunsHandlersTerminateDoesNot(t *testing.T) {
	s := startServer(t)
	for _, suspendFirst := range []bool{false, true} {
		canceled := s.create("CancellationDemo")
		terminated := s.create("CancellationDemo")
		for _, id := range []string{canceled, terminated} {
			inst := s.get(id)
			if inst.State != "Active" || str(inst, "status") != "Waiting" || inst.Variables["cleanedUp"] != false {
				t.Fatalf("after create: want Active, status Waiting, cleanedUp false; got %s %v", inst.State, inst.Variables)
			}
			if suspendFirst {
				s.ok("suspend", id, "--reason", "before the end")
			}
		}

		s.ok("cancel", canceled)
		inst := s.get(canceled)
		if inst.State != "Completed" || inst.Completion != "Canceled" {
			t.Fatalf("suspended first=%v: after cancel: want Completed/Canceled, got %s/%s", suspendFirst, inst.State, inst.Completion)
		}
		if inst.Variables["cleanedUp"] != true || str(inst, "status") != "Canceled" {
			t.Errorf("suspended first=%v: after cancel the CancellationHandler should have run: %v", suspendFirst, inst.Variables)
		}
		if !cleanupRan(s.track(canceled)) {
			t.Errorf("suspended first=%v: no tracking record of the CancellationHandler's WriteLine", suspendFirst)
		}

		s.ok("terminate", terminated, "--reason", "stop now")
		inst = s.get(terminated)
		if inst.State != "Completed" || inst.Completion != "Terminated" || inst.CompletionReason != "stop now" {
			t.Fatalf("suspended first=%v: after terminate: want Completed/Terminated (stop now), got %s/%s (%q)",
				suspendFirst, inst.State, inst.Completion, inst.CompletionReason)
		}
		if inst.Variables["cleanedUp"] != false || str(inst, "status") != "Waiting" {
			t.Errorf("suspended first=%v: terminate ran a handler: %v", suspendFirst, inst.Variables)
		}
		if cleanupRan(s.track(terminated)) {
			t.Errorf("suspended first=%v: terminate ran the CancellationHandler", suspendFirst)
		}

		// Every later operation answers by how the instance completed.
		for _, c := range []struct{ id, fault string }{{canceled, "InstanceCompleted"}, {terminated, "InstanceTerminated"}} {
			for _, op := range [][]string{{"run"}, {"suspend", "--reason", "r"}, {"unsuspend"}, {"cancel"},
				{"terminate", "--reason", "r"}, {"abandon"}, {"update", "--name", "CancellationDemo", "--package", "wimp.samples", "--version", "1.0.0.0"},
				{"run", "--transacted"}, {"cancel", "--transacted"}} {
				s.wantFault(c.fault, append([]string{op[0], c.id}, op[1:]...)...)
			}
			s.wantFault(c.fault, "resume-bookmark", c.id, "Continue")
		}
		if inst := s.get(terminated); inst.Completion != "Terminated" || inst.CompletionReason != "stop now" {
			t.Errorf("the refused operations changed the terminated instance: %+v", inst)
		}
	}
}

// Abandon discards the in-memory image without saving: the instance reverts to its last
// persisted point, and keeps working from there. An idle loaded instance (unload-after 1m keeps
// it in memory) is unchanged by it; a suspended one stays suspended with its reason.
func TestAbandon(t *testing.T) {
	s := startServer(t, "--unload-after", "1h")
	id := s.create("ExpenseApproval", "--input", "amount=1500", "--input", "submitter=carol")
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"first"}`)
	before := s.get(id)
	if num(before, "approvals") != 1 {
		t.Fatalf("after the first approval: %v", before.Variables)
	}

	s.ok("abandon", id, "--reason", "operator said so")
	after := s.get(id)
	if after.State != "Active" || num(after, "approvals") != 1 || str(after, "status") != "Pending" ||
		strings.Join(after.Bookmarks, ",") != "Review" || after.Definition != before.Definition {
		t.Fatalf("abandon of an idle instance changed its persisted state:\nbefore %+v\nafter  %+v", before, after)
	}
	if r, ok := findRecord(s.track(id), "Instance", "Aborted"); !ok || r.Reason != "operator said so" {
		t.Errorf("want an Aborted tracking record with the reason, got %+v (found %v)", r, ok)
	}
	// It keeps working: it is reloaded from the store.
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"x"}`)
	if inst := s.get(id); inst.State != "Completed" || str(inst, "status") != "Approved" || num(inst, "approvals") != 2 {
		t.Fatalf("after abandon and the second approval: want Completed, Approved, 2 approvals; got %s %v", inst.State, inst.Variables)
	}

	// A suspended instance: abandoned, it stays suspended, and Unsuspend brings it back.
	id = s.create("ExpenseApproval", "--input", "amount=100", "--input", "submitter=carol")
	s.ok("suspend", id, "--reason", "audit")
	s.ok("abandon", id)
	inst := s.get(id)
	if inst.State != "Suspended" || inst.SuspensionReason != "audit" || strings.Join(inst.Bookmarks, ",") != "Review" {
		t.Fatalf("abandon of a suspended instance: want Suspended (audit) waiting on Review, got %+v", inst)
	}
	s.wantFault("InstanceSuspended", "run", id)
	s.ok("unsuspend", id)
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":false,"reviewer":"x"}`)
	if inst := s.get(id); inst.State != "Completed" || str(inst, "status") != "Denied" {
		t.Fatalf("after unsuspend and a denial: %s %v", inst.State, inst.Variables)
	}
}

// An unhandled exception suspends the instance (default policy AbandonAndSuspend) at its last
// persisted point, with the exception recorded; while suspended a resumption is refused with
// InstanceSuspended; after Unsuspend it carries on (FaultOnDemand, engine/samples).
func TestUnhandledExceptionSuspends(t *testing.T) {
	s := startServer(t)
	id := s.create("FaultOnDemand")
	s.ok("resume-bookmark", id, "Attempt", "--payload", `{"fail":true,"message":"boom"}`)
	inst := s.get(id)
	if inst.State != "Suspended" || inst.SuspensionReason != "boom" || inst.SuspensionException != "OrderRejected" {
		t.Fatalf("after the unhandled exception: want Suspended, reason boom, exception OrderRejected; got %s, %q, %q",
			inst.State, inst.SuspensionReason, inst.SuspensionException)
	}
	// Back to the last persisted point: idle at Attempt, nothing of the failed attempt kept.
	if strings.Join(inst.Bookmarks, ",") != "Attempt" || str(inst, "status") != "Waiting" || inst.Variables["attempt"] != nil {
		t.Fatalf("want the last persisted point (waiting on Attempt, status Waiting, attempt null), got %v %v", inst.Bookmarks, inst.Variables)
	}
	recs := s.track(id)
	if r, ok := findRecord(recs, "Instance", "UnhandledException"); !ok || r.Reason != "boom" {
		t.Errorf("want an UnhandledException tracking record (boom), got %+v", r)
	}
	s.wantFault("InstanceSuspended", "resume-bookmark", id, "Attempt", "--payload", `{"fail":false}`)

	s.ok("unsuspend", id)
	if inst := s.get(id); inst.State != "Active" || inst.SuspensionReason != "" || inst.SuspensionException != "" {
		t.Fatalf("after unsuspend: want Active with no suspension recorded, got %+v", inst)
	}
	s.ok("resume-bookmark", id, "Attempt", "--payload", `{"fail":false}`)
	if inst := s.get(id); inst.State != "Completed" || inst.Completion != "Closed" || str(inst, "status") != "Done" {
		t.Fatalf("after the retry: want Completed/Closed, status Done; got %s/%s %v", inst.State, inst.Completion, inst.Variables)
	}
}

// Unsuspend retries an instance suspended by an unhandled exception from its last persisted
// point (FlakyService's Persist checkpoint): while the "service" is down the retry fails and
// suspends it again; once it is up the retry completes — having counted one attempt, because
// each failed attempt was discarded with the in-memory image.
func TestUnsuspendRetriesFromCheckpoint(t *testing.T) {
	s := startServer(t)
	failUntil := time.Now().Add(4 * time.Second).UTC()
	id := s.create("FlakyService", "--input", "failUntil="+failUntil.Format(time.RFC3339Nano))
	inst := s.get(id)
	if inst.State != "Suspended" || inst.SuspensionException != "ServiceUnavailable" ||
		!strings.Contains(inst.SuspensionReason, "service unavailable") {
		t.Fatalf("after create: want Suspended by ServiceUnavailable, got %s %q %q", inst.State, inst.SuspensionException, inst.SuspensionReason)
	}
	if str(inst, "status") != "Calling" || num(inst, "attempts") != 0 {
		t.Fatalf("want the checkpoint's variables (Calling, 0 attempts), got %v", inst.Variables)
	}

	s.ok("unsuspend", id) // still down: the retry fails again
	if time.Now().After(failUntil) {
		t.Fatalf("set-up too slow: the first retry ended after %s, when the service was back: the case did not happen", failUntil)
	}
	inst = s.get(id)
	if inst.State != "Suspended" || inst.SuspensionException != "ServiceUnavailable" {
		t.Fatalf("retry while the service is down: want Suspended again, got %+v", inst)
	}
	if n := countRecords(s.track(id), "Instance", "UnhandledException"); n != 2 {
		t.Fatalf("want 2 UnhandledException records (first run and one retry), got %d", n)
	}

	time.Sleep(time.Until(failUntil) + 100*time.Millisecond)
	s.ok("unsuspend", id)
	inst = s.get(id)
	if inst.State != "Completed" || inst.Completion != "Closed" || str(inst, "status") != "Done" {
		t.Fatalf("retry after the service is back: want Completed/Closed, Done; got %s/%s %v", inst.State, inst.Completion, inst.Variables)
	}
	if num(inst, "attempts") != 1 {
		t.Errorf("attempts = %v: the failed attempts should have been discarded with their images (want 1)", num(inst, "attempts"))
	}
}

// Update moves an instance to a definition that declares it can update from the current one
// (ExpenseApproval 1.0.0.0 → 2.0.0.0), and refuses an incompatible one (1.5.0.0), an unknown one
// and a nil identity with UpdateFailed; the current identity is OK. The updated instance runs
// the new definition, also after kill -9.
func TestUpdate(t *testing.T) {
	s := startServer(t)
	id := s.create("ExpenseApproval", "--version", "1.0.0.0", "--input", "amount=1500", "--input", "submitter=dave")
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"first"}`)
	identity := func(v string) []string {
		return []string{"update", id, "--name", "ExpenseApproval", "--package", "wimp.samples", "--version", v}
	}
	check := func(when, version string) instance {
		t.Helper()
		inst := s.get(id)
		if inst.State != "Active" || inst.Definition.Name != "ExpenseApproval" || inst.Definition.Version != version ||
			num(inst, "approvals") != 1 || strings.Join(inst.Bookmarks, ",") != "Review" {
			t.Fatalf("%s: want Active ExpenseApproval %s with 1 approval waiting on Review, got %+v", when, version, inst)
		}
		return inst
	}
	check("before update", "1.0.0.0")

	s.wantFault("UpdateFailed", identity("1.5.0.0")...) // declares UpdatableFrom but moved the Receive
	check("after the incompatible update", "1.0.0.0")
	s.wantFault("UpdateFailed", identity("9.9.9.9")...) // not registered
	s.wantFault("UpdateFailed", "update", id)           // nil identity
	s.wantFault("UpdateFailed", "update", id, "--transacted")
	check("after refused updates", "1.0.0.0")
	s.ok(identity("1.0.0.0")...) // the current identity: OK, like Run
	check("after the same-identity update", "1.0.0.0")

	s.ok(identity("2.0.0.0")...)
	inst := check("after the update", "2.0.0.0")
	if str(inst, "auditNote") != "reviewed under policy v2" {
		t.Errorf("after the update: the new variable auditNote should have its default, got %v", inst.Variables)
	}
	if _, ok := findRecord(s.track(id), "Instance", "Updated"); !ok {
		t.Error("no Updated tracking record")
	}

	s.Kill9()
	s.restart()
	check("after kill -9", "2.0.0.0")
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"x"}`)
	inst = s.get(id)
	if inst.State != "Completed" || str(inst, "status") != "Approved" {
		t.Fatalf("after the second approval: %s %v", inst.State, inst.Variables)
	}
	audited := false
	for _, r := range s.track(id) {
		audited = audited || (r.Name == "WriteLine" && r.Activity == "auditTrail")
	}
	if !audited {
		t.Error("the updated instance did not run 2.0.0.0's auditTrail WriteLine")
	}

	// A suspended instance is updated too, and stays suspended (Update does not run it).
	id2 := s.create("ExpenseApproval", "--version", "1.0.0.0", "--input", "amount=10", "--input", "submitter=dave")
	s.ok("suspend", id2, "--reason", "migrating")
	s.ok("update", id2, "--transacted", "--name", "ExpenseApproval", "--package", "wimp.samples", "--version", "2.0.0.0")
	if inst := s.get(id2); inst.State != "Suspended" || inst.SuspensionReason != "migrating" || inst.Definition.Version != "2.0.0.0" {
		t.Fatalf("update of a suspended instance: want Suspended (migrating) at 2.0.0.0, got %+v", inst)
	}
}
