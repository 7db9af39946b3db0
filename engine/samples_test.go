package engine

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/engine/samples"
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

func salesInputs() map[string]any { return vars("lead", "Contoso", "salesperson", "sam") }

func transferred(from, to string, complete bool) action {
	return resume("Transferred", vars("from", from, "to", to, "complete", complete))
}

func TestSalesCollaboration(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "SalesCollaboration", "1.0.0.0")
	const start = "Lead Contoso assigned to sam|Document with sam"
	cases := []struct {
		name    string
		inputs  map[string]any
		actions []action
		results string
		vars    map[string]any
		lines   string
		current string // CurrentState at the end
	}{
		{
			name:    "the lead is assigned and moves on to SalesCollaboration at once",
			results: "Idle",
			vars:    vars("assignee", "sam", "status", "With sam", "transfers", 0),
			lines:   start,
			current: "SalesCollaboration",
		},
		{
			name:    "a hand-over is a self-transition: Exit, Action, Entry",
			actions: []action{transferred("sam", "ann", false)},
			results: "Idle|Idle",
			vars:    vars("assignee", "ann", "status", "With ann", "transfers", 1),
			lines:   start + "|Document leaves sam|Document with ann",
			current: "SalesCollaboration",
		},
		{
			name:    "hand-overs, then the salesperson completes: Closed",
			actions: []action{transferred("sam", "ann", false), transferred("ann", "bob", false), transferred("sam", "", true)},
			results: "Idle|Idle|Idle|Completed:Closed",
			vars:    vars("assignee", "bob", "status", "Closed", "transfers", 2),
			lines: start + "|Document leaves sam|Document with ann|Document leaves ann|Document with bob" +
				"|Document leaves bob|Closing lead Contoso|Lead Contoso closed by sam",
			current: "",
		},
		{
			name: "transfers that fit no transition are ignored: the Receive waits again",
			actions: []action{
				transferred("ann", "bob", false), // ann does not hold the document
				transferred("ann", "", true),     // only the salesperson closes
				transferred("sam", "", false),    // a hand-over to nobody
				resume("Transferred", "junk"),    // not even an object
			},
			results: "Idle|Idle|Idle|Idle|Idle",
			vars:    vars("assignee", "sam", "transfers", 0, "status", "With sam"),
			lines:   start,
			current: "SalesCollaboration",
		},
		{
			name:    "no progress for 7 days: escalated, the state is re-entered",
			actions: []action{advance(167 * time.Hour), advance(time.Hour)},
			results: "Idle|Idle|Idle",
			vars:    vars("escalations", 1, "assignee", "sam"),
			lines:   start + "|Document leaves sam|Escalated: lead Contoso idle with sam for 168h|Document with sam",
			current: "SalesCollaboration",
		},
		{
			name:    "custom escalateAfter, escalated twice, then closed",
			inputs:  vars("lead", "Contoso", "salesperson", "sam", "escalateAfter", "1h"),
			actions: []action{advance(time.Hour), advance(time.Hour), transferred("sam", "", true)},
			results: "Idle|Idle|Idle|Completed:Closed",
			vars:    vars("escalations", 2, "status", "Closed"),
		},
		{
			name:    "Cancel: the Exit does not run",
			actions: []action{cancel()},
			results: "Idle|Completed:Canceled",
			vars:    vars("status", "With sam"),
			lines:   start,
		},
		{
			name:    "Terminate",
			actions: []action{transferred("sam", "ann", false), terminate("lead withdrawn")},
			results: "Idle|Idle|Completed:Terminated",
			vars:    vars("assignee", "ann", "transfers", 1),
			lines:   start + "|Document leaves sam|Document with ann",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inputs := c.inputs
			if inputs == nil {
				inputs = salesInputs()
			}
			d := playBoth(t, reg, def, inputs, c.actions...)
			if got := join(d.results); got != c.results {
				t.Errorf("results %s, want %s", got, c.results)
			}
			d.wantVars(t, c.vars)
			if c.lines != "" {
				if got := join(lines(d.records)); got != c.lines {
					t.Errorf("lines\n got %s\nwant %s", got, c.lines)
				}
			}
			if got := d.in.CurrentState(); got != c.current {
				t.Errorf("current state %q, want %q", got, c.current)
			}
		})
	}
}

