package host

import (
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// timerLoop sleeps until the earliest durable timer of an Active instance, then loads and
// resumes every due instance. Suspended instances' timers are held (DueTimers skips them)
// until Unsuspend fires them.
func (h *Host) timerLoop() {
	defer h.wg.Done()
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
			h.fire(id)
		}
	}
}

// fire resumes an instance's due timers and runs it.
func (h *Host) fire(id uuid.UUID) {
	s := h.acquire(id)
	defer h.release(s)
	if err := h.readRow(h.ctx, s); err != nil || s.rec.State != store.Active {
		return
	}
	if err := h.load(s); err != nil {
		_ = h.unloadable(h.ctx, s, err)
		return
	}
	if s.wf.FireDueTimers(h.now()) == 0 {
		// The row's timer is not due in the image (e.g. already fired in memory): rewrite the
		// row so the loop does not see it again.
		if err := h.save(h.ctx, s, nil); err != nil {
			h.log.Error("rewriting a stale timer failed", "id", id, "err", err)
		}
		return
	}
	s.dirty = true
	if err := h.run(h.ctx, s, ""); err != nil {
		h.log.Error("running after a timer failed", "id", id, "err", err)
	}
}
