package harness

import (
	"errors"
	"fmt"
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
	"github.com/wimp-project/wimp/store/sqlite/sqlitetest"
)

// commitTimeout is the --commit-timeout of the environment-fault tests.
const commitTimeout = 300 * time.Millisecond

// faultBound is how long a change may take to be refused while the store cannot be written:
// the commit timeout plus a margin for the race detector and a loaded machine.
const faultBound = commitTimeout + 3*time.Second

// A store fault, made and cleared by the test.
type storeFault struct {
	name string
	// acksAllowed: a change may still be acknowledged while the fault holds (a full disk can
	// have room left in pages SQLite already owns); it must then be durable.
	acksAllowed bool
	make, clear func(t *testing.T)
}

// Another process holds SQLite's write lock (BEGIN IMMEDIATE on its own connection): every
// change is refused with a Receiver fault without subcode within --commit-timeout, /healthz
// answers 503, nothing of the refused changes is applied (then, or after a kill -9 and
// restart), and once the lock is released the service recovers by itself.
func TestWriteLockHeldElsewhere(t *testing.T) {
	s := startServer(t, "", func() []string { return []string{"--commit-timeout", commitTimeout.String()} })
	var unlock func()
	runStoreFault(t, s, storeFault{name: "write lock held by another process",
		make:  func(t *testing.T) { unlock = sqlitetest.HoldWriteLock(t, s.DB) },
		clear: func(t *testing.T) { unlock() },
	})
}

