package host

import (
	"context"
	"time"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Observer is told of the host's events that metrics count (Config.Observer), in plain
// numbers: what turns them into metrics is the embedder's (package server). A nil function is
// skipped. The functions run inline on the host's goroutines, so they must be quick and must
// not call the host.
type Observer struct {
	// TimerFired is called once for every durable timer the timer loop fires, with how long
	// after its due time it fired, on the host's clock. Timers held while their instance was
	// suspended fire at Unsuspend, late by design, and are not reported.
	TimerFired func(late time.Duration)
}

// fireDueTimers fires the instance's timers due at now, reporting each to the observer, and
// returns how many fired.
func (h *Host) fireDueTimers(s *slot, now time.Time) int {
	report := h.cfg.Observer.TimerFired
	if report == nil {
		return s.wf.FireDueTimers(now)
	}
	due := s.wf.Timers() // read first: the n that fire are the first n
	n := s.wf.FireDueTimers(now)
	for _, d := range due[:n] {
		report(now.Sub(d))
	}
	return n
}

// InstanceStates counts the stored instances by state (a state without instances is left
// out), from the counts the store keeps by group: it reads no instance rows, whatever their
// number. It is for metrics, which the server authorizes itself: it asks for no principal, and
// a store failure is returned only, not counted or logged as an operation's would be.
func (h *Host) InstanceStates(ctx context.Context) (map[workflow.State]int64, error) {
	cs, err := h.store.CountInstances(ctx, store.Filter{}, store.GroupByState)
	if err != nil {
		return nil, err
	}
	out := make(map[workflow.State]int64, len(cs))
	for _, c := range cs {
		out[c.State] += c.N
	}
	return out, nil
}

// PendingTimers counts the Active instances with a durable timer pending, due or not (or, in
// its place, a retry time after failed executions: store.Instance.PendingTimer). Like
// InstanceStates, it is for metrics.
func (h *Host) PendingTimers(ctx context.Context) (int64, error) {
	return h.store.PendingTimers(ctx)
}
