package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
	"github.com/wimp-project/wimp/workflow"
)

// Commit applies changes atomically (all of this call's changes or none) and returns once
// they are committed and fsync'd. ctx is honoured while the call waits in the queue; once the
// writer has taken it into a transaction, Commit returns the true outcome. A call the writer
// cannot apply within the write timeout fails with store.ErrTimeout and is never applied.
//
// On success, for each Insert the Instance gets Version=1 and Created=Updated=now; for each
// Update Version is incremented and Updated=now; every changed Instance gets its new Lease;
// each Record gets its Seq, its InstanceID (when it was uuid.Nil) and its Time (now when zero;
// otherwise normalised to UTC ms). On failure nothing of this call is applied and those fields
// are left as they were.
func (s *Store) Commit(ctx context.Context, changes ...store.Change) error {
	if err := store.ValidateChanges(changes); err != nil {
		return err
	}
	if len(changes) == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.rclosed.Load() {
			return store.ErrClosed
		}
		return nil
	}
	images := make([]packedImage, len(changes))
	for i, c := range changes {
		if c.Op == store.Insert || c.Op == store.Update {
			images[i] = s.images.pack(c.Instance.ID, c.Instance.Image)
		}
	}
	u := &backend.Undo{}
	return s.submit(ctx, &request{
		changes: len(changes),
		apply: func(t *tx) error {
			err := t.applyChanges(changes, images, u)
			if err != nil {
				u.Restore()
			}
			return err
		},
		undo: u.Restore,
	})
}

// Register makes o a live owner until now+ttl.
func (s *Store) Register(ctx context.Context, o store.Owner, ttl time.Duration) error {
	if o.ID == "" {
		return fmt.Errorf("%w: empty owner id", store.ErrInvalid)
	}
	return s.submit(ctx, &request{apply: func(t *tx) error {
		t.live = nil
		return execOne(t.ctx, t.w.register, fmt.Errorf("%w: %s", store.ErrOwnerExists, o.ID),
			o.ID, o.Node, o.Info, o.Advertise, toMS(t.now), toMS(t.now.Add(ttl)))
	}})
}

// Renew extends a live owner's registration to now+ttl.
func (s *Store) Renew(ctx context.Context, owner string, ttl time.Duration) error {
	return s.submit(ctx, &request{apply: func(t *tx) error {
		t.live = nil
		return execOne(t.ctx, t.w.renew, fmt.Errorf("%w: the registration of owner %q lapsed", store.ErrLeaseLost, owner),
			toMS(t.now.Add(ttl)), toMS(t.now), owner)
	}})
}

// Unregister releases the owner's leases and ends its registration (the id stays used).
func (s *Store) Unregister(ctx context.Context, owner string) error {
	return s.submit(ctx, &request{apply: func(t *tx) error {
		t.live = nil
		if _, err := t.w.releaseAll.ExecContext(t.ctx, owner); err != nil {
			return err
		}
		_, err := t.w.expire.ExecContext(t.ctx, toMS(t.now), owner)
		return err
	}})
}

// Claim grants the instance's lease to a live owner.
func (s *Store) Claim(ctx context.Context, id uuid.UUID, owner string) (store.Lease, error) {
	var got store.Lease
	err := s.submit(ctx, &request{apply: func(t *tx) error {
		if err := t.ownerLive(owner); err != nil {
			return err
		}
		cur, err := t.stored(id)
		if err != nil {
			return err
		}
		if !cur.Found {
			return fmt.Errorf("%w: %s", store.ErrNotFound, id)
		}
		if cur.HeldByOther(owner) {
			return t.leased(id, cur.Lease.Owner)
		}
		got = cur.Grant(owner)
		_, err = t.w.setLease.ExecContext(t.ctx, got.Owner, got.Token, id.String())
		return err
	}})
	if err != nil {
		return store.Lease{}, err
	}
	return got, nil
}

// Release frees the lease if it is still exactly l.
func (s *Store) Release(ctx context.Context, id uuid.UUID, l store.Lease) error {
	return s.submit(ctx, &request{apply: func(t *tx) error {
		cur, err := t.stored(id)
		if err != nil {
			return err
		}
		switch {
		case !cur.Found:
			return fmt.Errorf("%w: %s", store.ErrNotFound, id)
		case l.Owner == "" || cur.Lease != l:
			return fmt.Errorf("%w: instance %s is not leased as %+v", store.ErrLeaseLost, id, l)
		}
		_, err = t.w.setLease.ExecContext(t.ctx, "", cur.Lease.Token, id.String())
		return err
	}})
}

