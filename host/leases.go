package host

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// healthFresh is how long a renewal's outcome answers Health without writing again.
const healthFresh = time.Second

// healthState is the outcome of the last renewal of the owner registration.
type healthState struct {
	mu      sync.Mutex
	checked time.Time // when the last renewal finished
	ok      time.Time // when the last renewal succeeded
	err     error     // the last renewal's error
}

func (hs *healthState) set(at time.Time, err error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.checked, hs.err = at, err
	if err == nil {
		hs.ok = at
	}
}

func (hs *healthState) get() (checked, ok time.Time, err error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.checked, hs.ok, hs.err
}

// leaseLoop renews the owner registration every third of the lease.
func (h *Host) leaseLoop() {
	t := time.NewTicker(h.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.renewMu.Lock()
		err := h.renew(h.ctx)
		h.renewMu.Unlock()
		if err != nil && h.ctx.Err() == nil {
			h.log.Error("renewing the owner registration failed", "owner", h.ownerID(), "err", err)
		}
	}
}

// renew renews the owner registration (a real write to the store) and records the outcome.
// A lapsed registration means other owners may take this host's instances: it drops every
// loaded instance and registers anew. A renewal that keeps failing for a whole lease does
// the same dropping, since the leases may lapse at any moment. The caller holds renewMu.
func (h *Host) renew(ctx context.Context) error {
	err := h.store.Renew(ctx, h.ownerID(), h.cfg.Lease)
	now := time.Now()
	if errors.Is(err, store.ErrLeaseLost) {
		h.log.Error("the owner registration lapsed: dropping the loaded instances and registering anew", "owner", h.ownerID())
		h.relinquish()
		if rerr := h.register(ctx); rerr != nil {
			h.health.set(now, rerr)
			return rerr
		}
		return nil
	}
	h.health.set(now, err)
	if err != nil {
		h.storeErrors.inc(storeErrorKind(err))
		if _, ok, _ := h.health.get(); now.Sub(ok) >= h.cfg.Lease {
			h.relinquish()
		}
	}
	return err
}

// relinquish drops every loaded instance (and anything staged on it): the host may no longer
// hold their leases. Each goes on from its last persisted point wherever it is taken up next.
func (h *Host) relinquish() {
	h.mu.Lock()
	ids := make([]uuid.UUID, 0, len(h.slots))
	for id := range h.slots {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		s := h.acquire(id)
		h.discard(s)
		h.release(s)
	}
}

// Health reports whether the host can make changes durable now: it renews the owner
// registration, a real write, unless a renewal finished within the last second (whose
// outcome it then reports). nil means healthy.
func (h *Host) Health(ctx context.Context) error {
	h.renewMu.Lock()
	defer h.renewMu.Unlock()
	if checked, _, err := h.health.get(); time.Since(checked) < healthFresh {
		return err
	}
	return h.renew(context.WithoutCancel(ctx))
}
