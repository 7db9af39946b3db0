package e2e

import (
	"testing"

	"github.com/wimp-project/wimp/store/postgres/pgtest"
)

// wimp-server on PostgreSQL (--db postgres://...): what a client was acknowledged survives
// kill -9 of the server, as on SQLite — a bookmark resumption, a suspension, a completion —
// and the new process takes over the instances of the one that died (its lease lapses with its
// registration).
func TestPostgresServerSurvivesKill9(t *testing.T) {
	db := pgtest.Fresh(t)
	s := startServer(t, "--db", db, "--unload-after", "0")
	id := s.create("ExpenseApproval", "--input", "amount=1500", "--input", "submitter=pg")
	other := s.create("ExpenseApproval", "--input", "amount=10", "--input", "submitter=pg")
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"first"}`)
	s.ok("suspend", other, "--reason", "held over a crash")
	s.Kill9()
	s.restart()

	inst := s.get(id)
	if inst.State != "Active" || num(inst, "approvals") != 1 || len(inst.Bookmarks) != 1 || inst.Bookmarks[0] != "Review" {
		t.Fatalf("after kill -9 and restart: want Active, 1 approval, waiting on Review; got %s %v %v", inst.State, inst.Variables, inst.Bookmarks)
	}
	if o := s.get(other); o.State != "Suspended" || o.SuspensionReason != "held over a crash" {
		t.Fatalf("the suspended instance after the restart: %s %q", o.State, o.SuspensionReason)
	}
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"second"}`)
	s.Kill9()
	s.restart()
	if inst = s.get(id); inst.State != "Completed" || inst.Completion != "Closed" || str(inst, "status") != "Approved" {
		t.Fatalf("after the second approval, a kill -9 and a restart: %s/%s %v", inst.State, inst.Completion, inst.Variables)
	}
	// MS-WFIM on the restarted node: the state table as on SQLite.
	if r := s.wimpctl("run", other); !isFault(r, "InstanceSuspended") {
		t.Fatalf("Run of the suspended instance: %+v", r)
	}
	s.ok("unsuspend", other)
	s.ok("terminate", other, "--reason", "done")
	if o := s.get(other); o.State != "Completed" || o.Completion != "Terminated" {
		t.Fatalf("after Terminate: %s/%s", o.State, o.Completion)
	}
}