// The disk is full: the database is on a 4 MiB tmpfs whose remaining space a file fills.
// Changes are refused with a Receiver fault, /healthz answers 503, nothing half-written, and
// the service recovers by itself when the file is removed. Needs root (mount).
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		testserver.NeedsRoot(t, "mounting a tmpfs for the disk-full test", nil)
	}
	mnt := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		testserver.NeedsRoot(t, "mount -t tmpfs -o size=4m", fmt.Errorf("%v: %s", err, out))
	}
	// Registered before the server, so it runs after the server has stopped.
	t.Cleanup(func() {
		for i := 0; ; i++ {
			out, err := exec.Command("umount", mnt).CombinedOutput()
			if err == nil {
				return
			}
			if i == 20 {
				t.Errorf("umount %s: %v: %s", mnt, err, out)
				_ = exec.Command("umount", "-l", mnt).Run()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	s := startServer(t, mnt, func() []string { return []string{"--commit-timeout", commitTimeout.String()} })
	filler := filepath.Join(mnt, "filler")
	runStoreFault(t, s, storeFault{name: "disk full", acksAllowed: true,
		make: func(t *testing.T) {
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 64<<10)
			for {
				if _, err := f.Write(buf); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling %s: %v", mnt, err)
					}
					break
				}
			}
			for n := 1 << 12; n > 0; n /= 2 { // the last bytes
				for {
					if _, err := f.Write(buf[:n]); err != nil {
						break
					}
				}
			}
			var fs syscall.Statfs_t
			if err := syscall.Statfs(mnt, &fs); err == nil {
				t.Logf("the tmpfs is full: %d bytes free", fs.Bavail*uint64(fs.Bsize))
			}
		},
		clear: func(t *testing.T) {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// The write-ahead log cannot be written: chattr +i makes wimp.db-wal immutable (ext4 refuses
// writes to an immutable file even through descriptors opened before). Changes are refused
// with a Receiver fault, /healthz answers 503, nothing half-written, and the service recovers
// by itself after chattr -i. Needs root and a filesystem with the immutable attribute.
func TestWALUnwritable(t *testing.T) {
	if os.Geteuid() != 0 {
		testserver.NeedsRoot(t, "chattr +i on the WAL", nil)
	}
	s := startServer(t, "", func() []string { return []string{"--commit-timeout", commitTimeout.String()} })
	wal := s.DB + "-wal"
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", wal).Run() })
	runStoreFault(t, s, storeFault{name: "WAL immutable (chattr +i)",
		make: func(t *testing.T) {
			if _, err := os.Stat(wal); err != nil {
				t.Fatalf("the database has no WAL file to make unwritable: %v", err)
			}
			if out, err := exec.Command("chattr", "+i", wal).CombinedOutput(); err != nil {
				testserver.NeedsRoot(t, "chattr +i "+wal, fmt.Errorf("%v: %s", err, out))
			}
		},
		clear: func(t *testing.T) {
			if out, err := exec.Command("chattr", "-i", wal).CombinedOutput(); err != nil {
				t.Fatalf("chattr -i: %v: %s", err, out)
			}
		},
	})
}

// runStoreFault drives one store fault: instances, the fault, a burst of changes that must
// be refused (Receiver fault without subcode, within faultBound), /healthz 503, reads still
// answered, the fault cleared, /healthz 200 again and changes acknowledged again; then the
// tracking records (no record of a refused change) and linearizability (no refused change in
// effect) are checked, once more after a kill -9 and restart.
func runStoreFault(t *testing.T, s *server, f storeFault) {
	rng := seed(t)
	rec, led, st := newRecorder(), newLedger(), newStats()
	l := &load{rec: rec, led: led, st: st, timeout: 30 * time.Second}
	c := s.clients(30 * time.Second)
	defer func() { c.close() }()
	var ids []uuid.UUID
	for i := 0; i < 4; i++ {
		id, o, err := l.create(c, checker, 1500)
		if err != nil || o.Fault != "" {
			t.Fatalf("creating an instance: %v %v", o, err)
		}
		ids = append(ids, id)
	}
	must := func(a action) {
		t.Helper()
		if o, err := l.do(c, checker, a); err != nil || o.Fault != "" {
			t.Fatalf("%s before the fault: %v %v (%s)", a, o, err, o.Detail)
		}
	}
	must(newAction(rng, "Suspend", ids[1], "before"))
	must(action{Op: "ResumeBookmark", ID: ids[2], Review: "approve", Nonce: "rb-before"})
	if code, body, err := c.healthz(); err != nil || code != 200 {
		t.Fatalf("/healthz before the fault: %d %q %v", code, body, err)
	}

	f.make(t)
	faultAt := time.Now()
	// A full disk may leave room in pages SQLite already has: write until the first refusal.
	var probes, probeAcks int
	var probeTook time.Duration
	for refused := false; !refused; probes++ {
		op := "Suspend"
		if probes%2 == 1 {
			op = "Unsuspend"
		}
		a := newAction(rng, op, ids[0], fmt.Sprintf("probe-%d", probes))
		start := time.Now()
		o, err := l.do(c, checker, a)
		switch {
		case err != nil:
			t.Fatalf("%s while %s: no reply: %v", a, f.name, err)
		case o.Fault == "Receiver":
			refused = true
			probeTook = time.Since(start)
			if d := probeTook; d > faultBound {
				t.Errorf("%s while %s: the Receiver fault took %v, more than --commit-timeout %v plus a margin", a, f.name, d, commitTimeout)
			}
		case o.Fault == "":
			probeAcks++
			if !f.acksAllowed {
				t.Fatalf("%s was acknowledged while %s: a change that cannot be committed must be refused", a, f.name)
			}
		default:
			t.Fatalf("%s while %s: fault %s (%s), want a Receiver fault without subcode", a, f.name, o.Fault, o.Detail)
		}
		if probes == 500 || time.Since(faultAt) > 30*time.Second {
			t.Fatalf("the store still accepted changes %d times (%v) after %s: the fault could not be produced", probeAcks, time.Since(faultAt).Round(time.Millisecond), f.name)
		}
	}

	// A burst of concurrent changes of every kind, a creation included.
	burst := []action{
		newAction(rng, "Suspend", ids[0], "burst-0"), newAction(rng, "TransactedSuspend", ids[3], "burst-3"),
		{Op: "Run", ID: ids[3]}, {Op: "TransactedRun", ID: ids[2]},
		{Op: "Unsuspend", ID: ids[1]}, {Op: "Cancel", ID: ids[2]},
		newAction(rng, "Terminate", ids[3], "burst-t3"), newAction(rng, "Abandon", ids[2], "burst-a2"),
		{Op: "ResumeBookmark", ID: ids[2], Review: "approve", Nonce: "rb-burst-2"},
		{Op: "ResumeBookmark", ID: ids[3], Review: "deny", Nonce: "rb-burst-3"},
		{Op: "Update", ID: ids[2]},
		{Op: "Create", ID: uuid.New(), Amount: 10},
	}
	type result struct {
		a action
		o outcome
		d time.Duration
	}
	results := make([]result, len(burst))
	var wg sync.WaitGroup
	for i, a := range burst {
		wg.Go(func() {
			bc := s.clients(30 * time.Second)
			defer bc.close()
			start := time.Now()
			o, err := l.do(bc, i, a)
			if err != nil {
				o = outcome{Unknown: true, Detail: err.Error()}
			}
			results[i] = result{a, o, time.Since(start)}
		})
	}
	wg.Wait()
	// The changes of one instance wait for each other (they are decided under its lock), and
	// each may take the whole commit timeout to be refused: the bound grows with them.
	perInstance := map[uuid.UUID]int{}
	for _, a := range burst {
		perInstance[a.ID]++
	}
	var maxRefusal time.Duration
	refusals, acks, queued := 0, 0, 0
	for _, r := range results {
		bound := time.Duration(perInstance[r.a.ID])*commitTimeout + 3*time.Second
		switch {
		case r.o.Unknown:
			t.Errorf("%s while %s: no reply: %s", r.a, f.name, r.o.Detail)
		case r.o.Fault == "Receiver":
			refusals++
			if r.d > maxRefusal {
				maxRefusal, queued = r.d, perInstance[r.a.ID]
			}
			if r.d > bound {
				t.Errorf("%s while %s: the Receiver fault took %v, more than %d × --commit-timeout %v (the changes of its instance in the burst) plus a margin",
					r.a, f.name, r.d, perInstance[r.a.ID], commitTimeout)
			}
		case r.o.Fault == "":
			acks++
			if !f.acksAllowed {
				t.Errorf("%s was acknowledged while %s: a change that cannot be committed must be refused", r.a, f.name)
			}
		case r.o.Fault == "InstanceSuspended" || r.o.Fault == "InstanceCompleted" || r.o.Fault == "InstanceTerminated":
			// A refusal of the state table needs no write; the model checks it.
		default:
			t.Errorf("%s while %s: fault %s (%s), want a Receiver fault without subcode", r.a, f.name, r.o.Fault, r.o.Detail)
		}
	}
	if refusals == 0 {
		t.Errorf("no change of the burst was refused while %s", f.name)
	}
	_, healthBody := c.waitHealth(t, 503, faultBound+time.Second)
	healthFail := time.Since(faultAt)
	// Reads are still answered.
	for _, id := range ids {
		if o, err := l.do(c, checker, action{Op: "Get", ID: id}); err != nil || (o.Fault != "" && o.Fault != "InstanceNotFound") {
			t.Errorf("GetInstance while %s: %v %v (%s)", f.name, o, err, o.Detail)
		}
	}
	heldFor := time.Since(faultAt)

	f.clear(t)
	cleared := time.Now()
	healthOK, _ := c.waitHealth(t, 200, 30*time.Second)
	// Changes are acknowledged again (a client may retry a refused one: the docs say so).
	var recovered time.Duration
	for _, id := range ids {
		a := newAction(rng, "Suspend", id, "after-"+id.String()[:8])
		for {
			o, err := l.do(c, checker, a)
			if err != nil {
				t.Fatalf("%s after %s was cleared: no reply: %v", a, f.name, err)
			}
			if o.Fault != "Receiver" {
				break
			}
			if time.Since(cleared) > 30*time.Second {
				t.Fatalf("%s is still refused %v after %s was cleared: %s", a, time.Since(cleared).Round(time.Millisecond), f.name, o.Detail)
			}
			a = newAction(rng, "Suspend", id, fmt.Sprintf("after-%s-%d", id.String()[:8], rng.IntN(1e9)))
			time.Sleep(100 * time.Millisecond)
		}
		recovered = max(recovered, time.Since(cleared))
	}
	id, o, err := l.create(c, checker, 10)
	if err != nil || o.Fault != "" {
		t.Fatalf("creating an instance after %s was cleared: %v %v", f.name, o, err)
	}
	ids = append(ids, id, burst[len(burst)-1].ID)

	check := func(when string) (verified int, cs checkStats) {
		cc := s.clients(30 * time.Second)
		defer cc.close()
		for _, id := range ids {
			if o, err := l.do(cc, checker, action{Op: "Get", ID: id}); err != nil || (o.Fault != "" && o.Fault != "InstanceNotFound") {
				t.Fatalf("%s: GetInstance %s: %v %v", when, id, o, err)
			}
		}
		recs := fetchRecords(t, cc, ids)
		return checkRecords(t, led, recs, when), checkLinearizable(t, rec, when, recs)
	}
	check("after " + f.name + " was cleared")
	s.Kill9()
	s.Start()
	verified, cs := check("after " + f.name + ", a kill -9 and a restart")

	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("SUMMARY harness store fault %q: %d refused changes (Receiver fault without subcode; a lone change refused in %v; in the concurrent burst the slowest in %v with %d changes of its instance queued, bound n × %v + 3s), %d acknowledged while it held; /healthz 503 %v after it (%s); held %v; /healthz 200 %v and changes acknowledged %v after it was cleared; %d acknowledged changes' records verified and no refused one applied, %d histories linearizable, before and after kill -9 and restart",
		f.name, st.receiver, probeTook.Round(time.Millisecond), maxRefusal.Round(time.Millisecond), queued, commitTimeout, probeAcks+acks, healthFail.Round(time.Millisecond), clip(healthBody, 120),
		heldFor.Round(time.Millisecond), healthOK.Round(time.Millisecond), recovered.Round(time.Millisecond), verified, cs.histories)
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
