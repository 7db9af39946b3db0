package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
)

// checker is the client id of the harness's own requests (creations, reads after restarts).
const checker = 999

// unloadChoices vary --unload-after across restarts, so that operations find instances both in
// memory and only in the database.
var unloadChoices = []string{"0", "200ms", "1m"}

// Many concurrent clients run management operations and bookmark resumptions on a set of
// instances while the server is killed with SIGKILL at random moments and restarted on the same
// database. After each restart: every instance's history (including reads before the kill and
// after the restart) is linearizable against the state table, where an operation whose
// connection the kill dropped may or may not have taken effect; every acknowledged operation's
// tracking record is there, exactly once; and timers and bookmarks still work.
func TestCrashHarness(t *testing.T) {
	sz := harnessSizes()
	rng := seed(t)
	var flagsUsed []string
	s := startServer(t, "", func() []string {
		u := unloadChoices[rng.IntN(len(unloadChoices))]
		flagsUsed = append(flagsUsed, u)
		return []string{"--unload-after", u}
	})
	rec, led, st, p := newRecorder(), newLedger(), newStats(), newPool(sz.crashInstances*3/4)
	l := &load{rec: rec, led: led, st: st, mix: crashMix, tgt: p, timeout: 30 * time.Second}

	var verified, cycles, timersChecked int
	var cs checkStats
	for cycle := 1; cycle <= sz.crashCycles; cycle++ {
		c := s.clients(30 * time.Second)
		topUp(t, l, p, c, rng, sz.crashInstances)
		// An escalation timer that falls due around the kill: before it or after the restart.
		due := 300*time.Millisecond + randDuration(rng, 2500*time.Millisecond)
		timerID := createSide(t, c, 10, due.Round(time.Millisecond).String())
		timerCreated := time.Now()

		st.mu.Lock()
		ackedBefore, unknownBefore := st.acked, st.unknown
		st.mu.Unlock()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < sz.crashWorkers; w++ {
			wc, wr := s.clients(30*time.Second), rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Go(func() { l.worker(w, wc, wr, fmt.Sprintf("c%d", cycle), stop) })
		}
		run := sz.crashRunMin + randDuration(rng, sz.crashRunMax-sz.crashRunMin)
		time.Sleep(run)
		s.Kill9()
		dead := rec.now()
		close(stop)
		wg.Wait()
		rec.settle(dead)
		st.mu.Lock()
		acked, unknown := st.acked-ackedBefore, st.unknown-unknownBefore
		st.mu.Unlock()
		if acked == 0 {
			t.Fatalf("cycle %d: no operation was acknowledged in the %v before the kill: the cycle proved nothing", cycle, run)
		}

		s.Start()
		c = s.clients(30 * time.Second)
		// Started at once so that it runs while the checks below do.
		freshTimer := createSide(t, c, 10, "1s")
		freshCreated := time.Now()
		when := fmt.Sprintf("cycle %d (killed after %v, restarted with --unload-after %s)", cycle, run.Round(time.Millisecond), flagsUsed[len(flagsUsed)-1])
		verified, cs = readAndCheck(t, l, p, c, when)

		// Timers and bookmarks still work after the restart.
		waitEscalated(t, c, timerID, time.Until(timerCreated.Add(due+30*time.Second)), when+": the timer created before the kill")
		waitEscalated(t, c, freshTimer, time.Until(freshCreated.Add(30*time.Second)), when+": a 1s timer created after the restart")
		checkFreshBookmark(t, c, when)
		timersChecked += 2
		c.close()
		t.Logf("%s: %d operations acknowledged, %d without a reply (unknown outcome); %d histories (%d operations) checked, %d acknowledged operations' records verified so far; timers and bookmarks work",
			when, acked, unknown, cs.histories, cs.operations, verified)
		if t.Failed() {
			return
		}
		cycles++
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("SUMMARY harness crash: %d kill -9/restart cycles survived, %d operations acknowledged (%d expected state-table faults %v, %d reads), %d records of acknowledged operations verified, %d unknown outcomes, %d histories (%d operations) checked linearizable (%d with their changes in the server's commit order, %d undecided; slowest check %v for %d operations), %d timers escalated and %d fresh bookmarks resumed after restarts",
		cycles, st.acked, st.faults, st.faultsBy, st.reads, verified, st.unknown, cs.histories, cs.operations, cs.inOrder, cs.undecided, cs.longest.Round(time.Millisecond), cs.longestSize, timersChecked, cycles)
}

// topUp creates instances until n of them are not known to be completed.
func topUp(t *testing.T, l *load, p *pool, c *clients, rng *rand.Rand, n int) {
	t.Helper()
	for p.live() < n {
		amount := 1500 // two approvals needed
		if rng.IntN(4) == 0 {
			amount = 500
		}
		id, o, err := l.create(c, checker, amount)
		if err != nil || o.Fault != "" {
			t.Fatalf("creating an instance: %v %v", o, err)
		}
		p.add(id)
	}
}

// readAndCheck reads every pool instance (the reads join the history), then checks the
// tracking records and the linearizability of every history. It returns the number of
// acknowledged operations whose records it verified and of histories it checked.
func readAndCheck(t *testing.T, l *load, p *pool, c *clients, when string) (verified int, cs checkStats) {
	t.Helper()
	for _, id := range p.all() {
		a := action{Op: "Get", ID: id}
		o, err := l.do(c, checker, a)
		if err != nil || (o.Fault != "" && o.Fault != "InstanceNotFound") { // not found: a creation without a reply
			t.Fatalf("%s: GetInstance %s: %v %v", when, id, o, err)
		}
		p.observe(c, a, o)
	}
	recs := fetchRecords(t, c, p.all())
	verified = checkRecords(t, l.led, recs, when)
	cs = checkLinearizable(t, l.rec, when, recs)
	return verified, cs
}

// createSide creates an instance outside the histories (timers, fresh bookmarks).
func createSide(t *testing.T, c *clients, amount int, reviewTimeout string) uuid.UUID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := c.hosting.Create(ctx, host.CreateRequest{Definition: definition.Name, Version: definition.Version,
		Inputs: createInputs(amount, reviewTimeout)})
	if err != nil {
		t.Fatalf("creating an instance with reviewTimeout %s: %v", reviewTimeout, err)
	}
	return id
}

