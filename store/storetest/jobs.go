package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

var jobCases = []struct {
	name string
	f    func(t *testing.T, s store.Store, clk *clock)
}{
	{"PurgeDeletesCompletedWithRecords", testPurge},
	{"PurgeRefusesLive", testPurgeRefusesLive},
	{"PurgeRecordsByAge", testPurgeRecords},
	{"PurgeRecordsOfOneCommit", testPurgeRecordsOfOneCommit},
	{"JobRoundTrip", testJobRoundTrip},
	{"JobItems", testJobItems},
}

func testPurge(t *testing.T, s store.Store, clk *clock) {
	done := newInstance(workflow.Completed)
	done.Completion = workflow.Closed
	done.Bookmarks = nil
	insert(t, s, done, workflow.Record{Kind: workflow.InstanceRecord, Name: "Started"},
		workflow.Record{Kind: workflow.InstanceRecord, Name: "Completed"})
	other := newInstance(workflow.Completed)
	other.Completion = workflow.Terminated
	insert(t, s, other, workflow.Record{Kind: workflow.InstanceRecord, Name: "Terminated"})

	commit(t, s, store.Change{Op: store.Purge, Instance: &store.Instance{ID: done.ID}})
	_, err := s.Get(bg, done.ID)
	wantErr(t, "Get after Purge", err, store.ErrNotFound)
	if rs, err := s.Records(bg, done.ID, 0); err != nil || len(rs) != 0 {
		t.Fatalf("Records after Purge: %+v, %v; want none", rs, err)
	}
	// The other instance and its records are untouched.
	get(t, s, other.ID)
	if rs, _ := s.Records(bg, other.ID, 0); len(rs) != 1 {
		t.Fatalf("Records of the instance not purged: %+v", rs)
	}
	if cs, err := s.CountInstances(bg, store.Filter{}, store.GroupByState); err != nil || len(cs) != 1 || cs[0].N != 1 {
		t.Fatalf("counts after Purge: %+v, %v; want Completed 1", cs, err)
	}
	// Purging it again is ErrNotFound; a version that does not match is ErrConflict.
	err = s.Commit(bg, store.Change{Op: store.Purge, Instance: &store.Instance{ID: done.ID}})
	wantErr(t, "second Purge", err, store.ErrNotFound)
	err = s.Commit(bg, store.Change{Op: store.Purge, Instance: &store.Instance{ID: other.ID, Version: 7}})
	wantErr(t, "Purge at a stale version", err, store.ErrConflict)
	// Records in a Purge change are malformed.
	err = s.Commit(bg, store.Change{Op: store.Purge, Instance: &store.Instance{ID: other.ID},
		Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Purged"}}})
	wantErr(t, "Purge with records", err, store.ErrInvalid)
	get(t, s, other.ID)
}

func testPurgeRefusesLive(t *testing.T, s store.Store, clk *clock) {
	for _, st := range []workflow.State{workflow.Active, workflow.Suspended} {
		live := newInstance(st)
		insert(t, s, live, workflow.Record{Kind: workflow.InstanceRecord, Name: "Started"})
		done := newInstance(workflow.Completed)
		done.Completion = workflow.Closed
		insert(t, s, done)
		// One commit with a live and a completed instance: nothing of it is applied.
		err := s.Commit(bg, store.Change{Op: store.Purge, Instance: &store.Instance{ID: done.ID}},
			store.Change{Op: store.Purge, Instance: &store.Instance{ID: live.ID}})
		wantErr(t, "Purge of a "+string(st)+" instance", err, store.ErrLive)
		get(t, s, live.ID)
		get(t, s, done.ID)
		if rs, _ := s.Records(bg, live.ID, 0); len(rs) != 1 {
			t.Fatalf("records of the %s instance after the refused Purge: %+v", st, rs)
		}
	}
}

func testPurgeRecords(t *testing.T, s store.Store, clk *clock) {
	start := clk.now()
	live := newInstance(workflow.Active)
	insert(t, s, live, workflow.Record{Kind: workflow.InstanceRecord, Name: "Started"})
	done := newInstance(workflow.Completed)
	done.Completion = workflow.Closed
	insert(t, s, done, workflow.Record{Kind: workflow.InstanceRecord, Name: "Completed"})
	for i := range 5 {
		clk.advance(time.Minute)
		commit(t, s, store.Change{Op: store.Track, Instance: live,
			Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: fmt.Sprintf("Step%d", i)}}})
	}
	// Records at start, +1m … +5m; those before +2m30s of the live instance: Started, Step0, Step1.
	cut := start.Add(150 * time.Second)
	n, err := s.PurgeRecords(bg, cut, 2)
	if err != nil || n != 2 {
		t.Fatalf("PurgeRecords(limit 2) = %d, %v; want 2", n, err)
	}
	n, err = s.PurgeRecords(bg, cut, 100)
	if err != nil || n != 1 {
		t.Fatalf("second PurgeRecords = %d, %v; want 1", n, err)
	}
	if n, err = s.PurgeRecords(bg, cut, 100); err != nil || n != 0 {
		t.Fatalf("third PurgeRecords = %d, %v; want 0", n, err)
	}
	rs, err := s.Records(bg, live.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	if fmt.Sprint(names) != "[Step2 Step3 Step4]" {
		t.Fatalf("records of the live instance left: %v; want [Step2 Step3 Step4]", names)
	}
	// The completed instance keeps its trail, however old.
	if n, err := s.PurgeRecords(bg, clk.now().Add(time.Hour), 100); err != nil || n != 3 {
		t.Fatalf("PurgeRecords of everything = %d, %v; want the live instance's 3", n, err)
	}
	if rs, _ := s.Records(bg, done.ID, 0); len(rs) != 1 || rs[0].Name != "Completed" {
		t.Fatalf("records of the completed instance: %+v", rs)
	}
}

// Records one commit adds with times of their own are purged one by one, oldest first, and
// the rest keep their seqs and times; Records after a seq in the middle of them starts there.
func testPurgeRecordsOfOneCommit(t *testing.T, s store.Store, clk *clock) {
	t0 := clk.now().Add(-time.Hour).Truncate(time.Millisecond)
	live := newInstance(workflow.Active)
	insert(t, s, live,
		workflow.Record{Kind: workflow.InstanceRecord, Name: "Started", Time: t0},
		workflow.Record{Kind: workflow.ActivityRecord, Name: "Executing", Activity: "main", Data: `{"type":"Sequence"}`, Time: t0.Add(2 * time.Minute)},
		workflow.Record{Kind: workflow.InstanceRecord, Name: "Idle", Time: t0.Add(time.Minute)},
		workflow.Record{Kind: workflow.BookmarkRecord, Name: "Review", Reason: "r", Principal: "p", Time: t0.Add(3 * time.Minute)})
	all, err := s.Records(bg, live.ID, 0)
	if err != nil || len(all) != 4 {
		t.Fatalf("Records = %+v, %v; want the 4", all, err)
	}
	if rest, err := s.Records(bg, live.ID, all[1].Seq); err != nil || len(rest) != 2 || rest[0] != all[2] || rest[1] != all[3] {
		t.Fatalf("Records after the second's seq = %+v, %v; want the third and fourth: %+v", rest, err, all[2:])
	}
	// Older than t0+2m30s: Started, Idle and Executing, by time; with limit 1 each time.
	cut := t0.Add(150 * time.Second)
	steps := []string{"[Started Executing Idle Review]", "[Executing Idle Review]", "[Executing Review]", "[Review]"}
	var left []string
	for want := 3; want >= 0; want-- {
		rs, err := s.Records(bg, live.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		left = left[:0]
		for _, r := range rs {
			left = append(left, r.Name)
		}
		if fmt.Sprint(left) != steps[3-want] {
			t.Fatalf("after purging %d: %v; want %s (the oldest go first)", 3-want, left, steps[3-want])
		}
		for _, r := range rs {
			if i := slices.IndexFunc(all, func(a workflow.Record) bool { return a.Seq == r.Seq }); i < 0 || all[i] != r {
				t.Fatalf("a record left after purging changed: %+v; it was stored as %+v", r, all)
			}
		}
		n, err := s.PurgeRecords(bg, cut, 1)
		if err != nil || n != min(int64(want), 1) {
			t.Fatalf("PurgeRecords(limit 1) with %v left = %d, %v; want %d", left, n, err, min(want, 1))
		}
	}
	if fmt.Sprint(left) != "[Review]" {
		t.Fatalf("records left after purging those older than the cut: %v; want [Review]", left)
	}
}

func testJobRoundTrip(t *testing.T, s store.Store, clk *clock) {
	_, err := s.GetJob(bg, uuid.New())
	wantErr(t, "GetJob of an unknown id", err, store.ErrJobNotFound)
	j := &store.Job{ID: uuid.New(), Spec: []byte(`{"operation":"Suspend"}`), Principal: "alice", Status: store.JobRunning}
	if err := s.CreateJob(bg, j); err != nil {
		t.Fatal(err)
	}
	if !j.Created.Equal(ms) || !j.Updated.Equal(ms) {
		t.Fatalf("CreateJob wrote back Created %v Updated %v; want %v", j.Created, j.Updated, ms)
	}
	err = s.CreateJob(bg, &store.Job{ID: j.ID, Spec: []byte(`{}`), Status: store.JobRunning})
	wantErr(t, "CreateJob of a taken id", err, store.ErrExists)
	second := &store.Job{ID: uuid.New(), Spec: []byte(`{}`), Status: store.JobRunning}
	clk.advance(time.Second)
	if err := s.CreateJob(bg, second); err != nil {
		t.Fatal(err)
	}

	clk.advance(time.Second)
	j.Status, j.Cursor, j.Matched, j.Done, j.OK = store.JobCompleted, "token-2", 10, 9, 7
	j.Faults = map[string]int64{"InstanceNotSuspended": 2}
	j.Error = ""
	if err := s.SaveJob(bg, j, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(bg, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s %s alice Completed token-2 10 9 7 map[InstanceNotSuspended:2] %v %v",
		j.ID, `{"operation":"Suspend"}`, ms, ms.Add(2*time.Second))
	if s := fmt.Sprintf("%s %s %s %s %s %d %d %d %v %v %v", got.ID, got.Spec, got.Principal, got.Status, got.Cursor,
		got.Matched, got.Done, got.OK, got.Faults, got.Created, got.Updated); s != want {
		t.Fatalf("GetJob after SaveJob:\n got %s\nwant %s", s, want)
	}
	running, err := s.ListJobs(bg, store.JobRunning)
	if err != nil || len(running) != 1 || running[0].ID != second.ID {
		t.Fatalf("ListJobs(Running) = %v, %v; want only the second job", running, err)
	}
	all, err := s.ListJobs(bg, "")
	if err != nil || len(all) != 2 || all[0].ID != j.ID || all[1].ID != second.ID {
		t.Fatalf("ListJobs() = %v, %v; want both, oldest first", all, err)
	}
	err = s.SaveJob(bg, &store.Job{ID: uuid.New(), Status: store.JobRunning}, nil)
	wantErr(t, "SaveJob of an unknown job", err, store.ErrJobNotFound)
}

func testJobItems(t *testing.T, s store.Store, clk *clock) {
	j := &store.Job{ID: uuid.New(), Spec: []byte(`{}`), Status: store.JobRunning}
	if err := s.CreateJob(bg, j); err != nil {
		t.Fatal(err)
	}
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	items := []store.JobItem{{Instance: a, Outcome: "ok"}, {Instance: b, Outcome: "InstanceNotSuspended", Detail: "not suspended"}}
	j.Matched, j.Done, j.OK = 2, 2, 1
	if err := s.SaveJob(bg, j, items); err != nil {
		t.Fatal(err)
	}
	if items[0].Seq != 1 || items[1].Seq != 2 || !items[0].Time.Equal(ms) {
		t.Fatalf("SaveJob wrote back %+v; want seqs 1, 2 at %v", items, ms)
	}
	// An item for an instance the job already has: nothing of the call is written.
	j.Matched, j.Done = 4, 4
	err := s.SaveJob(bg, j, []store.JobItem{{Instance: c, Outcome: "ok"}, {Instance: a, Outcome: "ok"}})
	wantErr(t, "SaveJob with a second item for an instance", err, store.ErrInvalid)
	if got, _ := s.GetJob(bg, j.ID); got.Done != 2 {
		t.Fatalf("the refused SaveJob changed the job: done %d; want 2", got.Done)
	}
	j.Matched, j.Done = 3, 3
	if err := s.SaveJob(bg, j, []store.JobItem{{Instance: c, Outcome: "ok", Time: ms.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	all, err := s.JobItems(bg, j.ID, 0, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("JobItems = %+v, %v", all, err)
	}
	if all[0].Instance != a || all[1].Instance != b || all[1].Outcome != "InstanceNotSuspended" || all[1].Detail != "not suspended" ||
		all[2].Instance != c || all[2].Seq != 3 || !all[2].Time.Equal(ms.Add(time.Minute)) {
		t.Fatalf("JobItems = %+v", all)
	}
	page, err := s.JobItems(bg, j.ID, 1, 1)
	if err != nil || len(page) != 1 || page[0].Instance != b {
		t.Fatalf("JobItems(after 1, limit 1) = %+v, %v; want the second", page, err)
	}
	has, err := s.JobHasItems(bg, j.ID, []uuid.UUID{a, uuid.New(), c})
	if err != nil || len(has) != 2 || !has[a] || !has[c] {
		t.Fatalf("JobHasItems = %v, %v; want a and c", has, err)
	}
	// Another job's items are its own.
	other := &store.Job{ID: uuid.New(), Spec: []byte(`{}`), Status: store.JobRunning}
	if err := s.CreateJob(bg, other); err != nil {
		t.Fatal(err)
	}
	if has, err := s.JobHasItems(bg, other.ID, []uuid.UUID{a}); err != nil || len(has) != 0 {
		t.Fatalf("JobHasItems of another job = %v, %v", has, err)
	}
	if err := s.SaveJob(bg, other, []store.JobItem{{Instance: a, Outcome: "ok"}}); err != nil {
		t.Fatalf("an item for the same instance in another job: %v", err)
	}
}
