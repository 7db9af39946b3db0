package sqlite

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

func sampleBatch(id uuid.UUID) []workflow.Record {
	t0 := time.Date(2026, 12, 3, 17, 48, 11, 987_000_000, time.UTC)
	return []workflow.Record{
		{Seq: 41, InstanceID: id, Time: t0, Kind: workflow.InstanceRecord, Name: "Created", Principal: "anonymous@127.0.0.1:59232",
			Data: `{"definition":"ExpenseApproval"}`},
		{Seq: 42, InstanceID: id, Time: t0, Kind: workflow.ActivityRecord, Name: "Executing", Activity: "main"},
		// Times of their own, before and after the first; a gap in the seqs (another change's).
		{Seq: 45, InstanceID: id, Time: t0.Add(-90 * time.Second), Kind: workflow.BookmarkRecord, Name: "Review",
			Reason: "ünïcødé \x00 and NUL", Data: string(make([]byte, 300))},
		{Seq: 46, InstanceID: id, Time: t0.Add(240 * time.Hour), Kind: "SomethingNew", Name: ""},
	}
}

// encodeFor is what the writer stores for recs: the row's first_seq and time, and its records.
func encodeFor(recs []workflow.Record) (first, at int64, data []byte) {
	b := batch{instance: recs[0].InstanceID.String(), recs: recs}
	first, _, at = b.span()
	return first, at, b.encode()
}

func TestBatchRoundTrip(t *testing.T) {
	id := uuid.New()
	recs := sampleBatch(id)
	first, at, data := encodeFor(recs)
	if first != 41 || at != recs[2].Time.UnixMilli() {
		t.Fatalf("span: first_seq %d, time %d; want 41 and the earliest record's time %d", first, at, recs[2].Time.UnixMilli())
	}
	got, err := decodeBatch(id, first, at, data, 0)
	if err != nil || !slices.Equal(got, recs) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, recs)
	}
	for after, want := range map[int64][]workflow.Record{40: recs, 41: recs[1:], 43: recs[2:], 45: recs[3:], 46: nil, 99: nil} {
		got, err := decodeBatch(id, first, at, data, after)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("after %d: %+v, %v; want %+v", after, got, err, want)
		}
	}
}

// A damaged column is an error, never a panic or made-up records: every truncation, another
// format byte, seqs that do not ascend, a string longer than what follows.
func TestDecodeBatchRefusesDamage(t *testing.T) {
	id := uuid.New()
	first, at, data := encodeFor(sampleBatch(id))
	for n := range len(data) {
		if recs, err := decodeBatch(id, first, at, data[:n], 0); err == nil && n < 2 {
			t.Fatalf("decoding the first %d bytes: %+v, no error", n, recs)
		}
	}
	for name, bad := range map[string][]byte{
		"empty":             {},
		"format 2":          append([]byte{2}, data[1:]...),
		"no records":        {batchFormat},
		"seq repeated":      {batchFormat, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"string too long":   {batchFormat, 0, 0, 5, 'a'},
		"seq overflows":     {batchFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"truncated varint":  {batchFormat, 0x80},
		"time out of range": append([]byte{batchFormat, 0}, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
	} {
		if recs, err := decodeBatch(id, first, at, bad, 0); err == nil {
			t.Errorf("%s: decoded %+v, no error", name, recs)
		}
	}
	if recs, err := decodeBatch(id, 1, math.MaxInt64, []byte{batchFormat, 0, 2, 0, 0, 0, 0, 0, 0}, 0); err == nil {
		t.Errorf("a time past the largest: decoded %+v, no error", recs)
	}
}

// FuzzDecodeBatch: no input panics; what decodes encodes back to the same records.
func FuzzDecodeBatch(f *testing.F) {
	id := uuid.New()
	first, at, data := encodeFor(sampleBatch(id))
	f.Add(first, at, data)
	f.Add(int64(1), int64(0), []byte{batchFormat, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, first, at int64, data []byte) {
		if first < 1 {
			return // seqs start at 1
		}
		recs, err := decodeBatch(id, first, at, data, math.MinInt64)
		if err != nil {
			return
		}
		f2, a2, d2 := encodeFor(recs)
		again, err := decodeBatch(id, f2, a2, d2, math.MinInt64)
		if err != nil || !slices.Equal(again, recs) {
			t.Fatalf("re-encoded %+v as %x: %+v, %v", recs, d2, again, err)
		}
	})
}

// TestTrackingMigrationOfExistingRecords: 0009_tracking_batches on a database whose records
// are rows keeps every record as it was (seq, time, fields), each instance's in seq order, and
// later seqs go on past the largest ever handed out, even one whose record was deleted.
func TestTrackingMigrationOfExistingRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, conn := migratedUpTo(t, path, "0009_tracking_batches")
	a, b := uuid.New(), uuid.New()
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	rows := []workflow.Record{
		{InstanceID: a, Time: t0, Kind: workflow.InstanceRecord, Name: "Created", Principal: "alice"},
		{InstanceID: a, Time: t0, Kind: workflow.ActivityRecord, Name: "Executing", Activity: "main", Data: `{"x":1}`},
		{InstanceID: b, Time: t0, Kind: workflow.InstanceRecord, Name: "Created"},
		{InstanceID: a, Time: t0.Add(time.Minute), Kind: workflow.InstanceRecord, Name: "Suspended", Reason: "audit"},
		{InstanceID: b, Time: t0.Add(time.Hour), Kind: workflow.BookmarkRecord, Name: "Review"},
		{InstanceID: a, Time: t0.Add(time.Minute), Kind: workflow.InstanceRecord, Name: "Unloaded"},
		{InstanceID: b, Time: t0.Add(2 * time.Hour), Kind: workflow.InstanceRecord, Name: "Deleted later"},
	}
	for j := range rows {
		r := &rows[j]
		res, err := conn.ExecContext(ctx, `INSERT INTO tracking_records (instance_id, time, kind, name, activity, reason, principal, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.InstanceID.String(), r.Time.UnixMilli(), string(r.Kind), r.Name, r.Activity, r.Reason, r.Principal, r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq, err = res.LastInsertId(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM tracking_records WHERE seq = ?`, rows[6].Seq); err != nil {
		t.Fatal(err)
	}
	rows = rows[:6]
	s := reopen(t, db, conn, path)
	for _, id := range []uuid.UUID{a, b} {
		var want []workflow.Record
		for _, r := range rows {
			if r.InstanceID == id {
				want = append(want, r)
			}
		}
		got, err := s.Records(ctx, id, 0)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("records of %s after the migration: %+v, %v; want %+v", id, got, err, want)
		}
	}
	in := &store.Instance{ID: a, State: workflow.Active}
	rec := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Created"}}
	if err := s.Commit(ctx, store.Change{Op: store.Insert, Instance: in, Records: rec}); err != nil {
		t.Fatal(err)
	}
	if rec[0].Seq != 8 {
		t.Fatalf("the first seq after the migration: %d; want 8 (7 were handed out, the 7th deleted)", rec[0].Seq)
	}
	var tables int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'tracking_records'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("tracking_records after the migration: %d tables, %v; want it dropped", tables, err)
	}
}