func getInstance(t *testing.T, c *clients, id uuid.UUID) *hosting.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := c.hosting.GetInstance(ctx, id)
	if err != nil {
		t.Fatalf("GetInstance %s: %v", id, err)
	}
	return inst
}

// waitEscalated waits until the instance's escalations variable is at least 1 and it waits
// for Review again.
func waitEscalated(t *testing.T, c *clients, id uuid.UUID, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		inst := getInstance(t, c, id)
		if esc, _ := inst.Variables["escalations"].(float64); esc >= 1 && inst.State == "Active" && len(inst.Bookmarks) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: instance %s did not escalate (escalations ≥ 1, waiting for Review again) in time; last read: state %s, variables %v, bookmarks %v, pendingTimer %v",
				what, id, inst.State, inst.Variables, inst.Bookmarks, inst.PendingTimer)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkFreshBookmark creates an instance, resumes its Review bookmark with an approval and
// expects it Completed (Closed) with status Approved.
func checkFreshBookmark(t *testing.T, c *clients, when string) {
	t.Helper()
	id := createSide(t, c, 10, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.hosting.ResumeBookmark(ctx, id, "Review", `{"approved":true,"reviewer":"fresh"}`); err != nil {
		t.Errorf("%s: a fresh instance refused its Review bookmark: %v", when, err)
		return
	}
	inst := getInstance(t, c, id)
	if inst.State != "Completed" || inst.Completion != "Closed" || inst.Variables["status"] != "Approved" {
		t.Errorf("%s: a fresh instance after its approval: %s/%s %v, want Completed/Closed with status Approved", when, inst.State, inst.Completion, inst.Variables)
	}
}
