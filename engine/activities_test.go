package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/wimp-project/wimp/workflow"
)

// Each case runs twice through playBoth: straight, and with a snapshot/restore round trip
// before every work item; both must behave identically.
type activityCase struct {
	name      string
	decls     string
	body      string
	inputs    map[string]any
	actions   []action
	results   string // the driver's results, joined with |
	lines     string // WriteLine output, joined with |
	vars      map[string]any
	bookmarks string
	states    []string // if set: activity state records of these ids...
	wantState string   // ...must equal this, joined with |
	current   string   // CurrentStates at the end, "machine=state" joined with |
}

const counterVars = `<Variables><Variable Name="i" Type="Number" Default="0"/><Variable Name="s" Type="String"/>` +
	`<Variable Name="o" Type="Object"/><Variable Name="b" Type="Boolean"/></Variables>`

var activityCases = []activityCase{
	{
		name:    "Sequence runs children in order",
		decls:   counterVars,
		body:    `<Sequence><WriteLine Text="a"/><WriteLine Text="b"/><WriteLine Text="c"/></Sequence>`,
		results: "Completed:Closed", lines: "a|b|c",
	},
	{
		name:    "empty Sequence closes",
		body:    `<Sequence/>`,
		results: "Completed:Closed",
	},
	{
		name:    "If Then",
		decls:   counterVars,
		body:    `<If Condition="[i == 0]"><Then><WriteLine Text="then"/></Then><Else><WriteLine Text="else"/></Else></If>`,
		results: "Completed:Closed", lines: "then",
	},
	{
		name:    "If Else with WF-XAML property syntax",
		decls:   counterVars,
		body:    `<If Condition="[i == 1]"><If.Then><WriteLine Text="then"/></If.Then><If.Else><WriteLine Text="else"/></If.Else></If>`,
		results: "Completed:Closed", lines: "else",
	},
	{
		name:    "If without the taken branch closes",
		body:    `<If Condition="false"><Then><WriteLine Text="then"/></Then></If>`,
		results: "Completed:Closed",
	},
	{
		name:  "While counts",
		decls: counterVars,
		body: `<While Condition="[i &lt; 3]"><Sequence><WriteLine Text="[string(i)]"/>` +
			`<Assign To="i" Value="[i + 1]"/></Sequence></While>`,
		results: "Completed:Closed", lines: "0|1|2", vars: vars("i", 3),
	},
	{
		name:    "While false never runs the body",
		decls:   counterVars,
		body:    `<While Condition="[i > 0]"><WriteLine Text="body"/></While>`,
		results: "Completed:Closed",
	},
	{
		name:    "DoWhile runs the body once before testing",
		decls:   counterVars,
		body:    `<DoWhile Condition="[i > 5]"><Assign To="i" Value="[i + 1]"/></DoWhile>`,
		results: "Completed:Closed", vars: vars("i", 1),
	},
	{
		name:    "While with an empty body terminates via its condition",
		decls:   `<Variables><Variable Name="b" Type="Boolean" Default="false"/></Variables>`,
		body:    `<While Condition="[b]"/>`,
		results: "Completed:Closed",
	},
	{
		name:  "Assign literals and expressions by type",
		decls: counterVars,
		body: `<Sequence><Assign To="i" Value="42.5"/><Assign To="s" Value="plain text"/><Assign To="b" Value="true"/>` +
			`<Assign To="o" Value='{"k":[1,"x"]}'/><WriteLine Text="[string(i) + ' ' + s + ' ' + string(b) + ' ' + string(o.k[1])]"/></Sequence>`,
		results: "Completed:Closed", lines: "42.5 plain text true x",
		vars: vars("i", 42.5, "s", "plain text", "b", true, "o", map[string]any{"k": []any{1, "x"}}),
	},
	{
		name:    "Assign of a non-finite number is a TypeError",
		decls:   counterVars,
		body:    `<Assign Id="bad" To="i" Value="[1 / 0]"/>`,
		results: "UnhandledException:TypeError@bad",
	},
	{
		name:    "expression evaluation errors are ExpressionError",
		decls:   counterVars,
		body:    `<WriteLine Id="bad" Text="[o.missing.deeper]"/>`,
		results: "UnhandledException:ExpressionError@bad",
	},
	{
		name:    "WriteLine renders values",
		decls:   counterVars,
		body:    `<Sequence><WriteLine Text="[1500]"/><WriteLine Text="[0.25]"/><WriteLine Text="[{'a': 1}]"/><WriteLine Text="[nil]"/></Sequence>`,
		results: "Completed:Closed", lines: `1500|0.25|{"a":1}|`,
	},
	{
		name:      "Delay not due stays idle",
		body:      `<Delay Duration="1h"/>`,
		actions:   []action{advance(59 * time.Minute)},
		results:   "Idle|Idle",
		states:    []string{"1"},
		wantState: "1:Executing",
	},
	{
		name:      "Delay due fires",
		body:      `<Sequence><Delay Id="d" Duration="[90]"/><WriteLine Text="after"/></Sequence>`,
		actions:   []action{advance(89 * time.Second), advance(time.Second)},
		results:   "Idle|Idle|Completed:Closed",
		lines:     "after",
		states:    []string{"d"},
		wantState: "d:Executing|d:Closed",
	},
	{
		name:    "Delay of zero completes at once",
		body:    `<Delay Duration="0s"/>`,
		results: "Completed:Closed",
	},
	{
		name:    "negative Delay is an ArgumentError",
		body:    `<Delay Id="d" Duration="[-5]"/>`,
		results: "UnhandledException:ArgumentError@d",
	},
	{
		name:    "Delay with a bad duration string",
		decls:   counterVars,
		body:    `<Delay Id="d" Duration="[s + 'soon']"/>`,
		results: "UnhandledException:ArgumentError@d",
	},
	{
		name:      "Receive stores the payload",
		decls:     counterVars,
		body:      `<Sequence><Receive Bookmark="Go" Result="o"/><WriteLine Text="[o.who]"/></Sequence>`,
		actions:   []action{resume("Go", payload(`{"who":"ann"}`))},
		results:   "Idle|Completed:Closed",
		lines:     "ann",
		vars:      vars("o", map[string]any{"who": "ann"}),
		bookmarks: "",
	},
	{
		name:      "Receive errors: unknown bookmark, payload of the wrong type",
		decls:     counterVars,
		body:      `<Receive Bookmark="Count" Result="i"/>`,
		actions:   []action{resume("Nope", nil), resume("Count", "seven")},
		results:   `Idle|error:engine: bookmark not found: "Nope"|Idle|error:engine: invalid bookmark payload: bookmark "Count": a String value does not fit type Number|Idle`,
		bookmarks: "Count",
	},
	{
		name:    "Receive coerces numbers",
		decls:   counterVars,
		body:    `<Receive Bookmark="Count" Result="i"/>`,
		actions: []action{resume("Count", 7)},
		results: "Idle|Completed:Closed", vars: vars("i", 7),
	},
	{
		name:      "the same bookmark twice is a BookmarkError",
		body:      `<Parallel><Receive Id="r1" Bookmark="X"/><Receive Id="r2" Bookmark="X"/></Parallel>`,
		results:   "UnhandledException:BookmarkError@r2",
		bookmarks: "X", // the first Receive still waits: the instance is paused, not aborted
	},
	{
		name: "Pick: the first trigger wins, the others are canceled",
		body: `<Pick><PickBranch><Trigger><Receive Id="a" Bookmark="A"/></Trigger><Action><WriteLine Text="A won"/></Action></PickBranch>` +
			`<PickBranch><Trigger><Receive Id="b" Bookmark="B"/></Trigger><Action><WriteLine Text="B won"/></Action></PickBranch>` +
			`<PickBranch><Trigger><Delay Id="t" Duration="1h"/></Trigger><Action><WriteLine Text="timeout"/></Action></PickBranch></Pick>`,
		actions:   []action{resume("B", nil), resume("A", nil)},
		results:   `Idle|Completed:Closed|error:engine: instance is completed|Completed:Closed`,
		lines:     "B won",
		states:    []string{"a", "b", "t"},
		wantState: "a:Executing|b:Executing|t:Executing|b:Closed|a:Canceled|t:Canceled",
	},
	{
		name: "Pick: a timer trigger wins and cancels the Receive",
		body: `<Pick><PickBranch><Trigger><Receive Id="a" Bookmark="A"/></Trigger></PickBranch>` +
			`<PickBranch><Trigger><Delay Id="t" Duration="1h"/></Trigger><Action><WriteLine Text="timeout"/></Action></PickBranch></Pick>`,
		actions:   []action{advance(2 * time.Hour), resume("A", nil)},
		results:   `Idle|Completed:Closed|error:engine: instance is completed|Completed:Closed`,
		lines:     "timeout",
		states:    []string{"a", "t"},
		wantState: "a:Executing|t:Executing|t:Closed|a:Canceled",
	},
	{
		name:    "PickBranch action written directly, and branch ids",
		body:    `<Pick><PickBranch Id="pb"><Trigger><Receive Bookmark="A"/></Trigger><WriteLine Id="w" Text="direct"/></PickBranch></Pick>`,
		actions: []action{resume("A", nil)},
		results: "Idle|Completed:Closed", lines: "direct",
	},
	{
		name:      "Parallel waits for every branch",
		body:      `<Parallel><Receive Bookmark="A"/><Receive Bookmark="B"/></Parallel>`,
		actions:   []action{resume("A", nil)},
		results:   "Idle|Idle",
		bookmarks: "B",
	},
	{
		name: "Parallel branches interleave in FIFO order",
		body: `<Parallel><Sequence><WriteLine Text="a1"/><WriteLine Text="a2"/></Sequence>` +
			`<Sequence><WriteLine Text="b1"/><WriteLine Text="b2"/></Sequence></Parallel>`,
		results: "Completed:Closed", lines: "a1|b1|a2|b2",
	},
	{
		name:  "Parallel CompletionCondition cancels the remaining branches",
		decls: counterVars,
		body: `<Parallel CompletionCondition="[i >= 1]"><Sequence><Receive Bookmark="A"/><Assign To="i" Value="[i + 1]"/></Sequence>` +
			`<Receive Id="b" Bookmark="B"/></Parallel>`,
		actions:   []action{resume("A", nil)},
		results:   "Idle|Completed:Closed",
		states:    []string{"1", "b"},
		wantState: "1:Executing|b:Executing|b:Canceled|1:Closed",
	},
	{
		name: "TryCatch catches by name; Finally runs",
		body: `<TryCatch><Try><Sequence><WriteLine Text="try"/><Throw Exception="Boom" Message="[1 + 1]"/><WriteLine Text="not reached"/></Sequence></Try>` +
			`<Catches><Catch Exception="Other"><WriteLine Text="other"/></Catch><Catch Exception="Boom"><WriteLine Text="caught"/></Catch></Catches>` +
			`<Finally><WriteLine Text="finally"/></Finally></TryCatch>`,
		results: "Completed:Closed", lines: "try|caught|finally",
	},
	{
		name:    "TryCatch catch-all, WF-XAML property syntax",
		body:    `<TryCatch><TryCatch.Try><Throw Exception="Anything"/></TryCatch.Try><TryCatch.Catches><Catch><WriteLine Text="caught"/></Catch></TryCatch.Catches></TryCatch>`,
		results: "Completed:Closed", lines: "caught",
	},
	{
		name: "TryCatch without a match: propagates, inner Finally runs when the outer catches",
		body: `<TryCatch Id="outer"><Try><TryCatch Id="inner"><Try><Throw Id="t" Exception="Boom"/></Try>` +
			`<Catch Exception="Other"><WriteLine Text="inner caught"/></Catch><Finally><WriteLine Text="inner finally"/></Finally></TryCatch></Try>` +
			`<Catch Exception="Boom"><WriteLine Text="outer caught"/></Catch></TryCatch>`,
		results:   "Completed:Closed",
		lines:     "inner finally|outer caught",
		states:    []string{"inner", "t", "outer"},
		wantState: "outer:Executing|inner:Executing|t:Executing|t:Faulted|inner:Canceled|outer:Closed",
	},
	{
		name:  "a caught exception cancels the sibling branches inside Try (handlers run)",
		decls: counterVars,
		body: `<TryCatch><Try><Parallel><CancellationScope><Receive Id="wait" Bookmark="Wait"/><CancellationScope.CancellationHandler><Assign To="s" Value="branch canceled"/></CancellationScope.CancellationHandler></CancellationScope>` +
			`<Sequence><Receive Bookmark="Fail"/><Throw Exception="Boom"/></Sequence></Parallel></Try>` +
			`<Catch Exception="Boom"><WriteLine Text="[s]"/></Catch></TryCatch>`,
		actions:   []action{resume("Fail", nil)},
		results:   "Idle|Completed:Closed",
		lines:     "branch canceled",
		bookmarks: "",
	},
	{
		name:    "an exception thrown in a Catch is not caught by the same TryCatch",
		body:    `<TryCatch><Try><Throw Exception="A"/></Try><Catch Exception="A"><Throw Id="again" Exception="A"/></Catch></TryCatch>`,
		results: "UnhandledException:A@again",
	},
	{
		name:    "Finally runs after a normal Try",
		body:    `<TryCatch><Try><WriteLine Text="try"/></Try><Finally><WriteLine Text="finally"/></Finally></TryCatch>`,
		results: "Completed:Closed", lines: "try|finally",
	},
	{
		name:    "Finally runs when the TryCatch is canceled",
		body:    `<TryCatch><Try><Receive Bookmark="Never"/></Try><Finally><WriteLine Text="finally"/></Finally></TryCatch>`,
		actions: []action{cancel()},
		results: "Idle|Completed:Canceled", lines: "finally",
	},
	{
		name:    "an expression error is catchable",
		decls:   counterVars,
		body:    `<TryCatch><Try><Assign To="s" Value="[o.a.b]"/></Try><Catch Exception="ExpressionError"><WriteLine Text="bad expression"/></Catch></TryCatch>`,
		results: "Completed:Closed", lines: "bad expression",
	},
	{
		name:      "CancellationScope: Cancel runs the handler",
		decls:     counterVars,
		body:      `<CancellationScope Id="cs"><Receive Bookmark="Wait"/><CancellationScope.CancellationHandler><Assign To="s" Value="handled"/></CancellationScope.CancellationHandler></CancellationScope>`,
		actions:   []action{cancel()},
		results:   "Idle|Completed:Canceled",
		vars:      vars("s", "handled"),
		states:    []string{"cs"},
		wantState: "cs:Executing|cs:Canceled",
	},
	{
		name:    "CancellationScope: Terminate does not run the handler",
		decls:   counterVars,
		body:    `<CancellationScope><Receive Bookmark="Wait"/><CancellationScope.CancellationHandler><Assign To="s" Value="handled"/></CancellationScope.CancellationHandler></CancellationScope>`,
		actions: []action{terminate("stop")},
		results: "Idle|Completed:Terminated",
		vars:    vars("s", ""),
	},
	{
		name:    "CancellationScope whose body completes is Closed and its handler never runs",
		decls:   counterVars,
		body:    `<CancellationScope><Receive Bookmark="Wait"/><CancellationScope.CancellationHandler><Assign To="s" Value="handled"/></CancellationScope.CancellationHandler></CancellationScope>`,
		actions: []action{resume("Wait", nil)},
		results: "Idle|Completed:Closed",
		vars:    vars("s", ""),
	},
	{
		name:    "Cancel before the root ran",
		body:    `<WriteLine Text="never"/>`,
		actions: nil, // see TestCancelBeforeRun
		results: "Completed:Closed", lines: "never",
	},
	{
		name:  "TerminateWorkflow completes Terminated at once, no handlers",
		decls: counterVars,
		body: `<CancellationScope><Sequence><TerminateWorkflow Reason="['stopped at ' + string(i)]"/><WriteLine Text="not reached"/></Sequence>` +
			`<CancellationScope.CancellationHandler><Assign To="s" Value="handled"/></CancellationScope.CancellationHandler></CancellationScope>`,
		results: "Completed:Terminated",
		vars:    vars("s", ""),
	},
	{
		name:    "Persist asks the host to persist, then continues",
		body:    `<Sequence><WriteLine Text="before"/><Persist/><WriteLine Text="after"/></Sequence>`,
		results: "PersistRequested|Completed:Closed", lines: "before|after",
	},
	{
		name:    "unhandled exception then Cancel: handlers run, Canceled",
		decls:   counterVars,
		body:    `<CancellationScope><Sequence><Receive Bookmark="Go"/><Throw Id="t" Exception="Boom" Message="bad"/></Sequence><CancellationScope.CancellationHandler><Assign To="s" Value="handled"/></CancellationScope.CancellationHandler></CancellationScope>`,
		actions: []action{resume("Go", nil), cancel()},
		results: "Idle|UnhandledException:Boom@t|Completed:Canceled",
		vars:    vars("s", "handled"),
	},
	{
		name:    "unhandled exception then Terminate",
		decls:   counterVars,
		body:    `<CancellationScope><Throw Id="t" Exception="Boom"/><CancellationScope.CancellationHandler><Assign To="s" Value="handled"/></CancellationScope.CancellationHandler></CancellationScope>`,
		actions: []action{resume("X", nil), terminate("policy")},
		results: "UnhandledException:Boom@t|error:engine: instance is paused on an unhandled exception|UnhandledException:Boom@t|Completed:Terminated",
		vars:    vars("s", ""),
	},
	{
		name:    "unhandled exception: Run does nothing until a policy is applied; Fault",
		body:    `<Sequence><Throw Id="t" Exception="Boom" Message="bad"/></Sequence>`,
		actions: []action{run(), fault()},
		results: "UnhandledException:Boom@t|UnhandledException:Boom@t|Completed:Faulted",
	},
	{
		name:    "unhandled exception at the root then Cancel",
		body:    `<Throw Id="t" Exception="Boom"/>`,
		actions: []action{cancel()},
		results: "UnhandledException:Boom@t|Completed:Canceled",
	},
	{
		name:    "Cancel of a Pick cancels every trigger",
		body:    `<Pick><PickBranch><Trigger><Receive Bookmark="A"/></Trigger></PickBranch><PickBranch><Trigger><Delay Duration="1h"/></Trigger></PickBranch></Pick>`,
		actions: []action{cancel(), cancel()},
		results: "Idle|Completed:Canceled|error:engine: instance is completed|Completed:Canceled",
	},
}

