package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/store/sqlite/sqlitetest"
	"github.com/wimp-project/wimp/store/storetest"
	"github.com/wimp-project/wimp/workflow"
)

var bg = context.Background()

func openAt(t *testing.T, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(bg, path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "wimp.db"), sqlite.WithClock(now))
	})
}

// Group commit off: the same behaviour with one transaction per Commit.
func TestSQLiteNoBatching(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "wimp.db"), sqlite.WithClock(now), sqlite.WithMaxBatch(1))
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path)
	in := &store.Instance{ID: uuid.New(), State: workflow.Active, Bookmarks: []string{"b", "a"},
		Image: []byte{}, PendingTimer: time.Now().Add(time.Hour)}
	recs := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in, Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	got, err := s.Get(bg, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.Image == nil || len(got.Bookmarks) != 2 || got.Bookmarks[0] != "b" ||
		!got.PendingTimer.Equal(in.PendingTimer.Truncate(time.Millisecond)) {
		t.Fatalf("after reopen: %+v", got)
	}
	rs, err := s.Records(bg, in.ID, 0)
	if err != nil || len(rs) != 1 || rs[0].Seq != recs[0].Seq {
		t.Fatalf("records after reopen: %+v %v", rs, err)
	}
}

func TestClock(t *testing.T) {
	now := time.Date(2029, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("CET", 3600))
	s := openAt(t, filepath.Join(t.TempDir(), "wimp.db"), sqlite.WithClock(func() time.Time { return now }))
	in := &store.Instance{ID: uuid.New(), State: workflow.Active}
	recs := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in, Records: recs}); err != nil {
		t.Fatal(err)
	}
	want := now.Truncate(time.Millisecond).UTC()
	if in.Created != want || in.Updated != want || recs[0].Time != want {
		t.Fatalf("Created %v Updated %v record %v, want %v", in.Created, in.Updated, recs[0].Time, want)
	}
	now = now.Add(time.Minute)
	if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(bg, in.ID)
	if got.Created != want || got.Updated != now.Truncate(time.Millisecond).UTC() || in.Updated != got.Updated {
		t.Fatalf("after update: Created %v Updated %v (struct %v)", got.Created, got.Updated, in.Updated)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	for range 3 {
		s := openAt(t, path)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := sqlitetest.Open(t, path)
	var n, max int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("migrations")
	if n != len(entries) || max != len(entries) {
		t.Fatalf("schema_migrations has %d rows (max %d), want %d", n, max, len(entries))
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path)
	s.Close()
	db := sqlitetest.Open(t, path)
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := sqlite.Open(bg, path)
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("Open on a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestPragmasAndIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	openAt(t, path)
	db := sqlitetest.Open(t, path)
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	for query, index := range map[string]string{
		"SELECT id FROM instances INDEXED BY instances_due_timer WHERE state = 'Active' AND pending_timer IS NOT NULL AND pending_timer <= 5 ORDER BY pending_timer, id LIMIT 10":                                      "instances_due_timer",
		"SELECT pending_timer FROM instances INDEXED BY instances_due_timer WHERE state = 'Active' AND pending_timer IS NOT NULL ORDER BY pending_timer LIMIT 1":                                                       "instances_due_timer",
		"SELECT id FROM instances INDEXED BY instances_runnable WHERE state = 'Active' AND execution_status = 'Executing' AND (failures = 0 OR pending_timer IS NULL OR pending_timer <= 5) ORDER BY id LIMIT 10":      "instances_runnable",
		"UPDATE instances INDEXED BY instances_lease SET lease_owner = '' WHERE lease_owner = 'x' AND lease_owner != ''":                                                                                               "instances_lease",
		"SELECT id FROM instances WHERE state = 'Suspended' ORDER BY created, id LIMIT 5":                                                                                                                              "instances_state",
		"SELECT first_seq, time, records FROM tracking_batches WHERE instance_id = 'x' AND last_seq > 3 ORDER BY last_seq":                                                                                             "tracking_batches_instance",
		"SELECT b.first_seq FROM tracking_batches AS b INDEXED BY tracking_batches_time JOIN instances AS i ON i.id = b.instance_id WHERE b.time < 5 AND i.state != 'Completed' ORDER BY b.time, b.first_seq LIMIT 10": "tracking_batches_time",
	} {
		rows, err := db.Query("EXPLAIN QUERY PLAN " + query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("plan of %q = %q, want it to use %s without a sort", query, p, index)
		}
	}
}

// TestBusyNeverReachesCaller: another connection holds the write lock far longer than the
// busy timeout; commits wait and succeed, reads are not blocked.
func TestBusyNeverReachesCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path, sqlite.WithBusyTimeout(5*time.Millisecond))
	in := &store.Instance{ID: uuid.New(), State: workflow.Active}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in}); err != nil {
		t.Fatal(err)
	}
	unlock := sqlitetest.HoldWriteLock(t, path)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: &store.Instance{ID: uuid.New(), State: workflow.Active}})
		})
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := s.Get(bg, in.ID); err != nil {
		t.Fatalf("Get while another connection writes: %v", err)
	}
	unlock()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
}

