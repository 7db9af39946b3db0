package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// clock is the settable clock the lease cases give the store: owners lapse when the test
// moves it, never by waiting.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(ms.UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

const ttl = 10 * time.Second

var leaseCases = []struct {
	name string
	f    func(t *testing.T, s store.Store, clk *clock)
}{
	{"LeaseRegistration", testRegistration},
	{"LeaseClaimAndFence", testClaimAndFence},
	{"LeaseExpiryAndTakeover", testExpiryAndTakeover},
	{"LeaseReleaseFences", testReleaseFences},
	{"LeaseUnregister", testUnregister},
	{"LeaseClaimRace", testClaimRace},
	{"LeaseDueTimersClaimedOnce", testDueClaimedOnce},
	{"LeaseNodeRegistry", testNodeRegistry},
}

func register(t *testing.T, s store.Store, id string) {
	t.Helper()
	if err := s.Register(bg, store.Owner{ID: id, Node: "node-" + id, Info: "pid 42"}, ttl); err != nil {
		t.Fatalf("Register %s: %v", id, err)
	}
}

// leasedBy inserts an instance held by owner (Insert with Hold).
func leasedBy(t *testing.T, s store.Store, owner string) *store.Instance {
	t.Helper()
	in := newInstance(workflow.Active)
	commit(t, s, store.Change{Op: store.Insert, Instance: in, By: owner, Hold: true})
	if in.Lease != (store.Lease{Owner: owner, Token: 1}) {
		t.Fatalf("Insert held by %s wrote back lease %+v, want {%s 1}", owner, in.Lease, owner)
	}
	return in
}

func testRegistration(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	wantErr(t, "second Register", s.Register(bg, store.Owner{ID: "a"}, ttl), store.ErrOwnerExists)
	owners, err := s.Owners(bg)
	if err != nil || len(owners) != 1 {
		t.Fatalf("Owners = %v, %v", owners, err)
	}
	if o := owners[0]; o.ID != "a" || o.Node != "node-a" || o.Info != "pid 42" || !sameTime(o.Expiry, clk.now().Add(ttl)) {
		t.Fatalf("Owners[0] = %+v, want a on node-a, pid 42, expiring at %v", o, clk.now().Add(ttl))
	}
	clk.advance(ttl - time.Second)
	if err := s.Renew(bg, "a", ttl); err != nil {
		t.Fatalf("Renew before expiry: %v", err)
	}
	clk.advance(ttl - time.Second) // 18 s after registering: alive only thanks to the renewal
	if owners, _ := s.Owners(bg); len(owners) != 1 {
		t.Fatalf("renewed owner missing from Owners: %v", owners)
	}
	clk.advance(2 * time.Second)
	wantErr(t, "Renew after expiry", s.Renew(bg, "a", ttl), store.ErrLeaseLost)
	wantErr(t, "Renew of an unknown owner", s.Renew(bg, "nobody", ttl), store.ErrLeaseLost)
	if owners, _ := s.Owners(bg); len(owners) != 0 {
		t.Fatalf("Owners lists a lapsed owner: %v", owners)
	}
	wantErr(t, "Register a lapsed id again", s.Register(bg, store.Owner{ID: "a"}, ttl), store.ErrOwnerExists)
}

