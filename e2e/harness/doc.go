// Package harness is the reliability issue's crash and contention harness: Go tests that run
// the real wimp-server binary (built by TestMain, with -race when the tests run with -race)
// and check it against a model of the MS-WFIM state table (docs/protocol.md, "State table")
// with the linearizability checker github.com/anishathalye/porcupine.
//
//   - TestCrashHarness: concurrent clients run a mix of management operations (Suspend with
//     reasons, Unsuspend, Run, Cancel, Terminate, Abandon, Update, plain and Transacted) and
//     hosting ResumeBookmark "Review" with payloads, plus GetInstance reads, while the server
//     is killed with SIGKILL at random moments and restarted on the same database. After each
//     restart: every history is linearizable (an operation whose connection the kill dropped
//     may or may not have taken effect), every acknowledged operation wrote its one tracking
//     record, and timers and bookmarks still work.
//   - TestContention: 64 clients on 4 instances with conflicting operations: histories
//     linearizable, no Receiver fault ("database is locked", InternalServiceFault), bounded
//     run time, one tracking record per acknowledged operation, p50/p99 latency.
//   - TestSIGTERMUnderLoad: SIGTERM while clients run: the server exits 0 within its
//     --shutdown-timeout plus a margin, and after a restart nothing acknowledged is lost.
//   - TestWriteLockHeldElsewhere, TestDiskFull, TestWALUnwritable: environment faults (another
//     process holding SQLite's write lock, a full tmpfs, an immutable -wal file): Receiver
//     faults within the bound, /healthz 503, nothing half-written, recovery by itself.
//   - TestClusterKill9: three wimp-server nodes on one PostgreSQL database (--lease 2s), the
//     crash test's load sent to random nodes (an operation on an instance another node holds is
//     forwarded to it), one node killed with SIGKILL and restarted per cycle: histories
//     linearizable per instance across nodes, every acknowledged operation's record there once,
//     the dead node's timers fired elsewhere within lease expiry and a detection period, every
//     timer exactly once across the cluster.
//   - TestClusterPartition: one node reaches the database through a TCP proxy the test stops:
//     before its lease can expire the node answers /healthz with 503 and drops everything it
//     had loaded, the others take its instances over and fire its timers exactly once, and it
//     recovers by itself when the database comes back; histories checked as above.
//
// Every test logs one SUMMARY line with its numbers.
//
// Sizes. By default (CI: go test -race -count=1 ./...) the harness is sized to take about a
// minute under -race on two cores: 5 kill/restart cycles, 8 s of contention, 2 SIGTERM
// cycles. The long mode runs the bigger numbers (25 kill/restart cycles, 60 s of contention,
// 6 SIGTERM cycles):
//
//	go test -race -count=1 -v ./e2e/harness -long -timeout 60m
//	WIMP_HARNESS_LONG=1 go test -race -count=1 -v ./e2e/harness -timeout 60m   # same; also works with ./...
//
// WIMP_HARNESS_SEED=N fixes the random choices (the kills' timing stays real time);
// WIMP_HARNESS_CONTENTION_CLIENTS=N and WIMP_HARNESS_CONTENTION_FOR=30s change the contention
// test's size. A history that fails its check is written to $TMPDIR/wimp-harness-*.json (with
// porcupine's visualization, *.html); WIMP_HARNESS_REPLAY=FILE go test -run TestReplayHistory
// ./e2e/harness checks it again.
//
// How histories are checked: each instance's history (operations on different instances
// commute) goes to porcupine with the model of model_test.go. Two narrowings, each only
// stricter than the history, keep porcupine's search small under contention: an operation's
// interval starts no earlier than its tracking record's time (the server builds the record
// under the instance lock before committing the change with it), and the changes are first
// tried in the order of their records (the server's commit order); refusals and reads of a
// completed instance are folded into one constraint on the operation that completed it. If
// that ordered check fails, the full history is checked without the order. A check porcupine
// cannot finish in time is reported as undecided (no violation found), not as a pass.
//
// The disk-full and WAL tests need root (tmpfs mount, chattr +i): without it they skip, or
// fail when WIMP_REQUIRE_ROOT=1 (CI runs as root and sets it).
package harness
