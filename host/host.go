// Package host runs workflow instances over a store: it loads them on demand, runs them,
// persists them on idle and on every management operation, unloads idle ones, fires durable
// timers, recovers interrupted executions, and applies management commands under each
// instance's lock. It owns its commands and errors; the SOAP contracts (packages protocol and
// hosting) translate them. Every write is fenced by the lease the host's owner registration
// holds on the instance (store.Change.By).
package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Policy is what happens to an instance whose exception reaches the root unhandled.
type Policy string

const (
	AbandonAndSuspend Policy = "AbandonAndSuspend" // back to the last persisted point, suspended, exception recorded
	TerminatePolicy   Policy = "Terminate"         // completes Faulted
	CancelPolicy      Policy = "Cancel"            // cancellation runs
	AbandonPolicy     Policy = "Abandon"           // back to the last persisted point, as it was, retried with back-off
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
	// MaxLoaded is how many instances the host keeps in memory at most: past it, the least
	// recently idle are unloaded before their UnloadAfter (executing ones are never unloaded
	// for it). Default DefaultMaxLoaded; < 0: no limit.
	MaxLoaded int
	Policy    Policy // default AbandonAndSuspend
	// Slice is how many work items run between chances for management operations to get in
	// (Suspend stops an instance "at the next work-item boundary"); default 64.
	Slice int
	// InlineBudget is how many work items a request runs before it replies and execution
	// goes on in the background; default 10000.
	InlineBudget int
	// MaxWorkItems is how many work items an instance may run without becoming idle before
	// the host suspends it (exception WorkItemLimitExceeded); a definition's MaxWorkItems
	// attribute overrides it. Default 100000.
	MaxWorkItems int
	// Tracking is the tracking profile of definitions that set none (their Tracking attribute
	// overrides it); nil: every record (workflow.TrackAll).
	Tracking *workflow.TrackingProfile
	// Node names this host for people (logs, the owner registration); default the host name.
	Node string
	// Info describes this process in its owner registration (default "pid N").
	Info string
	// Advertise is the base URL other nodes sharing the store reach this one at: they forward
	// it the operations on instances it holds (README, "Running several nodes"). "" for none.
	Advertise string
	// Lease is how long the owner registration, and so every instance lease, lasts without a
	// renewal; it is renewed every third of it. Default 10s.
	Lease time.Duration
	// RecoveryInterval is how often the host looks for runnable instances nobody executes
	// (interrupted executions, failed background commits, a dead node's); default a third
	// of Lease, so a dead node's executions are taken over within Lease and a third.
	RecoveryInterval time.Duration
	// Observer is told of the events metrics count (host/metrics.go); the zero value: nobody.
	Observer Observer
	// TimerConcurrency is how many due instances the timer loop fires at once, so that timers
	// falling due together share the store's batched commits; default DefaultTimerConcurrency.
	TimerConcurrency int

	// Bulk is the management contract bulk jobs apply their operations through (the MS-WFIM
	// state table); nil: StartBulk is refused.
	Bulk BulkContract
	// PurgeCompleted: completed instances are purged in the background once they have been
	// completed for CompletedRetention (0: as soon as they complete). Otherwise they are kept.
	PurgeCompleted     bool
	CompletedRetention time.Duration
	// TrackingRetention: tracking records of live (not Completed) instances older than this
	// are deleted in the background; 0 keeps them.
	TrackingRetention time.Duration

	// Calls performs the attempts of asynchronous activities, by activity type name
	// (host/effects.go). HttpRequest's is HTTPCaller(HTTP) unless Calls names one; every other
	// asynchronous type the definitions may use needs one, or New fails.
	Calls map[string]CallFunc
	// HTTP configures the built-in HttpRequest (its allow-list: --http-allow).
	HTTP HTTPOptions
	// MaxCalls is how many calls run at once; more wait for a turn. Default DefaultMaxCalls.
	MaxCalls int

	// afterFunc schedules idle unloads (tests replace it); default time.AfterFunc.
	afterFunc func(time.Duration, func())
}

