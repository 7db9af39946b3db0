// Package storetest is the behavioural suite every store.Store backend must pass.
//
//	func TestMyBackend(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return openFresh(t, now) })
//	}
//
// open must return a new, empty store for each call whose clock is now (the store's own times:
// Created, Updated, record times and owners' expiry), and arrange its Close with t.Cleanup (the
// suite may close a store itself; a second Close returning ErrClosed is fine).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Opener returns a new, empty store whose clock is now.
type Opener func(t *testing.T, now func() time.Time) store.Store

// Run runs the whole suite, each case on its own store from open.
func Run(t *testing.T, open Opener) {
	cases := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"UpdateRoundTrip", testUpdateRoundTrip},
		{"Exists", testExists},
		{"NotFound", testNotFound},
		{"Conflict", testConflict},
		{"Invalid", testInvalid},
		{"AtomicCommit", testAtomicCommit},
		{"SameInstanceTwiceInOneCommit", testSameInstanceTwice},
		{"Records", testRecords},
		{"DeleteKeepsRecords", testDeleteKeepsRecords},
		{"ClaimDueAndNextTimer", testTimers},
		{"PendingTimers", testPendingTimers},
		{"ClaimRunnable", testRunnable},
		{"List", testList},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentCommits", testConcurrent},
		{"IndependentCallers", testIndependentCallers},
		{"Close", testClose},
		{"CloseWhileCommitting", testCloseWhileCommitting},
		{"ClusterSecret", testClusterSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.f(t, open(t, time.Now))
		})
	}
	for _, c := range slices.Concat(leaseCases, queryCases, jobCases, correlationCases, parentCases) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c.f(t, open(t, clk.now), clk)
		})
	}
}

var bg = context.Background()

// ms is a fixed, millisecond-aligned instant used for explicit times.
var ms = time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func newInstance(state workflow.State) *store.Instance {
	return &store.Instance{
		ID:              uuid.New(),
		Definition:      workflow.Identity{Name: "Approval", Package: "samples", Version: "1.0.0"},
		State:           state,
		ExecutionStatus: "Idle",
	}
}

func full() *store.Instance {
	id := uuid.New()
	return &store.Instance{
		ID:                  id,
		Definition:          workflow.Identity{Name: "Expense", Package: "wimp.samples", Version: "2.1.0.0"},
		State:               workflow.Suspended,
		Completion:          workflow.NotCompleted,
		SuspensionReason:    "waiting for auditor ✓",
		SuspensionException: "System.InvalidOperationException",
		CompletionReason:    "",
		Bookmarks:           []string{"zeta", "alpha", "Mid dle"},
		PendingTimer:        ms.Add(time.Hour),
		ExecutionStatus:     "Idle",
		Image:               []byte{0, 1, 2, 0xff, 0},
		Variables:           []byte(`{"amount":12.5,"who":"bob"}`),
		Failures:            3,
		CorrelationKey:      "expense/" + id.String() + " ✓",
		CurrentState:        "Review",
		Properties:          map[string]string{"amount": "12.5", "who": "bob", "note": `quote " and ✓`},
		Parent:              uuid.New(),
	}
}

