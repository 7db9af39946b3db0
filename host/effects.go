package host

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/workflow"
)

// External calls (DESIGN-NOTES.md, "Host decisions"). An asynchronous activity (HttpRequest,
// a custom one) records a pending call in its instance; once the host has committed an image
// holding it, it performs the call outside the instance lock, in a goroutine (at most
// Config.MaxCalls at a time), then delivers the outcome under the lock like a bookmark
// resumption, and the instance runs on from it and is persisted. Calls are performed at least
// once: an attempt lost in a crash is asked for again by the engine at its deadline, with the
// same idempotency key.

// CallFunc performs one attempt of an asynchronous activity's call. ctx ends at the attempt's
// Timeout, when the activity no longer waits for it (canceled, terminated) or when the host
// closes; a timed-out attempt that reports an error is retried like a transient failure.
type CallFunc func(ctx context.Context, c Call) engine.CallOutcome

// Call is one attempt the host performs.
type Call struct {
	Instance uuid.UUID
	engine.Call
}

// DefaultMaxCalls is how many calls a host performs at once unless Config.MaxCalls says.
const DefaultMaxCalls = 16

// inflight is the calls being performed, by instance and call id.
type inflight struct {
	mu sync.Mutex
	m  map[uuid.UUID]map[string]*flight
}

type flight struct{ cancel context.CancelFunc }

// add registers a call; false if it is already being performed.
func (f *inflight) add(id uuid.UUID, call string, fl *flight) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[uuid.UUID]map[string]*flight{}
	}
	if f.m[id] == nil {
		f.m[id] = map[string]*flight{}
	}
	if f.m[id][call] != nil {
		return false
	}
	f.m[id][call] = fl
	return true
}

// remove forgets fl (if it is still the registered one).
func (f *inflight) remove(id uuid.UUID, call string, fl *flight) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[id][call] == fl {
		delete(f.m[id], call)
		if len(f.m[id]) == 0 {
			delete(f.m, id)
		}
	}
}

// cancelExcept cancels the instance's calls that are not in keep (all when keep is nil).
func (f *inflight) cancelExcept(id uuid.UUID, keep map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for call, fl := range f.m[id] {
		if !keep[call] {
			fl.cancel()
			delete(f.m[id], call)
		}
	}
	if len(f.m[id]) == 0 {
		delete(f.m, id)
	}
}

// InFlight is how many calls the host is performing (waiting for a turn included).
func (h *Host) InFlight() int {
	h.flights.mu.Lock()
	defer h.flights.mu.Unlock()
	n := 0
	for _, m := range h.flights.m {
		n += len(m)
	}
	return n
}

// issueCalls is run after a commit of the instance's image: calls holds the pending calls of
// that image. An Active instance's calls not yet being performed are started, and the ones it no
// longer waits for canceled; a Suspended instance starts none (those under way go on: their
// outcome is kept for it); a Completed one has all of its calls canceled.
func (h *Host) issueCalls(id uuid.UUID, state workflow.State, calls []engine.Call) {
	switch state {
	case workflow.Completed:
		h.flights.cancelExcept(id, nil)
		return
	case workflow.Suspended:
		return
	}
	keep := make(map[string]bool, len(calls))
	for _, c := range calls {
		keep[c.ID] = true
	}
	h.flights.cancelExcept(id, keep)
	for _, c := range calls {
		h.startCall(id, c)
	}
}

// startCall performs one attempt in the background, unless it is under way already.
func (h *Host) startCall(id uuid.UUID, c engine.Call) {
	ctx, cancel := context.WithCancel(h.ctx)
	fl := &flight{cancel: cancel}
	if !h.flights.add(id, c.ID, fl) {
		cancel()
		return
	}
	fn := h.cfg.Calls[c.Type]
	started := h.goBackground(func() {
		defer cancel()
		select {
		case h.callSlots <- struct{}{}:
		case <-ctx.Done():
			h.flights.remove(id, c.ID, fl)
			return
		}
		o := h.perform(ctx, fn, Call{Instance: id, Call: c})
		<-h.callSlots
		if ctx.Err() != nil {
			// No longer wanted (the activity ended, or the host is closing): the outcome is
			// discarded; a closing host's instance asks again after its restart.
			h.flights.remove(id, c.ID, fl)
			return
		}
		h.deliver(id, c, fl, o)
	})
	if !started {
		cancel()
		h.flights.remove(id, c.ID, fl)
	}
}

// perform runs fn for one attempt within its timeout, turning a panic into an ActivityError and
// a timed-out failure into a retryable one.
func (h *Host) perform(ctx context.Context, fn CallFunc, c Call) (o engine.CallOutcome) {
	if fn == nil {
		return engine.CallOutcome{Error: &engine.Exception{Name: engine.ActivityError,
			Message: fmt.Sprintf("no implementation of activity %s is registered with this host", c.Type)}}
	}
	actx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("an activity's call panicked", "id", c.Instance, "activity", c.Activity, "type", c.Type, "panic", r)
			o = engine.CallOutcome{Error: &engine.Exception{Name: engine.ActivityError, Message: fmt.Sprintf("%s panicked: %v", c.Type, r)}}
		}
	}()
	o = fn(actx, c)
	if o.Error != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		o.Retry = true
	}
	return o
}

// deliver hands an attempt's outcome to its instance under the instance lock, runs the instance
// on and persists it (an outcome for a Suspended instance is kept in its image until it is
// unsuspended). An outcome the instance no longer waits for is discarded.
func (h *Host) deliver(id uuid.UUID, c engine.Call, fl *flight, o engine.CallOutcome) {
	s := h.acquire(id)
	defer h.release(s)
	h.flights.remove(id, c.ID, fl)
	ctx := h.ctx
	if ctx.Err() != nil {
		return
	}
	if err := h.readRow(ctx, s); err != nil || s.rec.State == workflow.Completed {
		return
	}
	wasLoaded := s.wf != nil
	if err := h.load(s); err != nil {
		_ = h.unloadable(ctx, s, err)
		return
	}
	if err := s.wf.CompleteCall(c.ID, o); err != nil {
		if !wasLoaded {
			h.setLive(s, nil)
		}
		h.log.Debug("discarding the outcome of a call the instance no longer waits for", "id", id, "call", c.ID, "err", err)
		return
	}
	h.stage(s, nil, h.drain(s)...)
	var err error
	if s.rec.State == workflow.Active {
		err = h.runOrSave(ctx, s)
	} else {
		err = h.unload(ctx, s) // held for Unsuspend, persisted
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		// Not committed: the instance still waits for this attempt in the store, and asks for
		// it again at its deadline.
		h.executionFailed(id, err)
	}
}

// checkCalls: every asynchronous activity type the definitions may use has an implementation.
func checkCalls(defs *engine.Registry, calls map[string]CallFunc) error {
	for _, t := range defs.ActivityTypes() {
		if t.Async() && calls[t.Name] == nil {
			return fmt.Errorf("host: asynchronous activity type %s has no CallFunc (Config.Calls)", t.Name)
		}
	}
	return nil
}
