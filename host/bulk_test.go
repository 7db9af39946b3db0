package host_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// bulkHost is a host whose bulk jobs go through the MS-WFIM state table.
func bulkHost(t *testing.T, cfg host.Config) *host.Host {
	t.Helper()
	cfg.Bulk = protocol.Bulk{}
	return startHost(t, cfg)
}

// waitJob waits until the job is no longer Running and returns it with all its items.
func waitJob(t *testing.T, h *host.Host, id uuid.UUID) (*host.BulkJob, []host.BulkItem) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, items, err := h.GetBulk(bg, id, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != store.JobRunning {
			return j, items
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 30s: %+v", id, j)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startBulk(t *testing.T, h *host.Host, req host.BulkRequest) *host.BulkJob {
	t.Helper()
	j, err := h.StartBulk(bg, req)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func states(t *testing.T, h *host.Host, ids []uuid.UUID) string {
	t.Helper()
	s := ""
	for _, id := range ids {
		in, _ := get(t, h, id)
		s += string(in.State)[:1]
	}
	return s
}

// TestBulkSuspend: each instance gets the state table's answer to a single Suspend: Active and
// Suspended ones are suspended (Suspend of a Suspended instance replaces the reason), completed
// ones are refused with the subcode of their completion; other definitions are not selected.
func TestBulkSuspend(t *testing.T) {
	h := bulkHost(t, host.Config{UnloadAfter: -1})
	var ids []uuid.UUID
	for range 4 {
		ids = append(ids, createExpense(t, h, 10))
	}
	mustManage(t, h, "Suspend", ids[1], "before")
	mustManage(t, h, "Terminate", ids[2], "gone")
	mustManage(t, h, "Cancel", ids[3], "")
	other, err := h.Create(bg, host.CreateRequest{Definition: "SalesCollaboration", Inputs: map[string]any{"lead": "l", "salesperson": "s"}})
	if err != nil {
		t.Fatal(err)
	}

	j := startBulk(t, h, host.BulkRequest{Operation: "Suspend", Filter: host.Filter{Definition: "ExpenseApproval"},
		Reason: "maintenance window", RatePerSecond: 1000})
	if j.Estimate != 4 {
		t.Fatalf("estimate %d; want 4", j.Estimate)
	}
	j, items := waitJob(t, h, j.ID)
	if j.Status != "Completed" || j.Matched != 4 || j.Done != 4 || j.OK != 2 ||
		fmt.Sprint(j.Faults) != "map[InstanceCompleted:1 InstanceTerminated:1]" {
		t.Fatalf("job %+v", j)
	}
	got := map[uuid.UUID]string{}
	for _, it := range items {
		got[it.Instance] = it.Outcome
	}
	if got[ids[0]] != "ok" || got[ids[1]] != "ok" || got[ids[2]] != "InstanceTerminated" || got[ids[3]] != "InstanceCompleted" || len(got) != 4 {
		t.Fatalf("items %v", got)
	}
	for _, id := range ids[:2] {
		in, _ := get(t, h, id)
		if in.State != workflow.Suspended || in.SuspensionReason != "maintenance window" {
			t.Fatalf("instance %s: %s %q", id, in.State, in.SuspensionReason)
		}
	}
	if in, _ := get(t, h, other); in.State != workflow.Active {
		t.Fatalf("an instance of another definition is %s", in.State)
	}
	// The tracking record names the job and the principal, as a single call's names the request.
	recs := records(t, h, ids[0])
	last := recs[len(recs)-1]
	var data map[string]string
	if err := json.Unmarshal([]byte(last.Data), &data); err != nil {
		t.Fatal(err)
	}
	if last.Name != "Suspended" || last.Reason != "maintenance window" || last.Principal != "anonymous" ||
		data["operation"] != "Suspend" || data["job"] != j.ID.String() {
		t.Fatalf("last record %+v", last)
	}
}

// TestBulkDryRun reports each instance's outcome and changes nothing, records included.
func TestBulkDryRun(t *testing.T) {
	h := bulkHost(t, host.Config{UnloadAfter: -1})
	a, b := createExpense(t, h, 10), createExpense(t, h, 20)
	mustManage(t, h, "Terminate", b, "")
	before := len(records(t, h, a))
	j := startBulk(t, h, host.BulkRequest{Operation: "Terminate", Reason: "x", DryRun: true})
	j, items := waitJob(t, h, j.ID)
	if j.Status != "Completed" || j.Matched != 2 || j.OK != 1 || j.Faults["InstanceTerminated"] != 1 || len(items) != 2 {
		t.Fatalf("dry run %+v %+v", j, items)
	}
	if s := states(t, h, []uuid.UUID{a, b}); s != "AC" {
		t.Fatalf("states after a dry run: %s; want AC", s)
	}
	if n := len(records(t, h, a)); n != before {
		t.Fatalf("a dry run added %d records", n-before)
	}
}

// TestBulkRestartResumes: a job interrupted by the host's shutdown resumes at the next start
// where it stopped, and no instance is handled twice.
func TestBulkRestartResumes(t *testing.T) {
	st := openStore(t)
	h1 := bulkHost(t, host.Config{Store: st, UnloadAfter: -1})
	var ids []uuid.UUID
	for range 30 {
		ids = append(ids, createExpense(t, h1, 10))
	}
	j := startBulk(t, h1, host.BulkRequest{Operation: "Suspend", Reason: "r", RatePerSecond: 40})
	eventually(t, "five instances handled", func() bool {
		got, _, err := h1.GetBulk(bg, j.ID, 0, 0)
		return err == nil && got.Done >= 5
	})
	if err := h1.Close(); err != nil {
		t.Fatal(err)
	}
	mid, _, err := h1.GetBulk(bg, j.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Status != "Running" || mid.Done >= 30 {
		t.Fatalf("after the shutdown: %+v; want Running, part done", mid)
	}
	h2 := bulkHost(t, host.Config{Store: st, UnloadAfter: -1})
	done, items := waitJob(t, h2, j.ID)
	if done.Status != "Completed" || done.Matched != 30 || done.OK != 30 || len(items) != 30 {
		t.Fatalf("resumed job %+v, %d items", done, len(items))
	}
	for _, id := range ids {
		if n := countKind(records(t, h2, id), workflow.InstanceRecord, "Suspended"); n != 1 {
			t.Fatalf("instance %s suspended %d times; want once", id, n)
		}
	}
	// Running it again (a new job over the same selection) handles them again; the finished
	// job itself stays as it was.
	again, _ := waitJob(t, h2, startBulk(t, h2, host.BulkRequest{Operation: "Unsuspend", RatePerSecond: 1000}).ID)
	if again.OK != 30 {
		t.Fatalf("second job %+v", again)
	}
	if j2, _, _ := h2.GetBulk(bg, j.ID, 0, 0); j2.Done != 30 || j2.Status != "Completed" {
		t.Fatalf("the first job changed: %+v", j2)
	}
}

// TestBulkCancel stops a job where it is; what it did stays done.
func TestBulkCancel(t *testing.T) {
	h := bulkHost(t, host.Config{UnloadAfter: -1})
	var ids []uuid.UUID
	for range 20 {
		ids = append(ids, createExpense(t, h, 10))
	}
	j := startBulk(t, h, host.BulkRequest{Operation: "Suspend", RatePerSecond: 20})
	eventually(t, "an instance handled", func() bool {
		got, _, err := h.GetBulk(bg, j.ID, 0, 0)
		return err == nil && got.Done >= 1
	})
	c, err := h.CancelBulk(bg, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "Canceled" || c.Done < 1 || c.Done >= 20 {
		t.Fatalf("canceled job %+v", c)
	}
	suspended := 0
	for _, id := range ids {
		if in, _ := get(t, h, id); in.State == workflow.Suspended {
			suspended++
		}
	}
	if int64(suspended) != c.OK {
		t.Fatalf("%d instances suspended, the job says %d", suspended, c.OK)
	}
	// Canceling an ended job returns it unchanged.
	c2, err := h.CancelBulk(bg, j.ID)
	if err != nil || c2.Status != "Canceled" || c2.Done != c.Done {
		t.Fatalf("second cancel: %+v, %v", c2, err)
	}
}

// TestBulkLimitsAndRate: MaxInstances ends the job after that many; the rate bounds how fast
// it goes (2 per second: three instances take at least a second, burst one).
func TestBulkLimitsAndRate(t *testing.T) {
	h := bulkHost(t, host.Config{UnloadAfter: -1})
	for range 6 {
		createExpense(t, h, 10)
	}
	j, _ := waitJob(t, h, startBulk(t, h, host.BulkRequest{Operation: "Run", MaxInstances: 4, RatePerSecond: 1000}).ID)
	if j.Matched != 4 || j.OK != 4 || j.Estimate != 4 {
		t.Fatalf("limited job %+v", j)
	}
	start := time.Now()
	j, _ = waitJob(t, h, startBulk(t, h, host.BulkRequest{Operation: "Run", MaxInstances: 3, RatePerSecond: 2}).ID)
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond || j.OK != 3 {
		t.Fatalf("3 instances at 2/s took %v (%+v); want at least 1s", elapsed, j)
	}
}

// TestBulkRefusals: bad requests, unknown jobs and callers without the admin role.
func TestBulkRefusals(t *testing.T) {
	h := bulkHost(t, host.Config{})
	for _, req := range []host.BulkRequest{
		{Operation: "Delete"},
		{Operation: "TransactedSuspend"},
		{Operation: "Update"},
		{Operation: "Suspend", RatePerSecond: -1},
		{Operation: "Suspend", Filter: host.Filter{State: "Sleeping"}},
	} {
		_, err := h.StartBulk(bg, req)
		if !errors.Is(err, host.ErrInvalidInput) && !errors.Is(err, host.ErrInvalidQuery) {
			t.Errorf("StartBulk(%+v) = %v; want an invalid request", req, err)
		}
	}
	_, _, err := h.GetBulk(bg, uuid.New(), 0, 0)
	if !errors.Is(err, host.ErrJobNotFound) {
		t.Errorf("GetBulk of an unknown id: %v", err)
	}
	if _, err := h.CancelBulk(bg, uuid.New()); !errors.Is(err, host.ErrJobNotFound) {
		t.Errorf("CancelBulk of an unknown id: %v", err)
	}
	op := host.WithPrincipal(bg, host.Principal{Name: "olga", Role: host.Operator})
	if _, err := h.StartBulk(op, host.BulkRequest{Operation: "Suspend"}); !errors.Is(err, host.ErrAccessDenied) {
		t.Errorf("an operator's StartBulk: %v; want access denied", err)
	}
	reader := host.WithPrincipal(bg, host.Principal{Name: "rita", Role: host.Reader})
	if _, err := h.Purge(reader, host.Filter{}, true); !errors.Is(err, host.ErrAccessDenied) {
		t.Errorf("a reader's Purge: %v; want access denied", err)
	}
}

// TestBulkInstanceGoneMeanwhile: an instance the job selected but that was purged before the
// job reached it gets what a single call on an unknown id gets, InstanceNotFound. (At 2 per
// second the third instance is reached a second after the first; the purge takes milliseconds.)
func TestBulkInstanceGoneMeanwhile(t *testing.T) {
	h := bulkHost(t, host.Config{UnloadAfter: -1})
	a, b, gone := createExpense(t, h, 10), createExpense(t, h, 10), createExpense(t, h, 10)
	mustManage(t, h, "Terminate", gone, "")
	j := startBulk(t, h, host.BulkRequest{Operation: "Abandon", RatePerSecond: 2})
	// Once the first instance is handled, the job has read its page (the three instances).
	eventually(t, "the first instance handled", func() bool {
		got, _, err := h.GetBulk(bg, j.ID, 0, 0)
		return err == nil && got.Done >= 1
	})
	if res, err := h.Purge(bg, host.Filter{State: workflow.Completed}, false); err != nil || res.Purged != 1 {
		t.Fatalf("purge: %+v, %v", res, err)
	}
	j, items := waitJob(t, h, j.ID)
	got := map[uuid.UUID]string{}
	for _, it := range items {
		got[it.Instance] = it.Outcome
	}
	if got[a] != "ok" || got[b] != "ok" || got[gone] != "InstanceNotFound" || j.Faults["InstanceNotFound"] != 1 {
		t.Fatalf("job %+v, items %v", j, got)
	}
}
