package host_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/workflow"
)

// With unload at once, nothing stays in memory: after every kind of operation — including
// refused ones and ones on unknown ids — the slot map is empty and Loaded() is 0 (an unloaded,
// unreferenced instance costs no memory, host.go).
func TestSlotsAreReleased(t *testing.T) {
	h := newHost(t, -1)
	a := createExpense(t, h, 1500)
	b := createExpense(t, h, 10)
	if h.Loaded() != 0 || h.SlotCount() != 0 {
		t.Fatalf("after create: %d loaded, %d slots", h.Loaded(), h.SlotCount())
	}
	if err := h.ResumeBookmark(bg, a, "Review", map[string]any{"approved": true, "reviewer": "r"}); err != nil {
		t.Fatal(err)
	}
	mustManage(t, h, "Suspend", b, "s")
	_ = manage(t, h, "Run", b, "")             // InstanceSuspended
	_ = manage(t, h, "Run", uuid.New(), "")    // InstanceNotFound
	_ = h.ResumeBookmark(bg, b, "Review", nil) // InstanceSuspended
	_ = h.ResumeBookmark(bg, a, "NoSuchBookmark", nil)
	_, _ = h.Get(bg, uuid.New())
	mustManage(t, h, "Unsuspend", b, "")
	mustManage(t, h, "Run", b, "")
	mustManage(t, h, "Abandon", b, "")
	mustManage(t, h, "Cancel", b, "")
	mustManage(t, h, "Terminate", a, "t")
	_ = manage(t, h, "Terminate", a, "again") // InstanceTerminated
	waitNoSlots(t, h)
	if h.Loaded() != 0 {
		t.Fatalf("Loaded() = %d", h.Loaded())
	}
}

// Concurrent operations on the same and on different instances leave no slot behind and
// never hand one instance's lock to two callers (checked by -race and by the final states).
func TestSlotsUnderConcurrency(t *testing.T) {
	h := newHost(t, -1)
	var ids []uuid.UUID
	for i := 0; i < 8; i++ {
		ids = append(ids, createExpense(t, h, 100))
	}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; n < 20; n++ {
				id := ids[(w+n)%len(ids)]
				var err error
				switch n % 4 {
				case 0:
					err = manage(t, h, "Suspend", id, fmt.Sprintf("w%d", w))
				case 1:
					err = manage(t, h, "Unsuspend", id, "")
				case 2:
					err = manage(t, h, "Run", id, "")
				case 3:
					_, err = h.Get(bg, id)
				}
				if err != nil && subcode(err) != "InstanceSuspended" {
					t.Errorf("worker %d: %v", w, err)
				}
			}
		}(w)
	}
	wg.Wait()
	waitNoSlots(t, h)
	for _, id := range ids {
		inst, _ := get(t, h, id)
		if inst.State == workflow.Completed || len(inst.Bookmarks) != 1 {
			t.Errorf("instance %s: %s bookmarks %v", id, inst.State, inst.Bookmarks)
		}
	}
}

// With a long unload delay an idle instance stays loaded; Suspend unloads it at once (DESIGN
// §4 "suspended instances at once"), and so do completion and Terminate.
func TestUnloadRules(t *testing.T) {
	h := newHost(t, time.Hour)
	a := createExpense(t, h, 10)
	b := createExpense(t, h, 10)
	if h.Loaded() != 2 {
		t.Fatalf("idle instances with unload-after 1h: Loaded() = %d, want 2", h.Loaded())
	}
	mustManage(t, h, "Suspend", a, "s")
	if h.Loaded() != 1 {
		t.Fatalf("after suspending one: Loaded() = %d, want 1", h.Loaded())
	}
	mustManage(t, h, "Terminate", b, "t")
	if h.Loaded() != 0 {
		t.Fatalf("after terminating the other: Loaded() = %d, want 0", h.Loaded())
	}
	mustManage(t, h, "Cancel", a, "")
	waitNoSlots(t, h)
}

// Resuming a bookmark of a suspended instance is refused with InstanceSuspended and changes
// nothing; an unknown id is InstanceNotFound.
func TestResumeSuspended(t *testing.T) {
	h := newHost(t, -1)
	id := createExpense(t, h, 10)
	mustManage(t, h, "Suspend", id, "hold")
	err := h.ResumeBookmark(bg, id, "Review", map[string]any{"approved": true})
	if subcode(err) != "InstanceSuspended" {
		t.Fatalf("resume on a suspended instance: %v, want fault InstanceSuspended", err)
	}
	inst, vars := get(t, h, id)
	if inst.State != workflow.Suspended || inst.SuspensionReason != "hold" || vars["approvals"] != float64(0) {
		t.Fatalf("the refused resumption changed the instance: %s %q %v", inst.State, inst.SuspensionReason, vars)
	}
	if err := h.ResumeBookmark(bg, uuid.New(), "Review", nil); subcode(err) != "InstanceNotFound" {
		t.Fatalf("resume on an unknown id: %v, want InstanceNotFound", err)
	}
	mustManage(t, h, "Unsuspend", id, "")
	if err := h.ResumeBookmark(bg, id, "Review", map[string]any{"approved": true}); err != nil {
		t.Fatalf("after unsuspend: %v", err)
	}
	if inst, _ := get(t, h, id); inst.State != workflow.Completed {
		t.Fatalf("after the approval: %s", inst.State)
	}
	if err := h.ResumeBookmark(bg, id, "Review", nil); subcode(err) != "InstanceCompleted" {
		t.Fatalf("resume on a completed instance: %v, want InstanceCompleted", err)
	}
}

