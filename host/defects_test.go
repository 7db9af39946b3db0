package host_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/store/sqlite/sqlitetest"
	"github.com/wimp-project/wimp/workflow"
)

// Regression tests for the defects of the foundation issue; each fails with its fix undone.

const timerFaultDefinition = `<Workflow Name="TimerFault" Package="test" Version="1.0.0.0">
  <Sequence Id="main">
    <Delay Id="wait" Duration="1s"/>
    <Throw Id="boom" Exception="Boom" Message="always"/>
  </Sequence>
</Workflow>`

// Loaded() reads the loaded count while execution changes it; -race flags any unsynchronised
// read (it used to read each slot's runtime under the host lock while writers held the slot's).
func TestLoadedIsRaceFree(t *testing.T) {
	h := newHost(t, time.Hour)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = h.Loaded()
			}
		}
	})
	for range 20 {
		id := createExpense(t, h, 1500)
		if err := h.ResumeBookmark(bg, id, "Review", map[string]any{"approved": true, "reviewer": "r"}); err != nil {
			t.Fatal(err)
		}
		mustManage(t, h, "Terminate", id, "done")
	}
	close(done)
	wg.Wait()
}

// Every acknowledged operation's tracking record is in the store when the reply is given: Run
// and TransactedRun on an unloaded instance, and Update to the identity it has, used to stay
// in memory until a later operation committed them (and were lost on a restart).
func TestAcknowledgedOperationsAreTrackedDurably(t *testing.T) {
	st := openStore(t)
	h := startHost(t, host.Config{Store: st, UnloadAfter: -1})
	id := createExpense(t, h, 1500)
	for _, op := range []string{"Run", "TransactedRun"} {
		mustManage(t, h, op, id, "")
	}
	cmd := protocolUpdate(id, workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"})
	if err := h.Manage(bg, cmd); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Records(bg, id, 0) // the store itself, not the host
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Run", "TransactedRun", "Update"} {
		if n := countKind(recs, workflow.InstanceRecord, name); n != 1 {
			t.Errorf("%d %s records in the store after the operation was acknowledged, want 1", n, name)
		}
	}
}

// A due timer whose execution fails under the Abandon policy is retried with a back-off that
// is recorded in the instance (its next wake-up time and the Aborted record's reason), not at
// once in a loop.
func TestFailingTimerBacksOff(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := newFakeClock(t0)
	h := startHost(t, host.Config{UnloadAfter: -1, Clock: clk.now, Policy: host.AbandonPolicy,
		Definitions: registry(t, timerFaultDefinition)})
	id, err := h.Create(bg, host.CreateRequest{Definition: "TimerFault"})
	if err != nil {
		t.Fatal(err)
	}
	aborted := func() int { return countKind(records(t, h, id), workflow.InstanceRecord, "Aborted") }
	for attempt, delay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if attempt == 0 {
			clk.set(t0.Add(time.Second)) // the Delay falls due
		} else {
			clk.advance(delay / 2) // the previous back-off has passed
		}
		h.NudgeTimers()
		eventually(t, "the timer fires and fails", func() bool { return aborted() == attempt+1 })
		// The loop goes to sleep with the clock standing still: no more attempts until the
		// back-off has passed.
		turns := h.TimerTurns()
		h.NudgeTimers()
		eventually(t, "the timer loop sleeps", func() bool { return h.TimerTurns() > turns })
		if n := aborted(); n != attempt+1 {
			t.Fatalf("attempt %d: %d Aborted records while the clock stood still, want %d", attempt+1, n, attempt+1)
		}
		inst, _ := get(t, h, id)
		if want := clk.now().Add(delay); !inst.PendingTimer.Equal(want) {
			t.Fatalf("attempt %d: next wake-up %v, want %v (a back-off of %v)", attempt+1, inst.PendingTimer, want, delay)
		}
		recs := records(t, h, id)
		last := recs[len(recs)-1]
		if last.Name != "Aborted" || !strings.Contains(last.Reason, "Boom: always") || !strings.Contains(last.Reason, "next one in "+delay.String()) {
			t.Fatalf("attempt %d: last record %s %q, want Aborted naming the exception and the back-off", attempt+1, last.Name, last.Reason)
		}
	}
}

