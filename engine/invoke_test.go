package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// The child definition of these tests: a review of one document by one reviewer, who decides
// through the bookmark "decide"; a rejection faults it with ReviewRejected.
const reviewXML = `<Workflow Name="Review" Package="test" Version="1.0" CorrelationKey="['review/' + doc + '/' + reviewer]">
  <Arguments><In Name="doc" Type="String" Required="true"/><In Name="reviewer" Type="String" Default="'ann'"/></Arguments>
  <Variables><Variable Name="verdict" Type="String"/></Variables>
  <Sequence Id="r">
    <Receive Id="decide" Bookmark="decide" Result="verdict"/>
    <If Condition="[verdict == 'rejected']"><Then><Throw Exception="ReviewRejected" Message="[reviewer + ' rejected ' + doc]"/></Then></If>
  </Sequence>
</Workflow>`

// testInvoker resolves child definitions from a registry; keys are the correlation keys in use.
type testInvoker struct {
	reg  *Registry
	keys map[string]bool
}

func (ti testInvoker) Lookup(name, version string) (*Definition, error) {
	return ti.reg.Lookup(name, version)
}
func (ti testInvoker) KeyInUse(key string) bool { return ti.keys[key] }

// invokeSetup parses the parent (a test workflow) with the Review child registered.
func invokeSetup(t *testing.T, parent string) (*Registry, *Definition) {
	t.Helper()
	reg := NewRegistry()
	if err := reg.Add(mustParse(t, reviewXML)); err != nil {
		t.Fatal(err)
	}
	def := mustParse(t, parent)
	if err := reg.Add(def); err != nil {
		t.Fatal(err)
	}
	return reg, def
}

// invokeDriver starts the parent with the invoker; keys are correlation keys already in use.
func invokeDriver(t *testing.T, reg *Registry, def *Definition, step bool, keys ...string) *driver {
	in := mustStart(t, def, nil)
	ti := testInvoker{reg: reg, keys: map[string]bool{}}
	for _, k := range keys {
		ti.keys[k] = true
	}
	in.SetInvoker(ti)
	return newDriver(t, reg, in, step)
}

// childID is the id the engine derives for the child started by activity instance n at t0.
func childID(n int) uuid.UUID {
	return uuid.NewSHA1(testID, []byte(fmt.Sprintf("wimp/child/%d@%s", n, t0.Format(time.RFC3339Nano))))
}

func init() {
	// child(outcome): the completion of the parent's only child.
	extraActions["child"] = func(d *driver, a action) error {
		ids := d.in.Children()
		if len(ids) != 1 {
			d.t.Fatalf("child: want one child waited for, have %v", ids)
		}
		return d.in.CompleteChild(ids[0], a.payload.(ChildOutcome))
	}
}

// faultOf is "Exception: message" of the Faulted record of activity id ("" if none).
func faultOf(recs []workflow.Record, id string) string {
	for _, r := range recs {
		if r.Kind == workflow.ActivityRecord && r.Name == string(ActivityFaulted) && r.Activity == id {
			var d struct{ Exception, Message string }
			_ = json.Unmarshal([]byte(r.Data), &d)
			return d.Exception + ": " + d.Message
		}
	}
	return ""
}

func childEnds(o ChildOutcome) action { return action{op: "child", payload: o} }

const parentDecls = `<Variables><Variable Name="review" Type="Object"/><Variable Name="status" Type="String"/></Variables>`

func parentWorkflow(body string) string { return wf(parentDecls, body) }

const invokeReview = `<InvokeWorkflow Id="inv" Definition="test.Review" Input="[{'doc': 'D-1', 'reviewer': 'bob'}]" Result="review"/>`