// An unknown bookmark is ErrBookmarkNotFound naming the ones the instance has, and leaves the
// instance as it was (still resumable).
func TestResumeUnknownBookmark(t *testing.T) {
	for _, unload := range []time.Duration{-1, time.Hour} { // unloaded and loaded
		h := newHost(t, unload)
		id := createExpense(t, h, 10)
		err := h.ResumeBookmark(bg, id, "Reveiw", nil)
		if !errors.Is(err, host.ErrBookmarkNotFound) {
			t.Fatalf("unload %v: unknown bookmark: %v, want ErrBookmarkNotFound", unload, err)
		}
		if want := `(it has: Review)`; !strings.Contains(err.Error(), want) {
			t.Errorf("unload %v: error %q does not name the instance's bookmarks %s", unload, err, want)
		}
		if unload < 0 && h.Loaded() != 0 {
			t.Errorf("unload at once: after the refused resumption %d instance(s) stay loaded, want 0", h.Loaded())
		}
		inst, vars := get(t, h, id)
		if inst.State != workflow.Active || len(inst.Bookmarks) != 1 || vars["approvals"] != float64(0) {
			t.Fatalf("unload %v: the refused resumption changed the instance: %+v %v", unload, inst, vars)
		}
		if err := h.ResumeBookmark(bg, id, "Review", map[string]any{"approved": true}); err != nil {
			t.Fatalf("unload %v: %v", unload, err)
		}
		if inst, vars := get(t, h, id); inst.State != workflow.Completed || vars["status"] != "Approved" {
			t.Fatalf("unload %v: after approval: %s %v", unload, inst.State, vars)
		}
	}
}

