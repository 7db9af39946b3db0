// Package host wires the engine, the store and the protocol together: it loads instances on
// demand, runs them, persists them on idle and on every management operation, unloads idle
// ones, fires durable timers, recovers interrupted instances at start-up and applies the
// MS-WFIM state table's decisions to live or persisted instances.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
)

// Policy is what happens to an instance whose exception reaches the root (DESIGN §4).
type Policy string

const (
	AbandonAndSuspend Policy = "AbandonAndSuspend" // back to the last persisted point, suspended, exception recorded
	TerminatePolicy   Policy = "Terminate"         // completes Faulted
	CancelPolicy      Policy = "Cancel"            // cancellation runs
	AbandonPolicy     Policy = "Abandon"           // back to the last persisted point, as it was
)

// ParsePolicy validates a policy name.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range []Policy{AbandonAndSuspend, TerminatePolicy, CancelPolicy, AbandonPolicy} {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown unhandled-exception policy %q (AbandonAndSuspend, Terminate, Cancel or Abandon)", s)
}

// Config configures a Host. Store and Definitions are required.
type Config struct {
	Store       store.Store
	Definitions *engine.Registry
	Clock       func() time.Time // default time.Now
	Logger      *slog.Logger
	UnloadAfter time.Duration // idle time before an instance leaves memory; default 1m; <0: at once
	Policy      Policy        // default AbandonAndSuspend
	// Slice is how many work items run between chances for management operations to get in
	// (Suspend stops an instance "at the next work-item boundary"); default 64.
	Slice int
	// InlineBudget is how many work items a request runs before it replies and execution
	// goes on in the background; default 10000.
	InlineBudget int
}

// Host runs workflow instances. It is safe for concurrent use.
type Host struct {
	cfg   Config
	store store.Store
	defs  *engine.Registry
	log   *slog.Logger

	mu    sync.Mutex
	slots map[uuid.UUID]*slot

	wake   chan struct{} // nudges the timer loop when a timer may be earlier than it thinks
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// slot is one instance's lock and in-memory state. It exists while someone holds a
// reference or the instance is loaded; an unloaded, unreferenced instance costs no memory.
type slot struct {
	id   uuid.UUID
	mu   sync.Mutex // the instance lock: operations and execution slices take turns
	refs int        // guarded by Host.mu

	rec     *store.Instance  // the last persisted row (nil: not read yet)
	wf      *engine.Instance // the live runtime, nil when unloaded
	dirty   bool             // wf has executed, or rec was staged, since the last commit
	pending []store.Record   // tracking records of staged changes, committed with the next save
	driving bool             // a background goroutine is executing wf
	idleGen int              // bumped on every activity, so a stale unload timer does nothing
}

// New creates a Host; call Start to recover instances and start the timer loop.
func New(cfg Config) (*Host, error) {
	if cfg.Store == nil || cfg.Definitions == nil {
		return nil, errors.New("host: Store and Definitions are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UnloadAfter == 0 {
		cfg.UnloadAfter = time.Minute
	}
	if cfg.Policy == "" {
		cfg.Policy = AbandonAndSuspend
	}
	if cfg.Slice <= 0 {
		cfg.Slice = 64
	}
	if cfg.InlineBudget <= 0 {
		cfg.InlineBudget = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Host{cfg: cfg, store: cfg.Store, defs: cfg.Definitions, log: cfg.Logger,
		slots: map[uuid.UUID]*slot{}, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}, nil
}

// Start runs startup recovery (instances that were executing when the process stopped run
// again) and starts the durable-timer loop.
func (h *Host) Start(ctx context.Context) error {
	ids, err := h.store.Runnable(ctx)
	if err != nil {
		return fmt.Errorf("host: recovery: %w", err)
	}
	for _, id := range ids {
		h.log.Info("recovering instance", "id", id)
		h.background(id, func(s *slot) error { return h.run(h.ctx, s) })
	}
	h.wg.Add(1)
	go h.timerLoop()
	return nil
}

// Close stops the timer loop and background execution (each stops at a work-item
// boundary; whatever was not persisted is redone by recovery at the next start).
func (h *Host) Close() error {
	h.cancel()
	h.wg.Wait()
	return nil
}

// acquire takes the instance lock, creating the slot if needed.
func (h *Host) acquire(id uuid.UUID) *slot {
	h.mu.Lock()
	s := h.slots[id]
	if s == nil {
		s = &slot{id: id}
		h.slots[id] = s
	}
	s.refs++
	h.mu.Unlock()
	s.mu.Lock()
	return s
}

// release drops the lock; an unreferenced slot with nothing loaded is forgotten.
func (h *Host) release(s *slot) {
	forget := s.wf == nil && !s.driving
	s.mu.Unlock()
	h.mu.Lock()
	s.refs--
	if s.refs == 0 && forget && h.slots[s.id] == s {
		delete(h.slots, s.id)
	}
	h.mu.Unlock()
}

// Loaded reports how many instances are in memory (for tests and metrics).
func (h *Host) Loaded() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.slots {
		if s.wf != nil {
			n++
		}
	}
	return n
}

// background runs fn on the instance in its own goroutine, under the instance lock.
func (h *Host) background(id uuid.UUID, fn func(*slot) error) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		s := h.acquire(id)
		defer h.release(s)
		if err := fn(s); err != nil && !errors.Is(err, context.Canceled) {
			h.log.Error("background execution failed", "id", id, "err", err)
		}
	}()
}

func (h *Host) now() time.Time { return h.cfg.Clock().UTC() }

func (h *Host) nudgeTimers() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}
