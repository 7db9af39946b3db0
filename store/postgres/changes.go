package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
	"github.com/wimp-project/wimp/workflow"
)

// Commit applies changes atomically (all of this call's changes or none) and returns once they
// are committed (flushed to the WAL, and to synchronous standbys if the server has them). ctx
// is honoured while the call waits in the queue; once a writer has taken it into a
// transaction, Commit returns the true outcome. A call that cannot be applied within the write
// timeout fails with store.ErrTimeout and is never applied.
//
// On success, for each Insert the Instance gets Version=1 and Created=Updated=now; for each
// Update Version is incremented and Updated=now; every changed Instance gets its new Lease;
// each Record gets its Seq, its InstanceID (when it was uuid.Nil) and its Time (now when zero;
// otherwise normalised to UTC ms). On failure nothing of this call is applied and those fields
// are left as they were.
//
// PostgreSQL's text holds no NUL byte and only valid UTF-8: a change with other strings is
// store.ErrInvalid.
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
	if err := s.heldElsewhere(ctx, changes); err != nil {
		return err
	}
	u := &backend.Undo{}
	rows := make([]uuid.UUID, 0, len(changes))
	for _, c := range changes {
		if c.Op != store.Insert {
			rows = append(rows, c.Instance.ID)
		}
	}
	r := &request{
		changes: len(changes),
		rows:    rows,
		apply: func(t *tx) error {
			err := t.applyChanges(changes, u)
			if err != nil {
				u.Restore()
			}
			return badText(err)
		},
		undo: u.Restore,
	}
	if len(changes) == 1 {
		r.fast = func(now time.Time) *fastWrite { return fastChange(changes[0], now, u) }
	}
	return s.submit(ctx, r)
}

// heldElsewhereSQL finds the live owner other than $2 that holds instance $1 at store time $3,
// provided $2 (when not "") is live itself: a lapsed writer is refused with ErrLeaseLost, by the
// batch.
const heldElsewhereSQL = `SELECT o.id, o.node, o.info, o.advertise, o.registered, o.renewed, o.expiry
	FROM instances AS i JOIN owners AS o ON o.id = i.lease_owner
	WHERE i.id = $1 AND i.lease_owner <> '' AND i.lease_owner <> $2 AND o.expiry > $3
	AND ($2 = '' OR EXISTS (SELECT 1 FROM owners WHERE id = $2 AND expiry > $3))`

// heldElsewhere is the ErrLeased refusal of a change whose instance, as its caller read it, is
// leased to another owner, when a read finds that owner still holding it and live; nil
// otherwise (or when the read fails), and the batch decides. Such a change (a node's first try of an operation on
// another node's instance, which then goes to the holder) would otherwise take a place in a
// batch, whose up-front row lock waits while the holder writes the row, and holds the batch's
// other rows meanwhile. A refusal writes nothing, so answering it from a read is exact.
func (s *Store) heldElsewhere(ctx context.Context, changes []store.Change) error {
	for _, c := range changes {
		in := c.Instance
		if c.Op == store.Insert || in.Lease.Owner == "" || in.Lease.Owner == c.By {
			continue
		}
		o := store.Owner{}
		err := s.rpool.QueryRow(ctx, heldElsewhereSQL, in.ID, c.By, msNow(s.opts.clock)).
			Scan(&o.ID, &o.Node, &o.Info, &o.Advertise, &o.Registered, &o.Renewed, &o.Expiry)
		if err != nil {
			// Not held elsewhere; or the read failed, and the batch will find out.
			continue
		}
		o.Registered, o.Renewed, o.Expiry = o.Registered.UTC(), o.Renewed.UTC(), o.Expiry.UTC()
		return &store.LeaseError{Instance: in.ID, Holder: o}
	}
	return nil
}

// badText makes PostgreSQL's refusal of a string (a NUL byte, invalid UTF-8) ErrInvalid.
func badText(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P05") { // character_not_in_repertoire, untranslatable_character
		return fmt.Errorf("%w: %s (text must be UTF-8 without NUL bytes)", store.ErrInvalid, pe.Message)
	}
	return err
}

