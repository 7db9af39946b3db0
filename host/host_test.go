package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store"
)

// newHost returns a started in-process host over a temporary SQLite store with the embedded
// samples; unloadAfter < 0 unloads idle instances at once.
func newHost(t *testing.T, unloadAfter time.Duration) *Host {
	t.Helper()
	return startHost(t, Config{UnloadAfter: unloadAfter})
}

// startHost starts a host with cfg over a temporary SQLite store with the embedded samples
// (cfg's Store and Definitions are set here); the test's cleanup closes both.
func startHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "wimp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defs, err := engine.LoadRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Definitions = st, defs
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		st.Close()
	})
	return h
}

func createExpense(t *testing.T, h *Host, amount int) uuid.UUID {
	t.Helper()
	id, err := h.Create(context.Background(), hosting.CreateRequest{Definition: "ExpenseApproval",
		Inputs: map[string]any{"amount": amount, "submitter": "unit"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func manage(t *testing.T, h *Host, op string, id uuid.UUID, reason string) error {
	t.Helper()
	o, ok := protocol.OpByName(op)
	if !ok {
		t.Fatalf("no op %s", op)
	}
	cmd := protocol.Command{Op: o, InstanceID: id, Principal: "test"}
	if reason != "" {
		r := reason
		cmd.Reason = &r
	}
	return h.Manage(context.Background(), cmd)
}

func mustManage(t *testing.T, h *Host, op string, id uuid.UUID, reason string) {
	t.Helper()
	if err := manage(t, h, op, id, reason); err != nil {
		t.Fatalf("%s %s: %v", op, id, err)
	}
}

func subcode(err error) string {
	var f *soap.Fault
	if !errors.As(err, &f) || len(f.Subcodes) == 0 {
		return ""
	}
	return f.Subcodes[len(f.Subcodes)-1].Local
}

func get(t *testing.T, h *Host, id uuid.UUID) (*store.Instance, map[string]any) {
	t.Helper()
	inst, err := h.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{}
	if len(inst.Variables) > 0 {
		if err := json.Unmarshal(inst.Variables, &vars); err != nil {
			t.Fatal(err)
		}
	}
	return inst, vars
}

// slotCount is how many instance slots the host holds (locks and loaded instances).
func (h *Host) slotCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.slots)
}

// waitIdle waits for background execution to finish (drive goroutines release their slots).
func waitNoSlots(t *testing.T, h *Host) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.slotCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots still held (%d loaded) when nothing is in progress", h.slotCount(), h.Loaded())
		}
		time.Sleep(time.Millisecond)
	}
}