func TestSalesCollaborationWaitState(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "SalesCollaboration", "")
	d := newDriver(t, reg, mustStart(t, def, salesInputs()), false)
	d.play()
	if got := join(d.in.Bookmarks()); got != "Transferred" {
		t.Errorf("bookmarks %s", got)
	}
	if due, ok := d.in.NextTimer(); !ok || !due.Equal(t0.Add(168*time.Hour)) {
		t.Errorf("timer %v %v", due, ok)
	}
	want := []MachineState{{Machine: "leadLifecycle", State: "SalesCollaboration"}}
	if got := d.in.CurrentStates(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("current states %+v", got)
	}
	// A hand-over on day 3 re-enters the state: the escalation delay restarts from then.
	d.apply(advance(72 * time.Hour))
	d.apply(transferred("sam", "ann", false))
	if due, _ := d.in.NextTimer(); !due.Equal(t0.Add(72*time.Hour + 168*time.Hour)) {
		t.Errorf("timer after the hand-over %v", due)
	}
	// The state records: entered NewLead, left it by startCollaboration, entered
	// SalesCollaboration, left it by handOver back into it.
	var got []string
	for _, r := range d.records {
		if r.Name == StateEnteredRecord || r.Name == StateExitedRecord {
			got = append(got, r.Activity+":"+r.Name+":"+r.Data)
		}
	}
	wantRecs := []string{
		`NewLead:StateEntered:{"stateMachine":"leadLifecycle"}`,
		`NewLead:StateExited:{"stateMachine":"leadLifecycle","to":"SalesCollaboration","transition":"startCollaboration"}`,
		`SalesCollaboration:StateEntered:{"stateMachine":"leadLifecycle"}`,
		`SalesCollaboration:StateExited:{"stateMachine":"leadLifecycle","to":"SalesCollaboration","transition":"handOver"}`,
		`SalesCollaboration:StateEntered:{"stateMachine":"leadLifecycle"}`,
	}
	if join(got) != join(wantRecs) {
		t.Errorf("state records\n got %v\nwant %v", got, wantRecs)
	}
}

// TestSalesCollaborationSuspend plays the host's Suspend: execution stops at a work-item
// boundary, the instance is persisted and unloaded; on Unsuspend (8 days later, past the
// escalation delay) it is restored, the timers that fell due fire once, and it runs on. A
// hand-over whose resumption was accepted before the suspension wins at every cut: its
// completion was queued before the timer fired (FIFO), so there is no escalation, and the
// re-entered state's new escalation delay starts at the unsuspend time.
func TestSalesCollaborationSuspend(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "SalesCollaboration", "")
	later := t0.Add(8 * 24 * time.Hour)
	for cut := 0; ; cut++ {
		in := mustStart(t, def, salesInputs())
		if r := in.Run(t0, 0); r.Kind != ResultIdle {
			t.Fatal(r)
		}
		if err := in.ResumeBookmark("Transferred", vars("from", "sam", "to", "ann", "complete", false)); err != nil {
			t.Fatal(err)
		}
		r := Result{Kind: ResultRunnable}
		if cut > 0 {
			r = in.Run(t0, cut)
		}
		if r.Kind == ResultIdle {
			break // the transition finished within the cut: every boundary was tried
		}
		if r.Kind != ResultRunnable {
			t.Fatalf("cut %d: %+v", cut, r)
		}
		if got := in.CurrentState(); got != "SalesCollaboration" {
			t.Errorf("cut %d: current state %q while suspended", cut, got)
		}
		img, err := in.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		in, err = Restore(reg, img)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		in.FireDueTimers(later)
		if r := in.Run(later, 0); r.Kind != ResultIdle {
			t.Fatalf("cut %d: %+v", cut, r)
		}
		v := in.Variables()
		if v["assignee"] != "ann" || v["transfers"] != 1.0 || v["escalations"] != 0.0 {
			t.Errorf("cut %d: variables %v", cut, v)
		}
		if due, _ := in.NextTimer(); !due.Equal(later.Add(168 * time.Hour)) {
			t.Errorf("cut %d: next timer %v", cut, due)
		}
		if got := in.CurrentState(); got != "SalesCollaboration" {
			t.Errorf("cut %d: current state %q", cut, got)
		}
	}
}