// Abandon discards in-memory progress that was not persisted: the instance reverts to its last
// persisted point and works on from there. The unsaved progress is made directly on the loaded
// runtime (as a background execution slice does between persist points).
func TestAbandonDiscardsUnpersistedProgress(t *testing.T) {
	h := newHost(t, time.Hour)
	id := createExpense(t, h, 1500)

	// In memory only: one approval delivered and executed, not saved.
	var approvals any
	loaded := h.WithLive(id, func(wf *engine.Instance) {
		if err := wf.ResumeBookmark("Review", map[string]any{"approved": true, "reviewer": "unsaved"}); err != nil {
			t.Error(err)
		}
		wf.Run(time.Now(), 0)
		approvals = wf.Variables()["approvals"]
	})
	if !loaded || approvals != float64(1) {
		t.Fatalf("in memory: loaded %v, approvals = %v, want true, 1", loaded, approvals)
	}

	mustManage(t, h, "Abandon", id, "discard it")
	inst, vars := get(t, h, id)
	if inst.State != workflow.Active || vars["approvals"] != float64(0) || len(inst.Bookmarks) != 1 {
		t.Fatalf("after abandon: %s %v %v, want the persisted point (Active, 0 approvals, waiting on Review)", inst.State, vars, inst.Bookmarks)
	}
	if h.Loaded() != 0 {
		t.Fatalf("after abandon: Loaded() = %d, want 0 (the image is discarded)", h.Loaded())
	}
	// It goes on from the persisted point: two approvals are still needed.
	for i, want := range []string{"Pending", "Approved"} {
		if err := h.ResumeBookmark(bg, id, "Review", map[string]any{"approved": true, "reviewer": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if _, vars := get(t, h, id); vars["status"] != want || vars["approvals"] != float64(i+1) {
			t.Fatalf("approval %d after abandon: %v, want status %s", i+1, vars, want)
		}
	}
}

// A timer fires once, when due, with no other write: the instance's row is not rewritten (no
// extra Persisted record, no extra commit) between the persist that scheduled the timer and the
// firing. The store keeps due times in milliseconds (truncated), the engine in nanoseconds, so
// the timer loop can find a row due whose exact due time is still a fraction of a millisecond
// away; it must wait for it, not "repair" a row that is right (and, before this was fixed,
// repair it again on every turn of the loop for as long as the window lasted).
func TestTimerInSubMillisecondWindowIsNotRewritten(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 500_000, time.UTC) // .0005s: due times end in half a millisecond
	clk := newFakeClock(t0)
	h := startHost(t, host.Config{UnloadAfter: time.Hour, Clock: clk.now})
	id, err := h.Create(bg, host.CreateRequest{Definition: "ExpenseApproval",
		Inputs: map[string]any{"amount": 10, "submitter": "unit", "reviewTimeout": "300ms"}})
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := get(t, h, id)
	due := t0.Add(300 * time.Millisecond)
	if !inst.PendingTimer.Equal(due.Truncate(time.Millisecond)) {
		t.Fatalf("pendingTimer %s, want %s (the due time truncated to the store's milliseconds)", inst.PendingTimer, due.Truncate(time.Millisecond))
	}

	// Inside the window: the row says due, the exact due time is 0.3ms away. The clock stands
	// still, so the loop finds the row due on every turn: let it turn a few times.
	clk.set(due.Add(-300 * time.Microsecond))
	turns := h.TimerTurns()
	h.NudgeTimers()
	eventually(t, "the timer loop turns", func() bool { return h.TimerTurns() >= turns+5 })
	recs := records(t, h, id)
	if n := countKind(recs, workflow.InstanceRecord, "Persisted"); n != 1 {
		t.Errorf("before the due time: %d Persisted records, want 1 (the idle persist after create)", n)
	}
	if n := countKind(recs, workflow.BookmarkRecord, engine.TimerRecordName); n != 0 {
		t.Fatalf("the timer fired %.1fms early", float64(due.Sub(clk.now()))/1e6)
	}

	clk.set(due)
	h.NudgeTimers()
	eventually(t, "the timer fires at its due time", func() bool {
		_, vars := get(t, h, id)
		return vars["escalations"] == float64(1)
	})
	recs = records(t, h, id)
	if n := countKind(recs, workflow.BookmarkRecord, engine.TimerRecordName); n != 1 {
		t.Errorf("%d timer records, want 1", n)
	}
}

// A refused Update leaves nothing loaded that would not otherwise be: a suspended instance is
// unloaded at once (README, --unload-after), and with unload-at-once an Active one too.
func TestRefusedUpdateDoesNotPinTheInstance(t *testing.T) {
	h := newHost(t, -1)
	id, err := h.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10, "submitter": "unit"}})
	if err != nil {
		t.Fatal(err)
	}
	update := func(version string) error {
		op, _ := protocol.OpByName("Update")
		cmd := protocol.Command{Op: op, InstanceID: id,
			Identity: &workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: version}}
		return h.Manage(bg, cmd.Host())
	}
	for _, suspended := range []bool{false, true} {
		if suspended {
			mustManage(t, h, "Suspend", id, "s")
		}
		if err := update("1.5.0.0"); subcode(err) != "UpdateFailed" {
			t.Fatalf("suspended=%v: update to the incompatible 1.5.0.0: %v, want UpdateFailed", suspended, err)
		}
		if n := h.Loaded(); n != 0 {
			t.Errorf("suspended=%v: after a refused update %d instance(s) stay loaded, want 0", suspended, n)
		}
		if inst, _ := get(t, h, id); inst.Definition.Version != "1.0.0.0" {
			t.Fatalf("suspended=%v: refused update changed the identity to %s", suspended, inst.Definition.Version)
		}
	}
	waitNoSlots(t, h)
}

// The tracking records of a bookmark resumption and of a management operation name who asked:
// the principal the request's context carries.
func TestRecordsNameThePrincipal(t *testing.T) {
	h := newHost(t, -1)
	id := createExpense(t, h, 1500) // needs two approvals: still waiting after one
	ctx := host.WithPrincipal(bg, host.Principal{Name: "bob", Address: "10.0.0.7:4242", Role: host.Operator})
	if err := h.ResumeBookmark(ctx, id, "Review", map[string]any{"approved": true, "reviewer": "bob"}); err != nil {
		t.Fatal(err)
	}
	cmd := protocol.Command{Op: mustOp(t, "Suspend"), InstanceID: id, Reason: ptr("audit")}
	if err := h.Manage(ctx, cmd.Host()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, r := range records(t, h, id) {
		if (r.Kind == workflow.BookmarkRecord && r.Name == "Review") || (r.Kind == workflow.InstanceRecord && r.Name == "Suspended") {
			seen[r.Name] = r.Principal
		}
	}
	for _, name := range []string{"Review", "Suspended"} {
		if seen[name] != "bob@10.0.0.7:4242" {
			t.Errorf("%s record principal %q, want bob@10.0.0.7:4242", name, seen[name])
		}
	}
	// Without a principal in the context, the caller is anonymous.
	other := createExpense(t, h, 10)
	mustManage(t, h, "Suspend", other, "audit")
	for _, r := range records(t, h, other) {
		if r.Name == "Suspended" && r.Principal != "anonymous" {
			t.Errorf("Suspended record of an unauthenticated call names %q, want anonymous", r.Principal)
		}
	}
}

func mustOp(t *testing.T, name string) protocol.Op {
	t.Helper()
	op, ok := protocol.OpByName(name)
	if !ok {
		t.Fatalf("no operation %s", name)
	}
	return op
}

func ptr(s string) *string { return &s }
