package sqlite_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/store/sqlite/sqlitetest"
	"github.com/wimp-project/wimp/workflow"
)

// batches collects what a store's observer is told.
type batches struct {
	mu  sync.Mutex
	all []store.BatchInfo
}

func (b *batches) observe(i store.BatchInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, i)
}

func (b *batches) get() []store.BatchInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]store.BatchInfo(nil), b.all...)
}

// The observer hears of every batch before its callers are answered: the batches' sizes add up
// to the calls made, their failures to the calls that failed, and they agree with Stats.
func TestObserverSeesEveryBatch(t *testing.T) {
	var seen batches
	s := openAt(t, filepath.Join(t.TempDir(), "wimp.db"), sqlite.WithObserver(seen.observe))
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			in := &store.Instance{ID: uuid.New(), State: workflow.Active}
			if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in}); err != nil {
				t.Error(err)
			}
			for range 9 {
				if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in}); err != nil {
					t.Error(err)
				}
			}
			// One refused call each: the same instance again.
			again := &store.Instance{ID: in.ID, State: workflow.Active}
			if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: again}); !errors.Is(err, store.ErrExists) {
				t.Errorf("second insert of %s: %v, want ErrExists", in.ID, err)
			}
		})
	}
	wg.Wait()
	var requests, failed, committed, largest int
	for _, b := range seen.get() {
		if b.Err != nil || b.TimedOut != 0 || b.Requests < 1 || b.Failed > b.Requests || b.Duration <= 0 {
			t.Errorf("batch %+v: want a committed transaction of at least one call, none timed out, a positive duration", b)
		}
		requests += b.Requests
		failed += b.Failed
		if b.Failed < b.Requests {
			committed++
		}
		largest = max(largest, b.Requests)
	}
	if requests != 704 || failed != 64 {
		t.Errorf("the batches carried %d calls of which %d failed, want 704 (64 × 11) and 64", requests, failed)
	}
	st := s.Stats()
	if uint64(requests-failed) != st.Commits || uint64(committed) != st.Batches || largest != st.MaxBatch {
		t.Errorf("observed %d successful calls in %d transactions (largest %d); Stats say %+v", requests-failed, committed, largest, st)
	}
	if largest < 2 {
		t.Errorf("no batch held more than one call of 64 concurrent writers")
	}
}

// Calls that time out while another process holds the database are reported as such, with no
// transaction committed.
func TestObserverSeesTimeouts(t *testing.T) {
	var seen batches
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path, sqlite.WithWriteTimeout(100*time.Millisecond), sqlite.WithObserver(seen.observe))
	unlock := sqlitetest.HoldWriteLock(t, path)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			err := s.Commit(bg, store.Change{Op: store.Insert, Instance: &store.Instance{ID: uuid.New(), State: workflow.Active}})
			if !errors.Is(err, store.ErrTimeout) {
				t.Errorf("commit while the lock is held: %v, want ErrTimeout", err)
			}
		})
	}
	wg.Wait()
	unlock()
	// Timed-out calls are answered before their batch is reported; the batch of this last call
	// is reported before it is answered, and after every batch before it.
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: &store.Instance{ID: uuid.New(), State: workflow.Active}}); err != nil {
		t.Fatal(err)
	}
	all := seen.get()
	last := all[len(all)-1]
	if last.Requests != 1 || last.Failed != 0 || last.TimedOut != 0 || last.Err != nil {
		t.Errorf("the batch after the lock was released: %+v, want one committed call", last)
	}
	timedOut := 0
	for _, b := range all[:len(all)-1] {
		if b.Requests != 0 || !errors.Is(b.Err, store.ErrTimeout) {
			t.Errorf("batch while the lock was held: %+v, want only timed-out calls and ErrTimeout", b)
		}
		timedOut += b.TimedOut
	}
	if timedOut != 5 {
		t.Errorf("%d calls reported timed out, want 5", timedOut)
	}
}

// A claim of due instances the owner holds already changes no row, and is answered without a
// transaction; one that must grant a free instance's lease goes through the writer; an owner
// whose registration lapsed is refused as before.
func TestClaimDueOfHeldInstancesWritesNothing(t *testing.T) {
	var seen batches
	clk := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { return clk }
	s := openAt(t, filepath.Join(t.TempDir(), "wimp.db"), sqlite.WithObserver(seen.observe), sqlite.WithClock(now))
	if err := s.Register(bg, store.Owner{ID: "a"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	held := &store.Instance{ID: uuid.New(), State: workflow.Active, PendingTimer: clk.Add(-time.Second)}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: held, By: "a", Hold: true}); err != nil {
		t.Fatal(err)
	}
	before := len(seen.get())
	cs, err := s.ClaimDue(bg, "a", clk, 10)
	if err != nil || len(cs) != 1 || cs[0].ID != held.ID || cs[0].Lease != held.Lease || cs[0].From != "" {
		t.Fatalf("ClaimDue of a held instance = %+v, %v; want it with its lease %+v", cs, err, held.Lease)
	}
	if n := len(seen.get()) - before; n != 0 {
		t.Errorf("the claim of a held instance made %d transactions, want none", n)
	}
	free := &store.Instance{ID: uuid.New(), State: workflow.Active, PendingTimer: clk.Add(-2 * time.Second)}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: free}); err != nil {
		t.Fatal(err)
	}
	before = len(seen.get())
	cs, err = s.ClaimDue(bg, "a", clk, 10)
	if err != nil || len(cs) != 2 || cs[0].ID != free.ID || cs[0].Lease.Owner != "a" || cs[1].ID != held.ID {
		t.Fatalf("ClaimDue with a free instance = %+v, %v; want it granted first (earliest due), then the held one", cs, err)
	}
	if n := len(seen.get()) - before; n != 1 {
		t.Errorf("the claim granting a lease made %d transactions, want 1", n)
	}
	clk = clk.Add(11 * time.Second) // a's registration lapses
	if _, err := s.ClaimDue(bg, "a", clk, 10); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("ClaimDue by a lapsed owner: %v, want ErrLeaseLost", err)
	}
}
