package host_test

import (
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

const twoTimersDefinition = `<Workflow Name="TwoTimers" Package="test" Version="1.0.0.0">
  <Parallel Id="both">
    <Delay Id="two" Duration="2s"/>
    <Delay Id="one" Duration="1s"/>
  </Parallel>
</Workflow>`

// The observer hears of every timer the timer loop fires, with its lateness on the host's
// clock, and not of the timers Unsuspend fires; InstanceStates and PendingTimers follow the
// instances.
func TestTimerLatenessIsObserved(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := newFakeClock(t0)
	var mu sync.Mutex
	var lateness []time.Duration
	fired := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lateness)
	}
	h := startHost(t, host.Config{UnloadAfter: -1, Clock: clk.now, Definitions: registry(t, twoTimersDefinition),
		Observer: host.Observer{TimerFired: func(late time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			lateness = append(lateness, late)
		}}})
	check := func(when string, states map[workflow.State]int64, timers int64) {
		t.Helper()
		got, err := h.InstanceStates(bg)
		if err != nil || !maps.Equal(got, states) {
			t.Errorf("%s: InstanceStates = %v, %v; want %v", when, got, err, states)
		}
		if n, err := h.PendingTimers(bg); err != nil || n != timers {
			t.Errorf("%s: PendingTimers = %d, %v; want %d", when, n, err, timers)
		}
	}
	check("before any instance", map[workflow.State]int64{}, 0)

	a, err := h.Create(bg, host.CreateRequest{Definition: "TwoTimers"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Create(bg, host.CreateRequest{Definition: "TwoTimers"})
	if err != nil {
		t.Fatal(err)
	}
	mustManage(t, h, "Suspend", b, "held")
	check("with one instance waiting and one suspended", map[workflow.State]int64{workflow.Active: 1, workflow.Suspended: 1}, 1)

	// Both of a's timers are due, 1.5s and 0.5s ago: one claim fires both.
	clk.set(t0.Add(2500 * time.Millisecond))
	h.NudgeTimers()
	eventually(t, "the first instance completes", func() bool {
		inst, _ := get(t, h, a)
		return inst.State == workflow.Completed
	})
	if got, want := fired(), []time.Duration{1500 * time.Millisecond, 500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Fatalf("lateness observed %v, want %v (the 1s timer, then the 2s one)", got, want)
	}
	check("after the timers fired", map[workflow.State]int64{workflow.Completed: 1, workflow.Suspended: 1}, 0)

	// b's timers fell due while it was suspended: Unsuspend fires them, unreported.
	mustManage(t, h, "Unsuspend", b, "")
	eventually(t, "the second instance completes", func() bool {
		inst, _ := get(t, h, b)
		return inst.State == workflow.Completed
	})
	if got := fired(); len(got) != 2 {
		t.Errorf("lateness observed %v after Unsuspend fired the held timers, want the first two only", got)
	}
	check("after both completed", map[workflow.State]int64{workflow.Completed: 2}, 0)
}
