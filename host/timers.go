package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// storeTimePrecision is how finely the store keeps due times (SQLite: milliseconds, truncated).
// An instance row can be due while its image's exact due time is up to this much later.
const storeTimePrecision = time.Millisecond

// claimBatch is how many instances the timer and recovery loops claim at a time.
const claimBatch = 256

// retryDelay is the back-off before attempt n+1 after n consecutive failed executions of an
// instance: 1s, doubling, at most 5 minutes.
func retryDelay(failures int) time.Duration {
	return min(time.Second<<min(max(failures-1, 0), 16), 5*time.Minute)
}

// retries holds the back-off of instances whose execution could not be committed (the store
// failing): nothing durable records it, so it is kept here until a commit of the instance
// succeeds.
type retries struct {
	mu sync.Mutex
	m  map[uuid.UUID]retry
}

type retry struct {
	failures  int
	notBefore time.Time
}

func (r *retries) failed(id uuid.UUID, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[uuid.UUID]retry{}
	}
	x := r.m[id]
	x.failures++
	d := retryDelay(x.failures)
	x.notBefore = now.Add(d)
	r.m[id] = x
	return d
}

// blocked reports whether id is backing off at now, and until when.
func (r *retries) blocked(id uuid.UUID, now time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, ok := r.m[id]
	return x.notBefore, ok && now.Before(x.notBefore)
}

func (r *retries) succeeded(id uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

// executionFailed records a failed background execution: the instance backs off, and
// recovery takes it up again afterwards.
func (h *Host) executionFailed(id uuid.UUID, err error) {
	d := h.retries.failed(id, h.now())
	h.log.Error("execution failed; retrying later", "id", id, "retry_in", d, "err", err)
	nudge(h.recover)
}

// timerLoop sleeps until the earliest durable timer of an Active instance, then claims and
// resumes the due instances. Suspended instances' timers are held (ClaimDue skips them) until
// Unsuspend fires them. Firings run in the background, Config.TimerConcurrency at a time: the
// loop claims again while they commit, so a timer falling due meanwhile does not wait for them.
func (h *Host) timerLoop() {
	f := newFirings(h.cfg.TimerConcurrency)
	var hold time.Time // nothing due can be claimed before this (another node holds it)
	for {
		// Other nodes' commits do not wake this loop: it looks again at least every recovery
		// interval, so timers they leave behind (a dead node's) are seen within it.
		wait := h.cfg.RecoveryInterval
		next, ok, err := h.store.NextTimer(h.ctx)
		switch {
		case err != nil:
			if h.ctx.Err() != nil {
				return
			}
			h.log.Error("reading the next timer failed", "err", err)
			wait = time.Second
		case ok:
			wait = min(next.Sub(h.now()), wait)
		}
		if !hold.IsZero() {
			wait = max(wait, min(hold.Sub(h.now()), time.Second))
			hold = time.Time{}
		}
		if wait > 0 {
			h.timerTurns.Add(1)
			h.sleepUntil.Store(h.now().Add(wait).UnixNano())
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-h.wake:
				t.Stop()
				h.sleepUntil.Store(0)
				continue
			case <-h.ctx.Done():
				t.Stop()
				return
			}
			h.sleepUntil.Store(0)
		}
		cs, err := h.store.ClaimDue(h.ctx, h.ownerID(), h.now(), claimBatch)
		if err != nil {
			if h.ctx.Err() != nil {
				return
			}
			h.log.Error("claiming due timers failed", "err", err)
			hold = h.now().Add(time.Second)
			continue
		}
		for _, c := range cs {
			h.tookOver(c.From)
		}
		fresh, until := f.admit(cs, h.now())
		switch {
		case len(fresh) > 0:
			if !h.dispatch(f, fresh) {
				return // closing: the claims lapse with this owner's registration
			}
		case len(cs) > 0:
			// Every due instance is being fired, or cannot be yet (backing off, or due a
			// fraction of a millisecond later than the store says): wait for a firing to end,
			// an earlier timer, or the first that can be fired.
			h.timerTurns.Add(1)
			t := time.NewTimer(time.Second)
			if !until.IsZero() {
				t.Reset(max(min(until.Sub(h.now()), time.Second), 0))
			}
			select {
			case <-f.ended:
			case <-h.wake:
			case <-t.C:
			case <-h.ctx.Done():
				t.Stop()
				return
			}
			t.Stop()
		default:
			// Due but not claimable: another live node holds it (and fires it), or holds it
			// still while dying. Look again shortly rather than at once: a dead node's timers
			// are taken over soon after its registration lapses.
			hold = h.now().Add(min(time.Second, h.cfg.Lease/4))
		}
	}
}

