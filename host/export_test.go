package host

import (
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
)

// What the black-box tests (package host_test) may see of the host's insides.

// SlotCount is how many instance slots the host holds (locks and loaded instances).
func (h *Host) SlotCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.slots)
}

// TimerTurns is how many times the timer loop went to sleep.
func (h *Host) TimerTurns() int64 { return h.timerTurns.Load() }

// NudgeTimers wakes the timer loop.
func (h *Host) NudgeTimers() { nudge(h.wake) }

// WithLive runs f on the instance's live runtime under its lock, as a background execution
// slice would, and marks it executed; false if the instance is not loaded.
func (h *Host) WithLive(id uuid.UUID, f func(wf *engine.Instance)) bool {
	s := h.acquire(id)
	defer h.release(s)
	if s.wf == nil {
		return false
	}
	f(s.wf)
	s.dirty = true
	return true
}

// SetAfterFunc replaces how cfg's host schedules idle unloads.
func SetAfterFunc(cfg *Config, f func(time.Duration, func())) { cfg.afterFunc = f }

// IsLoaded reports whether the instance's runtime is in memory.
func (h *Host) IsLoaded(id uuid.UUID) bool {
	s := h.acquire(id)
	defer h.release(s)
	return s.wf != nil
}

// SetAwaitRecheck sets how often Await reads the instance again (tests: an hour, so that only
// the wake-up of a completion on this host can end a wait early); it returns the old value.
func SetAwaitRecheck(d time.Duration) time.Duration {
	old := awaitRecheck
	awaitRecheck = d
	return old
}
