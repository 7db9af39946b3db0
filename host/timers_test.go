package host_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

const napDefinition = `<Workflow Name="Nap" Package="test" Version="1.0.0.0">
  <Sequence Id="main"><Delay Id="nap" Duration="1h"/></Sequence>
</Workflow>`

// Timers falling due together — more than one claim batch (256) of them — are fired
// concurrently, each exactly once: every instance completes Closed with one Completed record,
// and the observer hears of one firing per instance.
func TestManyDueTimersFireOnce(t *testing.T) {
	const n = 300
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := newFakeClock(t0)
	var fired atomic.Int64
	h := startHost(t, host.Config{UnloadAfter: -1, Clock: clk.now, Definitions: registry(t, napDefinition), TimerConcurrency: 16,
		Observer: host.Observer{TimerFired: func(time.Duration) { fired.Add(1) }}})
	ids := make([]uuid.UUID, n)
	for i := range ids {
		id, err := h.Create(bg, host.CreateRequest{Definition: "Nap"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	clk.advance(time.Hour + time.Second)
	h.NudgeTimers()
	// A liveness bound for 300 commits on a loaded machine under -race, not a timing assertion.
	start := time.Now()
	for {
		c, err := h.Count(bg, host.Filter{State: workflow.Completed, Completion: workflow.Closed}, host.GroupNone)
		if err != nil {
			t.Fatal(err)
		}
		if c.Total == n {
			break
		}
		if time.Since(start) > 90*time.Second {
			t.Fatalf("%d of %d instances completed after %v", c.Total, n, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d timers fired in %v", n, time.Since(start))
	if got := fired.Load(); got != n {
		t.Errorf("the observer heard of %d firings, want %d", got, n)
	}
	for _, id := range ids {
		recs, err := h.Records(bg, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c := countKind(recs, workflow.InstanceRecord, "Completed"); c != 1 {
			t.Fatalf("instance %s has %d Completed records, want 1", id, c)
		}
	}
}

// A commit of a timer earlier than the time the timer loop sleeps until wakes it: it goes to
// sleep again, for the earlier one, and fires it when its time comes.
func TestEarlierTimerWakesTheTimerLoop(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := newFakeClock(t0)
	early := `<Workflow Name="Quick" Package="test" Version="1.0.0.0">
  <Sequence Id="main"><Delay Id="nap" Duration="1s"/></Sequence>
</Workflow>`
	h := startHost(t, host.Config{UnloadAfter: -1, Clock: clk.now, Definitions: registry(t, napDefinition, early)})
	// With no timer the loop sleeps a minute; a 1h timer is later than that.
	eventually(t, "the timer loop sleeps", func() bool { return h.TimerTurns() > 0 })
	if _, err := h.Create(bg, host.CreateRequest{Definition: "Nap"}); err != nil {
		t.Fatal(err)
	}
	turns := h.TimerTurns()
	quick, err := h.Create(bg, host.CreateRequest{Definition: "Quick"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the timer loop wakes and sleeps again for the 1s timer", func() bool { return h.TimerTurns() > turns })
	clk.advance(2 * time.Second)
	h.NudgeTimers()
	eventually(t, "the 1s timer fires", func() bool {
		inst, _ := get(t, h, quick)
		return inst.State == workflow.Completed
	})
}