// timerCommitted wakes the sleeping timer loop for a timer due at `due`, committed, if the loop
// would otherwise sleep past it. An awake loop reads the next timer before it sleeps again.
func (h *Host) timerCommitted(due time.Time) {
	if until := h.sleepUntil.Load(); until == 0 || due.UnixNano() < until {
		nudge(h.wake)
	}
}

// DefaultTimerConcurrency is Config.TimerConcurrency's default: enough firings at once to fill
// the store's commit batches, few enough to keep the loaded images of the firings bounded.
const DefaultTimerConcurrency = 64

// firings are the timer loop's firings in progress, and the instances it cannot fire yet.
type firings struct {
	slots chan struct{} // one per firing in progress (TimerConcurrency)
	ended chan struct{} // nudged when a firing ends

	mu        sync.Mutex
	busy      map[uuid.UUID]bool      // being fired
	notBefore map[uuid.UUID]time.Time // could not be fired: not before this
}

func newFirings(concurrency int) *firings {
	return &firings{slots: make(chan struct{}, concurrency), ended: make(chan struct{}, 1),
		busy: map[uuid.UUID]bool{}, notBefore: map[uuid.UUID]time.Time{}}
}

// admit returns the claimed instances to fire now — not being fired, not held back — and the
// earliest time one held back can be fired (zero for none).
func (f *firings) admit(cs []store.Claimed, now time.Time) (fresh []store.Claimed, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		if f.busy[c.ID] {
			continue
		}
		if nb, ok := f.notBefore[c.ID]; ok {
			if now.Before(nb) {
				if until.IsZero() || nb.Before(until) {
					until = nb
				}
				continue
			}
			delete(f.notBefore, c.ID)
		}
		f.busy[c.ID] = true
		fresh = append(fresh, c)
	}
	if len(f.notBefore) > 4*claimBatch { // rows that never came back: forget the lapsed ones
		for id, nb := range f.notBefore {
			if !now.Before(nb) {
				delete(f.notBefore, id)
			}
		}
	}
	return fresh, until
}

// finish records a firing's end: done, or not before at.
func (f *firings) finish(id uuid.UUID, at time.Time, done bool) {
	f.mu.Lock()
	delete(f.busy, id)
	if !done && !at.IsZero() {
		f.notBefore[id] = at
	}
	f.mu.Unlock()
	nudge(f.ended)
}

// dispatch fires the admitted instances in the background, waiting for a free slot for each;
// false once the host is closing (the rest are left to lapse with the registration).
func (h *Host) dispatch(f *firings, cs []store.Claimed) bool {
	for i, c := range cs {
		f.slots <- struct{}{}
		started := h.goBackground(func() {
			defer func() { <-f.slots }()
			at, done := h.fire(c)
			f.finish(c.ID, at, done)
		})
		if !started {
			<-f.slots
			for _, rest := range cs[i:] {
				f.finish(rest.ID, time.Time{}, true)
			}
			return false
		}
	}
	return true
}