// The parent starts one child with its inputs, waits (idle) until the host delivers the child's
// completion, and assigns the child's variables to Result; snapshot/restore before every work
// item changes nothing.
func TestInvokeWorkflowWaitsForTheChild(t *testing.T) {
	reg, def := invokeSetup(t, parentWorkflow(`<Sequence Id="main">`+invokeReview+
		`<Assign Id="done" To="status" Value="[review.verdict]"/></Sequence>`))
	for _, step := range []bool{false, true} {
		d := invokeDriver(t, reg, def, step)
		d.play()
		if d.last() != "Idle" {
			t.Fatalf("step=%v: results %v", step, d.results)
		}
		started := d.in.TakeStartedChildren()
		if len(started) != 1 {
			t.Fatalf("step=%v: started %d children, want 1", step, len(started))
		}
		c := started[0]
		// Activity instances: 1 main, 2 inv.
		if c.ID() != childID(2) || c.Identity().String() != "Review; Version=1.0; Package=test" {
			t.Fatalf("step=%v: child %s %s, want %s Review; Version=1.0; Package=test", step, c.ID(), c.Identity(), childID(2))
		}
		if got := fmt.Sprint(c.Arguments()); got != "map[doc:D-1 reviewer:bob]" {
			t.Fatalf("step=%v: child arguments %s", step, got)
		}
		if c.CorrelationKey() != "review/D-1/bob" {
			t.Fatalf("step=%v: child key %q", step, c.CorrelationKey())
		}
		if got := d.in.Children(); len(got) != 1 || got[0] != childID(2) {
			t.Fatalf("step=%v: Children() = %v", step, got)
		}
		img, _ := d.in.Snapshot()
		if !strings.Contains(string(img), `"format":"wimp-image/3"`) {
			t.Fatalf("step=%v: an image waiting for a child is not version 3: %s", step, img)
		}
		d.apply(childEnds(ChildOutcome{Completion: workflow.Closed, Outputs: map[string]any{"verdict": "approved"}}))
		if d.last() != "Completed:Closed" {
			t.Fatalf("step=%v: results %v", step, d.results)
		}
		d.wantVars(t, map[string]any{"review": map[string]any{"verdict": "approved"}, "status": "approved"})
		var got []string
		for _, r := range d.records {
			if r.Name == "ChildStarted" || r.Name == "ChildCompleted" {
				got = append(got, r.Name+" "+r.Activity+" "+r.Data)
			}
		}
		want := `ChildStarted inv {"child":"` + childID(2).String() + `","definition":"Review; Version=1.0; Package=test"}` + "\n" +
			`ChildCompleted inv {"child":"` + childID(2).String() + `","completion":"Closed"}`
		if strings.Join(got, "\n") != want {
			t.Fatalf("step=%v: records\n%s\nwant\n%s", step, strings.Join(got, "\n"), want)
		}
		if o := d.in.TakeOrphans(); len(o) != 0 {
			t.Fatalf("step=%v: orphans %v after the child completed", step, o)
		}
	}
}

// How each completion of the child shows in the parent: a fault rethrows the child's exception
// (caught by its name), Canceled and Terminated raise InvokeWorkflowError.
func TestInvokeWorkflowChildCompletions(t *testing.T) {
	reg, def := invokeSetup(t, parentWorkflow(`<TryCatch Id="tc"><Try>`+invokeReview+`</Try><Catches>
  <Catch Exception="ReviewRejected"><Assign To="status" Value="rejected"/></Catch>
  <Catch Exception="InvokeWorkflowError"><Assign To="status" Value="failed"/></Catch>
</Catches></TryCatch>`))
	id := childID(2) // activity instances: 1 tc, 2 inv
	cases := []struct {
		o           ChildOutcome
		want, fault string
	}{
		{ChildOutcome{Completion: workflow.Faulted, Reason: "bob rejected D-1", Exception: &Exception{Name: "ReviewRejected", Message: "bob rejected D-1", Activity: "x"}},
			"rejected", "ReviewRejected: bob rejected D-1"},
		{ChildOutcome{Completion: workflow.Terminated, Reason: "duplicate"}, "failed", "InvokeWorkflowError: child " + id.String() + " was terminated: duplicate"},
		{ChildOutcome{Completion: workflow.Canceled}, "failed", "InvokeWorkflowError: child " + id.String() + " completed Canceled"},
	}
	for _, c := range cases {
		for _, step := range []bool{false, true} {
			d := invokeDriver(t, reg, def, step)
			d.play(childEnds(c.o))
			if d.last() != "Completed:Closed" {
				t.Fatalf("%s step=%v: results %v", c.o.Completion, step, d.results)
			}
			d.wantVars(t, map[string]any{"status": c.want})
			if got := faultOf(d.records, "inv"); got != c.fault {
				t.Fatalf("%s step=%v: inv faulted with %q, want %q", c.o.Completion, step, got, c.fault)
			}
		}
	}
}