// With unload at once, nothing stays in memory: after every kind of operation — including
// refused ones and ones on unknown ids — the slot map is empty and Loaded() is 0 (an unloaded,
// unreferenced instance costs no memory, host.go).
func TestSlotsAreReleased(t *testing.T) {
	h := newHost(t, -1)
	ctx := context.Background()
	a := createExpense(t, h, 1500)
	b := createExpense(t, h, 10)
	if h.Loaded() != 0 || h.slotCount() != 0 {
		t.Fatalf("after create: %d loaded, %d slots", h.Loaded(), h.slotCount())
	}
	if err := h.ResumeBookmark(ctx, a, "Review", map[string]any{"approved": true, "reviewer": "r"}, "test"); err != nil {
		t.Fatal(err)
	}
	mustManage(t, h, "Suspend", b, "s")
	_ = manage(t, h, "Run", b, "")                  // InstanceSuspended
	_ = manage(t, h, "Run", uuid.New(), "")         // InstanceNotFound
	_ = h.ResumeBookmark(ctx, b, "Review", nil, "") // InstanceSuspended
	_ = h.ResumeBookmark(ctx, a, "NoSuchBookmark", nil, "")
	_, _ = h.Get(ctx, uuid.New())
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
	ctx := context.Background()
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
					_, err = h.Get(ctx, id)
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
		if inst.State == store.Completed || len(inst.Bookmarks) != 1 {
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
	ctx := context.Background()
	id := createExpense(t, h, 10)
	mustManage(t, h, "Suspend", id, "hold")
	err := h.ResumeBookmark(ctx, id, "Review", map[string]any{"approved": true}, "test")
	if subcode(err) != "InstanceSuspended" {
		t.Fatalf("resume on a suspended instance: %v, want fault InstanceSuspended", err)
	}
	inst, vars := get(t, h, id)
	if inst.State != store.Suspended || inst.SuspensionReason != "hold" || vars["approvals"] != float64(0) {
		t.Fatalf("the refused resumption changed the instance: %s %q %v", inst.State, inst.SuspensionReason, vars)
	}
	if err := h.ResumeBookmark(ctx, uuid.New(), "Review", nil, "test"); subcode(err) != "InstanceNotFound" {
		t.Fatalf("resume on an unknown id: %v, want InstanceNotFound", err)
	}
	mustManage(t, h, "Unsuspend", id, "")
	if err := h.ResumeBookmark(ctx, id, "Review", map[string]any{"approved": true}, "test"); err != nil {
		t.Fatalf("after unsuspend: %v", err)
	}
	if inst, _ := get(t, h, id); inst.State != store.Completed {
		t.Fatalf("after the approval: %s", inst.State)
	}
	if err := h.ResumeBookmark(ctx, id, "Review", nil, "test"); subcode(err) != "InstanceCompleted" {
		t.Fatalf("resume on a completed instance: %v, want InstanceCompleted", err)
	}
}

// An unknown bookmark is ErrBookmarkNotFound naming the ones the instance has, and leaves the
// instance as it was (still resumable).
func TestResumeUnknownBookmark(t *testing.T) {
	for _, unload := range []time.Duration{-1, time.Hour} { // unloaded and loaded
		h := newHost(t, unload)
		ctx := context.Background()
		id := createExpense(t, h, 10)
		err := h.ResumeBookmark(ctx, id, "Reveiw", nil, "test")
		if !errors.Is(err, hosting.ErrBookmarkNotFound) {
			t.Fatalf("unload %v: unknown bookmark: %v, want ErrBookmarkNotFound", unload, err)
		}
		if want := `(it has: Review)`; !strings.Contains(err.Error(), want) {
			t.Errorf("unload %v: error %q does not name the instance's bookmarks %s", unload, err, want)
		}
		if unload < 0 && h.Loaded() != 0 {
			t.Errorf("unload at once: after the refused resumption %d instance(s) stay loaded, want 0", h.Loaded())
		}
		inst, vars := get(t, h, id)
		if inst.State != store.Active || len(inst.Bookmarks) != 1 || vars["approvals"] != float64(0) {
			t.Fatalf("unload %v: the refused resumption changed the instance: %+v %v", unload, inst, vars)
		}
		if err := h.ResumeBookmark(ctx, id, "Review", map[string]any{"approved": true}, "test"); err != nil {
			t.Fatalf("unload %v: %v", unload, err)
		}
		if inst, vars := get(t, h, id); inst.State != store.Completed || vars["status"] != "Approved" {
			t.Fatalf("unload %v: after approval: %s %v", unload, inst.State, vars)
		}
	}
}

// Abandon discards in-memory progress that was not persisted: the instance reverts to its last
// persisted point and works on from there. The unsaved progress is made directly on the loaded
// runtime (as a background execution slice does between persist points).
func TestAbandonDiscardsUnpersistedProgress(t *testing.T) {
	h := newHost(t, time.Hour)
	ctx := context.Background()
	id := createExpense(t, h, 1500)

	// In memory only: one approval delivered and executed, not saved.
	s := h.acquire(id)
	if s.wf == nil {
		h.release(s)
		t.Fatal("the instance is not loaded")
	}
	if err := s.wf.ResumeBookmark("Review", map[string]any{"approved": true, "reviewer": "unsaved"}); err != nil {
		h.release(s)
		t.Fatal(err)
	}
	s.wf.Run(h.now(), 0)
	s.dirty = true
	if got := s.wf.Variables()["approvals"]; got != float64(1) {
		h.release(s)
		t.Fatalf("in memory: approvals = %v, want 1", got)
	}
	h.release(s)

	mustManage(t, h, "Abandon", id, "discard it")
	inst, vars := get(t, h, id)
	if inst.State != store.Active || vars["approvals"] != float64(0) || len(inst.Bookmarks) != 1 {
		t.Fatalf("after abandon: %s %v %v, want the persisted point (Active, 0 approvals, waiting on Review)", inst.State, vars, inst.Bookmarks)
	}
	if h.Loaded() != 0 {
		t.Fatalf("after abandon: Loaded() = %d, want 0 (the image is discarded)", h.Loaded())
	}
	// It goes on from the persisted point: two approvals are still needed.
	for i, want := range []string{"Pending", "Approved"} {
		if err := h.ResumeBookmark(ctx, id, "Review", map[string]any{"approved": true, "reviewer": fmt.Sprint(i)}, "test"); err != nil {
			t.Fatal(err)
		}
		if _, vars := get(t, h, id); vars["status"] != want || vars["approvals"] != float64(i+1) {
			t.Fatalf("approval %d after abandon: %v, want status %s", i+1, vars, want)
		}
	}
}

// fakeClock is a settable clock for Config.Clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// A timer fires once, when due, with no other write: the instance's row is not rewritten (no
// extra Persisted record, no extra commit) between the persist that scheduled the timer and the
// firing. The store keeps due times in milliseconds (truncated), the engine in nanoseconds, so
// the timer loop can find a row due whose exact due time is still a fraction of a millisecond
// away; it must wait for it, not "repair" a row that is right (and, before this was fixed,
// repair it again on every turn of the loop for as long as the window lasted).
func TestTimerInSubMillisecondWindowIsNotRewritten(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 500_000, time.UTC) // .0005s: due times end in half a millisecond
	clk.set(t0)
	h := startHost(t, Config{UnloadAfter: time.Hour, Clock: clk.now})
	id, err := h.Create(ctx, hosting.CreateRequest{Definition: "ExpenseApproval",
		Inputs: map[string]any{"amount": 10, "submitter": "unit", "reviewTimeout": "300ms"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := get(t, h, id)
	due := t0.Add(300 * time.Millisecond)
	if !inst.PendingTimer.Equal(due.Truncate(time.Millisecond)) {
		t.Fatalf("pendingTimer %s, want %s (the due time truncated to the store's milliseconds)", inst.PendingTimer, due.Truncate(time.Millisecond))
	}

	// Inside the window: the row says due, the exact due time is 0.3ms away.
	clk.set(due.Add(-300 * time.Microsecond))
	h.nudgeTimers()
	time.Sleep(200 * time.Millisecond) // let the timer loop turn as often as it will
	recs, err := h.Records(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKind(recs, store.InstanceRecord, "Persisted"); n != 1 {
		t.Errorf("before the due time: %d Persisted records, want 1 (the idle persist after create)", n)
	}
	if n := countKind(recs, store.BookmarkRecord, engine.TimerRecordName); n != 0 {
		t.Fatalf("the timer fired %.1fms early", float64(due.Sub(clk.now()))/1e6)
	}

	clk.set(due)
	h.nudgeTimers()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, vars := get(t, h, id); vars["escalations"] == float64(1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timer did not fire at its due time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	recs, _ = h.Records(ctx, id, 0)
	if n := countKind(recs, store.BookmarkRecord, engine.TimerRecordName); n != 1 {
		t.Errorf("%d timer records, want 1", n)
	}
}

func countKind(recs []store.Record, kind store.RecordKind, name string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && r.Name == name {
			n++
		}
	}
	return n
}

// A refused Update leaves nothing loaded that would not otherwise be: a suspended instance is
// unloaded at once (DESIGN §4), and with unload-at-once an Active one too.
func TestRefusedUpdateDoesNotPinTheInstance(t *testing.T) {
	h := newHost(t, -1)
	ctx := context.Background()
	id, err := h.Create(ctx, hosting.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10, "submitter": "unit"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	update := func(version string) error {
		op, _ := protocol.OpByName("Update")
		return h.Manage(ctx, protocol.Command{Op: op, InstanceID: id, Principal: "test",
			Identity: &store.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: version}})
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

// The tracking record of a bookmark resumption names who resumed it.
func TestBookmarkRecordNamesThePrincipal(t *testing.T) {
	h := newHost(t, -1)
	id := createExpense(t, h, 10)
	if err := h.ResumeBookmark(context.Background(), id, "Review", map[string]any{"approved": true, "reviewer": "bob"}, "bob@10.0.0.7"); err != nil {
		t.Fatal(err)
	}
	recs, err := h.Records(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Kind == store.BookmarkRecord && r.Name == "Review" {
			found = true
			if r.Principal != "bob@10.0.0.7" {
				t.Errorf("bookmark record principal %q", r.Principal)
			}
		}
	}
	if !found {
		t.Fatal("no Review bookmark record")
	}
}