// fire resumes an instance's due timers and runs it. done is false when nothing could be
// done yet: the instance is backing off, or the row was due only because the store keeps due
// times coarser than the image (the timer is due at `at`, a fraction of a millisecond away).
func (h *Host) fire(c store.Claimed) (at time.Time, done bool) {
	s := h.acquire(c.ID)
	defer h.release(s)
	now := h.now()
	if until, blocked := h.retries.blocked(c.ID, now); blocked {
		h.unclaim(s, c)
		return until, false
	}
	if s.rec != nil && s.rec.Lease != c.Lease && s.wf == nil {
		s.rec = nil // read the row as claimed
	}
	if err := h.readRow(h.ctx, s); err != nil || s.rec.State != workflow.Active {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.Error("reading a due instance failed", "id", c.ID, "err", err)
		}
		h.unclaim(s, c)
		return time.Time{}, true
	}
	if due := s.rec.PendingTimer; due.IsZero() || due.After(now) {
		// Claimed while a firing of it was committing (the loop claims again meanwhile), and
		// that firing moved the row's timer on — perhaps to a back-off that must be waited out.
		h.unclaim(s, c)
		return time.Time{}, true
	}
	if err := h.load(s); err != nil {
		_ = h.unloadable(h.ctx, s, err)
		return time.Time{}, true
	}
	if h.fireDueTimers(s, now) == 0 && s.wf.Status() != engine.StatusExecuting {
		if next, ok := s.wf.NextTimer(); ok && next.After(now) && !s.rec.PendingTimer.IsZero() &&
			!next.Before(s.rec.PendingTimer) && next.Sub(s.rec.PendingTimer) < storeTimePrecision {
			// The row is right, only coarser: wait for the exact due time (still loaded and leased).
			return next, false
		}
		// The row's time is not due in the image (e.g. a retry time, or a timer that already
		// fired in memory): rewrite the row so the loop does not see it again.
		if err := h.settle(h.ctx, s); err != nil {
			h.log.Error("rewriting a stale timer failed", "id", c.ID, "err", err)
		}
		return time.Time{}, true
	}
	s.dirty = true
	if err := h.run(h.ctx, s); err != nil {
		if !errors.Is(err, context.Canceled) {
			h.executionFailed(c.ID, err)
		}
	}
	return time.Time{}, true
}

// unclaim gives back a lease claimed for an instance the host does not execute now.
func (h *Host) unclaim(s *slot, c store.Claimed) {
	if s.wf != nil {
		return // loaded here: the lease stays with it
	}
	if err := h.store.Release(h.ctx, c.ID, c.Lease); err != nil && !errors.Is(err, store.ErrLeaseLost) &&
		!errors.Is(err, store.ErrNotFound) && h.ctx.Err() == nil {
		h.log.Warn("releasing a claimed instance failed", "id", c.ID, "err", err)
	}
	s.rec = nil
}

// recoveryLoop runs instances that are runnable but executed by nobody: interrupted by a
// stop or crash, or left by a background commit that failed. It looks at start-up, every
// RecoveryInterval and when nudged.
func (h *Host) recoveryLoop() {
	t := time.NewTicker(h.cfg.RecoveryInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		case <-h.recover:
		}
		if err := h.recoverRunnable(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Error("recovery failed", "err", err)
		}
	}
}

// recoverRunnable claims the runnable instances in batches and runs them, a batch at a time,
// until a batch brings nothing new to run.
func (h *Host) recoverRunnable(ctx context.Context) error {
	for {
		cs, err := h.store.ClaimRunnable(ctx, h.ownerID(), h.now(), claimBatch)
		if err != nil {
			return err
		}
		for _, c := range cs {
			h.tookOver(c.From)
		}
		var wg sync.WaitGroup
		var ran atomic.Int64
		for _, c := range cs {
			wg.Add(1)
			if !h.goBackground(func() {
				defer wg.Done()
				if h.recoverOne(ctx, c) {
					ran.Add(1)
				}
			}) {
				wg.Done()
			}
		}
		wg.Wait()
		if ran.Load() == 0 || len(cs) < claimBatch {
			return nil
		}
	}
}

// recoverOne runs a claimed runnable instance unless it is executing here already or backing
// off; ran reports that it was run.
func (h *Host) recoverOne(ctx context.Context, c store.Claimed) (ran bool) {
	s := h.acquire(c.ID)
	defer h.release(s)
	if s.driving || s.wf != nil {
		return false // executing here already
	}
	if _, blocked := h.retries.blocked(c.ID, h.now()); blocked {
		h.unclaim(s, c)
		return false
	}
	s.rec = nil // read the row as claimed
	h.log.Info("recovering instance", "id", c.ID)
	if err := h.run(ctx, s); err != nil {
		if !errors.Is(err, context.Canceled) {
			h.executionFailed(c.ID, err)
		}
	}
	return true
}
