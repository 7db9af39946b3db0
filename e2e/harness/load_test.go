package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// crashMix is the crash and SIGTERM harnesses' operation mix: mostly operations that keep an
// instance alive (so that many instances live across kills), every MS-WFIM operation plain and
// Transacted, hosting ResumeBookmark, and reads.
var crashMix = weighted{
	{"Suspend", 36}, {"TransactedSuspend", 12},
	{"Unsuspend", 30}, {"TransactedUnsuspend", 12},
	{"Run", 24}, {"TransactedRun", 9},
	{"Abandon", 15},
	{"Update", 6}, {"TransactedUpdate", 3},
	{"Cancel", 1}, {"TransactedCancel", 1},
	{"Terminate", 1}, {"TransactedTerminate", 1},
	{"ResumeBookmark", 42},
	{"Get", 48},
}

// target chooses the instance of each request and learns from outcomes.
type target interface {
	pick(rng *rand.Rand) uuid.UUID // uuid.Nil: create an instance and report it to created
	observe(c *clients, a action, o outcome)
	created(id uuid.UUID, o outcome)
}

// stats counts what the clients saw.
type stats struct {
	mu         sync.Mutex
	acked      int // success replies to changing requests
	faults     int // state-table faults (InstanceSuspended ...)
	reads      int // answered reads
	unknown    int // changing requests without a reply
	notSent    int // refused connections: never reached a server
	receiver   int // Receiver faults without subcode (not committed)
	internal   int // InternalServiceFault
	lostReads  int // reads without a reply
	faultsBy   map[string]int
	latencies  []time.Duration
	unexpected []string // transport errors and Receiver/internal faults, for messages
}

func newStats() *stats { return &stats{faultsBy: map[string]int{}} }

func (s *stats) count(a action, o outcome, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Contains(o.Detail, "database is locked") || strings.Contains(o.Detail, "SQLITE_BUSY") {
		s.unexpected = append(s.unexpected, fmt.Sprintf("%s on %s: %s: %s", a, a.ID, o, o.Detail))
	}
	switch {
	case o.Unknown:
		s.unknown++
		s.unexpected = append(s.unexpected, fmt.Sprintf("%s on %s: no reply after %v: %s", a, a.ID, d.Round(time.Millisecond), o.Detail))
		return
	case o.Fault == "Receiver":
		s.receiver++
		s.unexpected = append(s.unexpected, fmt.Sprintf("%s on %s: Receiver fault after %v: %s", a, a.ID, d.Round(time.Millisecond), o.Detail))
	case o.Fault == "InternalServiceFault":
		s.internal++
		s.unexpected = append(s.unexpected, fmt.Sprintf("%s on %s: InternalServiceFault after %v: %s", a, a.ID, d.Round(time.Millisecond), o.Detail))
	case o.Fault != "":
		s.faults++
		s.faultsBy[o.Fault]++
	case a.Op == "Get":
		s.reads++
	default:
		s.acked++
	}
	s.latencies = append(s.latencies, d)
}

// percentile of the recorded latencies (p in [0,100]).
func (s *stats) percentile(p float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.latencies)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(p / 100 * float64(len(l)-1))
	return l[i]
}

// load runs clients against a target, recording every request.
type load struct {
	rec     *recorder
	led     *ledger
	st      *stats
	mix     weighted
	tgt     target
	timeout time.Duration // per request
}

// do sends one request as client, records it and returns its outcome; transport is the error
// when no reply came (then the request is recorded as unknown, unless it was never sent).
func (l *load) do(c *clients, client int, a action) (o outcome, transport error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	call := l.rec.now()
	start := time.Now()
	o, transport = c.exec(ctx, a)
	ret, d := l.rec.now(), time.Since(start)
	if transport != nil {
		if notSent(transport) {
			l.st.mu.Lock()
			l.st.notSent++
			l.st.mu.Unlock()
			return o, transport
		}
		if a.Op == "Get" { // a read without a reply changed nothing
			l.st.mu.Lock()
			l.st.lostReads++
			l.st.mu.Unlock()
			return o, transport
		}
		ret = -1 // settled later: the moment the server was gone
	}
	l.rec.add(client, a, o, call, ret)
	l.led.note(a, o)
	l.st.count(a, o, d)
	return o, transport
}

// worker sends requests until stop is closed or a request gets no reply (the server is gone).
func (l *load) worker(w int, c *clients, rng *rand.Rand, tag string, stop <-chan struct{}) {
	defer c.close()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		id := l.tgt.pick(rng)
		if id == uuid.Nil {
			// The target wants a new instance (it ran short of live ones).
			id, o, err := l.create(c, w, 500+rng.IntN(2)*1000)
			l.tgt.created(id, o)
			if err != nil {
				return
			}
			continue
		}
		a := newAction(rng, l.mix.pick(rng), id, fmt.Sprintf("%s-w%d-%d", tag, w, n))
		o, err := l.do(c, w, a)
		if err != nil {
			return
		}
		l.tgt.observe(c, a, o)
	}
}

// create creates an instance with a client-chosen id (CreateWithInstanceId), recorded in the
// history; the caller decides what a failure means.
func (l *load) create(c *clients, client, amount int) (uuid.UUID, outcome, error) {
	a := action{Op: "Create", ID: uuid.New(), Amount: amount}
	o, err := l.do(c, client, a)
	return a.ID, o, err
}

// completedBy reports whether an outcome shows its instance completed.
func completedBy(a action, o outcome) bool {
	switch {
	case o.Unknown:
		return false
	case o.Fault == "InstanceCompleted" || o.Fault == "InstanceTerminated" || o.Fault == "InstanceNotFound":
		return true
	case a.Op == "Get":
		return o.Fault == "" && o.View.State == "Completed"
	case o.Fault == "":
		k := a.kind()
		return k == "Cancel" || k == "Terminate" || a.Review == "deny"
	}
	return false
}

// pool is the crash and SIGTERM harnesses' target: a set of instances, mostly the ones not
// known to be completed. When fewer than min are live, clients create more.
type pool struct {
	min int

	mu       sync.Mutex
	ids      []uuid.UUID
	done     map[uuid.UUID]bool
	creating int
}

func newPool(min int) *pool { return &pool{min: min, done: map[uuid.UUID]bool{}} }

func (p *pool) pick(rng *rand.Rand) uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.liveLocked()
	if len(live)+p.creating < p.min {
		p.creating++
		return uuid.Nil
	}
	if len(live) > 0 && rng.IntN(20) != 0 {
		return live[rng.IntN(len(live))]
	}
	return p.ids[rng.IntN(len(p.ids))]
}

// liveLocked returns the instances not known to be completed; p.mu is held.
func (p *pool) liveLocked() []uuid.UUID {
	var live []uuid.UUID
	for _, id := range p.ids {
		if !p.done[id] {
			live = append(live, id)
		}
	}
	return live
}

func (p *pool) observe(_ *clients, a action, o outcome) {
	if completedBy(a, o) {
		p.mu.Lock()
		p.done[a.ID] = true
		p.mu.Unlock()
	}
}

// created adds an instance a client created (or may have: an unknown outcome).
func (p *pool) created(id uuid.UUID, o outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creating--
	if o.Fault == "" {
		p.ids = append(p.ids, id)
	}
}

func (p *pool) add(id uuid.UUID) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
}

func (p *pool) all() []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ids)
}

func (p *pool) live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.liveLocked())
}
