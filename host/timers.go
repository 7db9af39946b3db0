package host

import (
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// storeTimePrecision is how finely the store keeps due times (SQLite: milliseconds, truncated).
// An instance row can be due while its image's exact due time is up to this much later.
const storeTimePrecision = time.Millisecond

// timerLoop sleeps until the earliest durable timer of an Active instance, then loads and
// resumes every due instance. Suspended instances' timers are held (DueTimers skips them)
// until Unsuspend fires them.
func (h *Host) timerLoop() {
	defer h.wg.Done()
	var hold time.Time // an instance is due in the store but its exact due time is this, a little later
	for {
		wait := time.Minute
		next, ok, err := h.store.NextTimer(h.ctx)
		switch {
		case err != nil:
			if h.ctx.Err() != nil {
				return
			}
			h.log.Error("reading the next timer failed", "err", err)
			wait = time.Second
		case ok:
			wait = next.Sub(h.now())
		}
		if !hold.IsZero() {
			wait = max(wait, hold.Sub(h.now()))
			hold = time.Time{}
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-h.wake:
				t.Stop()
				continue
			case <-h.ctx.Done():
				t.Stop()
				return
			}
		}
		ids, err := h.store.DueTimers(h.ctx, h.now(), 256)
		if err != nil {
			if h.ctx.Err() != nil {
				return
			}
			h.log.Error("reading due timers failed", "err", err)
			continue
		}
		for _, id := range ids {
			if at, early := h.fire(id); early && (hold.IsZero() || at.Before(hold)) {
				hold = at
			}
		}
	}
}

// fire resumes an instance's due timers and runs it. early reports that the row was due only
// because the store keeps due times coarser than the image: the timer is due at `at`, a fraction
// of a millisecond from now, and nothing was written.
func (h *Host) fire(id uuid.UUID) (at time.Time, early bool) {
	s := h.acquire(id)
	defer h.release(s)
	if err := h.readRow(h.ctx, s); err != nil || s.rec.State != store.Active {
		return time.Time{}, false
	}
	if err := h.load(s); err != nil {
		_ = h.unloadable(h.ctx, s, err)
		return time.Time{}, false
	}
	now := h.now()
	if s.wf.FireDueTimers(now) == 0 {
		if next, ok := s.wf.NextTimer(); ok && next.After(now) && !s.rec.PendingTimer.IsZero() &&
			!next.Before(s.rec.PendingTimer) && next.Sub(s.rec.PendingTimer) < storeTimePrecision {
			// The row is right, only coarser: wait for the exact due time.
			return next, true
		}
		// The row's timer is not due in the image (e.g. already fired in memory): rewrite the
		// row so the loop does not see it again.
		if err := h.save(h.ctx, s, nil); err != nil {
			h.log.Error("rewriting a stale timer failed", "id", id, "err", err)
		}
		return time.Time{}, false
	}
	s.dirty = true
	if err := h.run(h.ctx, s); err != nil {
		h.log.Error("running after a timer failed", "id", id, "err", err)
	}
	return time.Time{}, false
}