// A due timer whose execution cannot be committed (a full disk) is not retried at once either:
// the loop sleeps instead of spinning on it.
func TestTimerWhoseCommitFailsBacksOff(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := newFakeClock(t0)
	fs := &faultStore{Store: openStore(t)}
	h := startHost(t, host.Config{Store: fs, UnloadAfter: -1, Clock: clk.now})
	id, err := h.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10, "submitter": "unit", "reviewTimeout": "1s"}})
	if err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	before := fs.commits.Load()
	clk.set(t0.Add(time.Second))
	h.NudgeTimers()
	eventually(t, "the timer's execution tries to commit", func() bool { return fs.commits.Load() > before })
	tried := fs.commits.Load()
	turns := h.TimerTurns()
	eventually(t, "the timer loop sleeps", func() bool { return h.TimerTurns() > turns })
	if n := fs.commits.Load(); n != tried {
		t.Fatalf("%d more commits attempted while the instance should back off", n-tried)
	}
	// Once the disk works again and the back-off has passed, the timer fires.
	fs.fail.Store(false)
	clk.advance(2 * time.Second)
	h.NudgeTimers()
	eventually(t, "the escalation after the disk recovered", func() bool {
		_, vars := get(t, h, id)
		return vars["escalations"] == float64(1)
	})
}

// A workflow that never becomes idle is suspended at its work-item limit, its progress kept,
// with a bounded trail persisted at intervals along the way; Terminate ends it at once.
func TestRunawayWorkflowIsStopped(t *testing.T) {
	h := startHost(t, host.Config{UnloadAfter: -1, MaxWorkItems: 10000, Slice: 64,
		Definitions: registry(t, loopDefinition("Runaway", "true", ""), loopDefinition("CappedRunaway", "true", `MaxWorkItems="300"`))})
	for _, c := range []struct {
		name  string
		limit int
	}{{"Runaway", 10000}, {"CappedRunaway", 300}} {
		id, err := h.Create(bg, host.CreateRequest{Definition: c.name})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, c.name+" suspended", func() bool {
			inst, _ := get(t, h, id)
			return inst.State == workflow.Suspended
		})
		inst, vars := get(t, h, id)
		if inst.SuspensionException != "WorkItemLimitExceeded" || !strings.Contains(inst.SuspensionReason, "limit is") {
			t.Fatalf("%s: suspended with %q %q, want WorkItemLimitExceeded", c.name, inst.SuspensionException, inst.SuspensionReason)
		}
		if i := vars["i"].(float64); i < float64(c.limit)/4 {
			t.Fatalf("%s: i = %v after %d work items: the progress was not kept", c.name, i, c.limit)
		}
		recs := records(t, h, id)
		if len(recs) > 3*c.limit {
			t.Fatalf("%s: %d tracking records for a limit of %d work items", c.name, len(recs), c.limit)
		}
		if c.limit >= 10000 {
			// Persisted at bounded intervals, not only once at the end.
			if n := countKind(recs, workflow.InstanceRecord, "Persisted"); n < 5 {
				t.Errorf("%s: %d Persisted records over %d work items, want the trail flushed along the way", c.name, n, c.limit)
			}
		}
		start := time.Now()
		mustManage(t, h, "Terminate", id, "runaway")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Terminate of a runaway took %v", d)
		}
	}
}

// A host that is closed does nothing afterwards: an idle unload scheduled before Close used to
// commit after it (and after the store closed).
func TestNothingRunsAfterClose(t *testing.T) {
	timers := &manualTimers{}
	fs := &faultStore{Store: openStore(t)}
	cfg := host.Config{Store: fs, UnloadAfter: time.Hour}
	host.SetAfterFunc(&cfg, timers.afterFunc)
	h := startHost(t, cfg)
	createExpense(t, h, 10)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	before := fs.commits.Load()
	if n := timers.fireAll(); n == 0 {
		t.Fatal("no unload was scheduled for the idle instance")
	}
	if n := fs.commits.Load(); n != before {
		t.Fatalf("%d commits after Close", n-before)
	}
}

// Health writes: it reports a store that cannot be written, and recovers with it.
func TestHealthReportsAStoreThatCannotBeWritten(t *testing.T) {
	fs := &faultStore{Store: openStore(t)}
	h := startHost(t, host.Config{Store: fs})
	if err := h.Health(bg); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	fs.fail.Store(true)
	eventually(t, "Health reports the failing store", func() bool {
		err := h.Health(bg)
		return err != nil && strings.Contains(err.Error(), "disk is full")
	})
	fs.fail.Store(false)
	eventually(t, "Health recovers", func() bool { return h.Health(bg) == nil })
}