// Register makes o a live owner until now+ttl.
func (s *Store) Register(ctx context.Context, o store.Owner, ttl time.Duration) error {
	if o.ID == "" {
		return fmt.Errorf("%w: empty owner id", store.ErrInvalid)
	}
	return s.submit(ctx, &request{apply: func(t *tx) error {
		t.live = nil
		return badText(t.execOne(fmt.Errorf("%w: %s", store.ErrOwnerExists, o.ID),
			`INSERT INTO owners (id, node, info, advertise, registered, renewed, expiry) VALUES ($1, $2, $3, $4, $5, $5, $6)
			ON CONFLICT (id) DO NOTHING`,
			o.ID, o.Node, o.Info, o.Advertise, t.now, ms(t.now.Add(ttl))))
	}})
}

// Renew extends a live owner's registration to now+ttl.
func (s *Store) Renew(ctx context.Context, owner string, ttl time.Duration) error {
	return s.submit(ctx, &request{apply: func(t *tx) error {
		t.live = nil
		return t.execOne(fmt.Errorf("%w: the registration of owner %q lapsed", store.ErrLeaseLost, owner),
			`UPDATE owners SET expiry = $1, renewed = $3 WHERE id = $2 AND expiry > $3`, ms(t.now.Add(ttl)), owner, t.now)
	}})
}

// Unregister releases the owner's leases and ends its registration (the id stays used).
func (s *Store) Unregister(ctx context.Context, owner string) error {
	return s.submit(ctx, &request{apply: func(t *tx) error {
		t.live = nil
		b := &pgx.Batch{}
		b.Queue(`UPDATE instances SET lease_owner = '' WHERE lease_owner = $1 AND lease_owner <> ''`, owner)
		b.Queue(`UPDATE owners SET expiry = LEAST(expiry, $1) WHERE id = $2`, t.now, owner)
		return t.send(b)
	}})
}

// Claim grants the instance's lease to a live owner.
func (s *Store) Claim(ctx context.Context, id uuid.UUID, owner string) (store.Lease, error) {
	var got store.Lease
	err := s.submit(ctx, &request{rows: []uuid.UUID{id}, apply: func(t *tx) error {
		if err := t.ownerLive(owner); err != nil {
			return err
		}
		cur, err := t.stored(id, "")
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
		_, err = t.exec(setLeaseSQL, got.Owner, got.Token, id)
		return err
	}})
	if err != nil {
		return store.Lease{}, err
	}
	return got, nil
}

// Release frees the lease if it is still exactly l.
func (s *Store) Release(ctx context.Context, id uuid.UUID, l store.Lease) error {
	return s.submit(ctx, &request{rows: []uuid.UUID{id}, apply: func(t *tx) error {
		cur, err := t.stored(id, "")
		if err != nil {
			return err
		}
		switch {
		case !cur.Found:
			return fmt.Errorf("%w: %s", store.ErrNotFound, id)
		case l.Owner == "" || cur.Lease != l:
			return fmt.Errorf("%w: instance %s is not leased as %+v", store.ErrLeaseLost, id, l)
		}
		_, err = t.exec(setLeaseSQL, "", cur.Lease.Token, id)
		return err
	}})
}

const setLeaseSQL = `UPDATE instances SET lease_owner = $1, lease_token = $2 WHERE id = $3`

// freeOrMine is the condition under which owner $1 may take the lease of instances row i at
// store time $3: nobody holds it, $1 does, or its holder's registration has lapsed.
const freeOrMine = `(i.lease_owner = '' OR i.lease_owner = $1 OR NOT EXISTS
	(SELECT 1 FROM owners AS o WHERE o.id = i.lease_owner AND o.expiry > $3))`

// claimDueSQL picks (and locks) the due instances owner $1 may take at store time $3, due at
// $2, earliest first, at most $4, with their holders (to tell a takeover). SKIP LOCKED passes over rows another transaction (another
// node's claim, a write in progress) has locked, instead of waiting for it and then offering
// an instance that has just been taken.
const claimDueSQL = `SELECT i.id, i.lease_owner FROM instances AS i
	WHERE i.state = 'Active' AND i.pending_timer IS NOT NULL AND i.pending_timer <= $2 AND ` + freeOrMine + `
	ORDER BY i.pending_timer, i.id LIMIT $4
	FOR UPDATE OF i SKIP LOCKED`

// claimRunnableSQL is claimDueSQL for the Active instances interrupted while executing, unless
// they back off after failed executions (failures > 0) until a retry time still ahead.
const claimRunnableSQL = `SELECT i.id, i.lease_owner FROM instances AS i
	WHERE i.state = 'Active' AND i.execution_status = 'Executing'
	AND (i.failures = 0 OR i.pending_timer IS NULL OR i.pending_timer <= $2) AND ` + freeOrMine + `
	ORDER BY i.id LIMIT $4
	FOR UPDATE OF i SKIP LOCKED`