func commit(t *testing.T, s store.Store, changes ...store.Change) {
	t.Helper()
	if err := s.Commit(bg, changes...); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func insert(t *testing.T, s store.Store, in *store.Instance, recs ...workflow.Record) {
	t.Helper()
	commit(t, s, store.Change{Op: store.Insert, Instance: in, Records: recs})
}

func get(t *testing.T, s store.Store, id uuid.UUID) *store.Instance {
	t.Helper()
	got, err := s.Get(bg, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// sameTime: equal to the millisecond (backends keep at least ms precision), and UTC if set.
func sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() && b.IsZero()
	}
	d := a.Sub(b)
	return d < time.Millisecond && d > -time.Millisecond
}

// diff lists the differing fields of two instances ("" if equal). Bookmarks nil and empty are
// the same; Image and Variables nil and empty are not.
func diff(got, want *store.Instance) string {
	var out []string
	f := func(name string, eq bool, g, w any) {
		if !eq {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", name, g, w))
		}
	}
	f("ID", got.ID == want.ID, got.ID, want.ID)
	f("Definition", got.Definition == want.Definition, got.Definition, want.Definition)
	f("State", got.State == want.State, got.State, want.State)
	f("Completion", got.Completion == want.Completion, got.Completion, want.Completion)
	f("SuspensionReason", got.SuspensionReason == want.SuspensionReason, got.SuspensionReason, want.SuspensionReason)
	f("SuspensionException", got.SuspensionException == want.SuspensionException, got.SuspensionException, want.SuspensionException)
	f("CompletionReason", got.CompletionReason == want.CompletionReason, got.CompletionReason, want.CompletionReason)
	f("CompletionException", got.CompletionException == want.CompletionException, got.CompletionException, want.CompletionException)
	f("Bookmarks", slices.Equal(got.Bookmarks, want.Bookmarks), got.Bookmarks, want.Bookmarks)
	f("PendingTimer", sameTime(got.PendingTimer, want.PendingTimer), got.PendingTimer, want.PendingTimer)
	f("ExecutionStatus", got.ExecutionStatus == want.ExecutionStatus, got.ExecutionStatus, want.ExecutionStatus)
	f("Image", bytes.Equal(got.Image, want.Image) && (got.Image == nil) == (want.Image == nil), got.Image, want.Image)
	f("Variables", bytes.Equal(got.Variables, want.Variables) && (got.Variables == nil) == (want.Variables == nil), got.Variables, want.Variables)
	f("Version", got.Version == want.Version, got.Version, want.Version)
	f("Failures", got.Failures == want.Failures, got.Failures, want.Failures)
	f("Lease", got.Lease == want.Lease, got.Lease, want.Lease)
	f("CorrelationKey", got.CorrelationKey == want.CorrelationKey, got.CorrelationKey, want.CorrelationKey)
	f("Parent", got.Parent == want.Parent, got.Parent, want.Parent)
	f("CurrentState", got.CurrentState == want.CurrentState, got.CurrentState, want.CurrentState)
	f("Properties", maps.Equal(got.Properties, want.Properties) && (got.Properties == nil) == (len(want.Properties) == 0),
		got.Properties, want.Properties)
	f("Created", sameTime(got.Created, want.Created), got.Created, want.Created)
	f("Updated", sameTime(got.Updated, want.Updated), got.Updated, want.Updated)
	for _, tm := range []time.Time{got.PendingTimer, got.Created, got.Updated} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			out = append(out, fmt.Sprintf("time %v is not UTC", tm))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprint(out)
}

func same(t *testing.T, got, want *store.Instance) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Fatalf("instance %s differs: %s", want.ID, d)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	before := time.Now().Add(-time.Second)
	in := full()
	in.Version = 42 // ignored by Insert
	insert(t, s, in)
	if in.Version != 1 {
		t.Fatalf("Insert set Version %d, want 1", in.Version)
	}
	if in.Created.IsZero() || !in.Created.Equal(in.Updated) || in.Created.Before(before) {
		t.Fatalf("Insert set Created %v Updated %v", in.Created, in.Updated)
	}
	same(t, get(t, s, in.ID), in)

	// Nil vs empty, zero times, no bookmarks, non-UTC input times, sub-millisecond input.
	bare := newInstance(workflow.Active)
	insert(t, s, bare)
	got := get(t, s, bare.ID)
	same(t, got, bare)
	if got.Image != nil || got.Variables != nil || len(got.Bookmarks) != 0 || !got.PendingTimer.IsZero() || got.Lease != (store.Lease{}) {
		t.Fatalf("bare instance came back with %+v", got)
	}

	empty := newInstance(workflow.Completed)
	empty.Completion = workflow.Faulted
	empty.CompletionReason = "division by zero"
	empty.CompletionException = "System.DivideByZeroException"
	empty.Image = []byte{}
	empty.Variables = []byte(`{}`)
	empty.Bookmarks = []string{}
	empty.PendingTimer = time.Date(2031, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("X", 5*3600))
	insert(t, s, empty)
	got = get(t, s, empty.ID)
	same(t, got, empty)
	if got.Image == nil || len(got.Image) != 0 {
		t.Fatalf("empty image came back as %#v, want non-nil empty", got.Image)
	}
	if !got.PendingTimer.Equal(empty.PendingTimer.Truncate(time.Millisecond)) && !got.PendingTimer.Equal(empty.PendingTimer) {
		t.Fatalf("PendingTimer %v, want %v", got.PendingTimer, empty.PendingTimer)
	}

	// Get returns a copy: mutating it does not affect the store.
	got.Bookmarks = append(got.Bookmarks, "x")
	got.Image = append(got.Image, 1)
	same(t, get(t, s, empty.ID), empty)
}

func testUpdateRoundTrip(t *testing.T, s store.Store) {
	in := newInstance(workflow.Active)
	insert(t, s, in)
	created := in.Created
	up := full()
	up.ID, up.Version, up.Created, up.Updated = in.ID, in.Version, in.Created, in.Updated
	commit(t, s, store.Change{Op: store.Update, Instance: up})
	up.CorrelationKey, up.Parent = "", uuid.Nil // Update keeps the stored key and parent (none)
	if up.Version != 2 {
		t.Fatalf("Update set Version %d, want 2", up.Version)
	}
	if up.Updated.Before(created) || !up.Created.Equal(created) {
		t.Fatalf("Update set Created %v Updated %v (created %v)", up.Created, up.Updated, created)
	}
	same(t, get(t, s, in.ID), up)

	// And back to the bare shape: fields are cleared, not merged.
	bare := newInstance(workflow.Completed)
	bare.ID, bare.Version, bare.Created = up.ID, up.Version, up.Created
	bare.Completion = workflow.Closed
	commit(t, s, store.Change{Op: store.Update, Instance: bare})
	if bare.Version != 3 {
		t.Fatalf("Version %d, want 3", bare.Version)
	}
	same(t, get(t, s, in.ID), bare)
}