func TestActivities(t *testing.T) { runActivityCases(t, activityCases) }

// currentStates renders CurrentStates as "machine=state" joined with |.
func currentStates(in *Instance) string {
	var out []string
	for _, s := range in.CurrentStates() {
		out = append(out, s.Machine+"="+s.State)
	}
	return join(out)
}

func runActivityCases(t *testing.T, cases []activityCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def := mustParse(t, wf(c.decls, c.body))
			d := playBoth(t, def, def, c.inputs, c.actions...)
			if got := join(d.results); got != c.results {
				t.Errorf("results\n got %s\nwant %s", got, c.results)
			}
			if got := join(lines(d.records)); got != c.lines {
				t.Errorf("lines\n got %q\nwant %q", got, c.lines)
			}
			if got := join(d.in.Bookmarks()); got != c.bookmarks {
				t.Errorf("bookmarks %q, want %q", got, c.bookmarks)
			}
			if c.states != nil {
				if got := join(states(d.records, c.states...)); got != c.wantState {
					t.Errorf("states\n got %s\nwant %s", got, c.wantState)
				}
			}
			if got := currentStates(d.in); got != c.current {
				t.Errorf("current states %q, want %q", got, c.current)
			}
			d.wantVars(t, c.vars)
		})
	}
}

func TestCancelBeforeRun(t *testing.T) {
	def := mustParse(t, wf("", `<Sequence><WriteLine Text="never"/></Sequence>`))
	in := mustStart(t, def, nil)
	if err := in.Cancel(); err != nil {
		t.Fatal(err)
	}
	r := in.Run(t0, 0)
	if r.Kind != ResultCompleted || r.Completion != workflow.Canceled {
		t.Fatalf("%+v", r)
	}
	recs := in.DrainRecords()
	if got := join(instanceRecords(recs)); got != "Started|Canceled" {
		t.Errorf("instance records %s", got)
	}
	if len(lines(recs)) != 0 {
		t.Error("root ran")
	}
}