// The parent's Cancel cancels the child; its Terminate, or a fault that aborts the
// InvokeWorkflow, terminates it; a Pick whose Delay branch wins cancels it.
func TestInvokeWorkflowPropagation(t *testing.T) {
	reg, def := invokeSetup(t, parentWorkflow(`<Sequence Id="main">`+invokeReview+`</Sequence>`))
	cases := []struct {
		name    string
		actions []action
		result  string
		want    []Orphan
	}{
		{"Cancel", []action{cancel()}, "Completed:Canceled", []Orphan{{ID: childID(2)}}},
		{"Terminate", []action{terminate("stop")}, "", []Orphan{{ID: childID(2), Terminate: true}}},
	}
	for _, c := range cases {
		for _, step := range []bool{false, true} {
			d := invokeDriver(t, reg, def, step)
			d.play(c.actions...)
			if c.result != "" && d.last() != c.result {
				t.Fatalf("%s step=%v: results %v", c.name, step, d.results)
			}
			if got := d.in.TakeOrphans(); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("%s step=%v: orphans %v, want %v", c.name, step, got, c.want)
			}
			if len(d.in.Children()) != 0 {
				t.Fatalf("%s step=%v: still waits for %v", c.name, step, d.in.Children())
			}
		}
	}

	// Escalation: the review has a day; then the Delay branch wins and the child is canceled.
	_, esc := invokeSetup(t, parentWorkflow(`<Pick Id="pick">
  <PickBranch Id="reviewed"><PickBranch.Trigger>`+invokeReview+`</PickBranch.Trigger><PickBranch.Action><Assign To="status" Value="reviewed"/></PickBranch.Action></PickBranch>
  <PickBranch Id="late"><PickBranch.Trigger><Delay Id="day" Duration="24h"/></PickBranch.Trigger><PickBranch.Action><Assign To="status" Value="escalated"/></PickBranch.Action></PickBranch>
</Pick>`))
	reg2 := NewRegistry()
	_ = reg2.Add(mustParse(t, reviewXML))
	_ = reg2.Add(esc)
	for _, step := range []bool{false, true} {
		d := invokeDriver(t, reg2, esc, step)
		d.play(advance(24 * time.Hour))
		if d.last() != "Completed:Closed" {
			t.Fatalf("escalation step=%v: results %v", step, d.results)
		}
		d.wantVars(t, map[string]any{"status": "escalated"})
		// Activity instances: 1 pick, 2 inv, 3 day.
		if got, want := d.in.TakeOrphans(), []Orphan{{ID: childID(2)}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("escalation step=%v: orphans %v, want %v", step, got, want)
		}
	}
}

