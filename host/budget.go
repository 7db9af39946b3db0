package host

import (
	"container/list"
	"sync"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
)

// DefaultMaxLoaded is Config.MaxLoaded's default. A loaded idle instance costs about 10 KB of
// heap (its runtime, row and image), so the default bounds idle instances to about 100 MB
// however fast they arrive (BENCHMARKS.md).
const DefaultMaxLoaded = 10000

// idleSet orders the loaded idle instances by when they last became idle, least recently
// first: a host over its MaxLoaded budget unloads those first. Its lock is a leaf: nothing
// else is locked while it is held.
type idleSet struct {
	mu       sync.Mutex
	order    list.List // of idleEntry, least recently idle at the front
	at       map[uuid.UUID]*list.Element
	evicting int // budget unloads started and not yet done
}

type idleEntry struct {
	id  uuid.UUID
	gen uint64 // the slot's idleGen when it became idle: a later activity makes the entry stale
}

// touch records that id has just become idle (as of gen).
func (q *idleSet) touch(id uuid.UUID, gen uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.at == nil {
		q.at = map[uuid.UUID]*list.Element{}
	}
	if e, ok := q.at[id]; ok {
		e.Value = idleEntry{id, gen}
		q.order.MoveToBack(e)
		return
	}
	q.at[id] = q.order.PushBack(idleEntry{id, gen})
}

// remove forgets id: it is executing again, or no longer loaded.
func (q *idleSet) remove(id uuid.UUID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.at[id]; ok {
		q.order.Remove(e)
		delete(q.at, id)
	}
}

// take removes and returns the least recently idle entries to unload so that excess loaded
// instances above the budget are being unloaded, counting the unloads already under way.
func (q *idleSet) take(excess int) []idleEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []idleEntry
	for excess-q.evicting > 0 && q.order.Len() > 0 {
		e := q.order.Front()
		entry := q.order.Remove(e).(idleEntry)
		delete(q.at, entry.id)
		q.evicting++
		out = append(out, entry)
	}
	return out
}

func (q *idleSet) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.evicting--
}

// idleLoaded is called when a loaded instance settles idle: it joins the idle set, and if the
// host holds more than MaxLoaded instances the least recently idle ones are unloaded in the
// background (each still idle and as it was when it joined, or left alone).
func (h *Host) idleLoaded(s *slot) {
	h.idle.touch(s.id, s.idleGen)
	excess := int(h.loaded.Load()) - h.cfg.MaxLoaded
	if excess <= 0 {
		return
	}
	for _, e := range h.idle.take(excess) {
		if !h.goBackground(func() {
			defer h.idle.done()
			t := h.acquire(e.id)
			defer h.release(t)
			if t.idleGen == e.gen && t.wf != nil && !t.driving && t.wf.Status() == engine.StatusIdle {
				if err := h.unload(h.ctx, t); err != nil && h.ctx.Err() == nil { // not when closing
					h.log.Error("unloading an idle instance over the memory budget failed", "id", e.id, "err", err)
				}
			}
		}) {
			h.idle.done() // closing
		}
	}
}
