package harness

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"
)

// TestReplayHistory checks a history file that a failed check wrote (its message names it):
//
//	WIMP_HARNESS_REPLAY=/tmp/wimp-harness-....json go test -run TestReplayHistory -v ./e2e/harness
//
// Without WIMP_HARNESS_REPLAY it proves the round trip the replay depends on: a history with a
// lost acknowledged Suspend, written and read back, is still found not linearizable, and the
// same history with the read corrected still passes.
func TestReplayHistory(t *testing.T) {
	if path := os.Getenv("WIMP_HARNESS_REPLAY"); path != "" {
		ops, err := loadHistory(path)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, _ := porcupine.CheckOperationsVerbose(instanceModel, ops, 5*time.Minute)
		t.Logf("%d operations: %s in %v\n%s", len(ops), res, time.Since(start), describeHistory(ops))
		return
	}
	id := uuid.New()
	ms := int64(time.Millisecond)
	history := func(read view) []porcupine.Operation {
		return []porcupine.Operation{
			{ClientId: checker, Call: 0, Return: 1 * ms, Input: action{Op: "Create", ID: id, Amount: 1500}, Output: outcome{}},
			{ClientId: 1, Call: 2 * ms, Return: 3 * ms, Input: action{Op: "Suspend", ID: id, Reason: "r1"}, Output: outcome{Sent: 2 * ms}},
			{ClientId: 2, Call: 4 * ms, Return: 5 * ms, Input: action{Op: "Get", ID: id}, Output: outcome{View: read, Sent: 4 * ms}},
		}
	}
	for _, c := range []struct {
		name string
		read view
		want bool
	}{
		{"the Suspend is lost", view{State: "Active", Status: "Pending", Waiting: true}, false},
		{"the Suspend is read", view{State: "Suspended", SuspensionReason: "r1", Status: "Pending", Waiting: true}, true},
	} {
		path := filepath.Join(t.TempDir(), "history.json")
		if err := dumpHistory(path, history(c.read)); err != nil {
			t.Fatal(err)
		}
		ops, err := loadHistory(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := porcupine.CheckOperations(instanceModel, ops); got != c.want {
			t.Errorf("%s: after a round trip through %s, linearizable = %v, want %v", c.name, path, got, c.want)
		}
	}
}