// While another process holds the database's write lock, an operation fails within the write
// timeout with ErrUnavailable, and nothing of it is applied then or later; Health says why.
func TestWriteTimeoutLeavesNothing(t *testing.T) {
	path := t.TempDir() + "/wimp.db"
	st, err := sqlite.Open(bg, path, sqlite.WithWriteTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := startHost(t, host.Config{Store: st, UnloadAfter: -1})
	id := createExpense(t, h, 1500)
	unlock := sqlitetest.HoldWriteLock(t, path)
	start := time.Now()
	err = manage(t, h, "Suspend", id, "while locked")
	if !errors.Is(err, host.ErrUnavailable) || !errors.Is(err, store.ErrTimeout) {
		t.Fatalf("Suspend while the database is locked: %v, want ErrUnavailable (a write timeout)", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the refused Suspend took %v with a 200ms write timeout", d)
	}
	eventually(t, "Health reports the write timeout", func() bool {
		err := h.Health(bg)
		return err != nil && strings.Contains(err.Error(), "timed out")
	})
	unlock()
	// A later write goes through; the refused Suspend never appears.
	mustManage(t, h, "Run", id, "")
	inst, _ := get(t, h, id)
	recs := records(t, h, id)
	if inst.State != workflow.Active || countKind(recs, workflow.InstanceRecord, "Suspended") != 0 {
		t.Fatalf("after the lock was released: %s with %d Suspended records, want Active and none", inst.State,
			countKind(recs, workflow.InstanceRecord, "Suspended"))
	}
}

// Create is one commit when the first run idles inline; if that commit fails, Create fails and
// leaves nothing.
func TestCreateIsOneCommitOrNothing(t *testing.T) {
	fs := &faultStore{Store: openStore(t)}
	h := startHost(t, host.Config{Store: fs, UnloadAfter: -1})
	before := fs.commits.Load()
	createExpense(t, h, 10)
	if n := fs.commits.Load() - before; n != 1 {
		t.Errorf("Create took %d commits, want 1", n)
	}
	fs.fail.Store(true)
	id, err := h.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10, "submitter": "unit"}})
	if !errors.Is(err, host.ErrUnavailable) {
		t.Fatalf("Create on a full disk: %v, %v; want ErrUnavailable", id, err)
	}
	fs.fail.Store(false)
	all, err := h.List(bg, "", 0)
	if err != nil || len(all) != 1 {
		t.Fatalf("after the failed Create: %d instances (%v), want only the first", len(all), err)
	}
}

// An acknowledged Create whose first run outlasts the inline budget is durably runnable: when
// its background execution cannot be committed, the host takes it up again by itself once the
// store works, without a restart.
func TestCreatedInstanceRecoversFromFailedBackgroundCommit(t *testing.T) {
	fs := &faultStore{Store: openStore(t)}
	h := startHost(t, host.Config{Store: fs, UnloadAfter: -1, InlineBudget: 10, Slice: 10,
		RecoveryInterval: 20 * time.Millisecond, Definitions: registry(t, loopDefinition("Counter", "i &lt; 1000", ""))})
	fs.fail.Store(false)
	id, err := h.Create(bg, host.CreateRequest{Definition: "Counter"})
	if err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true) // the background execution's next commit fails
	before := fs.commits.Load()
	eventually(t, "a background commit fails", func() bool { return fs.commits.Load() > before })
	fs.fail.Store(false)
	eventually(t, "the instance completes without a restart", func() bool {
		inst, _ := get(t, h, id)
		return inst.State == workflow.Completed
	})
	if _, vars := get(t, h, id); vars["i"] != float64(1000) {
		t.Fatalf("completed with i = %v, want 1000", vars["i"])
	}
}

// protocolUpdate is MS-WFIM's Update of id to identity to.
func protocolUpdate(id uuid.UUID, to workflow.Identity) host.Command {
	op, _ := protocol.OpByName("Update")
	return protocol.Command{Op: op, InstanceID: id, Identity: &to}.Host()
}