// A child that cannot be started raises InvokeWorkflowError in the parent (catchable) and none
// is started: no such definition, inputs that do not fit it, a correlation key in use (by a
// stored instance, or by a child started in the same execution).
func TestInvokeWorkflowStartFailures(t *testing.T) {
	catch := func(inv string) string {
		return parentWorkflow(`<TryCatch><Try>` + inv + `</Try><Catches><Catch Exception="InvokeWorkflowError">` +
			`<Assign To="status" Value="caught"/></Catch></Catches></TryCatch>`)
	}
	cases := []struct {
		name, inv string
		keys      []string
		want      string
	}{
		{"no such definition", `<InvokeWorkflow Id="inv" Definition="test.Missing"/>`, nil,
			"cannot start a child of test.Missing: engine: definition not found: test.Missing"},
		{"no such version", `<InvokeWorkflow Id="inv" Definition="test.Review" Version="2.0" Input="[{'doc': 'D'}]"/>`, nil, ""},
		{"missing required input", `<InvokeWorkflow Id="inv" Definition="test.Review"/>`, nil,
			"cannot start a child of Review; Version=1.0; Package=test: engine: invalid input: missing required argument \"doc\" (String)"},
		{"unknown input", `<InvokeWorkflow Id="inv" Definition="test.Review" Input="[{'doc': 'D', 'pages': 3}]"/>`, nil,
			"cannot start a child of Review; Version=1.0; Package=test: engine: invalid input: Review; Version=1.0; Package=test has no argument \"pages\""},
		{"key in use", invokeReview, []string{"review/D-1/bob"},
			"cannot start a child of Review; Version=1.0; Package=test: correlation key \"review/D-1/bob\" is in use by another instance"},
		{"key of a sibling", `<Parallel>` + invokeReview + strings.Replace(invokeReview, `Id="inv"`, `Id="inv2"`, 1) + `</Parallel>`, nil,
			"cannot start a child of Review; Version=1.0; Package=test: correlation key \"review/D-1/bob\" is in use by another instance"},
	}
	for _, c := range cases {
		reg, def := invokeSetup(t, catch(c.inv))
		d := invokeDriver(t, reg, def, false, c.keys...)
		d.play()
		act := "inv"
		if c.name == "key of a sibling" {
			act = "inv2"
		}
		got := faultOf(d.records, act)
		if c.want == "" {
			if !strings.HasPrefix(got, "InvokeWorkflowError: cannot start a child of test.Review: ") {
				t.Errorf("%s: fault %q", c.name, got)
			}
		} else if got != "InvokeWorkflowError: "+c.want {
			t.Errorf("%s: fault\n%q, want\n%q", c.name, got, "InvokeWorkflowError: "+c.want)
		}
		if st := d.in.Variables()["status"]; st != "caught" {
			t.Errorf("%s: status %q, want caught", c.name, st)
		}
		started := d.in.TakeStartedChildren()
		if c.name == "key of a sibling" {
			if len(started) != 1 {
				t.Errorf("%s: started %d children, want the first one", c.name, len(started))
			}
			continue
		}
		if len(started) != 0 || d.last() != "Completed:Closed" {
			t.Errorf("%s: started %d children, results %v", c.name, len(started), d.results)
		}
	}

	// Without an Invoker (a host that does not start children).
	reg, def := invokeSetup(t, catch(invokeReview))
	_ = reg
	d := newDriver(t, def, mustStart(t, def, nil), false)
	d.play()
	if got := faultOf(d.records, "inv"); got != "InvokeWorkflowError: this host does not start child instances" {
		t.Errorf("without an invoker: fault %q", got)
	}
}

// One review per reviewer: a ParallelForEach starts a child for each item and completes once
// each child has; the children's completions may arrive in any order.
func TestInvokeWorkflowPerReviewer(t *testing.T) {
	reg, def := invokeSetup(t, wf(`<Variables><Variable Name="approved" Type="Number"/><Variable Name="review" Type="Object"/></Variables>`,
		`<ParallelForEach Id="each" Values="[['ann', 'bob', 'cy']]" Variable="who"><Sequence>
  <InvokeWorkflow Id="inv" Definition="Review" Input="[{'doc': 'D-7', 'reviewer': who}]" Result="review"/>
  <If Condition="[review.verdict == 'approved']"><Then><Assign To="approved" Value="[approved + 1]"/></Then></If>
</Sequence></ParallelForEach>`))
	for _, step := range []bool{false, true} {
		d := invokeDriver(t, reg, def, step)
		d.play()
		started := d.in.TakeStartedChildren()
		var keys []string
		for _, c := range started {
			keys = append(keys, c.CorrelationKey())
		}
		if strings.Join(keys, " ") != "review/D-7/ann review/D-7/bob review/D-7/cy" {
			t.Fatalf("step=%v: children %v", step, keys)
		}
		ids := d.in.Children()
		if len(ids) != 3 {
			t.Fatalf("step=%v: waits for %v", step, ids)
		}
		byKey := map[string]uuid.UUID{}
		for _, c := range started {
			byKey[c.CorrelationKey()] = c.ID()
		}
		verdicts := map[string]string{"review/D-7/cy": "approved", "review/D-7/ann": "approved", "review/D-7/bob": "changes"}
		for _, k := range []string{"review/D-7/cy", "review/D-7/ann", "review/D-7/bob"} {
			id := byKey[k]
			extraActions["deliver-"+k] = func(d *driver, _ action) error {
				return d.in.CompleteChild(id, ChildOutcome{Completion: workflow.Closed, Outputs: map[string]any{"verdict": verdicts[k]}})
			}
			d.apply(action{op: "deliver-" + k})
		}
		if d.last() != "Completed:Closed" {
			t.Fatalf("step=%v: results %v", step, d.results)
		}
		d.wantVars(t, map[string]any{"approved": 2})
	}
}

