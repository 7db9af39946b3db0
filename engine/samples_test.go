package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/workflow"
)

func expenseInputs(amount float64) map[string]any {
	return vars("amount", amount, "submitter", "ann")
}

func approve(who string) action { return resume("Review", vars("approved", true, "reviewer", who)) }
func deny(who string) action    { return resume("Review", vars("approved", false, "reviewer", who)) }

func TestExpenseApproval(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "ExpenseApproval", "1.0.0.0")
	cases := []struct {
		name    string
		inputs  map[string]any
		actions []action
		results string
		vars    map[string]any
		lines   string
	}{
		{
			name:    "at most 1000: one approval",
			inputs:  expenseInputs(1000),
			actions: []action{approve("bob")},
			results: "Idle|Completed:Closed",
			vars:    vars("status", "Approved", "approvals", 1, "escalations", 0, "required", 1),
			lines:   "Expense of 1000 submitted by ann|Approved by bob|Expense Approved",
		},
		{
			name:    "above 1000: two approvals",
			inputs:  expenseInputs(1500),
			actions: []action{approve("bob"), approve("carl")},
			results: "Idle|Idle|Completed:Closed",
			vars:    vars("status", "Approved", "approvals", 2, "required", 2),
			lines:   "Expense of 1500 submitted by ann|Approved by bob|Approved by carl|Expense Approved",
		},
		{
			name:    "one denial ends it",
			inputs:  expenseInputs(5000),
			actions: []action{approve("bob"), deny("dan")},
			results: "Idle|Idle|Completed:Closed",
			vars:    vars("status", "Denied", "approvals", 1),
			lines:   "Expense of 5000 submitted by ann|Approved by bob|Denied by dan|Expense Denied",
		},
		{
			name:   "escalation on timeout, then approval",
			inputs: expenseInputs(200),
			actions: []action{
				advance(239 * time.Hour), // not due yet
				advance(time.Hour),       // 240h: escalate, wait again
				approve("sue"),
			},
			results: "Idle|Idle|Idle|Completed:Closed",
			vars:    vars("status", "Approved", "approvals", 1, "escalations", 1),
			lines:   "Expense of 200 submitted by ann|No review within 240h: escalated to a supervisor|Approved by sue|Expense Approved",
		},
		{
			name:    "custom timeout escalates twice",
			inputs:  vars("amount", 10, "submitter", "ann", "reviewTimeout", "1h"),
			actions: []action{advance(time.Hour), advance(time.Hour), deny("bob")},
			results: "Idle|Idle|Idle|Completed:Closed",
			vars:    vars("status", "Denied", "escalations", 2),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := playBoth(t, reg, def, c.inputs, c.actions...)
			if got := join(d.results); got != c.results {
				t.Errorf("results %s, want %s", got, c.results)
			}
			d.wantVars(t, c.vars)
			if c.lines != "" {
				if got := join(lines(d.records)); got != c.lines {
					t.Errorf("lines\n got %s\nwant %s", got, c.lines)
				}
			}
		})
	}
}

func TestExpenseApprovalWaitState(t *testing.T) {
	def := sample(t, "ExpenseApproval", "1.0.0.0")
	in := mustStart(t, def, expenseInputs(1500))
	if r := in.Run(t0, 0); r.Kind != ResultIdle {
		t.Fatal(r)
	}
	if got := join(in.Bookmarks()); got != "Review" {
		t.Errorf("bookmarks %s", got)
	}
	due, ok := in.NextTimer()
	if !ok || !due.Equal(t0.Add(240*time.Hour)) {
		t.Errorf("next timer %v %v", due, ok)
	}
	if in.Status() != StatusIdle {
		t.Error(in.Status())
	}
	if n := in.FireDueTimers(t0.Add(239 * time.Hour)); n != 0 {
		t.Error("fired early")
	}
	// Object takes any JSON value; the workflow ignores a malformed review and waits again.
	if err := in.ResumeBookmark("Review", "not an object"); err != nil {
		t.Fatal(err)
	}
	if r := in.Run(t0, 0); r.Kind != ResultIdle || in.Variables()["status"] != "Pending" || join(in.Bookmarks()) != "Review" {
		t.Fatal(r, in.Variables())
	}
	if got := lines(in.DrainRecords()); got[len(got)-1] != `Ignored a malformed review: want {"approved": bool, "reviewer": string}` {
		t.Error(got)
	}
}

func TestHello(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "Hello", "")
	d := playBoth(t, reg, def, vars("name", "wimp"))
	if d.last() != "Completed:Closed" || join(lines(d.records)) != "Hello, wimp!" {
		t.Fatal(d.results, lines(d.records))
	}
	d = playBoth(t, reg, def, nil)
	if join(lines(d.records)) != "Hello, world!" {
		t.Fatal(lines(d.records))
	}
}