// TestGroupCommitBatches: concurrent callers share transactions.
func TestGroupCommitBatches(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "wimp.db"))
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: &store.Instance{ID: uuid.New(), State: workflow.Active}}); err != nil {
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

// TestCloseDrainsQueue: commits queued before Close are all committed and durable.
func TestCloseDrainsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path)
	ins := make([]*store.Instance, 300)
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i := range ins {
		ins[i] = &store.Instance{ID: uuid.New(), State: workflow.Active}
		wg.Go(func() { errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i]}) })
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = openAt(t, path)
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

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if s, err := sqlite.Open(bg, p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// ---- crash test ----

const crashEnv = "WIMP_STORE_CRASH_DB"

// TestMain runs the test binary as TestCrash's child when TestCrash starts it so.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
	}
	os.Exit(m.Run())
}

// crashChild is the child of TestCrash: it commits forever from several goroutines and
// prints "ack <id> <version>" after each acknowledged commit, until it is killed.
func crashChild(path string) {
	s, err := sqlite.Open(bg, path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	ack := func(id uuid.UUID, v int64) {
		mu.Lock()
		fmt.Fprintf(out, "ack %s %d\n", id, v)
		out.Flush() // the line is out before the next commit starts
		mu.Unlock()
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	for range 8 {
		go func() {
			for {
				in := &store.Instance{ID: uuid.New(), State: workflow.Active, Image: make([]byte, 2000)}
				if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in,
					Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}}); err != nil {
					fmt.Println("error", err)
					os.Exit(4)
				}
				ack(in.ID, in.Version)
				for range 3 {
					if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in,
						Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Persisted"}}}); err != nil {
						fmt.Println("error", err)
						os.Exit(4)
					}
					ack(in.ID, in.Version)
				}
			}
		}()
	}
	select {}
}

// TestCrash kills a committing child process with SIGKILL at a random moment, several times
// over the same database, and checks every acknowledged commit survived.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[uuid.UUID]int64{}
	for round := range 4 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %q", sc.Text())
		}
		delay := time.Duration(100+rand.IntN(400)) * time.Millisecond
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("child said %q", sc.Text())
			}
			id := uuid.MustParse(f[1])
			var v int64
			fmt.Sscan(f[2], &v)
			if v > acked[id] {
				acked[id] = v
			}
			n++
		}
		timer.Stop()
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child ended with %v, want killed", err)
		}
		t.Logf("round %d: killed after %v, %d acks", round, delay, n)
		if n == 0 {
			continue
		}

		s, err := sqlite.Open(bg, path)
		if err != nil {
			t.Fatalf("reopen after crash: %v", err)
		}
		for id, v := range acked {
			got, err := s.Get(bg, id)
			if err != nil {
				t.Fatalf("acknowledged instance %s lost: %v", id, err)
			}
			if got.Version < v {
				t.Fatalf("instance %s at version %d, acknowledged %d", id, got.Version, v)
			}
			rs, err := s.Records(bg, id, 0)
			if err != nil || int64(len(rs)) != got.Version {
				t.Fatalf("instance %s version %d has %d records (%v)", id, got.Version, len(rs), err)
			}
		}
		s.Close()
	}
	if len(acked) == 0 {
		t.Fatal("no commit was acknowledged in any round")
	}
}