func TestReviewerApproval(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "ReviewerApproval", "1.0.0.0")
	two := vars("document", "spec", "reviewers", []any{"ann", "bob"})
	three := vars("document", "spec", "reviewers", []any{"ann", "bob", "cy"}, "required", 2)
	const notified = "Review of spec requested from ann|Review of spec requested from bob"
	const notified3 = notified + "|Review of spec requested from cy"
	cases := []struct {
		name      string
		inputs    map[string]any
		actions   []action
		results   string
		status    string
		approvals float64
		lines     string
		bookmarks string
	}{
		{
			name:      "every reviewer waits at once on a bookmark of their own",
			inputs:    two,
			results:   "Idle",
			status:    "Pending",
			lines:     notified,
			bookmarks: "approve/ann|approve/bob|reject/spec",
		},
		{
			name:      "an approval: that reviewer's bookmark is gone",
			inputs:    two,
			actions:   []action{resume("approve/ann", nil)},
			results:   "Idle|Idle",
			status:    "Pending",
			approvals: 1,
			bookmarks: "approve/bob|reject/spec",
		},
		{
			name:      "all approve, in any order: Approved, the rejection wait is canceled",
			inputs:    two,
			actions:   []action{resume("approve/bob", nil), resume("approve/ann", nil)},
			results:   "Idle|Idle|Completed:Closed",
			status:    "Approved",
			approvals: 2,
			lines:     notified + "|Approved by bob|Approved by ann|Document spec Approved",
		},
		{
			name:      "a quorum: the pending review is canceled",
			inputs:    three,
			actions:   []action{resume("approve/cy", nil), resume("approve/ann", nil), resume("approve/bob", nil)},
			results:   "Idle|Idle|Completed:Closed|error:engine: instance is completed|Completed:Closed",
			status:    "Approved",
			approvals: 2,
			lines:     notified3 + "|Approved by cy|Approved by ann|Document spec Approved",
		},
		{
			name:      "a rejection ends it: the pending approvals are canceled",
			inputs:    two,
			actions:   []action{resume("approve/ann", nil), resume("reject/spec", vars("reviewer", "bob")), resume("approve/bob", nil)},
			results:   "Idle|Idle|Completed:Closed|error:engine: instance is completed|Completed:Closed",
			status:    "Rejected",
			approvals: 1,
			lines:     notified + "|Approved by ann|Rejected by bob|Document spec Rejected",
		},
		{
			name:    "reviewers not a list: InvalidOperationError, caught",
			inputs:  vars("document", "spec", "reviewers", "ann"),
			results: "Completed:Closed",
			status:  "Invalid",
			lines:   "reviewers must be a list of names",
		},
		{
			name:    "a reviewer listed twice: BookmarkError, caught",
			inputs:  vars("document", "spec", "reviewers", []any{"ann", "ann"}),
			results: "Completed:Closed",
			status:  "Invalid",
			lines:   "Review of spec requested from ann|Review of spec requested from ann|each reviewer may be listed once",
		},
		{
			name:    "no reviewers: approved at once",
			inputs:  vars("document", "spec", "reviewers", []any{}),
			results: "Completed:Closed",
			status:  "Approved",
			lines:   "Document spec Approved",
		},
		{
			name:      "Cancel while waiting",
			inputs:    two,
			actions:   []action{resume("approve/ann", nil), cancel()},
			results:   "Idle|Idle|Completed:Canceled",
			status:    "Pending",
			approvals: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := playBoth(t, reg, def, c.inputs, c.actions...)
			if got := join(d.results); got != c.results {
				t.Errorf("results %s, want %s", got, c.results)
			}
			d.wantVars(t, vars("status", c.status, "approvals", c.approvals))
			if c.lines != "" {
				if got := join(lines(d.records)); got != c.lines {
					t.Errorf("lines\n got %s\nwant %s", got, c.lines)
				}
			}
			if got := join(d.in.Bookmarks()); got != c.bookmarks {
				t.Errorf("bookmarks %s, want %s", got, c.bookmarks)
			}
		})
	}
}

