package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/postgres"
	"github.com/wimp-project/wimp/store/postgres/pgtest"
	"github.com/wimp-project/wimp/store/storetest"
	"github.com/wimp-project/wimp/workflow"
)

var bg = context.Background()

func openAt(t *testing.T, url string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(bg, url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sqlConn is a connection of its own to the database, as another client (psql, another
// node's session) would have.
func sqlConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func newInstance() *store.Instance {
	return &store.Instance{ID: uuid.New(), State: workflow.Active, ExecutionStatus: "Idle",
		Definition: workflow.Identity{Name: "Approval", Package: "samples", Version: "1.0"}}
}

func commit(t *testing.T, s store.Store, changes ...store.Change) {
	t.Helper()
	if err := s.Commit(bg, changes...); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// The whole suite, with group commit (the default: one writer, batches of up to 64).
func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openAt(t, pgtest.Fresh(t), postgres.WithClock(now))
	})
}

// The whole suite without group commit but with three writers: one transaction per Commit,
// three at a time, so that calls meet as concurrent transactions (row locks, SKIP LOCKED,
// deadlocks) as they do from several nodes.
func TestPostgresConcurrentTransactions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openAt(t, pgtest.Fresh(t), postgres.WithClock(now), postgres.WithMaxBatch(1), postgres.WithWriters(3))
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openAt(t, url)
	in := &store.Instance{ID: uuid.New(), State: workflow.Active, Bookmarks: []string{"b", "a"},
		Image: []byte{}, PendingTimer: time.Now().Add(time.Hour)}
	recs := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
	commit(t, s, store.Change{Op: store.Insert, Instance: in, Records: recs})
	j := &store.Job{ID: uuid.New(), Spec: []byte(`{"op":"x"}`), Status: store.JobRunning}
	if err := s.CreateJob(bg, j); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, url)
	got, err := s.Get(bg, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.Image == nil || !slices.Equal(got.Bookmarks, []string{"b", "a"}) ||
		!got.PendingTimer.Equal(in.PendingTimer.Truncate(time.Millisecond)) {
		t.Fatalf("after reopen: %+v", got)
	}
	rs, err := s.Records(bg, in.ID, 0)
	if err != nil || len(rs) != 1 || rs[0].Seq != recs[0].Seq {
		t.Fatalf("records after reopen: %+v %v", rs, err)
	}
	if gj, err := s.GetJob(bg, j.ID); err != nil || string(gj.Spec) != `{"op":"x"}` {
		t.Fatalf("job after reopen: %+v %v", gj, err)
	}
}