// claimDueSQL picks the due instances owner ?1 may take at store time ?3, due at ?2, earliest
// first, at most ?4, with their holders and tokens.
const claimDueSQL = `SELECT id, lease_owner, lease_token, pending_timer FROM instances INDEXED BY instances_due_timer
	WHERE state = 'Active' AND pending_timer IS NOT NULL AND pending_timer <= ?2 AND ` + freeOrMine + `
	ORDER BY pending_timer, id LIMIT ?4`

const ownerLiveSQL = `SELECT EXISTS (SELECT 1 FROM owners WHERE id = ? AND expiry > ?)`

// ClaimDue grants owner the due Active instances that no other live owner holds.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, limit int) ([]store.Claimed, error) {
	if held, ok, err := s.heldDue(ctx, owner, now, limit); err != nil || ok {
		return held, err
	}
	return s.claimMany(ctx, owner, func(t *tx) (*sql.Rows, error) {
		return t.w.claimDue.QueryContext(t.ctx, owner, toMS(now), toMS(t.now), limitArg(limit))
	})
}

// heldDue is ClaimDue when it has nothing to grant: every instance it would pick is already
// owner's (the usual case on one node: an idle instance stays loaded, and leased, while its
// timer runs), and owner is live. Then the claim changes no row, and is answered from a read
// without waiting for the writer's next commit. ok is false when some pick needs a grant.
func (s *Store) heldDue(ctx context.Context, owner string, now time.Time, limit int) (held []store.Claimed, ok bool, err error) {
	if s.rclosed.Load() {
		return nil, false, store.ErrClosed
	}
	at := toMS(msNow(s.opts.clock))
	var got []claimedRow
	mine := true
	err = retry(ctx, func() error {
		got, mine = got[:0], true
		return s.query(ctx, claimDueSQL, []any{owner, toMS(now), at, limitArg(limit)}, func(rows *sql.Rows) error {
			r, holder, err := scanClaimed(rows)
			if err != nil {
				return err
			}
			r.c.Lease.Owner = owner
			mine = mine && holder == owner
			got = append(got, r)
			return nil
		})
	})
	if err != nil || !mine || len(got) == 0 {
		return nil, false, s.readErr(err)
	}
	var live bool
	if err := retry(ctx, func() error {
		return s.queryRow(ctx, ownerLiveSQL, []any{owner, at}, func(r *sql.Row) error { return r.Scan(&live) })
	}); err != nil || !live {
		return nil, false, s.readErr(err)
	}
	return sortClaimed(got), true, nil
}

// ClaimRunnable grants owner the Active, Executing instances due to run that no other live
// owner holds.
func (s *Store) ClaimRunnable(ctx context.Context, owner string, now time.Time, limit int) ([]store.Claimed, error) {
	return s.claimMany(ctx, owner, func(t *tx) (*sql.Rows, error) {
		return t.w.claimRunnable.QueryContext(t.ctx, owner, toMS(now), toMS(t.now), limitArg(limit))
	})
}

type claimedRow struct {
	c   store.Claimed
	due int64
}