// CompleteChild refuses a child nobody waits for, a completed parent, and a second delivery;
// an outcome delivered while the parent is paused by an unhandled exception waits in the image.
// The Fault policy aborts an InvokeWorkflow still waiting: its child is terminated.
func TestCompleteChildErrors(t *testing.T) {
	reg, def := invokeSetup(t, parentWorkflow(`<Parallel Id="par">`+invokeReview+`<Throw Id="boom" Exception="Oops"/></Parallel>`))
	for _, deliver := range []bool{true, false} {
		d := invokeDriver(t, reg, def, false)
		d.play()
		if d.last() != "UnhandledException:Oops@boom" {
			t.Fatalf("results %v", d.results)
		}
		var want []Orphan
		if deliver {
			if err := d.in.CompleteChild(childID(2), ChildOutcome{Completion: workflow.Closed}); err != nil {
				t.Fatalf("CompleteChild while paused: %v", err)
			}
		} else {
			want = []Orphan{{ID: childID(2), Terminate: true}}
		}
		d.apply(fault())
		if d.last() != "Completed:Faulted" {
			t.Fatalf("results %v", d.results)
		}
		if got := d.in.TakeOrphans(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("delivered=%v: orphans %v, want %v", deliver, got, want)
		}
	}

	reg, def = invokeSetup(t, parentWorkflow(`<Sequence Id="main">`+invokeReview+`</Sequence>`))
	d := invokeDriver(t, reg, def, false)
	d.play()
	if err := d.in.CompleteChild(uuid.New(), ChildOutcome{Completion: workflow.Closed}); !errors.Is(err, ErrChildNotFound) {
		t.Fatalf("CompleteChild of a stranger: %v", err)
	}
	if err := d.in.CompleteChild(childID(2), ChildOutcome{Completion: workflow.Closed}); err != nil {
		t.Fatal(err)
	}
	if err := d.in.CompleteChild(childID(2), ChildOutcome{Completion: workflow.Closed}); !errors.Is(err, ErrChildNotFound) {
		t.Fatalf("second delivery: %v", err)
	}
	img, _ := d.in.Snapshot()
	in2, err := Restore(reg, img)
	if err != nil {
		t.Fatalf("restore of a delivered outcome: %v", err)
	}
	if r := in2.Run(t0, 0); r.Kind != ResultCompleted || r.Completion != workflow.Closed {
		t.Fatalf("after restore: %+v", r)
	}
	if err := in2.CompleteChild(childID(2), ChildOutcome{}); !errors.Is(err, ErrCompleted) {
		t.Fatalf("CompleteChild of a completed parent: %v", err)
	}
}

// Images: a child in a version 1 or 2 image, or a broken child state, is refused.
func TestInvokeWorkflowImages(t *testing.T) {
	reg, def := invokeSetup(t, parentWorkflow(`<Sequence Id="main">`+invokeReview+`</Sequence>`))
	d := invokeDriver(t, reg, def, false)
	d.play()
	img, _ := d.in.Snapshot()
	s := string(img)
	for name, bad := range map[string]string{
		"version 1":         strings.Replace(s, `"format":"wimp-image/3"`, `"format":"wimp-image/1"`, 1),
		"version 2":         strings.Replace(s, `"format":"wimp-image/3"`, `"format":"wimp-image/2"`, 1),
		"no child id":       strings.Replace(s, childID(2).String(), uuid.Nil.String(), 1),
		"outcome too early": strings.Replace(s, `"invoked":{`, `"invoked":{"outcome":{"completion":"Closed"},`, 1),
		"bad phase":         strings.Replace(s, `"phase":"waiting"`, `"phase":"calling"`, 1),
	} {
		if bad == s {
			t.Fatalf("%s: the image was not changed:\n%s", name, s)
		}
		if _, err := Restore(reg, []byte(bad)); !errors.Is(err, ErrImage) {
			t.Errorf("%s: Restore = %v, want ErrImage", name, err)
		}
	}
}