// grantSQL grants owner $1 the leases of the instances $2 that claimDueSQL or claimRunnableSQL
// locked: the same token if it holds one, the next otherwise. It checks freeOrMine again, in
// a snapshot taken after the rows were locked: the picking statement's snapshot may predate
// the registration of the owner whose (committed) lease it locked, and would take that for
// lapsed.
const grantSQL = `UPDATE instances AS i
	SET lease_token = CASE WHEN i.lease_owner = $1 THEN i.lease_token ELSE i.lease_token + 1 END, lease_owner = $1
	WHERE i.id = ANY ($2) AND ` + freeOrMine + `
	RETURNING i.id, i.lease_token, i.pending_timer`

// ClaimDue grants owner the due Active instances that no other live owner holds.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, limit int) ([]store.Claimed, error) {
	if held, ok, err := s.heldDue(ctx, owner, now, limit); err != nil || ok {
		return held, err
	}
	return s.claimMany(ctx, owner, claimDueSQL, now, limit)
}

// heldDueSQL is claimDueSQL as a read: what it would pick, with the leases as they are.
const heldDueSQL = `SELECT i.id, i.lease_owner, i.lease_token, i.pending_timer FROM instances AS i
	WHERE i.state = 'Active' AND i.pending_timer IS NOT NULL AND i.pending_timer <= $2 AND ` + freeOrMine + `
	ORDER BY i.pending_timer, i.id LIMIT $4`

// heldDue is ClaimDue when it has nothing to grant: every instance it would pick is owner's
// already (an idle instance stays loaded, and leased, while its timer runs), and owner is live.
// Such a claim would change no row, so it is answered from a read, without a place in a batch
// (sqlite's ClaimDue does the same). No other owner can take a live owner's lease, so what the
// read found still holds when it returns, as a grant's would. ok is false when some pick needs
// a grant, or the read failed (the batch then decides).
func (s *Store) heldDue(ctx context.Context, owner string, now time.Time, limit int) (held []store.Claimed, ok bool, err error) {
	if s.rclosed.Load() {
		return nil, false, store.ErrClosed
	}
	at := msNow(s.opts.clock)
	var got []claimedRow
	mine := true
	err = s.query(ctx, heldDueSQL, []any{owner, ms(now), at, limitArg(limit)}, func(row pgx.Row) error {
		var r claimedRow
		var holder string
		var due *time.Time
		if err := row.Scan(&r.c.ID, &holder, &r.c.Lease.Token, &due); err != nil {
			return err
		}
		if due != nil {
			r.due = due.UTC()
		}
		r.c.Lease.Owner = owner
		mine = mine && holder == owner
		got = append(got, r)
		return nil
	})
	if err != nil || !mine || len(got) == 0 {
		return nil, false, nil
	}
	var live bool
	if err := s.rpool.QueryRow(ctx, ownerLiveSQL, owner, at).Scan(&live); err != nil || !live {
		return nil, false, nil
	}
	return sortClaimed(got), true, nil
}

// ClaimRunnable grants owner the Active, Executing instances due to run that no other live
// owner holds.
func (s *Store) ClaimRunnable(ctx context.Context, owner string, now time.Time, limit int) ([]store.Claimed, error) {
	return s.claimMany(ctx, owner, claimRunnableSQL, now, limit)
}

type claimedRow struct {
	c   store.Claimed
	due time.Time
}

func (s *Store) claimMany(ctx context.Context, owner, pick string, now time.Time, limit int) ([]store.Claimed, error) {
	var got []claimedRow
	err := s.submit(ctx, &request{apply: func(t *tx) error {
		got = got[:0]
		if err := t.ownerLive(owner); err != nil {
			return err
		}
		var ids []uuid.UUID
		holders := map[uuid.UUID]string{}
		b := &pgx.Batch{}
		b.Queue(pick, owner, ms(now), t.now, limitArg(limit)).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id uuid.UUID
				var holder string
				if err := rows.Scan(&id, &holder); err != nil {
					return err
				}
				ids, holders[id] = append(ids, id), holder
			}
			return rows.Err()
		})
		if err := t.send(b); err != nil || len(ids) == 0 {
			return err
		}
		b = &pgx.Batch{}
		b.Queue(grantSQL, owner, ids, t.now).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var r claimedRow
				var due *time.Time
				if err := rows.Scan(&r.c.ID, &r.c.Lease.Token, &due); err != nil {
					return err
				}
				if due != nil {
					r.due = due.UTC()
				}
				r.c.Lease.Owner = owner
				if h := holders[r.c.ID]; h != owner {
					r.c.From = h // the row is locked: this is the holder the grant replaced
				}
				got = append(got, r)
			}
			return rows.Err()
		})
		return t.send(b)
	}})
	if err != nil {
		return nil, err
	}
	return sortClaimed(got), nil
}