func TestClock(t *testing.T) {
	now := time.Date(2029, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("CET", 3600))
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openAt(t, pgtest.Fresh(t), postgres.WithClock(clock))
	in := newInstance()
	recs := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
	commit(t, s, store.Change{Op: store.Insert, Instance: in, Records: recs})
	want := now.Truncate(time.Millisecond).UTC()
	if in.Created != want || in.Updated != want || recs[0].Time != want {
		t.Fatalf("Created %v Updated %v record %v, want %v", in.Created, in.Updated, recs[0].Time, want)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	commit(t, s, store.Change{Op: store.Update, Instance: in})
	got, err := s.Get(bg, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Created != want || got.Updated != clock().Truncate(time.Millisecond).UTC() || in.Updated != got.Updated {
		t.Fatalf("after update: Created %v Updated %v (struct %v)", got.Created, got.Updated, in.Updated)
	}
	if err := s.Register(bg, store.Owner{ID: "o"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if owners, err := s.Owners(bg); err != nil || len(owners) != 1 || owners[0].Expiry != got.Updated.Add(time.Minute) {
		t.Fatalf("Owners = %+v, %v; want expiry at %v", owners, err, got.Updated.Add(time.Minute))
	}
}

func migrationCount(t *testing.T, url string) (n, max int) {
	t.Helper()
	if err := sqlConn(t, url).QueryRow(bg, "SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	return n, max
}

func migrationFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestMigrationsIdempotent(t *testing.T) {
	url := pgtest.Fresh(t)
	for range 3 {
		s := openAt(t, url)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n, max := migrationCount(t, url); n != migrationFiles(t) || max != migrationFiles(t) {
		t.Fatalf("schema_migrations has %d rows (max %d), want %d", n, max, migrationFiles(t))
	}
}

// Nodes that start at once on a new database: the migration lock lets one migrate and the
// others find the schema current; all of them work.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.Fresh(t)
	const nodes = 3
	stores := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(bg, url) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { s.Close() })
		commit(t, s, store.Change{Op: store.Insert, Instance: newInstance()})
	}
	if n, _ := migrationCount(t, url); n != migrationFiles(t) {
		t.Fatalf("schema_migrations has %d rows, want %d (a migration ran twice?)", n, migrationFiles(t))
	}
	if cs, err := stores[0].CountInstances(bg, store.Filter{}, store.GroupNone); err != nil || cs[0].N != nodes {
		t.Fatalf("count = %+v, %v; want %d", cs, err, nodes)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	url := pgtest.Fresh(t)
	openAt(t, url).Close()
	if _, err := sqlConn(t, url).Exec(bg, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', now())"); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(bg, url)
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("Open on a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// Two nodes (two Stores on one database) race to claim the same due timers, each with
// several writers: every instance is handed out exactly once.
func TestClaimDueAcrossNodes(t *testing.T) {
	url := pgtest.Fresh(t)
	a := openAt(t, url, postgres.WithWriters(2), postgres.WithMaxBatch(4))
	b := openAt(t, url, postgres.WithWriters(2), postgres.WithMaxBatch(4))
	now := time.Now()
	const n = 400
	var changes []store.Change
	for i := range n {
		in := newInstance()
		in.PendingTimer = now.Add(-time.Duration(i) * time.Millisecond)
		changes = append(changes, store.Change{Op: store.Insert, Instance: in})
	}
	commit(t, a, changes...)

	var mu sync.Mutex
	claimedBy := map[uuid.UUID]string{}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for node, s := range map[string]*postgres.Store{"a": a, "b": b} {
		for w := range 4 {
			owner := fmt.Sprintf("%s%d", node, w)
			if err := s.Register(bg, store.Owner{ID: owner, Node: node}, time.Hour); err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				for {
					cs, err := s.ClaimDue(bg, owner, now, 5)
					if err != nil {
						errc <- err
						return
					}
					if len(cs) == 0 {
						return
					}
					for _, c := range cs {
						mu.Lock()
						prev, dup := claimedBy[c.ID]
						claimedBy[c.ID] = owner
						mu.Unlock()
						if dup {
							errc <- fmt.Errorf("instance %s claimed by %s and by %s", c.ID, prev, owner)
							return
						}
						// Fire the timer, as a host does, so that the owner is not offered it again.
						in, err := s.Get(bg, c.ID)
						if err != nil {
							errc <- err
							return
						}
						in.PendingTimer = time.Time{}
						if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in, By: owner}); err != nil {
							errc <- fmt.Errorf("%s firing %s: %w", owner, c.ID, err)
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(claimedBy) != n {
		t.Fatalf("%d of %d due instances were claimed", len(claimedBy), n)
	}
	byNode := map[byte]int{}
	for _, o := range claimedBy {
		byNode[o[0]]++
	}
	t.Logf("claims by node: a %d, b %d", byNode['a'], byNode['b'])
}

// Two nodes claim one instance at the same moment, many times over: exactly one wins.
func TestClaimAcrossNodes(t *testing.T) {
	url := pgtest.Fresh(t)
	a, b := openAt(t, url), openAt(t, url)
	for s, o := range map[*postgres.Store]string{a: "a", b: "b"} {
		if err := s.Register(bg, store.Owner{ID: o}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 50 {
		in := newInstance()
		commit(t, a, store.Change{Op: store.Insert, Instance: in})
		var wg sync.WaitGroup
		var errs [2]error
		var got [2]store.Lease
		for i, s := range []*postgres.Store{a, b} {
			wg.Go(func() { got[i], errs[i] = s.Claim(bg, in.ID, string(rune('a'+i))) })
		}
		wg.Wait()
		wins := 0
		for i := range 2 {
			switch {
			case errs[i] == nil:
				wins++
				if got[i].Token != 1 {
					t.Fatalf("round %d: winner's token %d", round, got[i].Token)
				}
			case !errors.Is(errs[i], store.ErrLeased):
				t.Fatalf("round %d: %v", round, errs[i])
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners (%v)", round, wins, errs)
		}
	}
}

// A node's registration that commits while another node's claim is already running is seen by
// that claim: the lease it just took is not taken for a lapsed one.
func TestClaimSeesRegistrationsAfterLock(t *testing.T) {
	url := pgtest.Fresh(t)
	a, b := openAt(t, url), openAt(t, url)
	if err := a.Register(bg, store.Owner{ID: "b-claimer"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	in := newInstance()
	in.PendingTimer = time.Now().Add(-time.Minute)
	commit(t, a, store.Change{Op: store.Insert, Instance: in})
	// Another session holds the instance's row, so that b's Claim, which locks it, waits.
	tx := inOtherSession(t, url, "SELECT 1 FROM instances WHERE id = $1 FOR UPDATE", in.ID)
	// While the row is held: a new owner registers and takes the lease in the holding
	// session (as a node that registered after b's claim started would).
	if _, err := tx.Exec(bg, "INSERT INTO owners (id, registered, renewed, expiry) VALUES ('late', now(), now(), now() + interval '1 hour')"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, "UPDATE instances SET lease_owner = 'late', lease_token = 1 WHERE id = $1", in.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Claim(bg, in.ID, "b-claimer")
		done <- err
	}()
	// b's Claim waits for the row with its statement's snapshot taken: "late" is not in it.
	waitForLockWaits(t, sqlConn(t, url), 1)
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	err := <-done
	var le *store.LeaseError
	if !errors.As(err, &le) || le.Holder.ID != "late" {
		t.Fatalf("Claim after another session registered and took the lease: %v, want a LeaseError naming late", err)
	}
}

// While another session holds the tables' write locks longer than the write timeout, every
// write fails with ErrTimeout (none hangs), and none of them is applied after the locks are
// released. Reads go on meanwhile.
func TestWriteTimeout(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openAt(t, url, postgres.WithWriteTimeout(300*time.Millisecond))
	if err := s.Register(bg, store.Owner{ID: "a"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	existing := newInstance()
	commit(t, s, store.Change{Op: store.Insert, Instance: existing})
	tx := inOtherSession(t, url, "LOCK TABLE instances, owners, tracking_records IN EXCLUSIVE MODE")
	var wg sync.WaitGroup
	ins := make([]*store.Instance, 20)
	errs := make([]error, len(ins)+1)
	start := time.Now()
	for i := range ins {
		ins[i] = newInstance()
		wg.Go(func() {
			errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i],
				Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}})
		})
	}
	wg.Go(func() { errs[len(ins)] = s.Renew(bg, "a", time.Hour) })
	if _, err := s.Get(bg, existing.ID); err != nil {
		t.Fatalf("Get while another session holds the write locks: %v", err)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, err := range errs {
		if !errors.Is(err, store.ErrTimeout) {
			t.Fatalf("write %d while the locks are held: %v, want ErrTimeout", i, err)
		}
	}
	if elapsed > 5*time.Second {
		t.Fatalf("writes took %v to time out with a 300ms write timeout", elapsed)
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	probe := newInstance()
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: probe}); err != nil {
		t.Fatalf("write after the locks were released: %v", err)
	}
	for i, in := range ins {
		if _, err := s.Get(bg, in.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("timed-out insert %d was applied: %v", i, err)
		}
		if in.Version != 0 {
			t.Fatalf("timed-out insert %d wrote back version %d", i, in.Version)
		}
	}
	if st := s.Stats(); st.TimedOut != uint64(len(errs)) {
		t.Errorf("Stats.TimedOut = %d, want %d", st.TimedOut, len(errs))
	}
}

// Text PostgreSQL cannot store (a NUL byte, invalid UTF-8) is ErrInvalid for that call alone,
// even when it shares a transaction with others.
func TestInvalidText(t *testing.T) {
	s := openAt(t, pgtest.Fresh(t))
	var wg sync.WaitGroup
	const n = 60
	ins := make([]*store.Instance, n)
	errs := make([]error, n)
	for i := range n {
		ins[i] = newInstance()
		switch i % 3 {
		case 1:
			ins[i].SuspensionReason = "nul \x00 byte"
		case 2:
			ins[i].Bookmarks = []string{"bad \xff utf-8"}
		}
		wg.Go(func() {
			errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i],
				Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}})
		})
	}
	wg.Wait()
	for i := range n {
		_, gerr := s.Get(bg, ins[i].ID)
		if i%3 == 0 {
			if errs[i] != nil || gerr != nil {
				t.Fatalf("valid insert %d: %v, then Get: %v", i, errs[i], gerr)
			}
			continue
		}
		if !errors.Is(errs[i], store.ErrInvalid) || !errors.Is(gerr, store.ErrNotFound) || ins[i].Version != 0 {
			t.Fatalf("insert %d with bad text: %v (Get: %v, version %d); want ErrInvalid and nothing written", i, errs[i], gerr, ins[i].Version)
		}
	}
	rec := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "x", Data: "\x00"}}
	err := s.Commit(bg, store.Change{Op: store.Track, Instance: ins[0], Records: rec})
	if !errors.Is(err, store.ErrInvalid) || rec[0].Seq != 0 {
		t.Fatalf("record with a NUL byte: %v (seq %d)", err, rec[0].Seq)
	}
}

// Two nodes' batches that write the same rows in opposite orders do not deadlock: each batch
// locks its rows up front in one order. Here another session holds x, y and z while b's batch
// (y, z, x) and a's (x, y) queue behind it; locked in the requests' order, b would take y and
// a x once it lets go, then each wait for the other's row — a deadlock, which PostgreSQL breaks
// after deadlock_timeout (100 ms for these sessions) by aborting one batch for a retry.
func TestOpposedBatchesDoNotDeadlock(t *testing.T) {
	url := withParam(pgtest.Fresh(t), "deadlock_timeout", "100ms")
	a, b := openAt(t, url), openAt(t, url)
	x, y, z := newInstance(), newInstance(), newInstance()
	commit(t, a, store.Change{Op: store.Insert, Instance: x}, store.Change{Op: store.Insert, Instance: y},
		store.Change{Op: store.Insert, Instance: z})
	tx := inOtherSession(t, url, "SELECT 1 FROM instances WHERE id = ANY ($1) FOR UPDATE", []uuid.UUID{x.ID, y.ID, z.ID})
	ax, ay, bx, by, bz := *x, *y, *x, *y, *z
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		errB = b.Commit(bg, store.Change{Op: store.Update, Instance: &by}, store.Change{Op: store.Update, Instance: &bz},
			store.Change{Op: store.Update, Instance: &bx})
	})
	wg.Go(func() {
		errA = a.Commit(bg, store.Change{Op: store.Update, Instance: &ax}, store.Change{Op: store.Update, Instance: &ay})
	})
	waitForLockWaits(t, sqlConn(t, url), 2)
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if ra, rb := a.Stats().Retries, b.Stats().Retries; ra != 0 || rb != 0 {
		t.Fatalf("batches retried: a %d, b %d; want none (no deadlock)", ra, rb)
	}
	// Both changed version 1 of x and y: the batch that locked first is applied, the other
	// refused and left as it was.
	switch {
	case errA == nil && errors.Is(errB, store.ErrConflict):
		if ax.Version != 2 || ay.Version != 2 || bx.Version != 1 || by.Version != 1 || bz.Version != 1 {
			t.Fatalf("a applied: a's x, y at %d, %d (want 2, 2); b's x, y, z at %d, %d, %d (want 1, 1, 1)",
				ax.Version, ay.Version, bx.Version, by.Version, bz.Version)
		}
	case errB == nil && errors.Is(errA, store.ErrConflict):
		if bx.Version != 2 || by.Version != 2 || bz.Version != 2 || ax.Version != 1 || ay.Version != 1 {
			t.Fatalf("b applied: b's x, y, z at %d, %d, %d (want 2, 2, 2); a's x, y at %d, %d (want 1, 1)",
				bx.Version, by.Version, bz.Version, ax.Version, ay.Version)
		}
	default:
		t.Fatalf("a: %v, b: %v; want one applied and the other ErrConflict", errA, errB)
	}
}

// A batch rolled back by a deadlock (here with a session that is not a store's, which takes
// rows in its own order) is tried again, and the second try sees the other session's effects.
// The store's session is given the short deadlock_timeout, so that it is the one aborted.
func TestDeadlockIsRetried(t *testing.T) {
	url := pgtest.Fresh(t)
	a := openAt(t, withParam(url, "deadlock_timeout", "100ms"))
	x, y := newInstance(), newInstance()
	if x.ID.String() > y.ID.String() {
		x, y = y, x // a's batch locks x first (its rows in id order), then waits for y
	}
	commit(t, a, store.Change{Op: store.Insert, Instance: x}, store.Change{Op: store.Insert, Instance: y})
	other := sqlConn(t, withParam(url, "deadlock_timeout", "60s"))
	tx, err := other.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, "UPDATE instances SET failures = 7 WHERE id = $1", y.ID); err != nil {
		t.Fatal(err)
	}
	ax, ay := *x, *y
	var wg sync.WaitGroup
	var errA error
	wg.Go(func() {
		errA = a.Commit(bg, store.Change{Op: store.Update, Instance: &ax}, store.Change{Op: store.Update, Instance: &ay})
	})
	waitForLockWaits(t, sqlConn(t, url), 1) // a's batch holds x and waits for y
	// The session asks for x: a cycle, which a's session finds and breaks by aborting its batch.
	if _, err := tx.Exec(bg, "UPDATE instances SET failures = 7 WHERE id = $1", x.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// The session changed the rows without their versions: a's retry applies on top of it.
	if errA != nil || a.Stats().Retries == 0 {
		t.Fatalf("a: %v after %d retries; want it applied after a retry", errA, a.Stats().Retries)
	}
	for _, in := range []*store.Instance{x, y} {
		got, err := a.Get(bg, in.ID)
		if err != nil || got.Version != 2 || got.Failures != 0 {
			t.Fatalf("%s after the race: %+v, %v; want version 2 with a's failures (0)", in.ID, got, err)
		}
	}
}

// withParam is url with a run-time parameter that its sessions set (pgx sends a URL's
// unknown parameters as run-time parameters).
// A node's change of an instance another live node holds is refused with ErrLeased naming the
// holder (where the operation is then forwarded), without waiting while the holder's session
// has the row locked: here another session holds the lock for the whole call. A writer whose
// own registration lapsed is still refused with ErrLeaseLost.
func TestChangeOfAnotherNodesInstanceDoesNotWaitForItsRow(t *testing.T) {
	url := pgtest.Fresh(t)
	a := openAt(t, url, postgres.WithWriteTimeout(2*time.Second))
	b := openAt(t, url)
	for _, o := range []struct {
		s  *postgres.Store
		id string
	}{{a, "node-a"}, {b, "node-b"}, {a, "node-c"}} {
		if err := o.s.Register(bg, store.Owner{ID: o.id, Node: o.id + ".example", Advertise: "http://" + o.id + ".example:8080/"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	x := newInstance()
	commit(t, b, store.Change{Op: store.Insert, Instance: x, By: "node-b", Hold: true})
	seen, err := a.Get(bg, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	tx := inOtherSession(t, url, "SELECT 1 FROM instances WHERE id = $1 FOR UPDATE", x.ID)
	mine := *seen
	err = a.Commit(bg, store.Change{Op: store.Update, Instance: &mine, By: "node-a", Hold: true,
		Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Suspended"}}})
	var le *store.LeaseError
	if !errors.As(err, &le) || le.Instance != x.ID || le.Holder.ID != "node-b" ||
		le.Holder.Advertise != "http://node-b.example:8080/" || le.Holder.Node != "node-b.example" {
		t.Fatalf("change of node-b's instance by node-a while its row is locked: %v (%+v); want ErrLeased naming node-b at http://node-b.example:8080/", err, le)
	}
	if mine.Version != seen.Version || mine.Lease != seen.Lease {
		t.Fatalf("refused change wrote back version %d, lease %+v; want %d, %+v", mine.Version, mine.Lease, seen.Version, seen.Lease)
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if recs, err := a.Records(bg, x.ID, 0); err != nil || len(recs) != 0 {
		t.Fatalf("records after the refusal: %v, %v; want none", recs, err)
	}
	if err := a.Unregister(bg, "node-c"); err != nil {
		t.Fatal(err)
	}
	lapsed := *seen
	if err := a.Commit(bg, store.Change{Op: store.Update, Instance: &lapsed, By: "node-c", Hold: true}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("change by a lapsed owner: %v; want ErrLeaseLost", err)
	}
}

// A claim of due instances the owner holds already changes no row and is answered from a
// read, without a batch; one that must grant a free instance's lease takes one; an owner whose
// registration lapsed is refused as before.
func TestClaimDueOfHeldInstancesWritesNothing(t *testing.T) {
	var mu sync.Mutex
	batches := 0
	clk := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var clkMu sync.Mutex
	now := func() time.Time { clkMu.Lock(); defer clkMu.Unlock(); return clk }
	s := openAt(t, pgtest.Fresh(t), postgres.WithClock(now),
		postgres.WithObserver(func(store.BatchInfo) { mu.Lock(); batches++; mu.Unlock() }))
	seen := func() int { mu.Lock(); defer mu.Unlock(); return batches }
	if err := s.Register(bg, store.Owner{ID: "a"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	held := newInstance()
	held.PendingTimer = clk.Add(-time.Second)
	commit(t, s, store.Change{Op: store.Insert, Instance: held, By: "a", Hold: true})
	before := seen()
	cs, err := s.ClaimDue(bg, "a", clk, 10)
	if err != nil || len(cs) != 1 || cs[0].ID != held.ID || cs[0].Lease != held.Lease || cs[0].From != "" {
		t.Fatalf("ClaimDue of a held instance = %+v, %v; want it with its lease %+v", cs, err, held.Lease)
	}
	if n := seen() - before; n != 0 {
		t.Errorf("the claim of a held instance took %d batches, want none", n)
	}
	free := newInstance()
	free.PendingTimer = clk.Add(-2 * time.Second)
	commit(t, s, store.Change{Op: store.Insert, Instance: free})
	before = seen()
	cs, err = s.ClaimDue(bg, "a", clk, 10)
	if err != nil || len(cs) != 2 || cs[0].ID != free.ID || cs[0].Lease.Owner != "a" || cs[1].ID != held.ID {
		t.Fatalf("ClaimDue with a free instance = %+v, %v; want it granted first (earliest due), then the held one", cs, err)
	}
	if n := seen() - before; n != 1 {
		t.Errorf("the claim granting a lease took %d batches, want 1", n)
	}
	clkMu.Lock()
	clk = clk.Add(11 * time.Second) // a's registration lapses
	clkMu.Unlock()
	if _, err := s.ClaimDue(bg, "a", clk, 10); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("ClaimDue by a lapsed owner: %v, want ErrLeaseLost", err)
	}
}

// inOtherSession begins a transaction in a session of its own (another node's, psql's) and
// runs sql in it; the caller ends it.
func inOtherSession(t *testing.T, url, sql string, args ...any) pgx.Tx {
	t.Helper()
	tx, err := sqlConn(t, url).Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, sql, args...); err != nil {
		t.Fatal(err)
	}
	return tx
}

func withParam(url, name, value string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + name + "=" + value
}

// waitForLockWaits returns once n sessions of the database wait for a lock.
func waitForLockWaits(t *testing.T, c *pgx.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int
		if err := c.QueryRow(bg, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a lock, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond) // polling the server's view: there is no event to wait on
	}
}

// Concurrent callers share transactions.
func TestGroupCommitBatches(t *testing.T) {
	s := openAt(t, pgtest.Fresh(t))
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: newInstance()}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.Commits != 640 || st.Batches >= st.Commits || st.MaxBatch < 2 {
		t.Fatalf("no batching: %+v", st)
	}
}

// Commits queued before Close are all committed and durable; the rest are ErrClosed.
func TestCloseDrainsQueue(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openAt(t, url)
	ins := make([]*store.Instance, 300)
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i := range ins {
		ins[i] = newInstance()
		wg.Go(func() { errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i]}) })
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = openAt(t, url)
	acked := 0
	for i, in := range ins {
		_, err := s.Get(bg, in.ID)
		switch {
		case errs[i] == nil:
			acked++
			if err != nil {
				t.Fatalf("acknowledged commit %d lost: %v", i, err)
			}
		case errors.Is(errs[i], store.ErrClosed):
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("commit %d returned ErrClosed but is present", i)
			}
		default:
			t.Fatalf("commit %d: %v", i, errs[i])
		}
	}
	t.Logf("%d of %d acknowledged before close", acked, len(ins))
}

func TestOpenFailsClearly(t *testing.T) {
	for _, url := range []string{"postgres://127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2", "not a url ::"} {
		s, err := postgres.Open(bg, url)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", url)
		}
		if !strings.Contains(err.Error(), "postgres") {
			t.Errorf("Open(%q): %v; want an error that says it is the PostgreSQL store's", url, err)
		}
	}
}

// Nodes on one database share one cluster secret, whichever asks first; it survives a reopen.
func TestClusterSecretShared(t *testing.T) {
	url := pgtest.Fresh(t)
	a, b := openAt(t, url), openAt(t, url)
	var sa, sb []byte
	var ea, eb error
	var wg sync.WaitGroup
	wg.Go(func() { sa, ea = a.ClusterSecret(bg) })
	wg.Go(func() { sb, eb = b.ClusterSecret(bg) })
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatalf("ClusterSecret: %v, %v", ea, eb)
	}
	if len(sa) != 32 || string(sa) != string(sb) {
		t.Fatalf("two nodes read %x and %x; want the same 32 bytes", sa, sb)
	}
	_ = a.Close()
	c := openAt(t, url)
	sc, err := c.ClusterSecret(bg)
	if err != nil || string(sc) != string(sa) {
		t.Fatalf("after a reopen ClusterSecret = %x, %v; want %x", sc, err, sa)
	}
}