// testedSamples are the samples the tests play (this file, and invoke_test.go for
// DocumentApproval and ReviewTask); a new sample must be added here with a test.
var testedSamples = []string{
	"CancellationDemo", "DocumentApproval", "ExpenseApproval", "FaultOnDemand", "FlakyService", "Hello",
	"ReviewerApproval", "ReviewTask", "SalesCollaboration",
}

// TestEverySampleLoads parses every file of engine/samples on its own, checks that the
// registry holds it under its identity, and that its workflow has a test here.
func TestEverySampleLoads(t *testing.T) {
	reg := sampleRegistry(t)
	entries, err := samples.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".xml") {
			continue
		}
		files++
		data, err := samples.FS.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseDefinition(e.Name(), data)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if got, err := reg.Get(d.Identity); err != nil || got.Identity != d.Identity {
			t.Errorf("%s: %s not in the registry: %v", e.Name(), d.Identity, err)
		}
		if d.Identity.Package != "wimp.samples" || !contains(testedSamples, d.Identity.Name) {
			t.Errorf("%s: %s is not in package wimp.samples or has no test in samples_test.go", e.Name(), d.Identity)
		}
	}
	if files < len(testedSamples) || len(reg.All()) != files {
		t.Errorf("%d sample files, %d definitions in the registry", files, len(reg.All()))
	}
}

// formatExample returns the first ```xml block of FORMAT.md that starts with prefix.
func formatExample(t *testing.T, prefix string) string {
	t.Helper()
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(doc), "```xml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.HasPrefix(block, prefix) {
			return block
		}
	}
	t.Fatalf("FORMAT.md has no example starting with %s", prefix)
	return ""
}

// TestFormatExamples plays the StateMachine and ForEach examples of FORMAT.md as written there.
func TestFormatExamples(t *testing.T) {
	door := mustParse(t, wf(`<Variables><Variable Name="key" Type="Object"/><Variable Name="opened" Type="Number"/></Variables>`,
		formatExample(t, "<StateMachine")))
	// A wrong key: open's Condition fails, wrongKey (sharing the Receive) re-enters Closed.
	d := playBoth(t, door, door, nil, resume("Knock", "wrong"), resume("Knock", "right"))
	if got := join(d.results); got != "Idle|Idle|Completed:Closed" {
		t.Errorf("results %s", got)
	}
	if got := join(lines(d.records)); got != "closed|leaving Closed|closed|leaving Closed|done" {
		t.Errorf("lines %s", got)
	}
	d.wantVars(t, vars("opened", 1))
	d = playBoth(t, door, door, nil, advance(24*time.Hour))
	if got := join(lines(d.records)); d.last() != "Completed:Closed" || got != "closed|leaving Closed|done" {
		t.Errorf("give up: %v %s", d.results, got)
	}

	loops := mustParse(t, wf(`<Variables><Variable Name="reviewers" Type="Object" Default="[['ann', 'bob', 'cy']]"/>`+
		`<Variable Name="approvals" Type="Number"/></Variables>`, "<Sequence>"+formatExample(t, "<ForEach")+"</Sequence>"))
	d = playBoth(t, loops, loops, nil, resume("approve/bob", nil), resume("approve/cy", nil))
	if got := join(d.results); got != "Idle|Idle|Completed:Closed" {
		t.Errorf("results %s", got)
	}
	if got := join(lines(d.records)); got != "Review requested from ann|Review requested from bob|Review requested from cy" {
		t.Errorf("lines %s", got)
	}
	d.wantVars(t, vars("approvals", 2))
}
