package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
)

// WithObserver has f called once per batch a writer takes from its queue, on the writer's
// goroutine before the batch's calls are answered: it must be quick (the writer's next batch
// waits for it) and must not call the store.
func WithObserver(f func(store.BatchInfo)) Option { return func(o *options) { o.observer = f } }

func (s *Store) observe(b store.BatchInfo) {
	if f := s.opts.observer; f != nil {
		f(b)
	}
}

// request is one call waiting for a writer.
type request struct {
	apply func(*tx) error // runs inside the batch's transaction, in a savepoint of its own
	// fast, if not nil, returns the request's fast statement at store time now (nil: it has
	// none); the statement's miss sends the request to apply (see fast.go).
	fast    func(now time.Time) *fastWrite
	undo    func() // undoes apply's write-backs when the transaction is rolled back
	changes int    // Changes it carries, for Stats and compaction
	// rows are the instance rows it writes or locks while waiting (FOR UPDATE, UPDATE, DELETE):
	// the batch locks them all first, in id order (see lockRowsSQL).
	rows []uuid.UUID
	backend.Ticket
}

// submit queues r for a writer and waits for its outcome (see backend.Queue.Submit).
func (s *Store) submit(ctx context.Context, r *request) error { return s.queue.Submit(ctx, r) }

// run is a writer goroutine: group commit until the queue is closed and drained.
func (s *Store) run() {
	defer s.writers.Done()
	var batch []*request
	for {
		var ok bool
		// At least one request a batch, whatever WithMaxBatch says.
		if batch, ok = s.queue.Next(batch[:0], max(s.opts.maxBatch, 1)); !ok {
			return
		}
		if len(batch) > 0 {
			s.commitBatch(batch)
		}
		clear(batch) // drop references for the GC
		if s.sinceCompact.Load() >= s.opts.compactEvery {
			s.compactCounts()
		}
	}
}

// commitBatch runs one transaction for batch, retrying it while that fails for a passing reason
// (a deadlock, a lost connection, a request's deadline canceling a statement), and answers every
// request. Requests whose deadline passes before their transaction could be committed are
// answered ErrTimeout and dropped first: none of them is ever applied.
func (s *Store) commitBatch(batch []*request) {
	start, taken := time.Now(), len(batch)
	errs := make([]error, len(batch))
	var txErr error
	noFast := s.opts.noFast
	for n := 0; ; n++ {
		batch, errs = s.queue.Expire(batch, errs, fmt.Errorf("%w: the database could not be written within %v (is another node or session holding locks, or is the server unreachable?)",
			store.ErrTimeout, s.opts.writeTimeout))
		if len(batch) == 0 {
			s.observe(store.BatchInfo{TimedOut: taken, Duration: time.Since(start), Err: store.ErrTimeout})
			return
		}
		err := s.tryBatch(batch, errs, noFast)
		if err == nil {
			break
		}
		if errors.Is(err, errFastBroke) {
			noFast = true // the full path tells which request broke it
			continue
		}
		var culprit *requestFault
		if errors.As(err, &culprit) {
			// One request broke the transaction in a way that is its own (not the database's)
			// fault: it alone fails; the others go again at once.
			r := batch[culprit.index]
			s.failed.Add(1)
			r.Answer(culprit.err)
			batch = append(batch[:culprit.index], batch[culprit.index+1:]...)
			errs = errs[:len(batch)]
			taken--
			continue
		}
		if transient(err) {
			s.retries.Add(1)
			backend.Pause(batch, n)
			continue
		}
		txErr = err
		for i := range errs {
			errs[i] = err
		}
		break
	}
	// Count before answering, so a caller that returned sees its commit in Stats.
	ok, changes := 0, 0
	for i, r := range batch {
		if errs[i] == nil {
			ok++
			changes += r.changes
		}
	}
	s.commits.Add(uint64(ok))
	s.failed.Add(uint64(len(batch) - ok))
	s.batchedChanges.Add(uint64(changes))
	s.sinceCompact.Add(int64(changes))
	if ok > 0 {
		s.batches.Add(1)
		for {
			m := s.maxBatch.Load()
			if int64(len(batch)) <= m || s.maxBatch.CompareAndSwap(m, int64(len(batch))) {
				break
			}
		}
	}
	s.observe(store.BatchInfo{Requests: len(batch), Failed: len(batch) - ok, TimedOut: taken - len(batch),
		Duration: time.Since(start), Err: txErr})
	for i, r := range batch {
		r.Answer(errs[i])
	}
}