// storedLease is an instance's version, state and lease as stored (its row locked), and
// whether the lease's holder is live.
type storedLease struct {
	backend.Stored
	state string
}

// stored locks instance id's row and reads it, and whether by (unless "" or already known) is
// live. The holder's liveness is read by a statement of its own, after the lock: one whose
// snapshot predated the lease's last change could miss the registration of the owner that
// took it and take it for lapsed.
func (t *tx) stored(id uuid.UUID, by string) (storedLease, error) {
	c := storedLease{Stored: backend.Stored{Found: true}}
	b := &pgx.Batch{}
	b.Queue(`SELECT version, state, lease_owner, lease_token FROM instances WHERE id = $1 FOR UPDATE`, id).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&c.Version, &c.state, &c.Lease.Owner, &c.Lease.Token)
			if errors.Is(err, pgx.ErrNoRows) {
				c.Found = false
				return nil
			}
			return err
		})
	b.Queue(`SELECT EXISTS (SELECT 1 FROM instances AS i JOIN owners AS o ON o.id = i.lease_owner
		WHERE i.id = $1 AND i.lease_owner <> '' AND o.expiry > $2)`, id, t.now).
		QueryRow(func(row pgx.Row) error { return row.Scan(&c.HolderLive) })
	_, known := t.live[by]
	var live bool
	if by != "" && !known {
		b.Queue(ownerLiveSQL, by, t.now).QueryRow(func(row pgx.Row) error { return row.Scan(&live) })
	}
	if err := t.send(b); err != nil {
		return storedLease{}, err
	}
	if by != "" && !known {
		t.setLive(by, live)
	}
	if !c.Found {
		return storedLease{}, nil
	}
	return c, nil
}

const ownerLiveSQL = `SELECT EXISTS (SELECT 1 FROM owners WHERE id = $1 AND expiry > $2)`

func (t *tx) setLive(owner string, live bool) {
	if t.live == nil {
		t.live = map[string]bool{}
	}
	t.live[owner] = live
}

// ownerLive fails with ErrLeaseLost unless owner's registration is live. Within one batch
// (one store time) the answer is looked up once per owner; requests that change registrations
// drop what was looked up.
func (t *tx) ownerLive(owner string) error {
	live, ok := t.live[owner]
	if !ok {
		if _, err := t.queryRow(ownerLiveSQL, []any{owner, t.now}, &live); err != nil {
			return err
		}
		t.setLive(owner, live)
	}
	if !live {
		return fmt.Errorf("%w: owner %q is not registered or its registration lapsed", store.ErrLeaseLost, owner)
	}
	return nil
}

// leased is the ErrLeased refusal naming the holder.
func (t *tx) leased(id uuid.UUID, holder string) error {
	o := store.Owner{ID: holder}
	found, err := t.queryRow(`SELECT node, info, advertise, registered, renewed, expiry FROM owners WHERE id = $1`, []any{holder},
		&o.Node, &o.Info, &o.Advertise, &o.Registered, &o.Renewed, &o.Expiry)
	if err != nil {
		return err
	}
	if found {
		o.Registered, o.Renewed, o.Expiry = o.Registered.UTC(), o.Renewed.UTC(), o.Expiry.UTC()
	}
	return &store.LeaseError{Instance: id, Holder: o}
}

const insertSQL = `INSERT INTO instances (id, definition_name, definition_package, definition_version, version_key,
	state, completion, suspension_reason, suspension_exception, completion_reason, completion_exception,
	blocking_bookmarks, pending_timer, execution_status, failures, image, variables,
	lease_owner, lease_token, version, created, updated, current_state, properties, correlation_key, parent)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 1, $20, $20, $21, $22::jsonb, $23, $24)
	ON CONFLICT DO NOTHING`