// A second Store on the same file is refused at once, naming the owner the first registered;
// once the first is closed, the file opens again.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	first := openAt(t, path)
	if err := first.Register(bg, store.Owner{ID: "node-a/1", Node: "node-a:8080", Info: "pid 4242"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(bg, path)
	if !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	for _, want := range []string{path, `owner "node-a/1"`, "node-a:8080", "pid 4242", "--db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second Open's error %q does not mention %q", err, want)
		}
	}
	// Through a symbolic link too.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(bg, link); !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("Open through a symbolic link: %v, want ErrInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openAt(t, path).Close()
}

// Owners registered by a process that is gone hold nothing once the file is opened again: the
// file lock proves they are dead, so their leases are free at once, not after their expiry.
func TestOpenFreesDeadOwners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path)
	if err := s.Register(bg, store.Owner{ID: "gone"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	in := &store.Instance{ID: uuid.New(), State: workflow.Active}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in, By: "gone", Hold: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openAt(t, path)
	if owners, err := s.Owners(bg); err != nil || len(owners) != 0 {
		t.Fatalf("Owners after reopening: %v, %v; want none", owners, err)
	}
	if err := s.Register(bg, store.Owner{ID: "next"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Claim(bg, in.ID, "next"); err != nil || l != (store.Lease{Owner: "next", Token: 2}) {
		t.Fatalf("Claim after reopening = %+v, %v; want {next 2}", l, err)
	}
}

// While another connection holds the write lock longer than the write timeout, every write
// fails with ErrTimeout (none hangs), and none of them is applied after the lock is released.
func TestWriteTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	s := openAt(t, path, sqlite.WithWriteTimeout(200*time.Millisecond))
	if err := s.Register(bg, store.Owner{ID: "a"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	unlock := sqlitetest.HoldWriteLock(t, path)
	var wg sync.WaitGroup
	ins := make([]*store.Instance, 20)
	errs := make([]error, len(ins)+1)
	start := time.Now()
	for i := range ins {
		ins[i] = &store.Instance{ID: uuid.New(), State: workflow.Active}
		wg.Go(func() {
			errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i],
				Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}})
		})
	}
	wg.Go(func() { errs[len(ins)] = s.Renew(bg, "a", time.Hour) })
	wg.Wait()
	elapsed := time.Since(start)
	for i, err := range errs {
		if !errors.Is(err, store.ErrTimeout) {
			t.Fatalf("write %d while the lock is held: %v, want ErrTimeout", i, err)
		}
	}
	if elapsed > 5*time.Second {
		t.Fatalf("writes took %v to time out with a 200ms write timeout", elapsed)
	}
	unlock()
	// The writer is free again; nothing of the refused writes appears, now or later.
	probe := &store.Instance{ID: uuid.New(), State: workflow.Active}
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: probe}); err != nil {
		t.Fatalf("write after the lock was released: %v", err)
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

// A database that cannot be written is refused at Open with ErrUnwritable and a message that
// says what to check. The file is made immutable (chattr +i) as root, read-only otherwise.
func TestOpenRefusesUnwritableDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wimp.db")
	openAt(t, path).Close()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			testserver.NeedsRoot(t, "chattr +i", fmt.Errorf("%v: %s", err, out))
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	} else if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(bg, path)
	if !errors.Is(err, sqlite.ErrUnwritable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("Open of an unwritable database: %v, want ErrUnwritable naming the file and what to check", err)
	}
}
