package harness

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// contentionMix: conflicting operations on the same few instances.
var contentionMix = weighted{
	{"Suspend", 42}, {"TransactedSuspend", 12},
	{"Unsuspend", 42}, {"TransactedUnsuspend", 12},
	{"Run", 30}, {"TransactedRun", 12},
	{"Abandon", 12},
	{"Cancel", 1}, {"TransactedCancel", 1},
	{"Terminate", 1}, {"TransactedTerminate", 1},
	{"ResumeBookmark", 54},
	{"Get", 42},
}

// slots is the contention test's target: a few instances every client hammers. When one
// completes, the first client to notice replaces it with a new instance in its slot.
type slots struct {
	mu       sync.Mutex
	cur      []uuid.UUID
	all      []uuid.UUID
	slotOf   map[uuid.UUID]int
	creating map[int]bool // slots being replaced
	want     []int        // slots to replace, handed out by pick as uuid.Nil
	handed   []int        // slots whose replacement a client is creating (in pick order)
	failed   []string
}

func (s *slots) pick(rng *rand.Rand) uuid.UUID {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.want) > 0 {
		s.handed = append(s.handed, s.want[0])
		s.want = s.want[1:]
		return uuid.Nil
	}
	return s.cur[rng.IntN(len(s.cur))]
}

func (s *slots) observe(_ *clients, a action, o outcome) {
	if !completedBy(a, o) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.slotOf[a.ID]
	if s.cur[i] == a.ID && !s.creating[i] {
		s.creating[i] = true
		s.want = append(s.want, i)
	}
}

// created is called once for each creation pick asked for. Two replacements in flight may
// finish in the other order and swap slots, which does not matter.
func (s *slots) created(id uuid.UUID, o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.handed[0]
	s.handed = s.handed[1:]
	if o.Fault != "" || o.Unknown {
		s.failed = append(s.failed, fmt.Sprintf("creating an instance under contention: %v (%s)", o, o.Detail))
		s.creating[i] = false // someone will notice again
		return
	}
	s.cur[i] = id
	s.all = append(s.all, id)
	s.slotOf[id] = i
	s.creating[i] = false
}

// 64 clients hammer 4 instances with conflicting Suspend, Unsuspend, Run, Cancel, Terminate,
// Abandon and ResumeBookmark (a completed instance is replaced by a fresh one in its slot).
// Every history is linearizable; no client ever gets a Receiver fault (e.g. "database is
// locked") or an InternalServiceFault, or waits without a reply (no deadlock: the run ends in
// bounded time); each acknowledged operation wrote exactly one tracking record naming it.
func TestContention(t *testing.T) {
	sz := harnessSizes()
	rng := seed(t)
	s := startServer(t, "", nil)
	rec, led, st := newRecorder(), newLedger(), newStats()
	sl := &slots{slotOf: map[uuid.UUID]int{}, creating: map[int]bool{}}
	l := &load{rec: rec, led: led, st: st, mix: contentionMix, tgt: sl, timeout: 60 * time.Second}
	c := s.clients(60 * time.Second)
	for i := 0; i < sz.contentionInstances; i++ {
		id, o, err := l.create(c, checker, 1500)
		if err != nil || o.Fault != "" {
			t.Fatalf("creating an instance: %v %v", o, err)
		}
		sl.cur, sl.all = append(sl.cur, id), append(sl.all, id)
		sl.slotOf[id] = i
	}
	// Latencies under contention: only the hammering, not the set-up.
	st.mu.Lock()
	st.latencies = nil
	st.mu.Unlock()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < sz.contentionClients; w++ {
		wc, wr := s.clients(60*time.Second), rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Go(func() { l.worker(w, wc, wr, "k", stop) })
	}
	time.Sleep(sz.contentionFor)
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Each request is bounded by its client's 60 s timeout, so this is a bound on a deadlock.
	bound := 90 * time.Second
	select {
	case <-done:
	case <-time.After(bound):
		t.Fatalf("clients still waiting for replies %v after the load stopped: a deadlock?", bound)
	}
	elapsed := time.Since(start)
	rec.settle(rec.now())

	st.mu.Lock()
	for i, u := range st.unexpected {
		if i == 20 {
			t.Errorf("... and %d more", len(st.unexpected)-20)
			break
		}
		t.Errorf("under contention: %s", u)
	}
	for _, f := range sl.failed {
		t.Error(f)
	}
	if st.acked == 0 {
		t.Errorf("no operation was acknowledged under contention")
	}
	st.mu.Unlock()
	for _, u := range st.unexpected {
		if strings.Contains(u, "database is locked") {
			t.Errorf("a client saw \"database is locked\"")
			break
		}
	}

	c = s.clients(60 * time.Second)
	defer c.close()
	sl.mu.Lock()
	ids := append([]uuid.UUID(nil), sl.all...)
	sl.mu.Unlock()
	for _, id := range ids {
		if _, err := l.do(c, checker, action{Op: "Get", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	recs := fetchRecords(t, c, ids)
	verified := checkRecords(t, led, recs, "after the contention")
	cs := checkLinearizable(t, rec, "after the contention", recs)
	st.mu.Lock()
	n := len(st.latencies)
	acked, faults, reads, byFault := st.acked, st.faults, st.reads, st.faultsBy
	st.mu.Unlock()
	p50, p99 := st.percentile(50), st.percentile(99)
	verdict := "histories linearizable"
	if cs.undecided > 0 {
		verdict = fmt.Sprintf("histories linearizable (%d of them undecided: porcupine timed out without finding a violation)", cs.undecided)
	}
	if t.Failed() {
		verdict = "FAILED"
	}
	t.Logf("contention: %d clients on %d instances at a time (%d instances in all) for %v: %d acknowledged, %d state-table faults %v, %d reads; %d acknowledged operations' records verified; max latency %v",
		sz.contentionClients, sz.contentionInstances, len(ids), elapsed.Round(time.Millisecond), acked, faults, byFault, reads, verified, st.percentile(100))
	t.Logf("linearizability: %d histories of %d operations: %d linearizable with their changes in the server's commit order, %d in another order, %d undecided; %d refusals and reads folded into constraints; slowest check %v (%d operations)",
		cs.histories, cs.operations, cs.inOrder, cs.otherOrder, cs.undecided, cs.folded, cs.longest.Round(time.Millisecond), cs.longestSize)
	t.Logf("SUMMARY harness contention: %d ops, p50 %.1f ms, p99 %.1f ms, %s (%d clients, %d histories, %d records verified, %.0f ops/s)",
		n, float64(p50)/1e6, float64(p99)/1e6, verdict, sz.contentionClients, cs.histories, verified, float64(n)/elapsed.Seconds())
}
