package e2e

import (
	"slices"
	"testing"
	"time"
)

// maxLateness bounds how late a durable timer may fire: "well under a second". It is measured
// on the server's clock, from the due time the instance row reports (pendingTimer) to the time
// of the tracking record the firing wrote — not with the test's wall clock.
const maxLateness = time.Second

// checkOnTime asserts the timer due at due fired once within
// [due, from+maxLateness], where from is when the timer could first fire (due, or the restart).
func checkOnTime(t *testing.T, recs []record, due, from time.Time) firedTimer {
	t.Helper()
	fired := timerRecords(t, recs)
	if len(fired) == 0 {
		t.Fatalf("no timer record among %d tracking records", len(recs))
	}
	// pendingTimer is stored with millisecond precision; the record's due is exact.
	i := slices.IndexFunc(fired, func(f firedTimer) bool { return f.Due.Truncate(time.Millisecond).Equal(due.Truncate(time.Millisecond)) })
	if i < 0 {
		t.Fatalf("no timer record names the due time %s (pendingTimer): %+v", due.Format(time.RFC3339Nano), fired)
	}
	f := fired[i]
	if f.Time.Before(due.Truncate(time.Millisecond)) {
		t.Errorf("timer due %s fired early, at %s", due.Format(time.RFC3339Nano), f.Time.Format(time.RFC3339Nano))
	}
	late := f.Time.Sub(from)
	t.Logf("timer due %s fired at %s: %v after it could", due.Format(time.RFC3339Nano), f.Time.Format(time.RFC3339Nano), late)
	if late >= maxLateness {
		t.Errorf("timer fired %v after it could (due %s, fired %s): want < %v", late,
			due.Format(time.RFC3339Nano), f.Time.Format(time.RFC3339Nano), maxLateness)
	}
	assertFiredOnce(t, fired)
	return f
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// The escalation timer (Delay reviewTimeout in the Pick) fires on time: escalations becomes 1,
// and the timer's tracking record is less than a second after the due time.
func TestEscalationTimerFiresOnTime(t *testing.T) {
	s := startServer(t)
	id := s.create("ExpenseApproval", "--input", "amount=200", "--input", "submitter=bob", "--input", "reviewTimeout=2s")
	inst := s.get(id)
	if inst.PendingTimer == nil || num(inst, "escalations") != 0 {
		t.Fatalf("after create: want a pending timer and 0 escalations, got %v, %v", inst.PendingTimer, inst.Variables)
	}
	due := *inst.PendingTimer
	inst = s.waitFor(id, 15*time.Second, "escalations == 1", func(i instance) bool { return num(i, "escalations") >= 1 })
	if got := num(inst, "escalations"); got != 1 {
		t.Fatalf("escalations = %v, want 1", got)
	}
	checkOnTime(t, s.track(id), due, due)
	// The loop waits again, with a new timer.
	if inst.State != "Active" || inst.PendingTimer == nil || !inst.PendingTimer.After(due) || len(inst.Bookmarks) != 1 {
		t.Fatalf("after the escalation: want Active waiting on Review with a later timer, got %+v", inst)
	}
}

// The timer is durable: killed with SIGKILL while waiting and restarted before the due time,
// the new process fires it on time, once. The 6 s timeout leaves the kill and restart (well
// under a second here) ample time; if they ever take longer, the test fails saying so.
func TestEscalationTimerFiresAfterRestartBeforeDue(t *testing.T) {
	s := startServer(t)
	id := s.create("ExpenseApproval", "--input", "amount=200", "--input", "submitter=bob", "--input", "reviewTimeout=6s")
	due := *s.get(id).PendingTimer
	s.Kill9()
	s.restart()
	if !s.Listened.Before(due) {
		t.Fatalf("the kill and restart took until %s, after the due time %s: the case did not happen", s.Listened, due)
	}
	inst := s.waitFor(id, 15*time.Second, "escalations == 1", func(i instance) bool { return num(i, "escalations") >= 1 })
	if got := num(inst, "escalations"); got != 1 {
		t.Fatalf("escalations = %v, want 1", got)
	}
	checkOnTime(t, s.track(id), due, due)
}

// Killed with SIGKILL while waiting, and restarted only after the due time passed: the timer
// fires once, promptly after the restart.
func TestEscalationTimerFiresAfterRestartPastDue(t *testing.T) {
	s := startServer(t)
	id := s.create("ExpenseApproval", "--input", "amount=200", "--input", "submitter=bob", "--input", "reviewTimeout=4s")
	due := *s.get(id).PendingTimer
	if fired := timerRecords(t, s.track(id)); len(fired) != 0 {
		t.Fatalf("the timer fired early: %+v", fired)
	}
	s.Kill9()
	killed := time.Now()
	if !killed.Before(due) {
		t.Fatalf("set-up too slow: killed at %s, after the due time %s: the case did not happen", killed, due)
	}
	time.Sleep(time.Until(due) + 700*time.Millisecond) // down while it falls due
	s.restart()
	inst := s.waitFor(id, 15*time.Second, "escalations >= 1", func(i instance) bool { return num(i, "escalations") >= 1 })
	recs := s.track(id)
	f := checkOnTime(t, recs, due, laterOf(due, s.Listened))
	if !f.Time.After(killed) {
		t.Errorf("the timer record (%s) predates the kill (%s): it did not fire in the restarted process", f.Time, killed)
	}
	// Once: the first escalation is the only one until the next (1s) timer is due.
	if n := len(timerRecords(t, recs)); int(num(inst, "escalations")) != n {
		t.Errorf("escalations = %v but %d timer records", num(inst, "escalations"), n)
	}
}

// A suspended instance's due timer is held: it does not fire until Unsuspend, then it fires
// once (escalations 0 → 1, not 2) — docs/protocol.md, State table: "timers that fell due while
// suspended fire now".
func TestSuspendedTimerFiresOnceAfterUnsuspend(t *testing.T) {
	s := startServer(t)
	id := s.create("ExpenseApproval", "--input", "amount=200", "--input", "submitter=bob", "--input", "reviewTimeout=3s")
	due := *s.get(id).PendingTimer
	s.ok("suspend", id, "--reason", "hold the timer")
	if r, _ := findRecord(s.track(id), "Instance", "Suspended"); !r.Time.Before(due) {
		t.Fatalf("set-up too slow: suspended at %s, not before the due time %s: the case did not happen", r.Time, due)
	}
	// Stay suspended well past the due time (and past a second timer's due time, had it fired).
	time.Sleep(time.Until(due) + 2500*time.Millisecond) // a second timer would be due 2s after the first
	inst := s.get(id)
	if inst.State != "Suspended" || num(inst, "escalations") != 0 {
		t.Fatalf("while suspended past the due time: want Suspended with 0 escalations, got %s %v", inst.State, inst.Variables)
	}
	if fired := timerRecords(t, s.track(id)); len(fired) != 0 {
		t.Fatalf("a suspended instance's timer fired: %+v", fired)
	}

	s.ok("unsuspend", id)
	inst = s.get(id)
	if inst.State != "Active" {
		t.Fatalf("after unsuspend: state %s", inst.State)
	}
	if got := num(inst, "escalations"); got != 1 {
		t.Fatalf("right after unsuspend: escalations = %v, want 1 (the held timer fires once)", got)
	}
	recs := s.track(id)
	unsuspended, ok := findRecord(recs, "Instance", "Unsuspended")
	if !ok {
		t.Fatal("no Unsuspended tracking record")
	}
	fired := timerRecords(t, recs)
	if len(fired) != 1 {
		t.Fatalf("want exactly one timer record, got %d: %+v", len(fired), fired)
	}
	// No timer record before Unsuspend (checked above), exactly one after: Unsuspend fired it.
	if !fired[0].Due.Truncate(time.Millisecond).Equal(due.Truncate(time.Millisecond)) {
		t.Errorf("fired timer due %s, want the held one due %s", fired[0].Due, due)
	}
	// The workflow goes on with a fresh timer in the future, not a backlog.
	if inst.PendingTimer == nil || !inst.PendingTimer.After(unsuspended.Time) {
		t.Errorf("after unsuspend: pendingTimer %v, want a new timer after %s", inst.PendingTimer, unsuspended.Time)
	}
}