func testClaimAndFence(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	register(t, s, "b")
	in := newInstance(workflow.Active)
	insert(t, s, in)
	if in.Lease != (store.Lease{}) {
		t.Fatalf("unowned insert wrote back lease %+v", in.Lease)
	}
	l, err := s.Claim(bg, in.ID, "a")
	if err != nil || l != (store.Lease{Owner: "a", Token: 1}) {
		t.Fatalf("Claim by a = %+v, %v; want {a 1}", l, err)
	}
	if l2, err := s.Claim(bg, in.ID, "a"); err != nil || l2 != l {
		t.Fatalf("second Claim by the holder = %+v, %v; want the same lease", l2, err)
	}
	_, err = s.Claim(bg, in.ID, "b")
	var le *store.LeaseError
	if !errors.Is(err, store.ErrLeased) || !errors.As(err, &le) || le.Holder.ID != "a" || le.Holder.Node != "node-a" {
		t.Fatalf("Claim by b of a's instance: %v, want a LeaseError naming a on node-a", err)
	}
	_, err = s.Claim(bg, uuid.New(), "a")
	wantErr(t, "Claim of an unknown instance", err, store.ErrNotFound)

	// Writes by anyone but the holder are refused and change nothing, records included.
	stale := get(t, s, in.ID)
	stale.SuspensionReason = "by b"
	rec := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Suspended"}}
	wantErr(t, "Update by b", s.Commit(bg, store.Change{Op: store.Update, Instance: stale, Records: rec, By: "b"}), store.ErrLeased)
	wantErr(t, "Update by a writer without leases", s.Commit(bg, store.Change{Op: store.Update, Instance: stale}), store.ErrLeased)
	wantErr(t, "Track by b", s.Commit(bg, store.Change{Op: store.Track, Instance: stale, Records: rec, By: "b"}), store.ErrLeased)
	wantErr(t, "Delete by b", s.Commit(bg, store.Change{Op: store.Delete, Instance: stale, By: "b"}), store.ErrLeased)
	if rec[0].Seq != 0 || stale.Version != 1 {
		t.Fatalf("refused writes wrote back Seq %d Version %d", rec[0].Seq, stale.Version)
	}
	if rs, _ := s.Records(bg, in.ID, 0); len(rs) != 0 {
		t.Fatalf("refused writes left records %v", rs)
	}

	// The holder writes under its lease and keeps it.
	mine := get(t, s, in.ID)
	if mine.Lease != l {
		t.Fatalf("Get shows lease %+v, want %+v", mine.Lease, l)
	}
	mine.SuspensionReason = "by a"
	commit(t, s, store.Change{Op: store.Update, Instance: mine, By: "a", Hold: true})
	if mine.Lease != l || mine.Version != 2 {
		t.Fatalf("holder's Update wrote back lease %+v version %d, want %+v, 2", mine.Lease, mine.Version, l)
	}
	same(t, get(t, s, in.ID), mine)
	// A lapsed owner cannot claim, insert or write.
	clk.advance(ttl / 2)
	if err := s.Renew(bg, "a", ttl); err != nil {
		t.Fatal(err)
	}
	clk.advance(ttl/2 + time.Millisecond) // b lapses, a is live
	_, err = s.Claim(bg, in.ID, "b")
	wantErr(t, "Claim by a lapsed owner", err, store.ErrLeaseLost)
	_, err = s.ClaimDue(bg, "b", clk.now(), 0)
	wantErr(t, "ClaimDue by a lapsed owner", err, store.ErrLeaseLost)
	_, err = s.ClaimRunnable(bg, "b", clk.now(), 0)
	wantErr(t, "ClaimRunnable by a lapsed owner", err, store.ErrLeaseLost)
	wantErr(t, "Insert by a lapsed owner", s.Commit(bg, store.Change{Op: store.Insert, Instance: newInstance(workflow.Active), By: "b", Hold: true}), store.ErrLeaseLost)
}