// requestFault is a batch that failed because of one request (a value pgx could not encode,
// a result it could not scan): that request fails with err, the others are tried again.
type requestFault struct {
	index int
	err   error
}

func (f *requestFault) Error() string { return f.err.Error() }
func (f *requestFault) Unwrap() error { return f.err }

// errFastBroke: the pipeline of fast statements failed in a way no one request can be told
// from (pgx could not encode or scan a value); the batch is tried again without fast paths.
var errFastBroke = errors.New("postgres: the pipeline of fast statements failed")

// errNoWrite marks a batch-level failure that is known to have written nothing.
var errNoWrite = errors.New("postgres: the transaction was rolled back")

// unsendable reports whether err is pgx's refusal to send a pipeline it could not build (a
// value it cannot encode): the fault of the request with that value, though pgx closes the
// connection for it.
func unsendable(err error) bool {
	var pe pgx.ErrPreprocessingBatch
	return errors.As(err, &pe) && !errors.As(err, new(*pgconn.PgError))
}

// ownError reports whether err is one of the contract's refusals, which a request decides
// and which roll back only its own savepoint.
func ownError(err error) bool {
	for _, e := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict, store.ErrInvalid, store.ErrLeased,
		store.ErrLeaseLost, store.ErrOwnerExists, store.ErrLive, store.ErrJobNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// transient reports whether a batch that failed with err wrote nothing and may succeed when
// tried again: a deadlock or serialization failure, a canceled statement (a request's deadline),
// a lock not available, the server shutting down or out of resources, a lost connection.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "40", "08", "53", "57": // transaction rollback, connection, resources, operator intervention
			return true
		}
		return pe.Code == "55P03" // lock_not_available
	}
	return !errors.Is(err, errOutcomeUnknown)
}

// tx is one request's view of the batch's transaction. Its statements are sent in pipelines
// (pgx batches); statements that only have to run before the next one (BEGIN, SAVEPOINT,
// RELEASE, ROLLBACK TO) wait in pending and go out at the head of the next pipeline.
type tx struct {
	ctx     context.Context // the batch's: canceled when its earliest deadline passes
	conn    *pgx.Conn
	now     time.Time       // the store's clock: owners' expiry and default times
	live    map[string]bool // owners' liveness as looked up in this transaction
	pending []string
	begun   bool  // BEGIN has been sent
	spSent  bool  // the current request's SAVEPOINT has been sent
	xid     int64 // the transaction's id (pg_current_xact_id), once BEGIN has been sent
}

const (
	beginSQL     = "BEGIN ISOLATION LEVEL READ COMMITTED"
	savepointSQL = "SAVEPOINT req"
	releaseSQL   = "RELEASE SAVEPOINT req"
	rollbackSQL  = "ROLLBACK TO SAVEPOINT req"
	xidSQL       = "SELECT pg_current_xact_id()::text::bigint"
)

// pendingError is the failure of a pending statement: the transaction's, not the request's.
type pendingError struct{ err error }

func (e *pendingError) Error() string { return e.err.Error() }
func (e *pendingError) Unwrap() error { return e.err }

// send runs b's queries after the pending statements, in one round trip, and returns the first
// error (a query's, or a callback's). Callbacks return only what breaks the request (a scan
// error): pgx forgets the prepared statements of a pipeline that returns an error, which then
// costs preparing them again, so expected refusals are noted by the callbacks and returned
// after send.
func (t *tx) send(b *pgx.Batch) error {
	if len(t.pending) > 0 {
		head := make([]*pgx.QueuedQuery, 0, len(t.pending)+1)
		for _, q := range t.pending {
			switch q {
			case savepointSQL:
				t.spSent = true
			case beginSQL:
				t.begun = true
			}
			head = append(head, &pgx.QueuedQuery{SQL: q, Fn: func(br pgx.BatchResults) error {
				if _, err := br.Exec(); err != nil {
					return &pendingError{err}
				}
				return nil
			}})
			if q == beginSQL {
				head = append(head, &pgx.QueuedQuery{SQL: xidSQL, Fn: func(br pgx.BatchResults) error {
					if err := br.QueryRow().Scan(&t.xid); err != nil {
						return &pendingError{err}
					}
					return nil
				}})
			}
		}
		b.QueuedQueries = append(head, b.QueuedQueries...)
		t.pending = t.pending[:0]
	}
	return t.conn.SendBatch(t.ctx, b).Close()
}

