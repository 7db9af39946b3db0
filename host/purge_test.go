package host_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// TestPurge deletes the completed instances a filter selects with their records, never a live
// one, and a purged id is unknown afterwards.
func TestPurge(t *testing.T) {
	h := newHost(t, -1)
	live, suspended, closed, term := createExpense(t, h, 10), createExpense(t, h, 10), createExpense(t, h, 10), createExpense(t, h, 10)
	mustManage(t, h, "Suspend", suspended, "")
	mustManage(t, h, "Cancel", closed, "")
	mustManage(t, h, "Terminate", term, "")

	dry, err := h.Purge(bg, host.Filter{Definition: "ExpenseApproval"}, true)
	if err != nil || dry.Purged != 2 || dry.Live != 2 {
		t.Fatalf("dry run: %+v, %v; want 2 purged, 2 live", dry, err)
	}
	if in, _ := get(t, h, closed); in.State != workflow.Completed {
		t.Fatal("the dry run deleted")
	}
	res, err := h.Purge(bg, host.Filter{Definition: "ExpenseApproval"}, false)
	if err != nil || res.Purged != 2 || res.Live != 2 {
		t.Fatalf("purge: %+v, %v; want 2 purged, 2 live", res, err)
	}
	for _, id := range []uuid.UUID{closed, term} {
		if _, err := h.Get(bg, id); !errors.Is(err, host.ErrNotFound) {
			t.Errorf("Get of a purged instance: %v", err)
		}
		if err := manage(t, h, "Terminate", id, ""); subcode(err) != "InstanceNotFound" {
			t.Errorf("Terminate of a purged instance: %v; want InstanceNotFound", err)
		}
		if recs, err := h.Records(bg, id, 0); !errors.Is(err, host.ErrNotFound) {
			t.Errorf("records of a purged instance: %d, %v; want none and not found", len(recs), err)
		}
	}
	if s := states(t, h, []uuid.UUID{live, suspended}); s != "AS" {
		t.Fatalf("live instances after the purge: %s; want AS", s)
	}
	// A filter that asks for live instances is refused, and deletes nothing.
	for _, st := range []workflow.State{workflow.Active, workflow.Suspended} {
		if _, err := h.Purge(bg, host.Filter{State: st}, false); !errors.Is(err, host.ErrInvalidQuery) {
			t.Errorf("Purge of %s instances: %v; want refused", st, err)
		}
	}
	if s := states(t, h, []uuid.UUID{live, suspended}); s != "AS" {
		t.Fatalf("live instances after the refused purges: %s", s)
	}
}

// TestRetentionAtCompletion: with a completed retention of 0, an instance is purged as soon as
// it completes (WF4's instanceCompletionAction DeleteAll).
func TestRetentionAtCompletion(t *testing.T) {
	h := startHost(t, host.Config{UnloadAfter: -1, PurgeCompleted: true})
	keep, done := createExpense(t, h, 10), createExpense(t, h, 10)
	mustManage(t, h, "Terminate", done, "")
	eventually(t, "the terminated instance purged", func() bool {
		_, err := h.Get(bg, done)
		return errors.Is(err, host.ErrNotFound)
	})
	// The count follows the commit that made the instance unknown.
	eventually(t, "the purge counted", func() bool { return h.Purged() == 1 })
	if in, _ := get(t, h, keep); in.State != workflow.Active {
		t.Fatalf("the live instance is %s", in.State)
	}
}

// TestRetentionByAge: completed instances older than the retention go, younger ones stay;
// tracking records of live instances older than the tracking retention go.
func TestRetentionByAge(t *testing.T) {
	clk := newFakeClock(time.Now())
	st := openStore(t)
	h := startHost(t, host.Config{Store: st, UnloadAfter: -1, PurgeCompleted: true, CompletedRetention: time.Hour,
		TrackingRetention: time.Second, Clock: clk.now})
	live, young := createExpense(t, h, 10), createExpense(t, h, 10)
	mustManage(t, h, "Terminate", young, "")
	// Records carry the host's time: two seconds later they are older than the retention.
	clk.advance(2 * time.Second)
	eventually(t, "old tracking records of the live instance deleted", func() bool { return len(records(t, h, live)) == 0 })
	if in, _ := get(t, h, young); in.State != workflow.Completed {
		t.Fatal("a completed instance younger than the retention was purged")
	}
	if len(records(t, h, young)) == 0 {
		t.Fatal("the tracking retention deleted a completed instance's records")
	}
	clk.advance(2 * time.Hour)
	eventually(t, "the completed instance purged after its retention", func() bool {
		_, err := h.Get(bg, young)
		return errors.Is(err, host.ErrNotFound)
	})
}
