package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// Tracking records are stored as batches: one tracking_batches row holds the records one change
// added to one instance (0009_tracking_batches). Its records column is
//
//	batchFormat, then for each record in seq order:
//	uvarint  seq - first_seq
//	varint   time - the row's time, in ms
//	6 × (uvarint length, bytes): kind, name, activity, reason, principal, data
//
// The row's instance_id is each record's InstanceID.
const batchFormat byte = 1

// errBadBatch: a records column that is not a batch this binary wrote.
var errBadBatch = errors.New("sqlite: malformed tracking batch")

// batch is one tracking_batches row: its records (same instance, ascending Seq, non-empty).
type batch struct {
	instance string
	recs     []workflow.Record
}

// span is the row's first_seq, last_seq and time (the earliest record time, ms).
func (b batch) span() (first, last, at int64) {
	first, last, at = b.recs[0].Seq, b.recs[len(b.recs)-1].Seq, toMS(b.recs[0].Time)
	for _, r := range b.recs[1:] {
		at = min(at, toMS(r.Time))
	}
	return first, last, at
}

// encode is the row's records column.
func (b batch) encode() []byte {
	first, _, at := b.span()
	n := 1
	for _, r := range b.recs {
		n += 2*binary.MaxVarintLen64 + 6*binary.MaxVarintLen32 + len(r.Kind) + len(r.Name) + len(r.Activity) +
			len(r.Reason) + len(r.Principal) + len(r.Data)
	}
	out := make([]byte, 1, n)
	out[0] = batchFormat
	for _, r := range b.recs {
		out = binary.AppendUvarint(out, uint64(r.Seq-first))
		out = binary.AppendVarint(out, toMS(r.Time)-at)
		for _, s := range []string{string(r.Kind), r.Name, r.Activity, r.Reason, r.Principal, r.Data} {
			out = binary.AppendUvarint(out, uint64(len(s)))
			out = append(out, s...)
		}
	}
	return out
}

// decodeBatch reads a row back: the records with Seq > after. It refuses anything encode could
// not have written (a stored column is data, and a damaged one must not panic a read).
func decodeBatch(instance uuid.UUID, first, at int64, data []byte, after int64) ([]workflow.Record, error) {
	if len(data) < 1 || data[0] != batchFormat {
		return nil, fmt.Errorf("%w: unknown format", errBadBatch)
	}
	data = data[1:]
	var out []workflow.Record
	prev := int64(-1)
	for len(data) > 0 {
		d, n := binary.Uvarint(data)
		if n <= 0 || d > math.MaxInt64-uint64(max(first, 0)) || int64(d) <= prev {
			return nil, fmt.Errorf("%w: bad seq", errBadBatch)
		}
		data, prev = data[n:], int64(d)
		dt, n := binary.Varint(data)
		if n <= 0 || (dt > 0 && at > math.MaxInt64-dt) || (dt < 0 && at < math.MinInt64-dt) {
			return nil, fmt.Errorf("%w: bad time", errBadBatch)
		}
		data = data[n:]
		var f [6]string
		for i := range f {
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return nil, fmt.Errorf("%w: bad string", errBadBatch)
			}
			f[i], data = string(data[n:n+int(l)]), data[n+int(l):]
		}
		if seq := first + int64(d); seq > after {
			out = append(out, workflow.Record{Seq: seq, InstanceID: instance, Time: fromMS(at + dt),
				Kind: workflow.RecordKind(f[0]), Name: f[1], Activity: f[2], Reason: f[3], Principal: f[4], Data: f[5]})
		}
	}
	if prev < 0 {
		return nil, fmt.Errorf("%w: no records", errBadBatch)
	}
	return out, nil
}

// nextSeqs hands out n consecutive seqs (in the writer's transaction) and returns the first.
func nextSeqs(ctx context.Context, st *sql.Stmt, n int) (int64, error) {
	var last int64
	if err := st.QueryRowContext(ctx, n).Scan(&last); err != nil {
		return 0, err
	}
	return last - int64(n) + 1, nil
}

const nextSeqSQL = `UPDATE tracking_seq SET last = last + ? WHERE id = 1 RETURNING last`

