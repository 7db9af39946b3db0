package harness

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SIGTERM while clients run: the requests in progress are answered (or their connection is
// closed without a reply: then the outcome is unknown, never acknowledged and lost), the server
// exits with status 0 within its --shutdown-timeout plus a margin, and after a restart every
// history is linearizable and every acknowledged operation's record is there.
func TestSIGTERMUnderLoad(t *testing.T) {
	sz := harnessSizes()
	rng := seed(t)
	const shutdownTimeout = 2 * time.Second
	// The margin covers the race detector's slower exit and the host closing its store.
	const margin = 5 * time.Second
	var flagsUsed []string
	s := startServer(t, "", func() []string {
		u := unloadChoices[rng.IntN(len(unloadChoices))]
		flagsUsed = append(flagsUsed, u)
		return []string{"--shutdown-timeout", shutdownTimeout.String(), "--unload-after", u}
	})
	rec, led, st, p := newRecorder(), newLedger(), newStats(), newPool(sz.sigtermInstances*3/4)
	l := &load{rec: rec, led: led, st: st, mix: crashMix, tgt: p, timeout: 30 * time.Second}

	var verified, cycles, inFlight, answered, unanswered int
	var slowest time.Duration
	var cs checkStats
	for cycle := 1; cycle <= sz.sigtermCycles; cycle++ {
		c := s.clients(30 * time.Second)
		topUp(t, l, p, c, rng, sz.sigtermInstances)
		c.close()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < sz.sigtermWorkers; w++ {
			wc, wr := s.clients(30*time.Second), rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Go(func() { l.worker(w, wc, wr, fmt.Sprintf("t%d", cycle), stop) })
		}
		run := 300*time.Millisecond + randDuration(rng, 700*time.Millisecond)
		time.Sleep(run)

		proc := s.Current()
		sig := rec.now()
		sent := time.Now()
		if err := proc.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-proc.Done():
		case <-time.After(shutdownTimeout + margin):
			t.Errorf("cycle %d: the server still runs %v after SIGTERM with --shutdown-timeout %v", cycle, shutdownTimeout+margin, shutdownTimeout)
			_ = proc.Kill()
		}
		took := time.Since(sent)
		slowest = max(slowest, took)
		dead := rec.now()
		if err := proc.Err(); err != nil {
			t.Errorf("cycle %d: the server exited with %v after SIGTERM, want status 0", cycle, err)
		}
		s.Stop() // it has exited: only forgotten
		close(stop)
		wg.Wait()
		rec.settle(dead)

		// The requests that were in progress when the signal came.
		rec.mu.Lock()
		fl, ans := 0, 0
		for i, op := range rec.ops {
			if rec.dropped[i] || op.Call > sig || (op.Return < sig && op.Return >= op.Call) {
				continue
			}
			fl++
			if !op.Output.(outcome).Unknown {
				ans++
			}
		}
		rec.mu.Unlock()
		inFlight, answered, unanswered = inFlight+fl, answered+ans, unanswered+fl-ans

		s.Start()
		c = s.clients(30 * time.Second)
		when := fmt.Sprintf("cycle %d (SIGTERM after %v of load; exit after %v; restarted with --unload-after %s)",
			cycle, run.Round(time.Millisecond), took.Round(time.Millisecond), flagsUsed[len(flagsUsed)-1])
		verified, cs = readAndCheck(t, l, p, c, when)
		c.close()
		t.Logf("%s: %d requests in progress at the signal, %d of them answered; %d histories checked", when, fl, ans, cs.histories)
		if t.Failed() {
			return
		}
		cycles++
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("SUMMARY harness sigterm: %d SIGTERM/restart cycles, every exit status 0 within %v (shutdown timeout %v), %d requests in progress at the signals (%d answered, %d closed without a reply: unknown outcome), %d operations acknowledged, %d records of acknowledged operations verified, %d histories (%d operations) linearizable (%d undecided)",
		cycles, slowest.Round(time.Millisecond), shutdownTimeout, inFlight, answered, unanswered, st.acked, verified, cs.histories, cs.operations, cs.undecided)
}