func testExpiryAndTakeover(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	register(t, s, "b")
	in := leasedBy(t, s, "a")
	clk.advance(ttl / 2)
	if err := s.Renew(bg, "b", ttl); err != nil {
		t.Fatal(err)
	}
	_, err := s.Claim(bg, in.ID, "b")
	wantErr(t, "Claim while a is live", err, store.ErrLeased)
	clk.advance(ttl/2 + time.Millisecond) // a lapses without renewing
	l, err := s.Claim(bg, in.ID, "b")
	if err != nil || l != (store.Lease{Owner: "b", Token: 2}) {
		t.Fatalf("takeover Claim by b = %+v, %v; want {b 2}", l, err)
	}
	// The old holder's writes are fenced off: ErrLeaseLost, nothing written.
	old := *in
	old.SuspensionReason = "late write by a"
	rec := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Persisted"}}
	wantErr(t, "Update by the lapsed holder", s.Commit(bg, store.Change{Op: store.Update, Instance: &old, Records: rec, By: "a", Hold: true}), store.ErrLeaseLost)
	wantErr(t, "Track by the lapsed holder", s.Commit(bg, store.Change{Op: store.Track, Instance: &old, Records: rec, By: "a"}), store.ErrLeaseLost)
	wantErr(t, "Renew by the lapsed holder", s.Renew(bg, "a", ttl), store.ErrLeaseLost)
	got := get(t, s, in.ID)
	if got.Lease != l || got.SuspensionReason != "" || got.Version != 1 {
		t.Fatalf("after fenced writes: lease %+v reason %q version %d, want %+v, \"\", 1", got.Lease, got.SuspensionReason, got.Version, l)
	}
	if rs, _ := s.Records(bg, in.ID, 0); len(rs) != 0 {
		t.Fatalf("fenced writes left records %v", rs)
	}
	// Even if a re-registers under a new id, it does not hold what it held before.
	register(t, s, "a2")
	_, err = s.Claim(bg, in.ID, "a2")
	wantErr(t, "Claim of b's instance by a's successor", err, store.ErrLeased)
	// b works under the new token.
	got.SuspensionReason = "b's write"
	commit(t, s, store.Change{Op: store.Update, Instance: got, By: "b", Hold: true})
	if got.Lease != l {
		t.Fatalf("b's write wrote back %+v, want %+v", got.Lease, l)
	}
}