// claimMany grants owner the instances query picks (id, holder, token, due; all free or
// owner's): the same token for the ones it holds, the next for the others. The writer is the
// only one, so nothing changes the picked rows between the pick and the grant.
func (s *Store) claimMany(ctx context.Context, owner string, query func(*tx) (*sql.Rows, error)) ([]store.Claimed, error) {
	var got []claimedRow
	err := s.submit(ctx, &request{apply: func(t *tx) error {
		got = got[:0]
		if err := t.ownerLive(owner); err != nil {
			return err
		}
		if err := pick(t, query, func(r claimedRow, holder string) {
			if holder != owner {
				r.c.Lease.Token++
				r.c.From = holder
			}
			r.c.Lease.Owner = owner
			got = append(got, r)
		}); err != nil {
			return err
		}
		for _, r := range got {
			if _, err := t.w.setLease.ExecContext(t.ctx, owner, r.c.Lease.Token, r.c.ID.String()); err != nil {
				return err
			}
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	return sortClaimed(got), nil
}

// pick reads the rows a claim query selects, before any is granted.
func pick(t *tx, query func(*tx) (*sql.Rows, error), each func(r claimedRow, holder string)) error {
	rows, err := query(t)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, holder, err := scanClaimed(rows)
		if err != nil {
			return err
		}
		each(r, holder)
	}
	return rows.Err()
}

// scanClaimed reads a claim query's row: the instance, its holder, token and due time.
func scanClaimed(rows *sql.Rows) (r claimedRow, holder string, err error) {
	var id string
	var due sql.NullInt64
	if err := rows.Scan(&id, &holder, &r.c.Lease.Token, &due); err != nil {
		return r, "", err
	}
	if r.c.ID, err = uuid.Parse(id); err != nil {
		return r, "", fmt.Errorf("sqlite: bad instance id %q in database: %w", id, err)
	}
	r.due = due.Int64
	return r, holder, nil
}

// request is one call waiting for the writer.
type request struct {
	apply   func(*tx) error // runs inside the batch's transaction, in a savepoint of its own
	undo    func()          // undoes apply's write-backs when the transaction is rolled back
	changes int             // Changes it carries, for Stats
	backend.Ticket
}

// submit queues r for the writer and waits for its outcome.
func (s *Store) submit(ctx context.Context, r *request) error { return s.queue.Submit(ctx, r) }

// run is the writer goroutine: group commit until the queue is closed and drained.
func (s *Store) run() {
	defer close(s.done)
	var batch []*request
	for {
		var ok bool
		if batch, ok = s.queue.Next(batch[:0], s.opts.maxBatch); !ok {
			return
		}
		if len(batch) > 0 {
			s.commitBatch(batch)
		}
		clear(batch) // drop references for the GC
	}
}

// commitBatch runs one transaction for batch, retrying while SQLite is busy, and answers
// every request. Requests whose deadline passes before their transaction could be committed
// are answered ErrTimeout and dropped first: none of them is ever applied.
func (s *Store) commitBatch(batch []*request) {
	start, taken := time.Now(), len(batch)
	errs := make([]error, len(batch))
	var txErr error
	for n := 0; ; n++ {
		batch, errs = s.queue.Expire(batch, errs, fmt.Errorf("%w: the database could not be written within %v (is another process holding its write lock?)",
			store.ErrTimeout, s.opts.writeTimeout))
		if len(batch) == 0 {
			s.observe(start, store.BatchInfo{TimedOut: taken, Err: store.ErrTimeout})
			return
		}
		err := s.w.tryBatch(batch, errs, msNow(s.opts.clock))
		if err == nil {
			break
		}
		if isBusy(err) {
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
	ok := 0
	for i, r := range batch {
		if errs[i] == nil {
			ok++
			s.batchedChanges.Add(uint64(r.changes))
		}
	}
	s.commits.Add(uint64(ok))
	s.failed.Add(uint64(len(batch) - ok))
	if ok > 0 {
		s.batches.Add(1)
		for {
			m := s.maxBatch.Load()
			if int64(len(batch)) <= m || s.maxBatch.CompareAndSwap(m, int64(len(batch))) {
				break
			}
		}
	}
	s.observe(start, store.BatchInfo{Requests: len(batch), Failed: len(batch) - ok, TimedOut: taken - len(batch), Err: txErr})
	for i, r := range batch {
		r.Answer(errs[i])
	}
}

// writer owns the write connection and its prepared statements.
type writer struct {
	conn                                                    *sql.Conn
	insert, keyHolder, update, updateRun, del, delRecords   *sql.Stmt
	storedRow, ownerLive                                    *sql.Stmt
	ownerRow                                                *sql.Stmt
	nextSeq, insertBatch, setLease, register, renew, expire *sql.Stmt
	releaseAll, claimDue, claimRunnable                     *sql.Stmt
	all                                                     []*sql.Stmt
}

// freeOrMine is the condition under which owner ?1 may take an instance's lease at store
// time ?3: nobody holds it, ?1 does, or its holder's registration has lapsed.
const freeOrMine = `(lease_owner = '' OR lease_owner = ?1 OR NOT EXISTS
	(SELECT 1 FROM owners WHERE owners.id = instances.lease_owner AND owners.expiry > ?3))`

func newWriter(ctx context.Context, conn *sql.Conn) (*writer, error) {
	w := &writer{conn: conn}
	for _, p := range []struct {
		st   **sql.Stmt
		text string
	}{
		{&w.insert, `INSERT INTO instances (id, definition_name, definition_package, definition_version, state,
			completion, suspension_reason, suspension_exception, completion_reason, blocking_bookmarks,
			pending_timer, execution_status, failures, image, variables, completion_exception, version_key,
			current_state, properties, image_encoding, lease_owner, lease_token, version, created, updated, correlation_key, parent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`},
		{&w.keyHolder, `SELECT id FROM instances WHERE correlation_key = ?`},
		{&w.update, `UPDATE instances SET definition_name = ?, definition_package = ?, definition_version = ?,
			state = ?, completion = ?, suspension_reason = ?, suspension_exception = ?, completion_reason = ?,
			blocking_bookmarks = ?, pending_timer = ?, execution_status = ?, failures = ?, image = ?, variables = ?,
			completion_exception = ?, version_key = ?, current_state = ?, properties = ?, image_encoding = ?,
			lease_owner = ?, lease_token = ?, version = version + 1, updated = ?
			WHERE id = ?`},
		// An update that keeps the columns queries are indexed, counted and looked up by
		// (runColumns' complement: state, completion, definition, exceptions, bookmarks) leaves
		// them out, so that SQLite rewrites none of their index entries and runs no trigger.
		{&w.updateRun, `UPDATE instances SET suspension_reason = ?, completion_reason = ?, pending_timer = ?,
			execution_status = ?, failures = ?, image = ?, image_encoding = ?, variables = ?,
			lease_owner = ?, lease_token = ?, version = version + 1, updated = ?
			WHERE id = ?`},
		{&w.del, `DELETE FROM instances WHERE id = ?`},
		{&w.delRecords, `DELETE FROM tracking_batches WHERE instance_id = ?`},
		{&w.storedRow, `SELECT version, lease_owner, lease_token, lease_owner != '' AND EXISTS
			(SELECT 1 FROM owners WHERE owners.id = instances.lease_owner AND owners.expiry > ?),
			state, completion, definition_name, definition_package, definition_version, suspension_exception,
			completion_exception, blocking_bookmarks, current_state, properties
			FROM instances WHERE id = ?`},
		{&w.ownerLive, ownerLiveSQL},
		{&w.ownerRow, `SELECT id, node, info, advertise, registered, renewed, expiry FROM owners WHERE id = ?`},
		{&w.nextSeq, nextSeqSQL},
		{&w.insertBatch, insertBatchSQL},
		{&w.setLease, `UPDATE instances SET lease_owner = ?, lease_token = ? WHERE id = ?`},
		{&w.register, `INSERT INTO owners (id, node, info, advertise, registered, renewed, expiry) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
			ON CONFLICT (id) DO NOTHING`},
		{&w.renew, `UPDATE owners SET expiry = ?1, renewed = ?2 WHERE id = ?3 AND expiry > ?2`},
		{&w.expire, `UPDATE owners SET expiry = min(expiry, ?) WHERE id = ?`},
		{&w.releaseAll, `UPDATE instances INDEXED BY instances_lease SET lease_owner = '' WHERE lease_owner = ? AND lease_owner != ''`},
		{&w.claimDue, claimDueSQL},
		{&w.claimRunnable, `SELECT id, lease_owner, lease_token, pending_timer FROM instances INDEXED BY instances_runnable
			WHERE state = 'Active' AND execution_status = 'Executing'
			AND (failures = 0 OR pending_timer IS NULL OR pending_timer <= ?2) AND ` + freeOrMine + `
			ORDER BY id LIMIT ?4`},
	} {
		st, err := conn.PrepareContext(ctx, p.text)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.st = st
		w.all = append(w.all, st)
	}
	return w, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range w.all {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// tx is one request's view of the batch's transaction.
type tx struct {
	ctx  context.Context
	w    *writer
	now  time.Time       // the store's clock: owners' expiry and default times
	live map[string]bool // owners' liveness as looked up in this transaction
}

// tryBatch applies batch in one transaction. Per-request failures (ErrConflict, ...) are put in
// errs and roll back only that request's savepoint. A non-nil return means the whole
// transaction was rolled back (and every write-back undone); the caller retries it if busy.
func (w *writer) tryBatch(batch []*request, errs []error, now time.Time) error {
	ctx := context.Background() // a batch, once started, is not interrupted
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	var applied []*request
	fail := func(err error) error {
		_, _ = w.conn.ExecContext(ctx, "ROLLBACK")
		for i := len(applied) - 1; i >= 0; i-- {
			if applied[i].undo != nil {
				applied[i].undo()
			}
		}
		return err
	}
	t := &tx{ctx: ctx, w: w, now: now}
	for i, req := range batch {
		if _, err := w.conn.ExecContext(ctx, "SAVEPOINT req"); err != nil {
			return fail(err)
		}
		err := req.apply(t)
		if err == nil {
			applied = append(applied, req)
			if _, err := w.conn.ExecContext(ctx, "RELEASE req"); err != nil {
				return fail(err)
			}
			errs[i] = nil
			continue
		}
		if isBusy(err) {
			return fail(err)
		}
		if _, rerr := w.conn.ExecContext(ctx, "ROLLBACK TO req"); rerr != nil {
			return fail(fmt.Errorf("%w (rollback to savepoint: %v)", err, rerr))
		}
		if _, rerr := w.conn.ExecContext(ctx, "RELEASE req"); rerr != nil {
			return fail(fmt.Errorf("%w (release savepoint: %v)", err, rerr))
		}
		errs[i] = err
	}
	if err := execRetry(ctx, w.conn, "COMMIT"); err != nil {
		return fail(err)
	}
	return nil
}

// storedLease is an instance's version and lease as stored, whether its holder is live, and
// the columns queries use.
type storedLease struct {
	backend.Stored
	keys [10]string // the columns queries use, as stored (see keyColumns)
}

func (t *tx) stored(id uuid.UUID) (storedLease, error) {
	c := storedLease{Stored: backend.Stored{Found: true}}
	k := &c.keys
	err := t.w.storedRow.QueryRowContext(t.ctx, toMS(t.now), id.String()).Scan(&c.Version, &c.Lease.Owner, &c.Lease.Token, &c.HolderLive,
		&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], &k[8], &k[9])
	if errors.Is(err, sql.ErrNoRows) {
		return storedLease{}, nil
	}
	return c, err
}

// ownerLive fails with ErrLeaseLost unless owner's registration is live. Within one
// transaction (one store time) the answer is looked up once per owner; requests that change
// registrations drop what was looked up.
func (t *tx) ownerLive(owner string) error {
	live, ok := t.live[owner]
	if !ok {
		if err := t.w.ownerLive.QueryRowContext(t.ctx, owner, toMS(t.now)).Scan(&live); err != nil {
			return err
		}
		if t.live == nil {
			t.live = map[string]bool{}
		}
		t.live[owner] = live
	}
	if !live {
		return fmt.Errorf("%w: owner %q is not registered or its registration lapsed", store.ErrLeaseLost, owner)
	}
	return nil
}

// leased is the ErrLeased refusal naming the holder.
func (t *tx) leased(id uuid.UUID, holder string) error {
	o := store.Owner{ID: holder}
	var reg, ren, exp int64
	if err := t.w.ownerRow.QueryRowContext(t.ctx, holder).Scan(&o.ID, &o.Node, &o.Info, &o.Advertise, &reg, &ren, &exp); err == nil {
		o.Registered, o.Renewed, o.Expiry = fromMS(reg), fromMS(ren), fromMS(exp)
	}
	return &store.LeaseError{Instance: id, Holder: o}
}

// applyChanges executes one request's changes, writing back into the caller's structs as it goes
// (recorded in u so a rollback can undo them; later changes of the same call see earlier ones).
func (t *tx) applyChanges(changes []store.Change, images []packedImage, u *backend.Undo) error {
	ctx, w, now := t.ctx, t.w, t.now
	for i, c := range changes {
		in := c.Instance
		id := in.ID.String()
		var cur storedLease
		if c.Op != store.Insert {
			var err error
			if cur, err = t.stored(in.ID); err != nil {
				return err
			}
			if !cur.Found {
				return fmt.Errorf("%w: %s", store.ErrNotFound, in.ID)
			}
		}
		lease, err := backend.Fence(c, cur.Stored, t.ownerLive, t.leased)
		if err != nil {
			return err
		}
		switch c.Op {
		case store.Insert:
			cols, err := columns(in, images[i])
			if err != nil {
				return err
			}
			if in.CorrelationKey != "" {
				// The writer is the only one, so no other insert can take the key after this check.
				var holder string
				err := w.keyHolder.QueryRowContext(ctx, in.CorrelationKey).Scan(&holder)
				if err == nil {
					return fmt.Errorf("%w: %q is the key of instance %s", store.ErrKeyExists, in.CorrelationKey, holder)
				} else if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if err := execOne(ctx, w.insert, fmt.Errorf("%w: %s", store.ErrExists, in.ID),
				append(append([]any{id}, cols...), lease.Owner, lease.Token, toMS(now), toMS(now), nullText(in.CorrelationKey), nullID(in.Parent))...); err != nil {
				return err
			}
			u.WriteBack(c.Op, in, lease, now)
		case store.Update:
			cols, err := columns(in, images[i])
			if err != nil {
				return err
			}
			if keyColumns(cols) == cur.keys {
				_, err = w.updateRun.ExecContext(ctx, cols[5], cols[7], cols[9], cols[10], cols[11], cols[12], cols[18], cols[13],
					lease.Owner, lease.Token, toMS(now), id)
			} else {
				_, err = w.update.ExecContext(ctx, append(cols, lease.Owner, lease.Token, toMS(now), id)...)
			}
			if err != nil {
				return err
			}
			u.WriteBack(c.Op, in, lease, now)
		case store.Delete:
			if _, err := w.del.ExecContext(ctx, id); err != nil {
				return err
			}
		case store.Purge:
			if state := cur.keys[0]; state != string(workflow.Completed) {
				return fmt.Errorf("%w: %s is %s", store.ErrLive, in.ID, state)
			}
			if _, err := w.del.ExecContext(ctx, id); err != nil {
				return err
			}
			if _, err := w.delRecords.ExecContext(ctx, id); err != nil {
				return err
			}
		case store.Track:
			if lease != cur.Lease {
				if _, err := w.setLease.ExecContext(ctx, lease.Owner, lease.Token, id); err != nil {
					return err
				}
			}
			u.WriteBack(c.Op, in, lease, now)
		}
		if len(c.Records) > 0 {
			first, err := nextSeqs(ctx, w.nextSeq, len(c.Records))
			if err != nil {
				return err
			}
			for j := range c.Records {
				r := &c.Records[j]
				u.Record(r)
				*r = backend.StampRecord(*r, in.ID, now)
				r.Seq = first + int64(j)
			}
			b := batch{instance: id, recs: c.Records}
			first, last, at := b.span()
			if _, err := w.insertBatch.ExecContext(ctx, first, last, id, at, b.encode()); err != nil {
				return err
			}
		}
	}
	return nil
}

// execOne runs st and returns none if it changed no row.
func execOne(ctx context.Context, st *sql.Stmt, none error, args ...any) error {
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// columns returns the instance's column values in the order shared by the insert and update
// statements: definition (3), state, completion, suspension reason and exception, completion
// reason, bookmarks, pending timer, execution status, failures, image, variables, completion
// exception, version key, current state, properties, image encoding. img is in.Image packed.
func columns(in *store.Instance, img packedImage) ([]any, error) {
	bookmarks := "[]"
	if len(in.Bookmarks) > 0 {
		b, err := json.Marshal(in.Bookmarks)
		if err != nil {
			return nil, err
		}
		bookmarks = string(b)
	}
	var variables any
	if in.Variables != nil {
		variables = string(in.Variables)
	}
	properties, err := backend.PropertiesJSON(in.Properties)
	if err != nil {
		return nil, err
	}
	return []any{in.Definition.Name, in.Definition.Package, in.Definition.Version, string(in.State),
		string(in.Completion), in.SuspensionReason, in.SuspensionException, in.CompletionReason, bookmarks,
		toNullMS(in.PendingTimer), in.ExecutionStatus, in.Failures, img.data, variables, in.CompletionException,
		store.VersionKey(in.Definition.Version), in.CurrentState, properties, img.encoding}, nil
}

// keyColumns picks from columns' values those storedRow reads after the lease: state,
// completion, definition (3), suspension exception, completion exception, bookmarks, current
// state, properties.
func keyColumns(cols []any) [10]string {
	return [10]string{cols[3].(string), cols[4].(string), cols[0].(string), cols[1].(string), cols[2].(string),
		cols[6].(string), cols[14].(string), cols[8].(string), cols[16].(string), cols[17].(string)}
}

// emptyBlob is bound for a non-nil empty image: a zero-length blob, not NULL.
var emptyBlob = []byte{}
