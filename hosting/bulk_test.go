package hosting_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth/authtest"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// manage calls an MS-WFIM operation (with a reason, when not "") on the control endpoint.
func manage(t *testing.T, base, op string, id uuid.UUID, reason string) {
	t.Helper()
	body := etree.NewElement(op)
	body.CreateAttr("xmlns", wfNS)
	body.CreateElement("instanceId").SetText(id.String())
	if reason != "" {
		body.CreateElement("reason").SetText(reason)
	}
	ctl := &soap.Client{URL: base + "/WorkflowControl"}
	if _, err := ctl.Call(context.Background(), wfNS+"/IWorkflowInstanceManagement/"+op, body); err != nil {
		t.Fatalf("%s %s: %v", op, id, err)
	}
}

func mustCreate(t *testing.T, c *hosting.Client, req host.CreateRequest) uuid.UUID {
	t.Helper()
	id, err := c.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustStart(t *testing.T, c *hosting.Client, req host.BulkRequest) *hosting.BulkOperation {
	t.Helper()
	j, err := c.StartBulkOperation(context.Background(), req)
	if err != nil {
		t.Fatalf("StartBulkOperation(%+v): %v", req, err)
	}
	return j
}

// waitBulk polls GetBulkOperation until the job has ended (30 s at most) and returns it.
func waitBulk(t *testing.T, c *hosting.Client, id uuid.UUID) *hosting.BulkOperation {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.GetBulkOperation(context.Background(), id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 0 || p.NextItemsAfter != 0 {
			t.Fatalf("itemsLimit 0 returned %d items, next %d", len(p.Items), p.NextItemsAfter)
		}
		if !p.Job.Running() {
			return p.Job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 30s: %+v", id, p.Job)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func instance(t *testing.T, c *hosting.Client, id uuid.UUID) *hosting.Instance {
	t.Helper()
	in, err := c.GetInstance(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestBulkSuspendFollowsTheStateTable: a bulk Suspend over instances in every condition gives
// each the answer of a single Suspend (README's state table): Active and Suspended instances
// are suspended (a Suspended one's reason replaced), a terminated one is refused with
// InstanceTerminated, a canceled one with InstanceCompleted; an instance the filter does not
// select is not touched. The job, its counts and its per-instance results read the same over
// SOAP 1.1 and 1.2, a page at a time.
func TestBulkSuspendFollowsTheStateTable(t *testing.T) {
	ctx := context.Background()
	c11, c12, base := clients(t)
	active, suspended, terminated, canceled := mustCreate(t, c11, expense(10)), mustCreate(t, c11, expense(20)),
		mustCreate(t, c11, expense(30)), mustCreate(t, c11, expense(40))
	manage(t, base, "Suspend", suspended, "before")
	manage(t, base, "Terminate", terminated, "gone")
	manage(t, base, "Cancel", canceled, "")
	hello := mustCreate(t, c11, host.CreateRequest{Definition: "Hello"})

	j := mustStart(t, c11, host.BulkRequest{Operation: "Suspend", Filter: host.Filter{Definition: "ExpenseApproval"},
		Reason: "maintenance window", RatePerSecond: 1000})
	if j.ID == uuid.Nil || j.Operation != "Suspend" || !reflect.DeepEqual(j.Filter, host.Filter{Definition: "ExpenseApproval"}) ||
		j.Reason != "maintenance window" || j.Identity != nil || j.DryRun || j.RatePerSecond != 1000 || j.MaxInstances != 0 ||
		!strings.HasPrefix(j.Principal, "anonymous@127.0.0.1:") || j.Status != "Running" || j.Estimate != 4 ||
		j.Created.IsZero() || j.Updated.Before(j.Created) {
		t.Fatalf("started job: %+v", j)
	}
	done := waitBulk(t, c11, j.ID)
	if done.Status != "Completed" || done.Error != "" || done.Estimate != 4 || done.Matched != 4 || done.Done != 4 || done.OK != 2 ||
		!reflect.DeepEqual(done.Faults, map[string]int64{"InstanceCompleted": 1, "InstanceTerminated": 1}) ||
		done.ID != j.ID || done.Reason != "maintenance window" || !done.Created.Equal(j.Created) || done.Updated.Before(j.Updated) {
		t.Fatalf("ended job: %+v", done)
	}

	all, err := c11.GetBulkOperation(ctx, j.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != 4 || all.NextItemsAfter != 4 {
		t.Fatalf("all items: next %d, %+v", all.NextItemsAfter, all.Items)
	}
	outcomes := map[uuid.UUID]string{}
	for i, it := range all.Items {
		if it.Seq != int64(i+1) || it.Time.IsZero() || (it.Outcome == "ok") != (it.Detail == "") {
			t.Errorf("item %d: %+v", i, it)
		}
		if it.Outcome != "ok" && !strings.Contains(it.Detail, it.Instance.String()) {
			t.Errorf("the detail of a refusal should name the instance: %+v", it)
		}
		outcomes[it.Instance] = it.Outcome
	}
	want := map[uuid.UUID]string{active: "ok", suspended: "ok", terminated: "InstanceTerminated", canceled: "InstanceCompleted"}
	if !reflect.DeepEqual(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	// The same over SOAP 1.2; then page by page.
	if p12, err := c12.GetBulkOperation(ctx, j.ID, 0, 100); err != nil || !reflect.DeepEqual(p12, all) {
		t.Errorf("over SOAP 1.2: %v\n%+v\nwant\n%+v", err, p12, all)
	}
	for _, pg := range []struct {
		after      int64
		limit      int
		seqs       []int64
		nextAfter  int64
		soap12Used bool
	}{
		{0, 3, []int64{1, 2, 3}, 3, false},
		{3, 3, []int64{4}, 4, true},
		{4, 3, nil, 4, false},
		{2, 0, nil, 2, true},
	} {
		c := c11
		if pg.soap12Used {
			c = c12
		}
		p, err := c.GetBulkOperation(ctx, j.ID, pg.after, pg.limit)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, it := range p.Items {
			seqs = append(seqs, it.Seq)
		}
		if !reflect.DeepEqual(seqs, pg.seqs) || p.NextItemsAfter != pg.nextAfter || !reflect.DeepEqual(p.Job, done) {
			t.Errorf("items after %d, limit %d: seqs %v next %d; want %v next %d", pg.after, pg.limit, seqs, p.NextItemsAfter, pg.seqs, pg.nextAfter)
		}
	}

	for _, id := range []uuid.UUID{active, suspended} {
		if in := instance(t, c11, id); in.State != "Suspended" || in.SuspensionReason != "maintenance window" {
			t.Errorf("instance %s after the bulk Suspend: %s %q", id, in.State, in.SuspensionReason)
		}
	}
	if in := instance(t, c11, terminated); in.State != "Completed" || in.Completion != "Terminated" {
		t.Errorf("terminated instance: %s %s", in.State, in.Completion)
	}
	if in := instance(t, c11, canceled); in.State != "Completed" || in.Completion != "Canceled" {
		t.Errorf("canceled instance: %s %s", in.State, in.Completion)
	}
	if in := instance(t, c11, hello); in.State != "Completed" || in.Completion != "Closed" {
		t.Errorf("unselected instance: %s %s", in.State, in.Completion)
	}
}

// TestBulkDryRunChangesNothing: a dry run reports what each instance would get and changes
// nothing, not even the tracking records.
func TestBulkDryRunChangesNothing(t *testing.T) {
	_, c12, base := clients(t)
	a, b := mustCreate(t, c12, expense(10)), mustCreate(t, c12, expense(20))
	manage(t, base, "Terminate", b, "")
	before, err := c12.TrackingRecords(context.Background(), a, 0)
	if err != nil {
		t.Fatal(err)
	}
	j := mustStart(t, c12, host.BulkRequest{Operation: "Terminate", Reason: "cleanup", DryRun: true, MaxInstances: 5})
	if !j.DryRun || j.MaxInstances != 5 || j.Estimate != 2 || !j.Filter.IsZero() {
		t.Fatalf("started dry run: %+v", j)
	}
	done := waitBulk(t, c12, j.ID)
	if done.Status != "Completed" || done.Matched != 2 || done.Done != 2 || done.OK != 1 ||
		!reflect.DeepEqual(done.Faults, map[string]int64{"InstanceTerminated": 1}) {
		t.Fatalf("dry run: %+v", done)
	}
	if in := instance(t, c12, a); in.State != "Active" || in.Completion != "" {
		t.Errorf("a dry-run Terminate changed the instance: %s %s", in.State, in.Completion)
	}
	after, err := c12.TrackingRecords(context.Background(), a, 0)
	if err != nil || len(after) != len(before) {
		t.Errorf("a dry run added tracking records: %d before, %d after (%v)", len(before), len(after), err)
	}
}

// TestBulkUpdateAndLimit: Update carries its identity to every selected instance, and
// maxInstances ends the job after that many.
func TestBulkUpdateAndLimit(t *testing.T) {
	c, _, _ := clients(t)
	for range 3 {
		mustCreate(t, c, expense(10))
	}
	v2 := workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"}
	j := mustStart(t, c, host.BulkRequest{Operation: "Update", Identity: &v2, MaxInstances: 2, RatePerSecond: 1000})
	if j.Identity == nil || *j.Identity != v2 || j.Estimate != 2 {
		t.Fatalf("started Update: %+v", j)
	}
	done := waitBulk(t, c, j.ID)
	if done.Status != "Completed" || done.Matched != 2 || done.OK != 2 || len(done.Faults) != 0 {
		t.Fatalf("Update job: %+v", done)
	}
	counts, err := c.CountInstances(context.Background(), host.Filter{}, host.GroupByDefinition)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, g := range counts.Groups {
		got[g.Definition.Version] = g.Count
	}
	if !reflect.DeepEqual(got, map[string]int64{"1.0.0.0": 1, "2.0.0.0": 2}) {
		t.Errorf("instances by version after updating 2 of 3: %v", got)
	}
}

// TestCancelBulkOperation stops a job where it is: what it did stays done, and canceling an
// ended job returns it as it is.
func TestCancelBulkOperation(t *testing.T) {
	ctx := context.Background()
	c, _, _ := clients(t)
	var ids []uuid.UUID
	for range 10 {
		ids = append(ids, mustCreate(t, c, expense(10)))
	}
	j := mustStart(t, c, host.BulkRequest{Operation: "Suspend", Reason: "slowly", RatePerSecond: 2})
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.GetBulkOperation(ctx, j.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Job.Done >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instance handled after 30s: %+v", p.Job)
		}
		time.Sleep(5 * time.Millisecond)
	}
	canceled, err := c.CancelBulkOperation(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if canceled.Status != "Canceled" || canceled.Done < 1 || canceled.Done >= 10 || canceled.OK != canceled.Done {
		t.Fatalf("canceled job: %+v", canceled)
	}
	suspended := int64(0)
	for _, id := range ids {
		if instance(t, c, id).State == "Suspended" {
			suspended++
		}
	}
	if suspended != canceled.OK {
		t.Errorf("%d instances are suspended, the canceled job says %d", suspended, canceled.OK)
	}
	again, err := c.CancelBulkOperation(ctx, j.ID)
	if err != nil || !reflect.DeepEqual(again, canceled) {
		t.Errorf("canceling the canceled job: %v\n%+v\nwant\n%+v", err, again, canceled)
	}
	p, err := c.GetBulkOperation(ctx, j.ID, 0, 100)
	if err != nil || !reflect.DeepEqual(p.Job, canceled) || int64(len(p.Items)) != canceled.Done {
		t.Errorf("GetBulkOperation of the canceled job: %v %+v, %d items", err, p.Job, len(p.Items))
	}
}

// TestBulkFaults: an unknown job is BulkOperationNotFound; an operation a bulk job cannot
// apply, or an Update without an identity, InvalidInput; malformed arguments InvalidArgument.
func TestBulkFaults(t *testing.T) {
	ctx := context.Background()
	c, c12, base := clients(t)
	unknown := uuid.MustParse("6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b")
	_, err := c.GetBulkOperation(ctx, unknown, 0, 10)
	fault(t, err, hosting.NS, hosting.FaultBulkOperationNotFound)
	if f := err.(*soap.Fault); !strings.Contains(f.Reason, unknown.String()) {
		t.Errorf("the fault should name the job: %s", f.Reason)
	}
	_, err = c12.CancelBulkOperation(ctx, unknown)
	fault(t, err, hosting.NS, hosting.FaultBulkOperationNotFound)
	for _, req := range []host.BulkRequest{
		{Operation: "Delete"},
		{Operation: "TransactedSuspend", Reason: "r"},
		{Operation: "suspend", Reason: "r"},
		{Operation: "Update"},
	} {
		_, err := c.StartBulkOperation(ctx, req)
		fault(t, err, hosting.NS, hosting.FaultInvalidInput)
	}
	_, err = c.StartBulkOperation(ctx, host.BulkRequest{Operation: "Suspend", Filter: host.Filter{State: "Sleeping"}})
	fault(t, err, hosting.NS, hosting.FaultInvalidArgument)

	raw := &soap.Client{URL: base + "/WorkflowHosting"}
	call := func(op, inner string) error {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(`<` + op + ` xmlns="` + hosting.NS + `">` + inner + `</` + op + `>`); err != nil {
			t.Fatal(err)
		}
		_, err := raw.Call(ctx, hosting.Action(op), doc.Root())
		return err
	}
	for _, bad := range []struct{ op, inner, reason string }{
		{"StartBulkOperation", ``, "operation is required"},
		{"StartBulkOperation", `<operation> </operation>`, "operation is required"},
		{"StartBulkOperation", `<operation>Run</operation><ratePerSecond>1,5</ratePerSecond>`, `ratePerSecond "1,5"`},
		{"StartBulkOperation", `<operation>Run</operation><maxInstances>ten</maxInstances>`, `maxInstances "ten"`},
		{"StartBulkOperation", `<operation>Run</operation><dryRun>TRUE</dryRun>`, `dryRun "TRUE"`},
		{"GetBulkOperation", `<jobId>` + unknown.String() + `</jobId><itemsLimit>1e3</itemsLimit>`, `itemsLimit "1e3"`},
		{"GetBulkOperation", `<jobId>` + unknown.String() + `</jobId><itemsAfter>-1</itemsAfter>`, `itemsAfter "-1"`},
		{"CancelBulkOperation", `<jobId>42</jobId>`, `jobId "42" is not a GUID`},
		{"Purge", `<dryRun>no</dryRun>`, `dryRun "no"`},
	} {
		err := call(bad.op, bad.inner)
		fault(t, err, hosting.NS, hosting.FaultInvalidArgument)
		if f := err.(*soap.Fault); !strings.Contains(f.Reason, bad.reason) {
			t.Errorf("%s %s: reason %q does not say %q", bad.op, bad.inner, f.Reason, bad.reason)
		}
	}
	// Every Guid form names a job; an itemsLimit above 1000 is taken as 1000; a rate in
	// exponent form is a rate.
	fault(t, call("GetBulkOperation", `<jobId>{`+strings.ToUpper(unknown.String())+`}</jobId><itemsLimit>5000</itemsLimit>`),
		hosting.NS, hosting.FaultBulkOperationNotFound)
	if err := call("StartBulkOperation", `<operation>Run</operation><filter><definition>None</definition></filter><ratePerSecond>2.5E2</ratePerSecond>`); err != nil {
		t.Errorf("a rate of 2.5E2: %v", err)
	}
}

// TestPurge deletes only Completed instances: a filter asking for live ones is refused, the
// live ones a filter selects are counted and left alone, a dry run deletes nothing, and a
// purged id is unknown afterwards.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	c, c12, base := clients(t)
	h1, h2 := mustCreate(t, c, host.CreateRequest{Definition: "Hello"}), mustCreate(t, c, host.CreateRequest{Definition: "Hello"})
	active, suspended, terminated := mustCreate(t, c, expense(10)), mustCreate(t, c, expense(20)), mustCreate(t, c, expense(30))
	manage(t, base, "Suspend", suspended, "hold")
	manage(t, base, "Terminate", terminated, "gone")

	for _, st := range []workflow.State{workflow.Active, workflow.Suspended} {
		_, err := c.Purge(ctx, host.Filter{State: st}, false)
		fault(t, err, hosting.NS, hosting.FaultInvalidArgument)
		if f := err.(*soap.Fault); !strings.Contains(f.Reason, string(st)) {
			t.Errorf("the refusal should name the state: %s", f.Reason)
		}
	}
	count := func() int64 {
		t.Helper()
		n, err := c.CountInstances(ctx, host.Filter{}, host.GroupNone)
		if err != nil {
			t.Fatal(err)
		}
		return n.Total
	}
	for _, tc := range []struct {
		f      host.Filter
		dryRun bool
		want   hosting.PurgeResult
		left   int64
	}{
		{host.Filter{}, true, hosting.PurgeResult{Purged: 3, Live: 2}, 5},
		{host.Filter{Definition: "Hello"}, true, hosting.PurgeResult{Purged: 2, Live: 0}, 5},
		{host.Filter{State: workflow.Completed, Completion: workflow.Terminated}, true, hosting.PurgeResult{Purged: 1, Live: 0}, 5},
		{host.Filter{Definition: "Hello"}, false, hosting.PurgeResult{Purged: 2, Live: 0}, 3},
		{host.Filter{}, false, hosting.PurgeResult{Purged: 1, Live: 2}, 2},
		{host.Filter{}, false, hosting.PurgeResult{Purged: 0, Live: 2}, 2},
		{host.Filter{State: workflow.Completed}, true, hosting.PurgeResult{Purged: 0, Live: 0}, 2},
	} {
		res, err := c12.Purge(ctx, tc.f, tc.dryRun)
		if err != nil || *res != tc.want {
			t.Errorf("Purge(%+v, dryRun %v) = %+v, %v; want %+v", tc.f, tc.dryRun, res, err, tc.want)
		}
		if n := count(); n != tc.left {
			t.Errorf("after Purge(%+v, dryRun %v): %d instances, want %d", tc.f, tc.dryRun, n, tc.left)
		}
	}
	for _, id := range []uuid.UUID{h1, h2, terminated} {
		_, err := c.GetInstance(ctx, id)
		fault(t, err, wfNS, "InstanceNotFound")
		_, err = c.TrackingRecords(ctx, id, 0) // purged with the instance
		fault(t, err, wfNS, "InstanceNotFound")
		err = c.ResumeBookmark(ctx, id, "Review", "")
		fault(t, err, wfNS, "InstanceNotFound")
	}
	if in := instance(t, c, active); in.State != "Active" {
		t.Errorf("active instance after the purges: %s", in.State)
	}
	if in := instance(t, c, suspended); in.State != "Suspended" || in.SuspensionReason != "hold" {
		t.Errorf("suspended instance after the purges: %s %q", in.State, in.SuspensionReason)
	}
}

// TestBulkAndPurgeRoles (README, Security): StartBulkOperation, CancelBulkOperation and Purge
// need the admin role, GetBulkOperation the reader role. A caller below it gets WCF's
// AccessDenied before the body is read, and nothing changes.
func TestBulkAndPurgeRoles(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Run(t, servertest.Options{Users: authtest.UsersFile(t,
		authtest.User{Name: "rita", Password: "reader-pw-Kq81", Roles: "reader"},
		authtest.User{Name: "otto", Password: "operator-pw-Zt27", Roles: "operator"},
		authtest.User{Name: "ada", Password: "admin-pw-Hv55", Roles: "admin"})})
	as := func(user, password string, wsse bool) *hosting.Client {
		c := hosting.NewClient(srv.URL + "/WorkflowHosting")
		c.SOAP.Credentials = &soap.Credentials{Username: user, Password: password, WSSE: wsse}
		return c
	}
	admin, operator, reader := as("ada", "admin-pw-Hv55", false), as("otto", "operator-pw-Zt27", true), as("rita", "reader-pw-Kq81", false)
	id := mustCreate(t, admin, expense(10))
	hello := mustCreate(t, admin, host.CreateRequest{Definition: "Hello"})
	isAccessDenied := func(err error) bool {
		var f *soap.Fault
		return errors.As(err, &f) && f.Code == soap.Sender && len(f.Subcodes) == 1 &&
			f.Subcodes[0] == soap.QName{Space: "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher", Local: "AccessDenied"} &&
			f.Reason == "Access is denied."
	}
	for name, c := range map[string]*hosting.Client{"reader": reader, "operator": operator} {
		if _, err := c.StartBulkOperation(ctx, host.BulkRequest{Operation: "Suspend", Reason: "r"}); !isAccessDenied(err) {
			t.Errorf("%s StartBulkOperation: %v, want AccessDenied", name, err)
		}
		if _, err := c.Purge(ctx, host.Filter{}, false); !isAccessDenied(err) {
			t.Errorf("%s Purge: %v, want AccessDenied", name, err)
		}
		if _, err := c.Purge(ctx, host.Filter{}, true); !isAccessDenied(err) {
			t.Errorf("%s Purge dry run: %v, want AccessDenied", name, err)
		}
		if _, err := c.CancelBulkOperation(ctx, uuid.New()); !isAccessDenied(err) {
			t.Errorf("%s CancelBulkOperation: %v, want AccessDenied", name, err)
		}
	}
	// Authorized before the body is read: a malformed body is AccessDenied too.
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<StartBulkOperation xmlns="` + hosting.NS + `"><ratePerSecond>fast</ratePerSecond></StartBulkOperation>`); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.SOAP.Call(ctx, hosting.Action(hosting.OpStartBulkOperation), doc.Root()); !isAccessDenied(err) {
		t.Errorf("reader's malformed StartBulkOperation: %v, want AccessDenied", err)
	}
	if in := instance(t, admin, id); in.State != "Active" {
		t.Errorf("after the denied calls the instance is %s", in.State)
	}
	if in := instance(t, admin, hello); in.State != "Completed" {
		t.Errorf("after the denied purges the completed instance is %s", in.State)
	}

	j := mustStart(t, admin, host.BulkRequest{Operation: "Suspend", Reason: "by ada", RatePerSecond: 1000})
	if !strings.HasPrefix(j.Principal, "ada@127.0.0.1:") {
		t.Errorf("the job names %q, want ada@127.0.0.1:PORT", j.Principal)
	}
	// A reader may follow it.
	deadline := time.Now().Add(30 * time.Second)
	var p *hosting.BulkPage
	for {
		var err error
		if p, err = reader.GetBulkOperation(ctx, j.ID, 0, 10); err != nil {
			t.Fatalf("reader GetBulkOperation: %v", err)
		}
		if !p.Job.Running() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running after 30s: %+v", p.Job)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p.Job.Status != "Completed" || p.Job.OK != 1 || !reflect.DeepEqual(p.Job.Faults, map[string]int64{"InstanceCompleted": 1}) || len(p.Items) != 2 {
		t.Errorf("the admin's job, as the reader sees it: %+v, %+v", p.Job, p.Items)
	}
	recs, err := admin.TrackingRecords(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var suspendedBy []hosting.Record
	for _, r := range recs {
		if r.Kind == "Instance" && r.Name == "Suspended" {
			suspendedBy = append(suspendedBy, r)
		}
	}
	if len(suspendedBy) != 1 || suspendedBy[0].Reason != "by ada" || !strings.HasPrefix(suspendedBy[0].Principal, "ada@127.0.0.1:") ||
		!strings.Contains(suspendedBy[0].Data, `"job":"`+j.ID.String()+`"`) {
		t.Errorf("the job's Suspended records: %+v", suspendedBy)
	}
	if res, err := admin.Purge(ctx, host.Filter{}, false); err != nil || *res != (hosting.PurgeResult{Purged: 1, Live: 1}) {
		t.Errorf("admin Purge: %+v %v", res, err)
	}
}