// Host runs workflow instances. It is safe for concurrent use.
type Host struct {
	cfg      Config
	tracking workflow.TrackingProfile // cfg.Tracking, or TrackAll
	store    store.Store
	defs     *engine.Registry
	log      *slog.Logger

	mu     sync.Mutex
	slots  map[uuid.UUID]*slot
	loaded atomic.Int64 // slots with a live runtime
	idle   idleSet      // the loaded idle ones, least recently idle first (MaxLoaded)
	// activities numbers every activity of every slot (slot.idleGen), so that a pending unload
	// names the activity it follows by id and number alone, holding no slot, row or image.
	activities atomic.Uint64

	owner       atomic.Pointer[string] // the current owner registration id
	renewMu     sync.Mutex             // one renewal at a time
	health      healthState
	retries     retries
	storeErrors counters // failures behind ErrUnavailable, by kind
	cluster     clusterCounters
	peers       atomic.Pointer[Peers] // how Do reaches other nodes (SetPeers)
	secret      secretCache
	completions completions // callers waiting in Await

	wake chan struct{} // nudges the timer loop when a timer may be earlier than it thinks
	// sleepUntil is when the sleeping timer loop wakes by itself (unix ns; 0: it is awake and
	// will read the next timer): a commit nudges it only for a timer before that.
	sleepUntil atomic.Int64
	recover    chan struct{} // nudges the recovery loop after a failed background commit

	ctx     context.Context
	cancel  context.CancelFunc
	bgMu    sync.Mutex // guards closing and wg.Add
	closing bool
	wg      sync.WaitGroup

	timerTurns atomic.Int64 // times the timer loop went to sleep (tests observe it)

	jobs      runningJobs
	bulkItems counters      // instances handled by bulk jobs, by outcome
	purged    atomic.Int64  // instances purged since start
	retain    chan struct{} // nudges the retention loop when an instance completes

	flights   inflight      // calls being performed (host/effects.go)
	callSlots chan struct{} // one token per call running (Config.MaxCalls)
}

// slot is one instance's lock and in-memory state. It exists while someone holds a
// reference or the instance is loaded; an unloaded, unreferenced instance costs no memory.
type slot struct {
	id   uuid.UUID
	mu   sync.Mutex // the instance lock: operations and execution slices take turns
	refs int        // guarded by Host.mu

	rec     *store.Instance   // the last persisted row, or for a fresh instance its first (nil: not read yet)
	fresh   bool              // rec is not in the store yet: the first commit inserts it
	staged  bool              // rec was changed by an operation since the last commit
	pending []workflow.Record // tracking records of staged changes, committed with the next save
	wf      *engine.Instance  // the live runtime, nil when unloaded; set through setLive
	dirty   bool              // wf has executed since the last commit
	driving bool              // a background goroutine is executing wf
	idleGen uint64            // Host.activities at the slot's latest activity: a stale unload timer does nothing
	work    int               // work items since the instance last went idle or was loaded
	saved   time.Time         // when the slot last committed (bounded-interval persists)
}