// exec runs one statement.
func (t *tx) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	b := &pgx.Batch{}
	b.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	return tag, t.send(b)
}

// execOne runs one statement and returns none if it changed no row.
func (t *tx) execOne(none error, sql string, args ...any) error {
	tag, err := t.exec(sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		return none
	}
	return err
}

// queryRow runs one query and scans its row; false if it has none.
func (t *tx) queryRow(sql string, args []any, dest ...any) (bool, error) {
	found := true
	b := &pgx.Batch{}
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		err := row.Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			found = false
			return nil
		}
		return err
	})
	err := t.send(b)
	return found && err == nil, err
}

// lockRowsSQL is the statement that locks, in id order, every instance row the requests of
// batch write ("" for none). Each node's batch transaction would otherwise lock rows in the
// order of its requests and wait for one another node's batch holds while holding one that
// batch wants (a node persisting its instance X and claiming Y, another persisting Y and
// claiming X): a deadlock, which PostgreSQL breaks only after deadlock_timeout (1 s by default),
// longer than a write under a short lease may take. Taken in one order, up front, the locks
// cannot form a cycle: after this statement a batch waits for no row lock (claims pick with
// SKIP LOCKED), and this statement waits only for lower ids than those it holds.
func lockRowsSQL(batch []*request) string {
	var ids []uuid.UUID
	for _, r := range batch {
		ids = append(ids, r.rows...)
	}
	if len(ids) == 0 {
		return ""
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	var b strings.Builder
	b.WriteString("SELECT 1 FROM instances WHERE id IN (")
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + id.String() + "'") // a UUID's text form: hex digits and hyphens
	}
	b.WriteString(") ORDER BY id FOR UPDATE")
	return b.String()
}

