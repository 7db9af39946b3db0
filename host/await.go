package host

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// MaxAwait bounds how long Await waits: well inside the server's one-minute write timeout,
// and short enough that a client's request timeout need not be raised for it.
const MaxAwait = 30 * time.Second

// awaitRecheck (a variable for tests) is how often Await reads the instance again while it
// waits, for completions it is not told of: those committed by another node sharing the store.
var awaitRecheck = time.Second

// completions wakes the callers waiting for instances to complete (Await).
type completions struct {
	mu      sync.Mutex
	waiting map[uuid.UUID]map[chan struct{}]struct{}
}

// watch returns a channel closed at the instance's next completion on this host, and a stop
// that forgets it.
func (c *completions) watch(id uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	c.mu.Lock()
	if c.waiting == nil {
		c.waiting = map[uuid.UUID]map[chan struct{}]struct{}{}
	}
	if c.waiting[id] == nil {
		c.waiting[id] = map[chan struct{}]struct{}{}
	}
	c.waiting[id][ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if set, ok := c.waiting[id]; ok {
			delete(set, ch)
			if len(set) == 0 {
				delete(c.waiting, id)
			}
		}
	}
}

// completed wakes every caller waiting for the instance.
func (c *completions) completed(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.waiting[id] {
		close(ch)
	}
	delete(c.waiting, id)
}

// Await reads the instance once it has completed, or after wait (at most MaxAwait) as it then
// is, whichever comes first: a client waiting for an outcome asks once instead of polling.
// ctx ending stops the wait with its error.
func (h *Host) Await(ctx context.Context, id uuid.UUID, wait time.Duration) (*Instance, error) {
	if err := h.Authorize(ctx, "GetInstance", Reader); err != nil {
		return nil, err
	}
	deadline := time.NewTimer(min(max(wait, 0), MaxAwait))
	defer deadline.Stop()
	for {
		// Watch before reading, so that a completion between the read and the wait wakes it.
		done, stop := h.completions.watch(id)
		in, err := h.get(ctx, id)
		if err != nil || in.State == workflow.Completed {
			stop()
			return in, err
		}
		select {
		case <-done:
		case <-time.After(awaitRecheck):
		case <-deadline.C:
			stop()
			return h.get(ctx, id)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
		stop()
	}
}