func TestCancellationDemo(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "CancellationDemo", "")
	cases := []struct {
		action  action
		results string
		vars    map[string]any
	}{
		{resume("Continue", nil), "Idle|Completed:Closed", vars("status", "Done", "cleanedUp", false)},
		{cancel(), "Idle|Completed:Canceled", vars("status", "Canceled", "cleanedUp", true)},
		{terminate("admin"), "Idle|Completed:Terminated", vars("status", "Waiting", "cleanedUp", false)},
	}
	for _, c := range cases {
		t.Run(c.action.op, func(t *testing.T) {
			d := playBoth(t, reg, def, nil, c.action)
			if got := join(d.results); got != c.results {
				t.Errorf("results %s, want %s", got, c.results)
			}
			d.wantVars(t, c.vars)
		})
	}
}

// TestFlakyServiceRetry plays the host's AbandonAndSuspend policy: persist at PersistRequested,
// on the unhandled exception discard the object and reload the last image, and retry later.
func TestFlakyServiceRetry(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "FlakyService", "")
	failUntil := t0.Add(time.Hour)
	in := mustStart(t, def, vars("failUntil", failUntil.Format(time.RFC3339)))
	r := in.Run(t0, 0)
	if r.Kind != ResultPersistRequested {
		t.Fatal(r)
	}
	image, err := in.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r = in.Run(t0, 0)
	if r.Kind != ResultUnhandledException || r.Exception.Name != "ServiceUnavailable" || r.Exception.Activity != "fail" {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(r.Exception.Message, "service unavailable until") {
		t.Error(r.Exception.Message)
	}
	// Abandon and suspend: reload the checkpoint. Retrying too early faults again.
	in, err = Restore(reg, image)
	if err != nil {
		t.Fatal(err)
	}
	if r := in.Run(t0.Add(30*time.Minute), 0); r.Kind != ResultUnhandledException {
		t.Fatalf("%+v", r)
	}
	// Unsuspend after the outage: the retry from the checkpoint passes.
	in, _ = Restore(reg, image)
	r = in.Run(t0.Add(2*time.Hour), 0)
	if r.Kind != ResultCompleted || r.Completion != workflow.Closed {
		t.Fatalf("%+v", r)
	}
	if v := in.Variables(); v["status"] != "Done" || v["attempts"] != 1.0 {
		t.Error(v)
	}
	recs := in.DrainRecords()
	if got := join(instanceRecords(recs)); got != "Resumed|Completed" {
		t.Error(got)
	}
	// Without failUntil it never fails.
	d := playBoth(t, reg, def, nil)
	if join(d.results) != "PersistRequested|Completed:Closed" {
		t.Error(d.results)
	}
}

func TestFaultOnDemand(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "FaultOnDemand", "")
	// The host persists at every idle: the image waiting at "Attempt".
	in := mustStart(t, def, nil)
	if r := in.Run(t0, 0); r.Kind != ResultIdle {
		t.Fatal(r)
	}
	idle, _ := in.Snapshot()
	_ = in.ResumeBookmark("Attempt", payload(`{"fail":true,"message":"card declined"}`))
	r := in.Run(t0, 0)
	if r.Kind != ResultUnhandledException || r.Exception.Name != "OrderRejected" || r.Exception.Message != "card declined" {
		t.Fatalf("%+v", r)
	}
	// AbandonAndSuspend → reload; after Unsuspend a good payload completes it.
	in, err := Restore(reg, idle)
	if err != nil {
		t.Fatal(err)
	}
	if got := join(in.Bookmarks()); got != "Attempt" {
		t.Fatal(got)
	}
	_ = in.ResumeBookmark("Attempt", payload(`{"fail":false}`))
	if r := in.Run(t0, 0); r.Completion != workflow.Closed {
		t.Fatalf("%+v", r)
	}
	// A handled exception.
	d := playBoth(t, reg, def, nil, resume("Attempt", payload(`{"recoverable":true}`)))
	if d.last() != "Completed:Closed" {
		t.Fatal(d.results)
	}
	d.wantVars(t, vars("recovered", true, "status", "Done"))
	// Unhandled then Cancel policy.
	d = playBoth(t, reg, def, nil, resume("Attempt", payload(`{"fail":true}`)), cancel())
	if join(d.results) != "Idle|UnhandledException:OrderRejected@reject|Completed:Canceled" {
		t.Fatal(d.results)
	}
}