// New creates a Host; call Start to register its owner, recover instances and start the loops.
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
	if cfg.MaxWorkItems <= 0 {
		cfg.MaxWorkItems = 100000
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	if cfg.Info == "" {
		cfg.Info = fmt.Sprintf("pid %d", os.Getpid())
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	switch {
	case cfg.MaxLoaded == 0:
		cfg.MaxLoaded = DefaultMaxLoaded
	case cfg.MaxLoaded < 0:
		cfg.MaxLoaded = math.MaxInt
	}
	if cfg.TimerConcurrency <= 0 {
		cfg.TimerConcurrency = DefaultTimerConcurrency
	}
	if cfg.RecoveryInterval <= 0 {
		cfg.RecoveryInterval = cfg.Lease / 3
	}
	if cfg.afterFunc == nil {
		cfg.afterFunc = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	calls := map[string]CallFunc{}
	for k, f := range cfg.Calls {
		calls[k] = f
	}
	if calls[engine.HttpRequest.Name] == nil {
		if cfg.HTTP.Logger == nil {
			cfg.HTTP.Logger = cfg.Logger
		}
		calls[engine.HttpRequest.Name] = HTTPCaller(cfg.HTTP)
	}
	cfg.Calls = calls
	if err := checkCalls(cfg.Definitions, cfg.Calls); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	tracking := workflow.TrackAll
	if cfg.Tracking != nil {
		tracking = *cfg.Tracking
	}
	return &Host{cfg: cfg, tracking: tracking, store: cfg.Store, defs: cfg.Definitions, log: cfg.Logger,
		slots: map[uuid.UUID]*slot{}, wake: make(chan struct{}, 1), recover: make(chan struct{}, 1), retain: make(chan struct{}, 1),
		callSlots: make(chan struct{}, cfg.MaxCalls), ctx: ctx, cancel: cancel}, nil
}

// Start registers the host as a lease owner and starts the lease, timer and recovery loops;
// recovery runs at once (instances that were executing when a process stopped run again).
// It logs the definitions loaded and warns about stored instances whose definition is not
// registered.
func (h *Host) Start(ctx context.Context) error {
	if err := h.register(ctx); err != nil {
		return fmt.Errorf("host: registering as a lease owner: %w", err)
	}
	h.reportDefinitions(ctx)
	loops := []func(){h.leaseLoop, h.timerLoop, h.recoveryLoop}
	if h.cfg.PurgeCompleted || h.cfg.TrackingRetention > 0 {
		loops = append(loops, h.retentionLoop)
	}
	for _, loop := range loops {
		if !h.goBackground(loop) {
			return errors.New("host: closed")
		}
	}
	nudge(h.recover) // startup recovery
	h.goBackground(func() {
		if err := h.sweepChildren(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Error("looking for children no parent waits for failed", "err", err)
		}
	})
	if err := h.resumeJobs(ctx); err != nil {
		return fmt.Errorf("host: resuming bulk jobs: %w", err)
	}
	return nil
}

// Close stops the loops and background execution (each stops at a work-item boundary;
// whatever was not persisted is redone by recovery at the next start), waits for every
// background job, and ends the owner registration, releasing its leases.
func (h *Host) Close() error {
	h.bgMu.Lock()
	h.closing = true
	h.bgMu.Unlock()
	h.cancel()
	h.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.store.Unregister(ctx, h.ownerID()); err != nil && !errors.Is(err, store.ErrClosed) {
		return fmt.Errorf("host: ending the owner registration: %w", err)
	}
	return nil
}

// goBackground runs fn in a goroutine that Close waits for; false once Close has begun.
func (h *Host) goBackground(fn func()) bool {
	if !h.enter() {
		return false
	}
	go func() {
		defer h.wg.Done()
		fn()
	}()
	return true
}

// enter counts a background job in; false (and nothing counted) once Close has begun.
func (h *Host) enter() bool {
	h.bgMu.Lock()
	defer h.bgMu.Unlock()
	if h.closing {
		return false
	}
	h.wg.Add(1)
	return true
}

// register makes a new owner registration for this process.
func (h *Host) register(ctx context.Context) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := h.cfg.Node + "/" + hex.EncodeToString(b[:])
	o := store.Owner{ID: id, Node: h.cfg.Node, Info: h.cfg.Info, Advertise: h.cfg.Advertise}
	began := time.Now()
	if err := h.store.Register(ctx, o, h.cfg.Lease); err != nil {
		return err
	}
	h.owner.Store(&id)
	h.health.set(began, nil)
	return nil
}

func (h *Host) ownerID() string {
	if p := h.owner.Load(); p != nil {
		return *p
	}
	return ""
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

// release drops the lock; an unreferenced slot with nothing loaded is forgotten. Whether to
// forget is decided and the reference dropped in one step, under both locks: a caller that
// takes the slot meanwhile cannot lose its work to a stale decision.
func (h *Host) release(s *slot) {
	h.mu.Lock()
	s.refs--
	if s.refs == 0 && s.wf == nil && !s.driving && h.slots[s.id] == s {
		delete(h.slots, s.id)
	}
	h.mu.Unlock()
	s.mu.Unlock()
	if testHookReleased != nil {
		testHookReleased(s)
	}
}

// testHookReleased, when set by a test, runs after every release.
var testHookReleased func(*slot)

// setLive sets or clears the slot's live runtime, keeping the loaded count.
func (h *Host) setLive(s *slot, wf *engine.Instance) {
	switch {
	case s.wf == nil && wf != nil:
		h.loaded.Add(1)
	case s.wf != nil && wf == nil:
		h.loaded.Add(-1)
		h.idle.remove(s.id)
	}
	s.wf = wf
	if wf != nil {
		wf.SetInvoker(invoker{h})
	}
}

// Loaded reports how many instances are in memory (for tests and metrics).
func (h *Host) Loaded() int { return int(h.loaded.Load()) }

// background runs fn on the instance in its own goroutine, under the instance lock.
func (h *Host) background(id uuid.UUID, fn func(*slot) error) {
	h.goBackground(func() {
		s := h.acquire(id)
		defer h.release(s)
		if err := fn(s); err != nil && !errors.Is(err, context.Canceled) {
			h.log.Error("background execution failed", "id", id, "err", err)
		}
	})
}

func (h *Host) now() time.Time { return h.cfg.Clock().UTC() }

func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
