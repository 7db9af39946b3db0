package engine

import (
	"slices"
	"testing"
	"time"
)

// Timers lists the pending Delays' due times earliest first, whatever order they were
// scheduled in, and the timers FireDueTimers fires are the first of them.
func TestTimersInDueOrder(t *testing.T) {
	in := mustStart(t, mustParse(t, wf("", `<Parallel Id="p">
  <Delay Id="three" Duration="3s"/>
  <Delay Id="one" Duration="1s"/>
  <Delay Id="two" Duration="2s"/>
</Parallel>`)), nil)
	if got := in.Timers(); got != nil {
		t.Fatalf("Timers before the Delays ran = %v, want none", got)
	}
	if r := in.Run(t0, 0); r.Kind != ResultIdle {
		t.Fatal(r)
	}
	want := []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}
	if got := in.Timers(); !slices.Equal(got, want) {
		t.Fatalf("Timers = %v, want %v", got, want)
	}
	if n := in.FireDueTimers(t0.Add(2500 * time.Millisecond)); n != 2 {
		t.Fatalf("FireDueTimers fired %d, want 2", n)
	}
	if got := in.Timers(); !slices.Equal(got, want[2:]) {
		t.Fatalf("Timers after two fired = %v, want %v", got, want[2:])
	}
}