// tryBatch applies batch in one transaction. Per-request refusals (ErrConflict, ...) and
// statement errors are put in errs and roll back only that request's savepoint. A non-nil
// return means the whole transaction was rolled back (and every write-back undone), or, for
// errOutcomeUnknown, that whether it committed could not be learned.
func (s *Store) tryBatch(batch []*request, errs []error, noFast bool) error {
	deadline := batch[0].Deadline
	for _, r := range batch[1:] {
		if r.Deadline.Before(deadline) {
			deadline = r.Deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	pc, err := s.wpool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer pc.Release()
	t := &tx{ctx: ctx, conn: pc.Conn(), now: msNow(s.opts.clock), pending: []string{beginSQL}}
	if lock := lockRowsSQL(batch); lock != "" {
		t.pending = append(t.pending, lock)
	}

	var applied []*request
	fail := func(err error) error {
		if t.begun {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = t.conn.Exec(rctx, "ROLLBACK") // a broken connection is dropped by Release
			cancel()
		}
		for i := len(applied) - 1; i >= 0; i-- {
			if applied[i].undo != nil {
				applied[i].undo()
			}
		}
		return err
	}
	// First the fast statements of the batch, in one pipeline; then, one by one, the requests
	// that have none or whose statement missed. Concurrent calls may take effect in any order.
	full := make([]int, 0, len(batch))
	var fast []fastSlot
	fastHits := 0
	for i, req := range batch {
		if req.fast != nil && !noFast {
			if fw := req.fast(t.now); fw != nil {
				fast = append(fast, fastSlot{index: i, fw: fw})
				continue
			}
		}
		full = append(full, i)
	}
	if len(fast) > 0 {
		err := t.sendFast(fast)
		done := 0 // fast[:done] ran to their RELEASE
		for done < len(fast) && fast[done].released {
			done++
		}
		for _, f := range fast[:done] {
			if !f.hit {
				full = append(full, f.index)
				continue
			}
			f.fw.finish(f.seqs)
			applied = append(applied, batch[f.index])
			errs[f.index] = nil
			fastHits++
		}
		if err != nil {
			var pe *pgconn.PgError
			switch {
			case errors.As(err, new(*pendingError)):
				return fail(err)
			case unsendable(err):
				return fail(fmt.Errorf("%w: %w", errFastBroke, err))
			case ctx.Err() != nil, t.conn.IsClosed():
				return fail(err)
			case !errors.As(err, &pe):
				return fail(fmt.Errorf("%w: %w", errFastBroke, err))
			case transient(err), done == len(fast):
				return fail(err)
			}
			// One statement failed (text PostgreSQL cannot store, say): its request fails, the
			// statements after it did not run and go the full way.
			if _, rerr := t.conn.Exec(ctx, rollbackSQL+"; "+releaseSQL); rerr != nil {
				return fail(&pendingError{rerr})
			}
			errs[fast[done].index] = badText(err)
			for _, f := range fast[done+1:] {
				full = append(full, f.index)
			}
		}
	}
	for _, i := range full {
		req := batch[i]
		t.spSent = false
		t.pending = append(t.pending, savepointSQL)
		err := req.apply(t)
		if err == nil {
			applied = append(applied, req)
			t.pending = append(t.pending, releaseSQL)
			errs[i] = nil
			continue
		}
		var pe *pgconn.PgError
		switch {
		case errors.As(err, new(*pendingError)):
			return fail(err)
		case ownError(err):
		case errors.As(err, &pe):
			if transient(err) {
				return fail(err)
			}
		case unsendable(err):
			return fail(&requestFault{index: i, err: err})
		case ctx.Err() != nil || t.conn.IsClosed():
			return fail(err)
		default:
			return fail(&requestFault{index: i, err: err})
		}
		// The request's own failure: undo its savepoint, or, if it sent nothing, forget it. A
		// refusal decided between statements leaves the transaction usable, and the undoing
		// can wait for the next pipeline; a failed statement leaves it aborted, and it is undone
		// at once, so that pgx may drop (DEALLOCATE) the prepared statements of the failed
		// pipeline before it prepares them again: it cannot while the transaction is aborted.
		switch {
		case !t.spSent:
			t.pending = t.pending[:len(t.pending)-1]
		case t.conn.PgConn().TxStatus() == 'E':
			if _, rerr := t.conn.Exec(ctx, rollbackSQL+"; "+releaseSQL); rerr != nil {
				return fail(&pendingError{rerr})
			}
		default:
			t.pending = append(t.pending, rollbackSQL, releaseSQL)
		}
		errs[i] = err
	}
	if !t.begun {
		return nil // no request reached the database: there is nothing to commit
	}
	if err := t.commit(); err != nil {
		if errors.Is(err, errNoWrite) {
			return fail(err)
		}
		// The connection broke with the COMMIT sent: learn from another connection whether it
		// took effect.
		committed, rerr := s.resolve(t.xid, pc.Conn().PgConn().PID())
		if rerr == nil {
			s.resolved.Add(1)
		}
		switch {
		case rerr != nil:
			return fail(fmt.Errorf("%w: %v (then: %v)", errOutcomeUnknown, err, rerr))
		case !committed:
			return fail(fmt.Errorf("%w: %v", errNoWrite, err))
		}
	}
	s.fast.Add(uint64(fastHits))
	return nil
}

// errOutcomeUnknown: the connection broke after COMMIT was sent and the server could not be
// asked whether it committed. It is the one failure of Commit that may have been applied.
var errOutcomeUnknown = fmt.Errorf("%w: postgres: the connection to the server was lost during COMMIT and whether it committed could not be learned", store.ErrOutcomeUnknown)

// fastSlot is a request's fast statement in the batch's pipeline, and what became of it.
type fastSlot struct {
	index    int // in the batch
	fw       *fastWrite
	hit      bool    // the statement wrote
	seqs     []int64 // of its records
	released bool    // it ran, and its savepoint was released
}

// sendFast sends the fast statements, each between a SAVEPOINT and its RELEASE, in one
// pipeline. When one fails, the pipeline stops there (the server skips the rest).
func (t *tx) sendFast(fast []fastSlot) error {
	b := &pgx.Batch{}
	for i := range fast {
		f := &fast[i]
		b.Queue(savepointSQL)
		b.Queue(f.fw.sql, f.fw.args...).QueryRow(func(row pgx.Row) error {
			var n int64
			if err := row.Scan(&n, &f.seqs); err != nil {
				return err
			}
			f.hit = n == 1
			return nil
		})
		b.Queue(releaseSQL).Exec(func(pgconn.CommandTag) error { f.released = true; return nil })
	}
	return t.send(b)
}

// commit sends what is pending and COMMIT, and waits for the server's answer without a
// deadline: once COMMIT is sent, only the server's word (or resolve's) tells the outcome.
// A failure it returns wrapping errNoWrite wrote nothing.
func (t *tx) commit() error {
	t.ctx = context.WithoutCancel(t.ctx)
	b := &pgx.Batch{}
	b.Queue("COMMIT")
	err := t.send(b)
	if err != nil && !t.conn.IsClosed() {
		// The server answered with an error and kept the session (a statement before COMMIT
		// failed, or COMMIT itself was refused): the transaction is rolled back. A session that
		// ended says nothing: a server process ended while it committed may send its FATAL
		// after the commit is durable.
		return fmt.Errorf("%w: %w", errNoWrite, err)
	}
	return err
}

// resolve learns whether transaction xid, whose connection (server process pid) broke while
// it committed, committed: it ends that server process if it still runs the transaction (it
// waits for a COMMIT that never came), then asks pg_xact_status until it is no longer in
// progress.
func (s *Store) resolve(xid int64, pid uint32) (bool, error) {
	if xid == 0 {
		return false, errors.New("postgres: the transaction's id is unknown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(s.opts.writeTimeout, 5*time.Second))
	defer cancel()
	if _, err := s.rpool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid = $1 AND backend_xid::text::bigint = $2::bigint % 4294967296`, int32(pid), xid); err != nil {
		return false, err
	}
	for n := 0; ; n++ {
		var status *string
		if err := s.rpool.QueryRow(ctx, "SELECT pg_xact_status($1::bigint::text::xid8)", xid).Scan(&status); err != nil {
			return false, err
		}
		switch {
		case status == nil:
			return false, fmt.Errorf("postgres: the status of transaction %d is no longer known", xid)
		case *status == "committed":
			return true, nil
		case *status == "aborted":
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(backend.Backoff(n)): // the ended process finishes its transaction; nothing signals it
		}
	}
}

// compactCountsSQL folds the deltas of instance_counts into one row per group (dropping groups
// that reached 0). It only deletes what it read and inserts their sums in the same transaction,
// so writers that insert deltas meanwhile are neither blocked nor lost, and readers see the
// same sums before and after; the advisory lock keeps two compactions (two nodes) from waiting
// for each other's row locks.
const compactCountsSQL = `WITH gone AS (
	DELETE FROM instance_counts
	RETURNING state, completion, definition_name, definition_package, definition_version, exception, n)
INSERT INTO instance_counts
	SELECT state, completion, definition_name, definition_package, definition_version, exception, SUM(n)
	FROM gone GROUP BY state, completion, definition_name, definition_package, definition_version, exception
	HAVING SUM(n) <> 0`

const compactLock = 0x77696d70_636e7473 // "wimpcnts"

// compactCounts runs compactCountsSQL in a transaction of its own on a writer's connection.
// Counts are right whether it runs or not: only their cost depends on it, so a failure is
// counted and it is tried again after the next batch.
func (s *Store) compactCounts() {
	s.sinceCompact.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.writeTimeout)
	defer cancel()
	err := pgx.BeginTxFunc(ctx, s.wpool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", int64(compactLock)).Scan(&locked); err != nil || !locked {
			return err
		}
		_, err := tx.Exec(ctx, compactCountsSQL)
		return err
	})
	if err != nil {
		s.compactionErrors.Add(1)
		s.sinceCompact.Store(s.opts.compactEvery)
		return
	}
	s.compactions.Add(1)
}