const insertBatchSQL = `INSERT INTO tracking_batches (first_seq, last_seq, instance_id, time, records) VALUES (?, ?, ?, ?, ?)`

// moveRecordsToBatches is the Go step of 0009_tracking_batches: the records of tracking_records
// become batches — the consecutive records of an instance with one time, which is what one change
// wrote — and seqs go on from where the table's AUTOINCREMENT was.
func moveRecordsToBatches(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `INSERT INTO tracking_seq (id, last) VALUES (1, max(
		coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'tracking_records'), 0),
		coalesce((SELECT max(seq) FROM tracking_records), 0)))`); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, `SELECT seq, instance_id, time, kind, name, activity, reason, principal, data
		FROM tracking_records ORDER BY instance_id, seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var batches []batch
	for rows.Next() {
		var r workflow.Record
		var iid, kind string
		var ms int64
		if err := rows.Scan(&r.Seq, &iid, &ms, &kind, &r.Name, &r.Activity, &r.Reason, &r.Principal, &r.Data); err != nil {
			return err
		}
		r.Kind, r.Time = workflow.RecordKind(kind), fromMS(ms)
		if n := len(batches); n > 0 && batches[n-1].instance == iid && batches[n-1].recs[0].Time.Equal(r.Time) {
			batches[n-1].recs = append(batches[n-1].recs, r)
			continue
		}
		batches = append(batches, batch{instance: iid, recs: []workflow.Record{r}})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	insert, err := conn.PrepareContext(ctx, insertBatchSQL)
	if err != nil {
		return err
	}
	defer insert.Close()
	for _, b := range batches {
		first, last, at := b.span()
		if _, err := insert.ExecContext(ctx, first, last, b.instance, at, b.encode()); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "DROP TABLE tracking_records")
	return err
}

// purgeBatches deletes up to limit of the oldest records older than before (unix ms) whose
// instance exists and is not Completed, and returns how many it deleted. A batch whose records
// are not all older, or that holds more than the limit leaves room for, is rewritten without
// the records deleted.
func purgeBatches(ctx context.Context, conn *sql.Conn, before int64, limit int64) (int64, error) {
	rows, err := conn.QueryContext(ctx, `SELECT b.first_seq, b.instance_id, b.time, b.records
		FROM tracking_batches AS b INDEXED BY tracking_batches_time
		JOIN instances AS i ON i.id = b.instance_id
		WHERE b.time < ? AND i.state != 'Completed' ORDER BY b.time, b.first_seq LIMIT ?`, before, limit)
	if err != nil {
		return 0, err
	}
	type row struct {
		first int64
		b     batch
	}
	var found []row
	for rows.Next() {
		var first, at int64
		var iid string
		var data []byte
		if err := rows.Scan(&first, &iid, &at, &data); err != nil {
			rows.Close()
			return 0, err
		}
		id, err := uuid.Parse(iid)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: bad record instance id %q: %w", iid, err)
		}
		recs, err := decodeBatch(id, first, at, data, math.MinInt64)
		if err != nil {
			rows.Close()
			return 0, err
		}
		found = append(found, row{first, batch{iid, recs}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var deleted int64
	for _, f := range found {
		if deleted == limit {
			break
		}
		// The batch's records older than before, oldest first, as many as the limit leaves room for.
		var old []int
		for i, r := range f.b.recs {
			if toMS(r.Time) < before {
				old = append(old, i)
			}
		}
		slices.SortStableFunc(old, func(a, b int) int { return f.b.recs[a].Time.Compare(f.b.recs[b].Time) })
		old = old[:min(int64(len(old)), limit-deleted)]
		deleted += int64(len(old))
		var keep []workflow.Record
		for i, r := range f.b.recs {
			if !slices.Contains(old, i) {
				keep = append(keep, r)
			}
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM tracking_batches WHERE first_seq = ?`, f.first); err != nil {
			return 0, err
		}
		if len(keep) == 0 {
			continue
		}
		b := batch{f.b.instance, keep}
		first, last, at := b.span()
		if _, err := conn.ExecContext(ctx, insertBatchSQL, first, last, b.instance, at, b.encode()); err != nil {
			return 0, err
		}
	}
	return deleted, nil
}