func testReleaseFences(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	register(t, s, "b")
	in := leasedBy(t, s, "a")
	held := *in
	// A write without Hold releases the lease; the token stays.
	commit(t, s, store.Change{Op: store.Track, Instance: in, By: "a",
		Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Unloaded"}}})
	if in.Lease != (store.Lease{Token: 1}) {
		t.Fatalf("Track without Hold wrote back %+v, want {\"\" 1}", in.Lease)
	}
	if l := get(t, s, in.ID).Lease; l != in.Lease {
		t.Fatalf("stored lease %+v, want %+v", l, in.Lease)
	}
	// A write that still believes in the released lease is fenced.
	wantErr(t, "write under a released lease", s.Commit(bg, store.Change{Op: store.Update, Instance: &held, By: "a", Hold: true}), store.ErrLeaseLost)
	// A write by a that does not claim to hold it works: the instance is free.
	cur := get(t, s, in.ID)
	commit(t, s, store.Change{Op: store.Update, Instance: cur, By: "a", Hold: true})
	if cur.Lease != (store.Lease{Owner: "a", Token: 2}) {
		t.Fatalf("re-taking a free instance wrote back %+v, want {a 2}", cur.Lease)
	}
	wantErr(t, "Release by the wrong owner", s.Release(bg, in.ID, store.Lease{Owner: "b", Token: 2}), store.ErrLeaseLost)
	wantErr(t, "Release under an old token", s.Release(bg, in.ID, store.Lease{Owner: "a", Token: 1}), store.ErrLeaseLost)
	if err := s.Release(bg, in.ID, cur.Lease); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantErr(t, "second Release", s.Release(bg, in.ID, cur.Lease), store.ErrLeaseLost)
	l, err := s.Claim(bg, in.ID, "b")
	if err != nil || l != (store.Lease{Owner: "b", Token: 3}) {
		t.Fatalf("Claim after Release = %+v, %v; want {b 3}", l, err)
	}
	// Delete under the lease.
	commit(t, s, store.Change{Op: store.Delete, Instance: &store.Instance{ID: in.ID, Lease: l}, By: "b"})
	_, err = s.Get(bg, in.ID)
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
}

func testUnregister(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	register(t, s, "b")
	var ins []*store.Instance
	for range 3 {
		ins = append(ins, leasedBy(t, s, "a"))
	}
	if err := s.Unregister(bg, "a"); err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if l := get(t, s, in.ID).Lease; l.Owner != "" {
			t.Fatalf("after Unregister %s is still leased: %+v", in.ID, l)
		}
		if l, err := s.Claim(bg, in.ID, "b"); err != nil || l != (store.Lease{Owner: "b", Token: 2}) {
			t.Fatalf("Claim after Unregister = %+v, %v", l, err)
		}
	}
	wantErr(t, "Renew after Unregister", s.Renew(bg, "a", ttl), store.ErrLeaseLost)
	if owners, _ := s.Owners(bg); len(owners) != 1 || owners[0].ID != "b" {
		t.Fatalf("Owners after Unregister = %v, want only b", owners)
	}
	wantErr(t, "write by an unregistered owner", s.Commit(bg, store.Change{Op: store.Insert, Instance: newInstance(workflow.Active), By: "a"}), store.ErrLeaseLost)
}

// Two owners claim one instance at the same moment: exactly one gets it.
func testClaimRace(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	register(t, s, "b")
	for round := range 50 {
		in := newInstance(workflow.Active)
		insert(t, s, in)
		var wg sync.WaitGroup
		var got [2]store.Lease
		var errs [2]error
		for i, o := range []string{"a", "b"} {
			wg.Go(func() { got[i], errs[i] = s.Claim(bg, in.ID, o) })
		}
		wg.Wait()
		wins := 0
		for i := range 2 {
			switch {
			case errs[i] == nil:
				wins++
				if got[i].Token != 1 {
					t.Fatalf("round %d: winner's token %d, want 1", round, got[i].Token)
				}
			case !errors.Is(errs[i], store.ErrLeased):
				t.Fatalf("round %d: %v", round, errs[i])
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d owners got the lease, want exactly 1 (%v)", round, wins, errs)
		}
	}
}

// Two owners race to claim 300 due timers in small batches: each instance is claimed exactly
// once; an instance another live owner holds is never offered; a lapsed owner's is.
func testDueClaimedOnce(t *testing.T, s store.Store, clk *clock) {
	register(t, s, "a")
	register(t, s, "b")
	register(t, s, "c")
	now := clk.now()
	due := map[uuid.UUID]bool{}
	for i := range 300 {
		in := newInstance(workflow.Active)
		in.PendingTimer = now.Add(-time.Duration(i) * time.Millisecond)
		insert(t, s, in)
		due[in.ID] = true
	}
	heldByC := newInstance(workflow.Active)
	heldByC.PendingTimer = now.Add(-time.Hour)
	commit(t, s, store.Change{Op: store.Insert, Instance: heldByC, By: "c", Hold: true})

	var mu sync.Mutex
	claimedBy := map[uuid.UUID]string{}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, o := range []string{"a", "b"} {
		wg.Go(func() {
			for {
				cs, err := s.ClaimDue(bg, o, now, 7)
				if err != nil {
					errc <- err
					return
				}
				fresh := 0
				mu.Lock()
				for _, c := range cs {
					if c.ID == heldByC.ID {
						mu.Unlock()
						errc <- fmt.Errorf("%s was offered an instance c holds", o)
						return
					}
					if prev, ok := claimedBy[c.ID]; ok && prev != o {
						mu.Unlock()
						errc <- fmt.Errorf("instance %s claimed by %s and by %s", c.ID, prev, o)
						return
					}
					if c.Lease.Owner != o || c.Lease.Token != 1 {
						mu.Unlock()
						errc <- fmt.Errorf("%s claimed %s with lease %+v", o, c.ID, c.Lease)
						return
					}
					if _, ok := claimedBy[c.ID]; !ok {
						fresh++
					}
					claimedBy[c.ID] = o
				}
				mu.Unlock()
				// An owner keeps being offered what it holds: stop when nothing new comes.
				if fresh == 0 {
					errc <- nil
					return
				}
				// Take the claimed timers off the table, as a host does once it fired them.
				for _, c := range cs {
					cur, err := s.Get(bg, c.ID)
					if err != nil {
						errc <- err
						return
					}
					cur.PendingTimer = time.Time{}
					if err := s.Commit(bg, store.Change{Op: store.Update, Instance: cur, By: o, Hold: true}); err != nil {
						errc <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(claimedBy) != len(due) {
		t.Fatalf("%d of %d due instances were claimed", len(claimedBy), len(due))
	}
	// c lapses: its instance is offered to the others now, under a new token.
	clk.advance(ttl / 2)
	for _, o := range []string{"a", "b"} {
		if err := s.Renew(bg, o, ttl); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(ttl/2 + time.Millisecond)
	cs, err := s.ClaimDue(bg, "a", now, 0)
	if err != nil || len(cs) != 1 || cs[0].ID != heldByC.ID || cs[0].Lease != (store.Lease{Owner: "a", Token: 2}) || cs[0].From != "c" {
		t.Fatalf("ClaimDue after c lapsed = %+v, %v; want c's instance under {a 2}, taken from c", cs, err)
	}
}

// The node registry: Owners reads back what a node registered (its advertised URL), when it
// registered and last renewed, and how many instances' leases it holds; a LeaseError names
// the holder the same way, so another node knows where to forward.
func testNodeRegistry(t *testing.T, s store.Store, clk *clock) {
	start := clk.now()
	if err := s.Register(bg, store.Owner{ID: "a/1", Node: "a", Info: "pid 7", Advertise: "http://10.0.0.5:8080"}, ttl); err != nil {
		t.Fatal(err)
	}
	register(t, s, "b")
	held := []*store.Instance{leasedBy(t, s, "a/1"), leasedBy(t, s, "a/1")}
	leasedBy(t, s, "b")
	free := newInstance(workflow.Active)
	insert(t, s, free)
	clk.advance(3 * time.Second)
	if err := s.Renew(bg, "a/1", ttl); err != nil {
		t.Fatal(err)
	}
	owners, err := s.Owners(bg)
	if err != nil || len(owners) != 2 {
		t.Fatalf("Owners = %+v, %v; want a/1 and b", owners, err)
	}
	a, b := owners[0], owners[1]
	if a.ID != "a/1" || a.Node != "a" || a.Info != "pid 7" || a.Advertise != "http://10.0.0.5:8080" || a.Held != 2 ||
		!sameTime(a.Registered, start) || !sameTime(a.Renewed, start.Add(3*time.Second)) ||
		!sameTime(a.Expiry, start.Add(3*time.Second+ttl)) {
		t.Fatalf("Owners[0] = %+v; want a/1 on a, pid 7, http://10.0.0.5:8080, registered %v, renewed and expiring 3 s and 13 s later, holding 2",
			a, start)
	}
	if b.ID != "b" || b.Advertise != "" || b.Held != 1 || !sameTime(b.Registered, start) || !sameTime(b.Renewed, start) {
		t.Fatalf("Owners[1] = %+v; want b, no advertised URL, registered and renewed at %v, holding 1", b, start)
	}
	// Another node's write on a's instance names a, with where to reach it.
	register(t, s, "c")
	in := *held[0]
	err = s.Commit(bg, store.Change{Op: store.Update, Instance: &in, By: "c", Hold: true})
	var le *store.LeaseError
	if !errors.As(err, &le) {
		t.Fatalf("Update by c of a/1's instance: %v, want a *LeaseError", err)
	}
	if h := le.Holder; h.ID != "a/1" || h.Node != "a" || h.Advertise != "http://10.0.0.5:8080" ||
		!sameTime(h.Registered, start) || !sameTime(h.Renewed, start.Add(3*time.Second)) {
		t.Fatalf("LeaseError.Holder = %+v; want a/1 on a at http://10.0.0.5:8080, registered %v, renewed 3 s later", h, start)
	}
	// Releasing one lease counts at once.
	if err := s.Release(bg, held[1].ID, held[1].Lease); err != nil {
		t.Fatal(err)
	}
	if owners, _ := s.Owners(bg); len(owners) != 3 || owners[0].Held != 1 {
		t.Fatalf("after a release: %+v; want a/1 holding 1", owners)
	}
}