func testExists(t *testing.T, s store.Store) {
	in := full()
	insert(t, s, in)
	dup := newInstance(workflow.Active)
	dup.ID = in.ID
	rec := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
	err := s.Commit(bg, store.Change{Op: store.Insert, Instance: dup, Records: rec})
	wantErr(t, "second Insert", err, store.ErrExists)
	if dup.Version != 0 || !dup.Created.IsZero() || rec[0].Seq != 0 {
		t.Fatalf("failed Insert wrote back Version %d Created %v Seq %d", dup.Version, dup.Created, rec[0].Seq)
	}
	same(t, get(t, s, in.ID), in)
	if rs, err := s.Records(bg, in.ID, 0); err != nil || len(rs) != 0 {
		t.Fatalf("Records after failed insert: %v %v", rs, err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	id := uuid.New()
	_, err := s.Get(bg, id)
	wantErr(t, "Get", err, store.ErrNotFound)
	in := newInstance(workflow.Active)
	in.ID, in.Version = id, 1
	wantErr(t, "Update", s.Commit(bg, store.Change{Op: store.Update, Instance: in}), store.ErrNotFound)
	wantErr(t, "Delete", s.Commit(bg, store.Change{Op: store.Delete, Instance: in}), store.ErrNotFound)
	in.Version = 0
	wantErr(t, "Delete v0", s.Commit(bg, store.Change{Op: store.Delete, Instance: in}), store.ErrNotFound)
	wantErr(t, "Track", s.Commit(bg, store.Change{Op: store.Track, Instance: in,
		Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Idle"}}}), store.ErrNotFound)
	if in.Version != 0 {
		t.Fatalf("failed Update changed Version to %d", in.Version)
	}
	rs, err := s.Records(bg, id, 0)
	if err != nil || len(rs) != 0 {
		t.Fatalf("Records of unknown instance: %v, %v (want empty, nil)", rs, err)
	}
}

func testConflict(t *testing.T, s store.Store) {
	in := newInstance(workflow.Active)
	insert(t, s, in)
	a, b := *in, *in
	a.SuspensionReason = "a"
	commit(t, s, store.Change{Op: store.Update, Instance: &a})
	b.State, b.SuspensionReason = workflow.Suspended, "b"
	rec := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Suspended"}}
	err := s.Commit(bg, store.Change{Op: store.Update, Instance: &b, Records: rec})
	wantErr(t, "stale Update", err, store.ErrConflict)
	if b.Version != 1 || !b.Updated.Equal(in.Updated) || rec[0].Seq != 0 {
		t.Fatalf("failed Update wrote back Version %d Updated %v Seq %d", b.Version, b.Updated, rec[0].Seq)
	}
	same(t, get(t, s, in.ID), &a)
	if rs, _ := s.Records(bg, in.ID, 0); len(rs) != 0 {
		t.Fatalf("conflicting commit left records %v", rs)
	}
	// A version from the future conflicts too.
	c := a
	c.Version = 99
	wantErr(t, "future Update", s.Commit(bg, store.Change{Op: store.Update, Instance: &c}), store.ErrConflict)
	// Track checks the version when one is given (the records of a decision made on a version
	// that is no longer stored are refused), and appends unconditionally with version 0.
	track := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Unsuspend"}}
	wantErr(t, "stale Track", s.Commit(bg, store.Change{Op: store.Track, Instance: &store.Instance{ID: in.ID, Version: 1}, Records: track}),
		store.ErrConflict)
	if rs, _ := s.Records(bg, in.ID, 0); len(rs) != 0 || track[0].Seq != 0 {
		t.Fatalf("stale Track left records %v (seq %d)", rs, track[0].Seq)
	}
	commit(t, s, store.Change{Op: store.Track, Instance: &store.Instance{ID: in.ID, Version: 2}, Records: track})
	commit(t, s, store.Change{Op: store.Track, Instance: &store.Instance{ID: in.ID}, Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Run"}}})
	if rs, _ := s.Records(bg, in.ID, 0); len(rs) != 2 || rs[0].Name != "Unsuspend" || rs[1].Name != "Run" {
		t.Fatalf("records after a current and an unconditional Track: %v; want Unsuspend, Run", rs)
	}
	if got := get(t, s, in.ID); got.Version != 2 {
		t.Fatalf("Track changed the version to %d; want 2", got.Version)
	}
	// Delete checks the version when one is given.
	wantErr(t, "stale Delete", s.Commit(bg, store.Change{Op: store.Delete, Instance: &b}), store.ErrConflict)
	same(t, get(t, s, in.ID), &a)
	commit(t, s, store.Change{Op: store.Delete, Instance: &a})
	_, err = s.Get(bg, in.ID)
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
}

func testInvalid(t *testing.T, s store.Store) {
	ok := newInstance(workflow.Active)
	for name, c := range map[string]store.Change{
		"nil instance": {Op: store.Insert},
		"nil id":       {Op: store.Insert, Instance: &store.Instance{State: workflow.Active}},
		"no state":     {Op: store.Insert, Instance: &store.Instance{ID: uuid.New()}},
		"unknown op":   {Op: store.Op(99), Instance: newInstance(workflow.Active)},
		"foreign record": {Op: store.Insert, Instance: newInstance(workflow.Active),
			Records: []workflow.Record{{InstanceID: uuid.New(), Kind: workflow.InstanceRecord}}},
	} {
		err := s.Commit(bg, store.Change{Op: store.Insert, Instance: ok}, c)
		wantErr(t, name, err, store.ErrInvalid)
	}
	_, err := s.Get(bg, ok.ID)
	wantErr(t, "Get after invalid commits", err, store.ErrNotFound)
}

func testAtomicCommit(t *testing.T, s store.Store) {
	existing := newInstance(workflow.Active)
	insert(t, s, existing)

	// Insert x + Insert of an existing id: neither applied.
	x := newInstance(workflow.Active)
	dup := newInstance(workflow.Active)
	dup.ID = existing.ID
	err := s.Commit(bg,
		store.Change{Op: store.Insert, Instance: x, Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}},
		store.Change{Op: store.Track, Instance: existing, Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Idle"}}},
		store.Change{Op: store.Insert, Instance: dup})
	wantErr(t, "Commit with a duplicate", err, store.ErrExists)
	_, err = s.Get(bg, x.ID)
	wantErr(t, "Get x", err, store.ErrNotFound)
	if x.Version != 0 {
		t.Fatalf("x.Version written back (%d) though the commit failed", x.Version)
	}
	for _, id := range []uuid.UUID{x.ID, existing.ID} {
		if rs, _ := s.Records(bg, id, 0); len(rs) != 0 {
			t.Fatalf("records of a failed commit were kept: %v", rs)
		}
	}

	// Update (ok) + Update (stale): neither applied.
	y := newInstance(workflow.Active)
	insert(t, s, y)
	stale := *y
	commit(t, s, store.Change{Op: store.Update, Instance: y})
	ex2 := *existing
	ex2.SuspensionReason = "should not stick"
	err = s.Commit(bg, store.Change{Op: store.Update, Instance: &ex2}, store.Change{Op: store.Update, Instance: &stale})
	wantErr(t, "Commit with a stale update", err, store.ErrConflict)
	if ex2.Version != existing.Version {
		t.Fatalf("ex2.Version written back (%d) though the commit failed", ex2.Version)
	}
	same(t, get(t, s, existing.ID), existing)

	// All good: all applied, in one go.
	a, b := newInstance(workflow.Active), newInstance(workflow.Suspended)
	commit(t, s, store.Change{Op: store.Insert, Instance: a}, store.Change{Op: store.Insert, Instance: b},
		store.Change{Op: store.Delete, Instance: y})
	same(t, get(t, s, a.ID), a)
	same(t, get(t, s, b.ID), b)
	_, err = s.Get(bg, y.ID)
	wantErr(t, "Get deleted", err, store.ErrNotFound)
}

func testSameInstanceTwice(t *testing.T, s store.Store) {
	in := newInstance(workflow.Active)
	recs1 := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
	recs2 := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Suspended"}}
	commit(t, s, store.Change{Op: store.Insert, Instance: in, Records: recs1},
		store.Change{Op: store.Update, Instance: in, Records: recs2})
	if in.Version != 2 {
		t.Fatalf("Insert+Update in one commit: Version %d, want 2", in.Version)
	}
	same(t, get(t, s, in.ID), in)
	if !(recs1[0].Seq > 0 && recs2[0].Seq > recs1[0].Seq) {
		t.Fatalf("Seqs %d, %d", recs1[0].Seq, recs2[0].Seq)
	}

	// The same failing later in the call undoes the earlier write-backs.
	other := newInstance(workflow.Active)
	insert(t, s, other)
	v := in.Version
	stale := *other
	stale.Version = 7
	err := s.Commit(bg, store.Change{Op: store.Update, Instance: in}, store.Change{Op: store.Update, Instance: in},
		store.Change{Op: store.Update, Instance: &stale})
	wantErr(t, "commit", err, store.ErrConflict)
	if in.Version != v {
		t.Fatalf("Version %d after failed commit, want %d", in.Version, v)
	}
	same(t, get(t, s, in.ID), in)
}

func testRecords(t *testing.T, s store.Store) {
	in := newInstance(workflow.Active)
	other := newInstance(workflow.Active)
	start := []workflow.Record{
		{Kind: workflow.InstanceRecord, Name: "Started", Principal: "alice"},
		{Kind: workflow.ActivityRecord, Name: "Executing", Activity: "1.2 Receive"},
	}
	insert(t, s, in, start...)
	insert(t, s, other, workflow.Record{Kind: workflow.InstanceRecord, Name: "Started"})
	track := []workflow.Record{
		{Kind: workflow.BookmarkRecord, Name: "approve", Activity: "1.2", Data: `{"ok":true}`},
		{Kind: workflow.InstanceRecord, Name: "Suspended", Reason: "audit", Principal: `DOMAIN\bob`, Time: ms},
		{InstanceID: in.ID, Kind: workflow.InstanceRecord, Name: "Unsuspended"},
	}
	commit(t, s, store.Change{Op: store.Track, Instance: &store.Instance{ID: in.ID}, Records: track})
	upd := []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Persisted"}}
	commit(t, s, store.Change{Op: store.Update, Instance: in, Records: upd})

	got, err := s.Records(bg, in.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(start, track, upd)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(want), got)
	}
	var last int64
	for i, r := range got {
		w := want[i]
		if r.Seq <= last {
			t.Fatalf("record %d: Seq %d not increasing (previous %d)", i, r.Seq, last)
		}
		last = r.Seq
		if w.Seq != r.Seq {
			t.Fatalf("record %d: written-back Seq %d, stored %d", i, w.Seq, r.Seq)
		}
		if r.InstanceID != in.ID || w.InstanceID != in.ID {
			t.Fatalf("record %d: InstanceID %s (written back %s), want %s", i, r.InstanceID, w.InstanceID, in.ID)
		}
		if r.Kind != w.Kind || r.Name != w.Name || r.Activity != w.Activity || r.Reason != w.Reason ||
			r.Principal != w.Principal || r.Data != w.Data {
			t.Fatalf("record %d: got %+v, want %+v", i, r, w)
		}
		if r.Time.IsZero() || !sameTime(r.Time, w.Time) || r.Time.Location() != time.UTC {
			t.Fatalf("record %d: Time %v, written back %v", i, r.Time, w.Time)
		}
	}
	if !sameTime(got[3].Time, ms) {
		t.Fatalf("explicit record time %v, want %v", got[3].Time, ms)
	}
	after, err := s.Records(bg, in.ID, got[2].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 || after[0].Seq != got[3].Seq {
		t.Fatalf("Records(after %d) = %+v", got[2].Seq, after)
	}
	if none, err := s.Records(bg, in.ID, last); err != nil || len(none) != 0 {
		t.Fatalf("Records(after last) = %v, %v", none, err)
	}
	if o, _ := s.Records(bg, other.ID, 0); len(o) != 1 || o[0].InstanceID != other.ID {
		t.Fatalf("other's records: %+v", o)
	}
}

func testDeleteKeepsRecords(t *testing.T, s store.Store) {
	in := newInstance(workflow.Completed)
	in.Completion = workflow.Closed
	insert(t, s, in, workflow.Record{Kind: workflow.InstanceRecord, Name: "Started"})
	commit(t, s, store.Change{Op: store.Delete, Instance: in,
		Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Deleted"}}})
	_, err := s.Get(bg, in.ID)
	wantErr(t, "Get", err, store.ErrNotFound)
	rs, err := s.Records(bg, in.ID, 0)
	if err != nil || len(rs) != 2 || rs[1].Name != "Deleted" {
		t.Fatalf("Records after Delete: %+v, %v", rs, err)
	}
	list, err := s.List(bg, store.Query{})
	if err != nil || len(list) != 0 {
		t.Fatalf("List after Delete: %v, %v", list, err)
	}
	// The id can be used again; its records continue.
	again := newInstance(workflow.Active)
	again.ID = in.ID
	insert(t, s, again, workflow.Record{Kind: workflow.InstanceRecord, Name: "Started"})
	rs, _ = s.Records(bg, in.ID, 0)
	if len(rs) != 3 || rs[2].Seq <= rs[1].Seq {
		t.Fatalf("Records after re-insert: %+v", rs)
	}
}

// claimIDs registers a fresh owner and claims the due instances at now, limit n.
func claimDue(t *testing.T, s store.Store, now time.Time, limit int) []uuid.UUID {
	t.Helper()
	o := uuid.NewString()
	if err := s.Register(bg, store.Owner{ID: o}, time.Hour); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimDue(bg, o, now, limit)
	if err != nil {
		t.Fatal(err)
	}
	return claimedIDs(cs)
}

func claimedIDs(cs []store.Claimed) []uuid.UUID {
	var ids []uuid.UUID
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testTimers(t *testing.T, s store.Store) {
	now := ms
	if _, ok, err := s.NextTimer(bg); err != nil || ok {
		t.Fatalf("NextTimer on empty store: %v %v", ok, err)
	}
	mk := func(state workflow.State, due time.Duration, has bool) *store.Instance {
		in := newInstance(state)
		if has {
			in.PendingTimer = now.Add(due)
		}
		insert(t, s, in)
		return in
	}
	suspended := mk(workflow.Suspended, -3*time.Hour, true)
	completed := mk(workflow.Completed, -4*time.Hour, true)
	b := mk(workflow.Active, -time.Hour, true)
	atNow := mk(workflow.Active, 0, true)
	a := mk(workflow.Active, -2*time.Hour, true)
	future := mk(workflow.Active, time.Hour, true)
	mk(workflow.Active, 0, false)
	_ = completed

	if ids := claimDue(t, s, now.Add(-5*time.Hour), 0); len(ids) != 0 {
		t.Fatalf("ClaimDue before any is due = %v", ids)
	}
	if ids := claimDue(t, s, now, 1); !slices.Equal(ids, []uuid.UUID{a.ID}) {
		t.Fatalf("ClaimDue limit 1 = %v, want the earliest, %v", ids, a.ID)
	}
	// Each caller is a new owner; the first one's lease on a is still live, so a is not offered.
	if ids := claimDue(t, s, now, 0); !slices.Equal(ids, []uuid.UUID{b.ID, atNow.ID}) {
		t.Fatalf("ClaimDue = %v, want %v (earliest first, Active only, due <= now, not leased by another)", ids, []uuid.UUID{b.ID, atNow.ID})
	}
	next, ok, err := s.NextTimer(bg)
	if err != nil || !ok || !sameTime(next, a.PendingTimer) {
		t.Fatalf("NextTimer = %v %v %v, want %v", next, ok, err, a.PendingTimer)
	}

	// Suspending a due instance holds its timer; clearing timers moves NextTimer on.
	for _, in := range []*store.Instance{a, b, atNow} {
		cur := get(t, s, in.ID)
		cur.PendingTimer = time.Time{}
		// Written by "" while other owners hold them: refused, the row unchanged.
		wantErr(t, "write to a leased instance", s.Commit(bg, store.Change{Op: store.Update, Instance: cur}), store.ErrLeased)
	}
	for _, in := range []*store.Instance{a, b, atNow} {
		cur := get(t, s, in.ID)
		if err := s.Release(bg, in.ID, cur.Lease); err != nil {
			t.Fatalf("Release: %v", err)
		}
		cur = get(t, s, in.ID)
		cur.PendingTimer = time.Time{}
		commit(t, s, store.Change{Op: store.Update, Instance: cur})
	}
	next, ok, _ = s.NextTimer(bg)
	if !ok || !sameTime(next, future.PendingTimer) {
		t.Fatalf("NextTimer = %v %v, want %v", next, ok, future.PendingTimer)
	}
	future.State = workflow.Suspended
	commit(t, s, store.Change{Op: store.Update, Instance: future})
	if _, ok, _ := s.NextTimer(bg); ok {
		t.Fatal("NextTimer found a timer though only suspended/completed instances have one")
	}
	suspended.State = workflow.Active
	commit(t, s, store.Change{Op: store.Update, Instance: suspended})
	if ids := claimDue(t, s, now, 10); !slices.Equal(ids, []uuid.UUID{suspended.ID}) {
		t.Fatalf("ClaimDue after unsuspend = %v", ids)
	}
}

func testRunnable(t *testing.T, s store.Store) {
	now := ms
	var want []uuid.UUID
	for _, c := range []struct {
		state    workflow.State
		status   string
		timer    time.Duration // a PendingTimer this far from now (0: none)
		failures int           // > 0: the PendingTimer is a retry time
		runnable bool
	}{
		{workflow.Active, "Executing", 0, 0, true},
		{workflow.Active, "Idle", 0, 0, false},
		{workflow.Suspended, "Executing", 0, 0, false},
		{workflow.Completed, "Closed", 0, 0, false},
		{workflow.Active, "Executing", 0, 0, true},
		{workflow.Active, "Executing", -time.Second, 2, true}, // a retry time that has come
		{workflow.Active, "Executing", time.Minute, 2, false}, // a retry time still ahead
		// Persisted while executing, with a durable timer (e.g. a Pick's Delay) ahead:
		// interrupted work to recover now, not when the timer falls due.
		{workflow.Active, "Executing", 240 * time.Hour, 0, true},
		{workflow.Active, "Idle", 240 * time.Hour, 0, false},
	} {
		in := newInstance(c.state)
		in.ExecutionStatus = c.status
		in.Failures = c.failures
		if c.timer != 0 {
			in.PendingTimer = now.Add(c.timer)
		}
		insert(t, s, in)
		if c.runnable {
			want = append(want, in.ID)
		}
	}
	if err := s.Register(bg, store.Owner{ID: "recovery"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimRunnable(bg, "recovery", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := claimedIDs(cs)
	slices.SortFunc(got, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(want, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	if !slices.Equal(got, want) {
		t.Fatalf("ClaimRunnable = %v, want %v", got, want)
	}
	for _, c := range cs {
		if c.Lease.Owner != "recovery" || c.Lease.Token != 1 || c.From != "" {
			t.Fatalf("claimed %s with lease %+v taken from %q, want owner recovery, token 1, taken from nobody", c.ID, c.Lease, c.From)
		}
		if l := get(t, s, c.ID).Lease; l != c.Lease {
			t.Fatalf("stored lease %+v, claimed %+v", l, c.Lease)
		}
	}
	// Claiming again gives the same instances under the same tokens: the owner holds them.
	again, err := s.ClaimRunnable(bg, "recovery", now, 0)
	if err != nil || len(again) != len(cs) {
		t.Fatalf("second ClaimRunnable: %v, %v", again, err)
	}
	for _, c := range again {
		if c.Lease.Owner != "recovery" || c.Lease.Token != 1 || c.From != "" {
			t.Fatalf("claimed again %s with lease %+v taken from %q, want {recovery 1} taken from nobody", c.ID, c.Lease, c.From)
		}
	}
	if err := s.Register(bg, store.Owner{ID: "other"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if other, err := s.ClaimRunnable(bg, "other", now, 0); err != nil || len(other) != 0 {
		t.Fatalf("another owner's ClaimRunnable got %v, %v; want none (all are leased)", other, err)
	}
}

func testList(t *testing.T, s store.Store) {
	if l, err := s.List(bg, store.Query{}); err != nil || len(l) != 0 {
		t.Fatalf("List on empty store: %v %v", l, err)
	}
	byState := map[workflow.State][]*store.Instance{}
	for i := range 12 {
		st := []workflow.State{workflow.Active, workflow.Suspended, workflow.Completed}[i%3]
		in := full()
		in.State = st
		insert(t, s, in)
		byState[st] = append(byState[st], in)
	}
	all, err := s.List(bg, store.Query{})
	if err != nil || len(all) != 12 {
		t.Fatalf("List all: %d, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Created.Before(all[i-1].Created) {
			t.Fatalf("List not ordered by Created: %v before %v", all[i-1].Created, all[i].Created)
		}
	}
	for st, want := range byState {
		got, err := s.List(bg, store.Query{State: st})
		if err != nil || len(got) != len(want) {
			t.Fatalf("List %s: %d, %v; want %d", st, len(got), err, len(want))
		}
		index := map[uuid.UUID]*store.Instance{}
		for _, in := range want {
			index[in.ID] = in
		}
		for _, g := range got {
			w, ok := index[g.ID]
			if !ok {
				t.Fatalf("List %s returned %s (%s)", st, g.ID, g.State)
			}
			same(t, g, w)
		}
		lim, err := s.List(bg, store.Query{State: st, Limit: 2})
		if err != nil || len(lim) != 2 || lim[0].ID != got[0].ID || lim[1].ID != got[1].ID {
			t.Fatalf("List %s limit 2: %v, %v", st, lim, err)
		}
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	in := newInstance(workflow.Active)
	err := s.Commit(ctx, store.Change{Op: store.Insert, Instance: in})
	wantErr(t, "Commit with canceled ctx", err, context.Canceled)
	if _, err := s.Get(bg, in.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("canceled commit applied: %v", err)
	}
	if in.Version != 0 {
		t.Fatalf("canceled commit wrote back Version %d", in.Version)
	}
	// A ctx canceled while commits are in flight: each either fails with the ctx error and is
	// not applied, or succeeds and is applied.
	var wg sync.WaitGroup
	ins := make([]*store.Instance, 200)
	errs := make([]error, len(ins))
	ctx, cancel2 := context.WithCancel(bg)
	defer cancel2()
	for i := range ins {
		ins[i] = newInstance(workflow.Active)
		wg.Go(func() { errs[i] = s.Commit(ctx, store.Change{Op: store.Insert, Instance: ins[i]}) })
		if i == len(ins)/2 {
			cancel2()
		}
	}
	wg.Wait()
	for i, in := range ins {
		_, gerr := s.Get(bg, in.ID)
		switch {
		case errs[i] == nil && gerr != nil:
			t.Fatalf("commit %d acknowledged but Get: %v", i, gerr)
		case errs[i] != nil && !errors.Is(errs[i], context.Canceled):
			t.Fatalf("commit %d: %v", i, errs[i])
		case errs[i] != nil && !errors.Is(gerr, store.ErrNotFound):
			t.Fatalf("commit %d reported %v but was applied", i, errs[i])
		}
	}
}

// testConcurrent: many goroutines, each with its own instances plus one shared counter
// updated with optimistic retries. No update may be lost; no error other than ErrConflict.
func testConcurrent(t *testing.T, s store.Store) {
	const workers, own, increments = 50, 20, 4
	counter := newInstance(workflow.Active)
	counter.Variables = []byte("0")
	insert(t, s, counter)

	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			errc <- func() error {
				in := newInstance(workflow.Active)
				if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in,
					Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}}); err != nil {
					return err
				}
				for i := range own {
					in.SuspensionReason = fmt.Sprint(w, "/", i)
					if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in,
						Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Persisted", Reason: in.SuspensionReason}}}); err != nil {
						return fmt.Errorf("own update: %w", err)
					}
					if i%5 == 0 {
						if _, err := s.Get(bg, in.ID); err != nil {
							return err
						}
					}
				}
				got, err := s.Get(bg, in.ID)
				if err != nil {
					return err
				}
				if got.Version != 1+own || got.SuspensionReason != in.SuspensionReason {
					return fmt.Errorf("own instance: version %d reason %q", got.Version, got.SuspensionReason)
				}
				if rs, err := s.Records(bg, in.ID, 0); err != nil || len(rs) != 1+own {
					return fmt.Errorf("own records: %d, %v", len(rs), err)
				}
				for range increments {
					for {
						c, err := s.Get(bg, counter.ID)
						if err != nil {
							return err
						}
						var n int
						fmt.Sscan(string(c.Variables), &n)
						c.Variables = []byte(fmt.Sprint(n + 1))
						err = s.Commit(bg, store.Change{Op: store.Update, Instance: c})
						if err == nil {
							break
						}
						if !errors.Is(err, store.ErrConflict) {
							return fmt.Errorf("counter update: %w", err)
						}
					}
				}
				return nil
			}()
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := get(t, s, counter.ID)
	if string(c.Variables) != fmt.Sprint(workers*increments) || c.Version != 1+workers*increments {
		t.Fatalf("counter = %s version %d, want %d version %d (lost updates)", c.Variables, c.Version,
			workers*increments, 1+workers*increments)
	}
	if l, _ := s.List(bg, store.Query{State: workflow.Active}); len(l) != workers+1 {
		t.Fatalf("List: %d instances, want %d", len(l), workers+1)
	}
}

// testIndependentCallers: concurrent callers that fail do not affect those that succeed,
// even when a backend batches them into one transaction.
func testIndependentCallers(t *testing.T, s store.Store) {
	existing := newInstance(workflow.Active)
	insert(t, s, existing)
	const n = 200
	ins := make([]*store.Instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ins[i] = newInstance(workflow.Active)
		if i%3 == 0 {
			ins[i].ID = existing.ID // fails with ErrExists
		}
		wg.Go(func() {
			errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i],
				Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started", Reason: fmt.Sprint(i)}}})
		})
	}
	wg.Wait()
	for i := range n {
		if i%3 == 0 {
			wantErr(t, fmt.Sprint("insert ", i), errs[i], store.ErrExists)
			continue
		}
		if errs[i] != nil {
			t.Fatalf("insert %d: %v", i, errs[i])
		}
		same(t, get(t, s, ins[i].ID), ins[i])
		rs, _ := s.Records(bg, ins[i].ID, 0)
		if len(rs) != 1 || rs[0].Reason != fmt.Sprint(i) {
			t.Fatalf("records of %d: %+v", i, rs)
		}
	}
	if rs, _ := s.Records(bg, existing.ID, 0); len(rs) != 0 {
		t.Fatalf("failed inserts left %d records", len(rs))
	}
}

func testClose(t *testing.T, s store.Store) {
	in := newInstance(workflow.Active)
	insert(t, s, in)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantErr(t, "Commit after Close", s.Commit(bg, store.Change{Op: store.Insert, Instance: newInstance(workflow.Active)}), store.ErrClosed)
	_, err := s.Get(bg, in.ID)
	wantErr(t, "Get after Close", err, store.ErrClosed)
	_, err = s.List(bg, store.Query{})
	wantErr(t, "List after Close", err, store.ErrClosed)
	_, err = s.Records(bg, in.ID, 0)
	wantErr(t, "Records after Close", err, store.ErrClosed)
	_, err = s.ClaimDue(bg, "o", time.Now(), 0)
	wantErr(t, "ClaimDue after Close", err, store.ErrClosed)
	_, err = s.ClaimRunnable(bg, "o", time.Now(), 0)
	wantErr(t, "ClaimRunnable after Close", err, store.ErrClosed)
	_, err = s.Claim(bg, in.ID, "o")
	wantErr(t, "Claim after Close", err, store.ErrClosed)
	wantErr(t, "Register after Close", s.Register(bg, store.Owner{ID: "o"}, time.Hour), store.ErrClosed)
	wantErr(t, "Renew after Close", s.Renew(bg, "o", time.Hour), store.ErrClosed)
	_, err = s.Owners(bg)
	wantErr(t, "Owners after Close", err, store.ErrClosed)
	_, _, err = s.NextTimer(bg)
	wantErr(t, "NextTimer after Close", err, store.ErrClosed)
	wantErr(t, "second Close", s.Close(), store.ErrClosed)
}

// testCloseWhileCommitting: commits racing with Close either succeed or fail with ErrClosed;
// none hangs and none gets another error.
func testCloseWhileCommitting(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	errc := make(chan error, 400)
	for i := range 400 {
		wg.Go(func() {
			errc <- s.Commit(bg, store.Change{Op: store.Insert, Instance: newInstance(workflow.Active)})
		})
		if i == 200 {
			wg.Go(func() {
				if err := s.Close(); err != nil {
					errc <- fmt.Errorf("closing: %w", err)
				}
			})
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("commits or Close hang")
	}
	close(errc)
	for err := range errc {
		if err != nil && !errors.Is(err, store.ErrClosed) {
			t.Fatal(err)
		}
	}
}

// The cluster secret is made once: 32 bytes, not all zero, and every caller — the first ones
// racing to make it included — reads the same.
func testClusterSecret(t *testing.T, s store.Store) {
	const callers = 8
	got := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = s.ClusterSecret(bg) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("ClusterSecret: %v", errs[i])
		}
		if len(got[i]) != 32 {
			t.Fatalf("ClusterSecret is %d bytes, want 32", len(got[i]))
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("two callers got different secrets: %x and %x", got[0], got[i])
		}
	}
	if bytes.Equal(got[0], make([]byte, 32)) {
		t.Fatal("the cluster secret is all zero bytes")
	}
	again, err := s.ClusterSecret(bg)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("ClusterSecret again = %x, %v; want %x", again, err, got[0])
	}
}