func TestUpdateExpenseApproval(t *testing.T) {
	reg := sampleRegistry(t)
	v1 := sample(t, "ExpenseApproval", "1.0.0.0")
	v2 := sample(t, "ExpenseApproval", "2.0.0.0")
	v15 := sample(t, "ExpenseApproval", "1.5.0.0")
	if !reg.CanUpdate(v1.Identity, v2.Identity) || !reg.CanUpdate(v1.Identity, v15.Identity) ||
		reg.CanUpdate(v2.Identity, v1.Identity) || reg.CanUpdate(v1.Identity, workflow.Identity{Name: "nope", Version: "1.0"}) {
		t.Fatal("CanUpdate")
	}

	// Compatible: waiting for a review, switch to 2.0.0.0; the new variable gets its default
	// and the new final WriteLine runs.
	d := playBoth(t, reg, v1, expenseInputs(1500), approve("bob"), update(v2), approve("carl"))
	if d.last() != "Completed:Closed" {
		t.Fatal(d.results)
	}
	if d.in.Identity() != v2.Identity {
		t.Error(d.in.Identity())
	}
	d.wantVars(t, vars("status", "Approved", "approvals", 2, "auditNote", "reviewed under policy v2"))
	if got := lines(d.records); got[len(got)-1] != "Audit: reviewed under policy v2" {
		t.Error(got)
	}
	if !contains(instanceRecords(d.records), "Updated") {
		t.Error("no Updated record")
	}

	// Incompatible: refused with the blocking activity; the instance is unchanged.
	in := mustStart(t, v1, expenseInputs(1500))
	in.Run(t0, 0)
	before, _ := in.Snapshot()
	in.DrainRecords()
	err := in.Update(v15)
	var ue *UpdateError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUpdateNotAllowed) || ue.Activity != "reviewLoop" {
		t.Fatalf("%v", err)
	}
	want := `engine: cannot update ExpenseApproval; Version=1.0.0.0; Package=wimp.samples to ExpenseApproval; Version=1.5.0.0; Package=wimp.samples: activity "reviewLoop" (While) is executing but does not exist in ExpenseApproval; Version=1.5.0.0; Package=wimp.samples`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	after, _ := in.Snapshot()
	if string(before) != string(after) {
		t.Error("failed update changed the instance")
	}
	if recs := in.DrainRecords(); len(recs) != 1 || recs[0].Name != "UpdateFailed" {
		t.Errorf("%+v", recs)
	}
	// Not declared: 2.0.0.0 → 1.0.0.0.
	in2 := mustStart(t, v2, expenseInputs(1))
	in2.Run(t0, 0)
	if err := in2.Update(v1); !errors.As(err, &ue) || !strings.Contains(err.Error(), "does not declare <UpdatableFrom>") {
		t.Error(err)
	}
	// Same identity: no-op.
	if err := in2.Update(v2); err != nil {
		t.Error(err)
	}
}

func TestUpdateChecks(t *testing.T) {
	base := `<Workflow Name="U" Version="%s">%s<Variables><Variable Name="n" Type="%s"/></Variables>%s</Workflow>`
	mk := func(version, from, typ, body string) *Definition {
		up := ""
		if from != "" {
			up = `<UpdatableFrom Name="U" Version="` + from + `"/>`
		}
		return mustParse(t, sprintf(base, version, up, typ, body))
	}
	v1 := mk("1.0", "", "Number", `<Sequence Id="s"><Receive Id="r" Bookmark="B"/></Sequence>`)
	cases := []struct {
		name string
		to   *Definition
		err  string
	}{
		{"kind changed", mk("2.0", "1.0", "Number", `<Parallel Id="s"><Receive Id="r" Bookmark="B"/></Parallel>`),
			`activity "s" is a Sequence in U; Version=1.0 but a Parallel in U; Version=2.0`},
		{"moved", mk("2.0", "1.0", "Number", `<Sequence Id="s"><Sequence Id="inner"><Receive Id="r" Bookmark="B"/></Sequence></Sequence>`),
			`activity "r" moved: its parent is "s" in U; Version=1.0`},
		{"variable type incompatible", mk("2.0", "1.0", "Boolean", `<Sequence Id="s"><Receive Id="r" Bookmark="B"/></Sequence>`),
			`variable "n": a Number value does not fit type Boolean`},
		{"compatible", mk("2.0", "1.0", "Number", `<Sequence Id="s"><WriteLine Id="new" Text="x"/><Receive Id="r" Bookmark="B"/></Sequence>`), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := mustStart(t, v1, nil)
			in.Run(t0, 0)
			err := in.Update(c.to)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("got %v, want %s", err, c.err)
			}
		})
	}
	in := mustStart(t, v1, nil)
	_ = in.Terminate("x")
	if err := in.Update(cases[3].to); !errors.Is(err, ErrCompleted) {
		t.Error(err)
	}
}
