package storetest

import (
	"testing"
	"time"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// testPendingTimers: PendingTimers counts the Active instances with a timer, due or not, and
// follows every change of state and timer.
func testPendingTimers(t *testing.T, s store.Store) {
	want := func(what string, n int64) {
		t.Helper()
		got, err := s.PendingTimers(bg)
		if err != nil || got != n {
			t.Fatalf("PendingTimers %s = %d, %v; want %d", what, got, err, n)
		}
	}
	want("on an empty store", 0)
	mk := func(state workflow.State, due time.Duration, has bool) *store.Instance {
		in := newInstance(state)
		if has {
			in.PendingTimer = ms.Add(due)
		}
		insert(t, s, in)
		return in
	}
	overdue := mk(workflow.Active, -time.Hour, true)
	later := mk(workflow.Active, time.Hour, true)
	mk(workflow.Active, 0, false)
	mk(workflow.Suspended, -time.Hour, true)
	mk(workflow.Completed, -time.Hour, true)
	want("with two Active instances with a timer, one without, one Suspended and one Completed with one", 2)

	overdue.PendingTimer = time.Time{}
	commit(t, s, store.Change{Op: store.Update, Instance: overdue})
	want("after one timer was cleared", 1)
	later.State = workflow.Suspended
	commit(t, s, store.Change{Op: store.Update, Instance: later})
	want("after the other instance was suspended", 0)
	later.State = workflow.Active
	commit(t, s, store.Change{Op: store.Update, Instance: later})
	want("after it was unsuspended", 1)
	commit(t, s, store.Change{Op: store.Delete, Instance: later})
	want("after it was deleted", 0)

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := s.PendingTimers(bg)
	wantErr(t, "PendingTimers after Close", err, store.ErrClosed)
}