const updateSQL = `UPDATE instances SET definition_name = $2, definition_package = $3, definition_version = $4,
	version_key = $5, state = $6, completion = $7, suspension_reason = $8, suspension_exception = $9,
	completion_reason = $10, completion_exception = $11, blocking_bookmarks = $12, pending_timer = $13,
	execution_status = $14, failures = $15, image = $16, variables = $17,
	lease_owner = $18, lease_token = $19, version = version + 1, updated = $20,
	current_state = $21, properties = $22::jsonb
	WHERE id = $1`

const insertRecordSQL = `INSERT INTO tracking_records (instance_id, time, kind, name, activity, reason, principal, data)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`

// instanceArgs are the arguments $1..$22 of insertSQL and updateSQL.
func instanceArgs(in *store.Instance, lease store.Lease, now time.Time) ([]any, error) {
	bookmarks := in.Bookmarks
	if bookmarks == nil {
		bookmarks = []string{} // NOT NULL
	}
	properties, err := backend.PropertiesJSON(in.Properties)
	if err != nil {
		return nil, err
	}
	return []any{in.ID, in.Definition.Name, in.Definition.Package, in.Definition.Version,
		store.VersionKey(in.Definition.Version), string(in.State), string(in.Completion), in.SuspensionReason,
		in.SuspensionException, in.CompletionReason, in.CompletionException, bookmarks, nullTime(in.PendingTimer),
		in.ExecutionStatus, in.Failures, in.Image, in.Variables, lease.Owner, lease.Token, now,
		in.CurrentState, properties}, nil
}

// applyChanges executes one request's changes, writing back into the caller's structs as it
// goes (recorded in u so a rollback can undo them; later changes of the same call see earlier
// ones). Each change costs two round trips: one that locks and reads the row, one that
// writes it and its records.
func (t *tx) applyChanges(changes []store.Change, u *backend.Undo) error {
	now := t.now
	for _, c := range changes {
		in := c.Instance
		var cur storedLease
		if c.Op != store.Insert {
			var err error
			if cur, err = t.stored(in.ID, c.By); err != nil {
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
		if c.Op == store.Purge && cur.state != string(workflow.Completed) {
			return fmt.Errorf("%w: %s is %s", store.ErrLive, in.ID, cur.state)
		}

		b := &pgx.Batch{}
		inserted := false
		switch c.Op {
		case store.Insert, store.Update:
			args, err := instanceArgs(in, lease, now)
			if err != nil {
				return err
			}
			if c.Op == store.Update {
				b.Queue(updateSQL, args...)
				break
			}
			var key *string
			if in.CorrelationKey != "" {
				key = &in.CorrelationKey
			}
			b.Queue(insertSQL, append(args, key, nullID(in.Parent))...).Exec(func(ct pgconn.CommandTag) error {
				inserted = ct.RowsAffected() == 1
				return nil
			})
		case store.Delete:
			b.Queue(`DELETE FROM instances WHERE id = $1`, in.ID)
		case store.Purge:
			b.Queue(`DELETE FROM instances WHERE id = $1`, in.ID)
			b.Queue(`DELETE FROM tracking_records WHERE instance_id = $1`, in.ID)
		case store.Track:
			if lease != cur.Lease {
				b.Queue(setLeaseSQL, lease.Owner, lease.Token, in.ID)
			}
		}
		recs := make([]workflow.Record, len(c.Records))
		for j, r := range c.Records {
			r = backend.StampRecord(r, in.ID, now)
			recs[j] = r
			b.Queue(insertRecordSQL, in.ID, r.Time, string(r.Kind), r.Name, r.Activity, r.Reason, r.Principal, r.Data).
				QueryRow(func(row pgx.Row) error { return row.Scan(&recs[j].Seq) })
		}
		if b.Len() > 0 {
			if err := t.send(b); err != nil {
				return err
			}
		}
		if c.Op == store.Insert && !inserted {
			// Its records are undone with the savepoint. Either the id or the key is taken.
			if in.CorrelationKey != "" {
				var holder uuid.UUID
				found, err := t.queryRow(`SELECT id FROM instances WHERE correlation_key = $1`, []any{in.CorrelationKey}, &holder)
				if err != nil {
					return err
				}
				if found && holder != in.ID {
					return fmt.Errorf("%w: %q is the key of instance %s", store.ErrKeyExists, in.CorrelationKey, holder)
				}
			}
			return fmt.Errorf("%w: %s", store.ErrExists, in.ID)
		}

		u.WriteBack(c.Op, in, lease, now)
		for j := range c.Records {
			u.Record(&c.Records[j])
			c.Records[j] = recs[j]
		}
	}
	return nil
}