// Parse errors of InvokeWorkflow.
func TestInvokeWorkflowParse(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`<InvokeWorkflow/>`, "missing required attribute Definition"},
		{`<InvokeWorkflow Definition="[name]"/>`, "literals, not expressions"},
		{`<InvokeWorkflow Definition="Review" Version="one"/>`, "Version:"},
		{`<InvokeWorkflow Definition="Review" Input="{'doc': 1}"/>`, "Input must be an expression"},
		{`<InvokeWorkflow Definition="Review" Result="status"/>`, `Result="status" is a String variable`},
		{`<InvokeWorkflow Definition="Review" Result="nope"/>`, `unknown variable`},
		{`<InvokeWorkflow Definition="Review" Timeout="1s"/>`, "Timeout"},
	} {
		_, err := ParseDefinition("t.xml", []byte(parentWorkflow(c.body)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.body, err, c.want)
		}
	}
}

// The DocumentApproval sample end to end in the engine: each reviewer's ReviewTask is started in
// turn, run as an instance of its own and resumed, and its variables come back to the parent;
// the escalation cancels the review under way.
func TestDocumentApprovalSample(t *testing.T) {
	reg := sampleRegistry(t)
	def, err := reg.Lookup("DocumentApproval", "")
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]any{"document": "spec-7", "reviewers": []any{"ann", "bob"}}
	for _, step := range []bool{false, true} {
		in := mustStart(t, def, inputs)
		in.SetInvoker(testInvoker{reg: reg})
		d := newDriver(t, reg, in, step)
		// review runs the child the parent just started to its completion, resuming "decide"
		// with the decision, and delivers the outcome to the parent.
		review := func(reviewer string, decision map[string]any) {
			t.Helper()
			if step {
				d.roundTrip()
			}
			started := d.in.TakeStartedChildren()
			if len(started) != 1 {
				t.Fatalf("step=%v: %d children started, want 1", step, len(started))
			}
			c := started[0]
			if key := c.CorrelationKey(); key != "review/spec-7/"+reviewer {
				t.Fatalf("step=%v: child key %q", step, key)
			}
			if r := c.Run(t0, 0); r.Kind != ResultIdle {
				t.Fatalf("child run: %+v", r)
			}
			if err := c.ResumeBookmark("decide", decision); err != nil {
				t.Fatal(err)
			}
			if r := c.Run(t0, 0); r.Kind != ResultCompleted || r.Completion != workflow.Closed {
				t.Fatalf("child run: %+v", r)
			}
			extraActions["review"] = func(d *driver, _ action) error {
				return d.in.CompleteChild(c.ID(), ChildOutcome{Completion: workflow.Closed, Outputs: c.Variables()})
			}
			d.apply(action{op: "review"})
		}
		d.play()
		review("ann", map[string]any{"approved": true, "comment": "fine"})
		review("bob", map[string]any{"approved": false, "comment": "typo on p. 3"})
		if d.last() != "Completed:Closed" {
			t.Fatalf("step=%v: results %v", step, d.results)
		}
		d.wantVars(t, map[string]any{"status": "Rejected", "approvals": 1, "comments": []any{"ann: fine", "bob: typo on p. 3"}})

		// Escalation: ten days pass during ann's review.
		in = mustStart(t, def, inputs)
		in.SetInvoker(testInvoker{reg: reg})
		d = newDriver(t, reg, in, step)
		d.play(advance(240 * time.Hour))
		if d.last() != "Completed:Closed" {
			t.Fatalf("escalation step=%v: results %v", step, d.results)
		}
		d.wantVars(t, map[string]any{"status": "Escalated", "approvals": 0})
		if o := d.in.TakeOrphans(); len(o) != 1 || o[0].Terminate {
			t.Fatalf("escalation step=%v: orphans %v, want ann's review canceled", step, o)
		}
	}
}