func TestTerminateIsImmediate(t *testing.T) {
	def := mustParse(t, wf("", `<Receive Bookmark="A"/>`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	in.DrainRecords()
	if err := in.Terminate("enough"); err != nil {
		t.Fatal(err)
	}
	if in.Status() != StatusCompleted {
		t.Fatal(in.Status())
	}
	if c, r := in.Completion(); c != workflow.Terminated || r != "enough" {
		t.Fatal(c, r)
	}
	recs := in.DrainRecords()
	if got := join(instanceRecords(recs)); got != "Terminated" || recs[len(recs)-1].Reason != "enough" {
		t.Errorf("records %+v", recs)
	}
	if err := in.Terminate("again"); !errors.Is(err, ErrCompleted) {
		t.Error(err)
	}
	if err := in.Cancel(); !errors.Is(err, ErrCompleted) {
		t.Error(err)
	}
	if err := in.ResumeBookmark("A", nil); !errors.Is(err, ErrCompleted) {
		t.Error(err)
	}
	if len(in.Bookmarks()) != 0 {
		t.Error(in.Bookmarks())
	}
}

func TestRunBudget(t *testing.T) {
	def := mustParse(t, wf("", `<Sequence><WriteLine Text="a"/><WriteLine Text="b"/></Sequence>`))
	in := mustStart(t, def, nil)
	if in.Status() != StatusExecuting {
		t.Fatal(in.Status())
	}
	var kinds []string
	for {
		r := in.Run(t0, 1)
		if r.WorkItems > 1 {
			t.Fatalf("budget exceeded: %+v", r)
		}
		kinds = append(kinds, string(r.Kind))
		if r.Kind != ResultRunnable {
			break
		}
	}
	// root, a, a done → seq, b, b done → seq: 5 items, root completion in the 5th.
	if got := join(kinds); got != "Runnable|Runnable|Runnable|Runnable|Completed" {
		t.Error(got)
	}
}

func TestTrackingRecords(t *testing.T) {
	def := mustParse(t, wf("", `<Sequence Id="s"><Receive Id="r" Bookmark="Go"/><WriteLine Id="w" Text="done"/></Sequence>`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	recs := in.DrainRecords()
	if got := join(instanceRecords(recs)); got != "Started|Idle" {
		t.Error(got)
	}
	if got := join(states(recs)); got != "s:Executing|r:Executing" {
		t.Error(got)
	}
	if recs[1].Data != `{"type":"Sequence"}` {
		t.Error(recs[1].Data)
	}
	// A second Run with nothing to do records nothing.
	in.Run(t0, 0)
	if recs := in.DrainRecords(); len(recs) != 0 {
		t.Errorf("%+v", recs)
	}
	img, _ := in.Snapshot()
	in2, err := Restore(def, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := in2.ResumeBookmark("Go", map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	in2.Run(t0, 0)
	recs = in2.DrainRecords()
	want := []workflow.Record{
		{Kind: workflow.InstanceRecord, Name: "Resumed"},
		{Kind: workflow.BookmarkRecord, Name: "Go", Activity: "r", Data: `{"n":1}`},
		{Kind: workflow.ActivityRecord, Name: "Closed", Activity: "r", Data: `{"type":"Receive"}`},
		{Kind: workflow.ActivityRecord, Name: "Executing", Activity: "w", Data: `{"type":"WriteLine"}`},
		{Kind: workflow.ActivityRecord, Name: "WriteLine", Activity: "w", Data: `{"text":"done"}`},
		{Kind: workflow.ActivityRecord, Name: "Closed", Activity: "w", Data: `{"type":"WriteLine"}`},
		{Kind: workflow.ActivityRecord, Name: "Closed", Activity: "s", Data: `{"type":"Sequence"}`},
		{Kind: workflow.InstanceRecord, Name: "Completed"},
	}
	if len(recs) != len(want) {
		t.Fatalf("records %+v", recs)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, recs[i], want[i])
		}
	}
}

func TestUnhandledExceptionRecord(t *testing.T) {
	def := mustParse(t, wf("", `<Sequence><Throw Id="t" Exception="Boom" Message="it broke"/></Sequence>`))
	in := mustStart(t, def, nil)
	r := in.Run(t0, 0)
	if r.Kind != ResultUnhandledException || r.Exception.Name != "Boom" || r.Exception.Message != "it broke" || r.Exception.Activity != "t" {
		t.Fatalf("%+v %+v", r, r.Exception)
	}
	if in.Status() != StatusUnhandledException || in.PendingException().Name != "Boom" {
		t.Fatal(in.Status())
	}
	recs := in.DrainRecords()
	last := recs[len(recs)-1]
	if last.Kind != workflow.InstanceRecord || last.Name != "UnhandledException" || last.Reason != "it broke" ||
		last.Data != `{"activity":"t","exception":"Boom"}` {
		t.Errorf("%+v", last)
	}
	if r2 := in.Run(t0, 0); r2.Kind != ResultUnhandledException || len(in.DrainRecords()) != 0 {
		t.Fatalf("Run without a policy: %+v", r2)
	}
	if err := in.Fault(); err != nil {
		t.Fatal(err)
	}
	if err := in.Fault(); !errors.Is(err, ErrCompleted) {
		t.Fatal(err)
	}
	r = in.Run(t0, 0)
	if r.Kind != ResultCompleted || r.Completion != workflow.Faulted || r.Reason != "it broke" || r.Exception.Name != "Boom" {
		t.Fatalf("%+v", r)
	}
}

func TestStartInputs(t *testing.T) {
	def := mustParse(t, wf(`<Arguments><In Name="n" Type="Number" Required="true"/><In Name="s" Type="String" Default="'x' + 'y'"/>`+
		`<In Name="o" Type="Object"/></Arguments><Variables><Variable Name="twice" Type="Number" Default="[n * 2]"/></Variables>`,
		`<Sequence/>`))
	cases := []struct {
		inputs map[string]any
		err    string
	}{
		{vars("n", 2), ""},
		{vars("n", 2, "o", map[string]any{"a": []int{1}}), ""},
		{nil, `engine: invalid input: missing required argument "n" (Number)`},
		{vars("n", "2"), `engine: invalid input: argument "n": a String value does not fit type Number`},
		{vars("n", 1, "zzz", 1), `engine: invalid input: T; Version=1.0.0.0; Package=test has no argument "zzz"`},
		{vars("n", 1, "s", true), `engine: invalid input: argument "s": a Boolean value does not fit type String`},
	}
	for _, c := range cases {
		in, err := Start(def, testID, c.inputs, t0)
		if c.err != "" {
			if err == nil || err.Error() != c.err || !errors.Is(err, ErrInvalidInput) {
				t.Errorf("%v: err %v, want %s", c.inputs, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", c.inputs, err)
		}
		if got := in.Arguments()["s"]; got != "xy" {
			t.Errorf("default s = %v", got)
		}
		if got := in.Variables()["twice"]; got != 4.0 {
			t.Errorf("twice = %v", got)
		}
	}
	parsed, err := def.ParseInputs(map[string]string{"n": "1500", "s": "text", "o": `{"a":1}`})
	if err != nil || parsed["n"] != 1500.0 || parsed["s"] != "text" {
		t.Fatal(parsed, err)
	}
	if _, err := def.ParseInputs(map[string]string{"n": "many"}); !errors.Is(err, ErrInvalidInput) {
		t.Error(err)
	}
}

func TestNowIsTheRunTime(t *testing.T) {
	def := mustParse(t, wf(`<Variables><Variable Name="at" Type="String"/></Variables>`,
		`<Sequence><Receive Bookmark="Go"/><Assign To="at" Value="[string(now())]"/></Sequence>`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	_ = in.ResumeBookmark("Go", nil)
	later := t0.Add(36 * time.Hour)
	in.Run(later, 0)
	if got := in.Variables()["at"]; got != later.String() {
		t.Errorf("now() = %v, want %v", got, later)
	}
}
