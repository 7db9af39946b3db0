package host_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
)

// Past MaxLoaded loaded instances, the least recently idle are unloaded before their
// UnloadAfter; an instance that works again becomes the most recent.
func TestMaxLoadedUnloadsTheLeastRecentlyIdle(t *testing.T) {
	const max = 5
	h := startHost(t, host.Config{UnloadAfter: time.Hour, MaxLoaded: max})
	ids := make([]uuid.UUID, 12)
	for i := range ids {
		ids[i] = createExpense(t, h, 10)
	}
	loaded := func(want ...uuid.UUID) func() bool {
		return func() bool {
			if h.Loaded() != len(want) {
				return false
			}
			for _, id := range want {
				if !h.IsLoaded(id) {
					return false
				}
			}
			return true
		}
	}
	eventually(t, "the 5 most recently idle are the loaded ones", loaded(ids[7:]...))

	// ids[0] works again (Suspend unloads it at once; Unsuspend loads it and it goes idle):
	// now ids[7] is the least recently idle, and makes way.
	mustManage(t, h, "Suspend", ids[0], "budget test")
	mustManage(t, h, "Unsuspend", ids[0], "")
	eventually(t, "ids[0] loaded in place of ids[7]", loaded(ids[0], ids[8], ids[9], ids[10], ids[11]))
}

// MaxLoaded < 0 is no limit: idle instances stay loaded until UnloadAfter.
func TestNoMaxLoaded(t *testing.T) {
	h := startHost(t, host.Config{UnloadAfter: time.Hour, MaxLoaded: -1})
	for range 20 {
		createExpense(t, h, 10)
	}
	if n := h.Loaded(); n != 20 {
		t.Fatalf("%d instances loaded, want all 20", n)
	}
}
