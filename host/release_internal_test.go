package host

import (
	"testing"

	"github.com/google/uuid"
)

// Releasing a slot decides whether to forget it and drops the reference in one step. It used
// to decide under the instance lock and drop the reference after unlocking: a caller that took
// the instance in between and started executing it in the background lost its slot to the
// stale decision, and the instance stalled until a restart. The hook runs right after the
// instance lock is released, where that gap was.
func TestReleaseDoesNotForgetABusySlot(t *testing.T) {
	h := &Host{slots: map[uuid.UUID]*slot{}}
	id := uuid.New()
	first := h.acquire(id) // an operation on an unloaded instance
	hooked := false
	testHookReleased = func(*slot) {
		if hooked {
			return
		}
		hooked = true
		// Meanwhile another caller takes the instance and leaves it executing in the background.
		s := h.acquire(id)
		s.driving = true
		h.release(s)
	}
	defer func() { testHookReleased = nil }()
	h.release(first)
	h.mu.Lock()
	s := h.slots[id]
	h.mu.Unlock()
	if s == nil || !s.driving {
		t.Fatalf("the slot of an instance executing in the background was forgotten (slot %v)", s)
	}
}
