package postgres

import (
	"fmt"
	"time"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
	"github.com/wimp-project/wimp/workflow"
)

// The fast path of a Commit of one change: one statement that fences, writes the instance and
// inserts its records, or writes nothing at all. It applies when the caller's Instance.Lease
// names nobody or the writer itself, the cases that need no other owner's liveness: then the
// statement's conditions (the stored version and lease are exactly what the caller has, the
// writer is live) are ones under which the full path (applyChanges) would decide the same, and
// the lease it writes is the one the full path would grant. When the conditions do not hold,
// the statement writes nothing (a miss) and the request goes the full way, which finds out
// why. Each fast statement sits between its own SAVEPOINT and RELEASE, and a writer sends those
// of a whole batch in one pipeline: a batch of persists costs one round trip, not two per
// request.

// fastWrite is a request's fast statement.
type fastWrite struct {
	sql  string
	args []any
	// finish writes the change's results back into the caller's structs, given its records'
	// seqs; it is called only when the statement wrote.
	finish func(seqs []int64)
}

// byLive is the condition that the writer $by is "" or live at store time $now.
func byLive(by, now int) string {
	return fmt.Sprintf("($%d = '' OR EXISTS (SELECT 1 FROM owners WHERE id = $%d AND expiry > $%d))", by, by, now)
}

// withRecords completes the fast statement whose writing CTE is w (RETURNING id): the records
// ($first..$first+6, as arrays) are inserted, in order, only for a row w wrote. It returns how
// many rows w wrote and the records' seqs, ascending (the order they were inserted in).
func withRecords(w string, first int) string {
	p := func(i int) int { return first + i }
	return "WITH w AS (" + w + ` RETURNING id),
	r AS (INSERT INTO tracking_records (instance_id, time, kind, name, activity, reason, principal, data)
		SELECT w.id, x.time, x.kind, x.name, x.activity, x.reason, x.principal, x.data
		FROM w, unnest(` + fmt.Sprintf("$%d::timestamptz[], $%d::text[], $%d::text[], $%d::text[], $%d::text[], $%d::text[], $%d::text[]",
		p(0), p(1), p(2), p(3), p(4), p(5), p(6)) + `)
			WITH ORDINALITY AS x(time, kind, name, activity, reason, principal, data, ord)
		ORDER BY x.ord
		RETURNING seq)
	SELECT (SELECT COUNT(*) FROM w), ARRAY(SELECT seq FROM r ORDER BY seq)`
}

var (
	// $1..$22 as instanceArgs, $23 the parent, $24 the writer.
	fastInsertSQL = withRecords(`INSERT INTO instances (id, definition_name, definition_package, definition_version,
		version_key, state, completion, suspension_reason, suspension_exception, completion_reason, completion_exception,
		blocking_bookmarks, pending_timer, execution_status, failures, image, variables,
		lease_owner, lease_token, version, created, updated, current_state, properties, parent)
		SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text,
			$11::text, $12::text[], $13::timestamptz, $14::text, $15::integer, $16::bytea, $17::bytea, $18::text,
			$19::bigint, 1, $20::timestamptz, $20::timestamptz, $21::text, $22::jsonb, $23::uuid
		WHERE `+byLive(24, 20)+`
		ON CONFLICT (id) DO NOTHING`, 25)
	// $1..$22 as instanceArgs, $23 the version, $24 and $25 the lease it has, $26 the writer.
	fastUpdateSQL = withRecords(`UPDATE instances SET definition_name = $2, definition_package = $3,
		definition_version = $4, version_key = $5, state = $6, completion = $7, suspension_reason = $8,
		suspension_exception = $9, completion_reason = $10, completion_exception = $11, blocking_bookmarks = $12,
		pending_timer = $13, execution_status = $14, failures = $15, image = $16, variables = $17,
		lease_owner = $18, lease_token = $19, version = version + 1, updated = $20, current_state = $21,
		properties = $22::jsonb
		WHERE id = $1 AND version = $23 AND lease_owner = $24 AND lease_token = $25 AND `+byLive(26, 20), 27)
	// $1 the id, $2 and $3 the lease after, $4 and $5 the lease it has, $6 the writer, $7 now,
	// $8 the version (0: any).
	fastTrackSQL = withRecords(`UPDATE instances SET lease_owner = $2, lease_token = $3
		WHERE id = $1 AND lease_owner = $4 AND lease_token = $5 AND ($8::bigint = 0 OR version = $8) AND `+byLive(6, 7), 9)
	// $1 the id, $2 the version (0: any), $3 and $4 the lease it has, $5 the writer, $6 now.
	fastDeleteSQL = withRecords(`DELETE FROM instances
		WHERE id = $1 AND ($2::bigint = 0 OR version = $2) AND lease_owner = $3 AND lease_token = $4 AND `+byLive(5, 6), 7)
)

// fastChange is c's fast statement at store time now, or nil when c has none. Its finish
// records what it writes back in u.
func fastChange(c store.Change, now time.Time, u *backend.Undo) *fastWrite {
	in := c.Instance
	has := in.Lease
	if c.Op != store.Insert && has.Owner != "" && has.Owner != c.By {
		return nil // needs the holder's liveness
	}
	if c.Op == store.Insert && in.CorrelationKey != "" {
		return nil // the full path tells a taken key from a taken id
	}

	// The lease afterwards, as fence would grant it over a stored lease equal to has.
	after := has
	switch {
	case c.Op == store.Insert && c.By != "" && c.Hold:
		after = store.Lease{Owner: c.By, Token: 1}
	case c.Op == store.Insert:
		after = store.Lease{}
	case c.By == "":
	case c.Hold:
		after = backend.Stored{Lease: has, HolderLive: true}.Grant(c.By)
	case !c.Hold:
		after = store.Lease{Token: has.Token}
	}

	recs := make([]workflow.Record, len(c.Records))
	cols := [7][]string{}
	times := make([]time.Time, len(c.Records))
	for j, r := range c.Records {
		r = backend.StampRecord(r, in.ID, now)
		recs[j], times[j] = r, r.Time
		for k, v := range []string{string(r.Kind), r.Name, r.Activity, r.Reason, r.Principal, r.Data} {
			cols[k] = append(cols[k], v)
		}
	}
	records := []any{times}
	for k := range 6 {
		if cols[k] == nil {
			cols[k] = []string{}
		}
		records = append(records, cols[k])
	}

	var args []any
	if c.Op == store.Insert || c.Op == store.Update {
		var err error
		if args, err = instanceArgs(in, after, now); err != nil {
			return nil // the full path reports it
		}
	}
	var fw fastWrite
	switch c.Op {
	case store.Insert:
		fw.sql, fw.args = fastInsertSQL, append(args, nullID(in.Parent), c.By)
	case store.Update:
		fw.sql, fw.args = fastUpdateSQL, append(args, in.Version, has.Owner, has.Token, c.By)
	case store.Track:
		fw.sql, fw.args = fastTrackSQL, []any{in.ID, after.Owner, after.Token, has.Owner, has.Token, c.By, now, in.Version}
	case store.Delete:
		fw.sql, fw.args = fastDeleteSQL, []any{in.ID, in.Version, has.Owner, has.Token, c.By, now}
	default:
		return nil
	}
	fw.args = append(fw.args, records...)
	fw.finish = func(seqs []int64) {
		u.WriteBack(c.Op, in, after, now)
		for j := range c.Records {
			u.Record(&c.Records[j])
			recs[j].Seq = seqs[j]
			c.Records[j] = recs[j]
		}
	}
	return &fw
}
