package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/workflow"
)

// Expected values follow WF 4.5's StateMachine semantics as FORMAT.md states them: on entering
// a state its Entry runs, then the triggers of all its transitions are scheduled together; when
// one completes, the transitions sharing it evaluate their Conditions in document order and the
// first that holds is taken: the other triggers are canceled, the state's Exit runs, then the
// transition's Action, then the target's Entry. When none holds the trigger runs again.

const sharedTrigger = `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Transition Id="big" To="Big" Condition="[i > 100]"><Trigger><Receive Id="r" Bookmark="N" Result="i"/></Trigger></Transition>
    <Transition Id="pos" To="Pos" Condition="[i > 0]"><Trigger Ref="r"/></Transition>
    <Transition Id="other" To="Other"><Trigger Ref="r"/></Transition>
  </State>
  <FinalState Id="Big"><Entry><WriteLine Text="big"/></Entry></FinalState>
  <FinalState Id="Pos"><Entry><WriteLine Text="pos"/></Entry></FinalState>
  <FinalState Id="Other"><Entry><WriteLine Text="other"/></Entry></FinalState>
</StateMachine>`

const cancelableMachine = `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Assign To="s" Value="exit ran"/></Exit>
    <Transition Id="t" To="F"><Trigger>
      <CancellationScope Id="cs"><Receive Id="r" Bookmark="Go"/>
        <CancellationScope.CancellationHandler><Assign To="b" Value="true"/></CancellationScope.CancellationHandler>
      </CancellationScope>
    </Trigger></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`

const exitGateMachine = `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t" To="F"><Trigger><Receive Bookmark="Go"/></Trigger><Action><WriteLine Text="action"/></Action></Transition>
  </State>
  <FinalState Id="F"><Entry><WriteLine Text="F entry"/></Entry></FinalState>
</StateMachine>`

const nestedMachines = `<StateMachine Id="outer" InitialState="A">
  <State Id="A">
    <Entry>
      <StateMachine Id="inner" InitialState="I">
        <State Id="I"><Transition To="IDone"><Trigger><Receive Bookmark="Inner"/></Trigger></Transition></State>
        <FinalState Id="IDone"/>
      </StateMachine>
    </Entry>
    <Transition To="B"><Trigger><Receive Bookmark="Outer"/></Trigger></Transition>
  </State>
  <State Id="B"><Transition To="Done"><Trigger><Receive Bookmark="Finish"/></Trigger></Transition></State>
  <FinalState Id="Done"/>
</StateMachine>`

const triggerlessMachine = `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Entry><Assign To="i" Value="[n]"/></Entry>
    <Transition Id="big" To="Big" Condition="[i > 10]"/>
    <Transition Id="wait" To="Waited"><Trigger><Receive Id="r" Bookmark="Go"/></Trigger></Transition>
  </State>
  <FinalState Id="Big"><Entry><WriteLine Text="big"/></Entry></FinalState>
  <FinalState Id="Waited"><Entry><WriteLine Text="waited"/></Entry></FinalState>
</StateMachine>`

const nDecls = `<Arguments><In Name="n" Type="Number"/></Arguments><Variables><Variable Name="i" Type="Number"/></Variables>`

var machineCases = []activityCase{
	{
		name: "Entry, Exit, Action and the target's Entry run in that order",
		body: `<StateMachine Id="m" InitialState="A">
  <State Id="A">
    <Entry><WriteLine Text="A entry"/></Entry>
    <Exit><WriteLine Text="A exit"/></Exit>
    <Transition Id="t" To="B"><Action><WriteLine Text="t action"/></Action></Transition>
  </State>
  <FinalState Id="B"><Entry><WriteLine Text="B entry"/></Entry></FinalState>
</StateMachine>`,
		results:   "Completed:Closed",
		lines:     "A entry|A exit|t action|B entry",
		states:    []string{"m", "A", "B"},
		wantState: "m:Executing|A:StateEntered|A:StateExited|B:StateEntered|m:Closed",
	},
	{
		name: "a Receive trigger: the machine waits in its state",
		body: `<StateMachine Id="m" InitialState="Wait">
  <State Id="Wait"><Transition Id="go" To="Done"><Trigger><Receive Id="r" Bookmark="Go"/></Trigger></Transition></State>
  <FinalState Id="Done"/>
</StateMachine>`,
		results:   "Idle",
		bookmarks: "Go",
		current:   "m=Wait",
	},
	{
		name: "resuming the trigger takes the transition to the FinalState",
		body: `<StateMachine Id="m" InitialState="Wait">
  <State Id="Wait"><Transition Id="go" To="Done"><Trigger><Receive Id="r" Bookmark="Go"/></Trigger></Transition></State>
  <FinalState Id="Done"/>
</StateMachine>`,
		actions:   []action{resume("Go", nil)},
		results:   "Idle|Completed:Closed",
		states:    []string{"Wait", "Done"},
		wantState: "Wait:StateEntered|Wait:StateExited|Done:StateEntered",
	},
	{
		name: "the first trigger to complete wins: the others are canceled, then Exit runs",
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><WriteLine Id="exit" Text="exit"/></Exit>
    <Transition Id="ta" To="A"><Trigger><Receive Id="ra" Bookmark="A"/></Trigger></Transition>
    <Transition Id="tb" To="B"><Trigger><Receive Id="rb" Bookmark="B"/></Trigger></Transition>
    <Transition Id="tt" To="T"><Trigger><Delay Id="d" Duration="1h"/></Trigger></Transition>
  </State>
  <FinalState Id="A"><Entry><WriteLine Text="A"/></Entry></FinalState>
  <FinalState Id="B"><Entry><WriteLine Text="B"/></Entry></FinalState>
  <FinalState Id="T"><Entry><WriteLine Text="T"/></Entry></FinalState>
</StateMachine>`,
		actions: []action{resume("B", nil)},
		results: "Idle|Completed:Closed",
		lines:   "exit|B",
		states:  []string{"S", "B", "ra", "rb", "d", "exit"},
		wantState: "S:StateEntered|ra:Executing|rb:Executing|d:Executing|rb:Closed|ra:Canceled|d:Canceled|" +
			"exit:Executing|exit:Closed|S:StateExited|B:StateEntered",
	},
	{
		name:  "no Condition holds: the trigger runs again, the machine stays",
		decls: counterVars,
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Transition Id="t" To="F" Condition="[o?.ok == true]"><Trigger><Receive Id="r" Bookmark="B" Result="o"/></Trigger></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`,
		actions:   []action{resume("B", vars("ok", false))},
		results:   "Idle|Idle",
		bookmarks: "B",
		current:   "m=S",
		states:    []string{"S", "r"},
		wantState: "S:StateEntered|r:Executing|r:Closed|r:Executing",
	},
	{
		name:  "a Condition that holds on the second completion",
		decls: counterVars,
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Transition Id="t" To="F" Condition="[o?.ok == true]"><Trigger><Receive Id="r" Bookmark="B" Result="o"/></Trigger></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`,
		actions:   []action{resume("B", vars("ok", false)), resume("B", vars("ok", true))},
		results:   "Idle|Idle|Completed:Closed",
		states:    []string{"S", "r"},
		wantState: "S:StateEntered|r:Executing|r:Closed|r:Executing|r:Closed|S:StateExited",
	},
	{
		name:    "shared trigger: the first Condition in document order that holds wins",
		decls:   `<Variables><Variable Name="i" Type="Number"/></Variables>`,
		body:    sharedTrigger,
		actions: []action{resume("N", 500)}, // both big and pos hold
		results: "Idle|Completed:Closed", lines: "big",
		states: []string{"r"}, wantState: "r:Executing|r:Closed", // one Receive for the three transitions
	},
	{
		name:    "shared trigger: a later Condition",
		decls:   `<Variables><Variable Name="i" Type="Number"/></Variables>`,
		body:    sharedTrigger,
		actions: []action{resume("N", 5)},
		results: "Idle|Completed:Closed", lines: "pos",
	},
	{
		name:    "shared trigger: the unconditional last transition is the fallback",
		decls:   `<Variables><Variable Name="i" Type="Number"/></Variables>`,
		body:    sharedTrigger,
		actions: []action{resume("N", -1)},
		results: "Idle|Completed:Closed", lines: "other",
	},
	{
		name:  "shared trigger without fallback: the shared trigger runs again",
		decls: `<Variables><Variable Name="i" Type="Number"/></Variables>`,
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Transition Id="big" To="F" Condition="[i > 100]"><Trigger><Receive Id="r" Bookmark="N" Result="i"/></Trigger></Transition>
    <Transition Id="pos" To="F" Condition="[i > 0]"><Trigger Ref="r"/></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`,
		actions:   []action{resume("N", -1)},
		results:   "Idle|Idle",
		bookmarks: "N",
		current:   "m=S",
		states:    []string{"r"},
		wantState: "r:Executing|r:Closed|r:Executing",
	},
	{
		name: "a self-transition runs Exit and Entry again",
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Entry><WriteLine Text="enter S"/></Entry>
    <Exit><WriteLine Text="exit S"/></Exit>
    <Transition Id="again" To="S"><Trigger><Receive Bookmark="Again"/></Trigger></Transition>
    <Transition Id="stop" To="F"><Trigger><Receive Bookmark="Stop"/></Trigger></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`,
		actions:   []action{resume("Again", nil), resume("Stop", nil)},
		results:   "Idle|Idle|Completed:Closed",
		lines:     "enter S|exit S|enter S|exit S",
		states:    []string{"S", "F"},
		wantState: "S:StateEntered|S:StateExited|S:StateEntered|S:StateExited|F:StateEntered",
	},
	{
		name:      "a transition without trigger is taken right after Entry when its Condition holds",
		decls:     nDecls,
		inputs:    vars("n", 20),
		body:      triggerlessMachine,
		results:   "Completed:Closed",
		lines:     "big",
		states:    []string{"r"},
		wantState: "", // the triggers are never scheduled
	},
	{
		name:      "a transition without trigger whose Condition fails: the triggers are scheduled",
		decls:     nDecls,
		inputs:    vars("n", 5),
		body:      triggerlessMachine,
		results:   "Idle",
		bookmarks: "Go",
		current:   "m=S",
	},
	{
		name:    "... and a trigger completes",
		decls:   nDecls,
		inputs:  vars("n", 5),
		body:    triggerlessMachine,
		actions: []action{resume("Go", nil)},
		results: "Idle|Completed:Closed",
		lines:   "waited",
	},
	{
		name:  "transitions without trigger are tried in document order",
		decls: nDecls,
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S"><Transition To="A" Condition="[i > 0]"/><Transition To="B"/></State>
  <FinalState Id="A"><Entry><WriteLine Text="A"/></Entry></FinalState>
  <FinalState Id="B"><Entry><WriteLine Text="B"/></Entry></FinalState>
</StateMachine>`,
		results: "Completed:Closed",
		lines:   "B",
	},
	{
		name:  "a state none of whose transitions can be taken raises InvalidOperationError",
		decls: nDecls,
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S"><Transition To="F" Condition="[i > 0]"/></State>
  <FinalState Id="F"/>
</StateMachine>`,
		results: "UnhandledException:InvalidOperationError@m",
	},
	{
		name:  "... which is catchable",
		decls: nDecls,
		body: `<TryCatch><Try><StateMachine Id="m" InitialState="S">
  <State Id="S"><Transition To="F" Condition="[i > 0]"/></State>
  <FinalState Id="F"/>
</StateMachine></Try><Catch Exception="InvalidOperationError"><WriteLine Text="stuck"/></Catch></TryCatch>`,
		results: "Completed:Closed",
		lines:   "stuck",
	},
	{
		name:  "a failing Condition raises ExpressionError from the machine",
		decls: counterVars,
		body: `<StateMachine Id="m" InitialState="S">
  <State Id="S"><Transition Id="t" To="F" Condition="[o.missing.deeper == 1]"><Trigger><Receive Bookmark="B"/></Trigger></Transition></State>
  <FinalState Id="F"/>
</StateMachine>`,
		actions: []action{resume("B", nil)},
		results: "Idle|UnhandledException:ExpressionError@m",
	},
	{
		name: "the machine completes and the enclosing Sequence goes on",
		body: `<Sequence><StateMachine InitialState="A"><State Id="A"><Transition To="F"/></State><FinalState Id="F"/></StateMachine>` +
			`<WriteLine Text="after"/></Sequence>`,
		results: "Completed:Closed",
		lines:   "after",
	},
	{
		name:      "Cancel: the triggers are canceled (their handlers run), Exit does not run",
		decls:     counterVars,
		body:      cancelableMachine,
		actions:   []action{cancel()},
		results:   "Idle|Completed:Canceled",
		vars:      vars("b", true, "s", ""),
		states:    []string{"m", "S", "cs"},
		wantState: "m:Executing|S:StateEntered|cs:Executing|cs:Canceled|m:Canceled",
	},
	{
		name:      "Terminate: no handler runs, Exit does not run",
		decls:     counterVars,
		body:      cancelableMachine,
		actions:   []action{terminate("stop")},
		results:   "Idle|Completed:Terminated",
		vars:      vars("b", false, "s", ""),
		states:    []string{"S"},
		wantState: "S:StateEntered",
	},
	{
		name:      "while the Exit runs, the machine is still in the source state",
		body:      exitGateMachine,
		actions:   []action{resume("Go", nil)},
		results:   "Idle|Idle",
		bookmarks: "Gate",
		current:   "m=S",
	},
	{
		name:      "Cancel during the Exit: the Exit is canceled, no Action, no target",
		body:      exitGateMachine,
		actions:   []action{resume("Go", nil), cancel()},
		results:   "Idle|Idle|Completed:Canceled",
		states:    []string{"m", "S", "gate"},
		wantState: "m:Executing|S:StateEntered|gate:Executing|gate:Canceled|m:Canceled",
	},
	{
		name:  "an exception from a trigger caught outside cancels the machine",
		decls: counterVars,
		body: `<TryCatch><Try><StateMachine Id="m" InitialState="S"><State Id="S">
  <Transition To="F"><Trigger><Sequence><Receive Bookmark="Fail"/><Throw Exception="Boom"/></Sequence></Trigger></Transition>
  <Transition To="F"><Trigger><CancellationScope><Receive Bookmark="Wait"/>
    <CancellationScope.CancellationHandler><Assign To="s" Value="wait canceled"/></CancellationScope.CancellationHandler></CancellationScope></Trigger></Transition>
</State><FinalState Id="F"/></StateMachine></Try>
<Catch Exception="Boom"><WriteLine Text="[s]"/></Catch></TryCatch>`,
		actions:   []action{resume("Fail", nil)},
		results:   "Idle|Completed:Closed",
		lines:     "wait canceled",
		states:    []string{"m"},
		wantState: "m:Executing|m:Canceled",
	},
	{
		name:      "nested machines: both current states are reported, outermost first",
		body:      nestedMachines,
		results:   "Idle",
		bookmarks: "Inner",
		current:   "outer=A|inner=I",
	},
	{
		name:      "nested machines: the outer triggers start once the Entry (the inner machine) completed",
		body:      nestedMachines,
		actions:   []action{resume("Outer", nil), resume("Inner", nil)},
		results:   `Idle|error:engine: bookmark not found: "Outer"|Idle|Idle`,
		bookmarks: "Outer",
		current:   "outer=A",
	},
	{
		name:      "nested machines: the outer machine moves on",
		body:      nestedMachines,
		actions:   []action{resume("Inner", nil), resume("Outer", nil)},
		results:   "Idle|Idle|Idle",
		bookmarks: "Finish",
		current:   "outer=B",
	},
	{
		name: "machines in ParallelForEach bodies each have their state",
		body: `<ParallelForEach Values="[['x', 'y']]" Variable="k">
  <StateMachine Id="m" InitialState="S">
    <State Id="S"><Transition To="T"><Trigger><Receive Bookmark="['go/' + k]"/></Trigger></Transition></State>
    <State Id="T"><Transition To="F"><Trigger><Receive Bookmark="['end/' + k]"/></Trigger></Transition></State>
    <FinalState Id="F"/>
  </StateMachine>
</ParallelForEach>`,
		actions:   []action{resume("go/y", nil)},
		results:   "Idle|Idle",
		bookmarks: "end/y|go/x",
		current:   "m=S|m=T", // x's machine started first
	},
}

func TestStateMachine(t *testing.T) { runActivityCases(t, machineCases) }

func TestStateMachineRecords(t *testing.T) {
	def := mustParse(t, wf("", `<StateMachine Id="m" InitialState="A">
  <State Id="A"><Transition Id="t" To="B"><Trigger><Receive Id="r" Bookmark="Go"/></Trigger></Transition></State>
  <FinalState Id="B"/>
</StateMachine>`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	if err := in.ResumeBookmark("Go", nil); err != nil {
		t.Fatal(err)
	}
	in.Run(t0, 0)
	want := []workflow.Record{
		{Kind: workflow.InstanceRecord, Name: "Started"},
		{Kind: workflow.ActivityRecord, Name: "Executing", Activity: "m", Data: `{"type":"StateMachine"}`},
		{Kind: workflow.ActivityRecord, Name: "StateEntered", Activity: "A", Data: `{"stateMachine":"m"}`},
		{Kind: workflow.ActivityRecord, Name: "Executing", Activity: "r", Data: `{"type":"Receive"}`},
		{Kind: workflow.InstanceRecord, Name: "Idle"},
		{Kind: workflow.BookmarkRecord, Name: "Go", Activity: "r", Data: "null"},
		{Kind: workflow.ActivityRecord, Name: "Closed", Activity: "r", Data: `{"type":"Receive"}`},
		{Kind: workflow.ActivityRecord, Name: "StateExited", Activity: "A", Data: `{"stateMachine":"m","to":"B","transition":"t"}`},
		{Kind: workflow.ActivityRecord, Name: "StateEntered", Activity: "B", Data: `{"stateMachine":"m"}`},
		{Kind: workflow.ActivityRecord, Name: "Closed", Activity: "m", Data: `{"type":"StateMachine"}`},
		{Kind: workflow.InstanceRecord, Name: "Completed"},
	}
	recs := in.DrainRecords()
	if len(recs) != len(want) {
		t.Fatalf("records %+v", recs)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, recs[i], want[i])
		}
	}
	if in.CurrentState() != "" || len(in.CurrentStates()) != 0 {
		t.Error("a completed instance is in no state")
	}
}

// A cycle of states without activities takes a work item per state entered, so Run's budget
// (and the host's work-item limit) bounds it; it can still be canceled.
func TestStateMachineCycleIsBounded(t *testing.T) {
	def := mustParse(t, wf("", `<StateMachine Id="m" InitialState="A">
  <State Id="A"><Transition To="B"/></State><State Id="B"><Transition To="A"/></State>
</StateMachine>`))
	in := mustStart(t, def, nil)
	if r := in.Run(t0, 50); r.Kind != ResultRunnable || r.WorkItems != 50 {
		t.Fatalf("%+v", r)
	}
	if s := in.CurrentState(); s != "A" && s != "B" {
		t.Errorf("current state %q", s)
	}
	if err := in.Cancel(); err != nil {
		t.Fatal(err)
	}
	if r := in.Run(t0, 50); r.Kind != ResultCompleted || r.Completion != workflow.Canceled {
		t.Fatalf("%+v", r)
	}
}

// Two triggers complete before the machine runs: the first completion (FIFO) wins; the second
// completed as it was being canceled and must not act in the state entered next.
func TestStateMachineSimultaneousTriggers(t *testing.T) {
	def := mustParse(t, wf("", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Entry><WriteLine Text="enter S"/></Entry>
    <Transition Id="ta" To="S"><Trigger><Receive Bookmark="A"/></Trigger></Transition>
    <Transition Id="tb" To="F"><Trigger><Receive Bookmark="B"/></Trigger></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`))
	for _, step := range []bool{false, true} {
		d := newDriver(t, def, mustStart(t, def, nil), step)
		d.runToRest()
		if err := d.in.ResumeBookmark("A", nil); err != nil {
			t.Fatal(err)
		}
		if err := d.in.ResumeBookmark("B", nil); err != nil {
			t.Fatal(err)
		}
		d.runToRest()
		if got := join(d.results); got != "Idle|Idle" {
			t.Errorf("step %v: results %s", step, got)
		}
		if got := join(lines(d.records)); got != "enter S|enter S" {
			t.Errorf("step %v: lines %s", step, got)
		}
		if got := join(d.in.Bookmarks()); got != "A|B" {
			t.Errorf("step %v: bookmarks %s", step, got)
		}
		if got := join(states(d.records, "S", "F")); got != "S:StateEntered|S:StateExited|S:StateEntered" {
			t.Errorf("step %v: states %s", step, got)
		}
	}
}

// A Delay trigger whose Condition does not hold runs again: a new timer of the full duration.
func TestStateMachineDelayTriggerRunsAgain(t *testing.T) {
	def := mustParse(t, wf(`<Arguments><In Name="start" Type="String"/></Arguments>`, `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Transition Id="t" To="F" Condition="[now() >= date(start) + duration('90m')]"><Trigger><Delay Id="d" Duration="1h"/></Trigger></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`))
	inputs := vars("start", t0.Format(time.RFC3339))
	d := playBoth(t, def, def, inputs, advance(time.Hour), advance(59*time.Minute), advance(time.Minute))
	if got := join(d.results); got != "Idle|Idle|Idle|Completed:Closed" {
		t.Errorf("results %s", got)
	}
	if got := join(states(d.records, "d")); got != "d:Executing|d:Closed|d:Executing|d:Closed" {
		t.Errorf("states %s", got)
	}
	d = newDriver(t, def, mustStart(t, def, inputs), false)
	d.play(advance(time.Hour))
	if due, ok := d.in.NextTimer(); !ok || !due.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("next timer %v %v, want %v", due, ok, t0.Add(2*time.Hour))
	}
}

func machineVersion(t *testing.T, version, from, body string) *Definition {
	t.Helper()
	up := ""
	if from != "" {
		up = `<UpdatableFrom Name="M" Version="` + from + `"/>`
	}
	return mustParse(t, `<Workflow Name="M" Version="`+version+`">`+up+body+`</Workflow>`)
}

func TestStateMachineUpdate(t *testing.T) {
	const finals = `<FinalState Id="F1"><Entry><WriteLine Text="F1"/></Entry></FinalState>
  <FinalState Id="F2"><Entry><WriteLine Text="F2"/></Entry></FinalState>`
	v1 := machineVersion(t, "1.0", "", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t1" To="F1"><Trigger><Receive Id="r1" Bookmark="Go"/></Trigger></Transition>
  </State>`+finals+`</StateMachine>`)
	// Adds a transition to S: its trigger is scheduled at once.
	v2 := machineVersion(t, "2.0", "1.0", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t1" To="F1"><Trigger><Receive Id="r1" Bookmark="Go"/></Trigger></Transition>
    <Transition Id="t2" To="F2"><Trigger><Receive Id="r2" Bookmark="Escalate"/></Trigger></Transition>
  </State>`+finals+`</StateMachine>`)
	// Renames S.
	v3 := machineVersion(t, "3.0", "1.0", `<StateMachine Id="m" InitialState="Waiting">
  <State Id="Waiting">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t1" To="F1"><Trigger><Receive Id="r1" Bookmark="Go"/></Trigger></Transition>
  </State>`+finals+`</StateMachine>`)
	// Moves the trigger r1 to another state.
	v4 := machineVersion(t, "4.0", "1.0", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t1" To="T"><Trigger><Receive Id="r1b" Bookmark="Go"/></Trigger></Transition>
  </State>
  <State Id="T"><Transition To="F1"><Trigger><Receive Id="r1" Bookmark="Go2"/></Trigger></Transition></State>`+finals+`</StateMachine>`)
	// Changes t1's target.
	v5 := machineVersion(t, "5.0", "1.0", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t1" To="F2"><Trigger><Receive Id="r1" Bookmark="Go"/></Trigger></Transition>
  </State>`+finals+`</StateMachine>`)
	// Replaces t1 by t9 (same trigger).
	v6 := machineVersion(t, "6.0", "1.0", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Exit><Receive Id="gate" Bookmark="Gate"/></Exit>
    <Transition Id="t9" To="F2"><Trigger><Receive Id="r1" Bookmark="Go"/></Trigger></Transition>
  </State>`+finals+`</StateMachine>`)
	// Moves the Exit's gate into F1's Entry.
	v7 := machineVersion(t, "7.0", "1.0", `<StateMachine Id="m" InitialState="S">
  <State Id="S">
    <Transition Id="t1" To="F1"><Trigger><Receive Id="r1" Bookmark="Go"/></Trigger></Transition>
  </State>
  <FinalState Id="F1"><Entry><Receive Id="gate" Bookmark="Gate"/></Entry></FinalState>
  <FinalState Id="F2"/></StateMachine>`)
	// S becomes a FinalState.
	v8 := machineVersion(t, "8.0", "1.0", `<StateMachine Id="m" InitialState="Start">
  <State Id="Start"><Transition To="S"/></State>
  <FinalState Id="S"/>`+finals+`</StateMachine>`)
	reg := NewRegistry()
	for _, d := range []*Definition{v1, v2, v3, v4, v5, v6, v7, v8} {
		if err := reg.Add(d); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a new transition of the current state is armed", func(t *testing.T) {
		d := newDriver(t, reg, mustStart(t, v1, nil), false)
		d.play(update(v2))
		if got := join(d.in.Bookmarks()); got != "Escalate|Go" {
			t.Errorf("bookmarks %s", got)
		}
		d = playBoth(t, reg, v1, nil, update(v2), resume("Escalate", nil), resume("Gate", nil))
		if got := join(d.results); got != "Idle|Idle|Idle|Completed:Closed" {
			t.Errorf("results %s", got)
		}
		if got := join(lines(d.records)); got != "F2" {
			t.Errorf("lines %s", got)
		}
	})
	t.Run("a changed target applies to the transition being taken", func(t *testing.T) {
		d := playBoth(t, reg, v1, nil, resume("Go", nil), update(v5), resume("Gate", nil))
		if got := join(d.results); got != "Idle|Idle|Idle|Completed:Closed" || join(lines(d.records)) != "F2" {
			t.Errorf("results %s lines %v", got, lines(d.records))
		}
	})
	t.Run("a replaced transition is fine while waiting", func(t *testing.T) {
		d := playBoth(t, reg, v1, nil, update(v6), resume("Go", nil), resume("Gate", nil))
		if got := join(d.results); got != "Idle|Idle|Idle|Completed:Closed" || join(lines(d.records)) != "F2" {
			t.Errorf("results %s lines %v", got, lines(d.records))
		}
	})
	refused := []struct {
		name    string
		actions []action // before the update
		to      *Definition
		act     string
		reason  string
	}{
		{"the current state no longer exists", nil, v3, "m", `is in state "S", which does not exist in M; Version=3.0`},
		{"the current state became a FinalState", nil, v8, "m", `is in state "S", a State in M; Version=1.0 but a FinalState in M; Version=8.0`},
		{"a running trigger moved to another state", nil, v4, "r1", `moved: it is a trigger of state S in M; Version=1.0 but not in M; Version=4.0`},
		{"the transition being taken no longer exists", []action{resume("Go", nil)}, v6, "m",
			`is taking transition "t1" of state "S", which does not exist in M; Version=6.0`},
		{"the running Exit moved into another state's Entry", []action{resume("Go", nil)}, v7, "gate",
			`moved: it is the Exit of state S in M; Version=1.0 but not in M; Version=7.0`},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			d := newDriver(t, reg, mustStart(t, v1, nil), false)
			d.play(c.actions...)
			before, _ := d.in.Snapshot()
			err := d.in.Update(c.to)
			var ue *UpdateError
			if !errors.As(err, &ue) || ue.Activity != c.act || ue.Reason != c.reason {
				t.Fatalf("got %v, want activity %q: %s", err, c.act, c.reason)
			}
			if after, _ := d.in.Snapshot(); string(after) != string(before) {
				t.Error("a refused update changed the instance")
			}
		})
	}
}

func TestCurrentStateOfAnUnhandledException(t *testing.T) {
	// The machine is paused with its faulted trigger's completion held: still in its state.
	def := mustParse(t, wf("", `<StateMachine Id="m" InitialState="S">
  <State Id="S"><Transition To="F"><Trigger><Sequence><Receive Bookmark="Go"/><Throw Id="boom" Exception="Boom"/></Sequence></Trigger></Transition></State>
  <FinalState Id="F"/>
</StateMachine>`))
	d := playBoth(t, def, def, nil, resume("Go", nil))
	if got := join(d.results); got != "Idle|UnhandledException:Boom@boom" {
		t.Fatal(got)
	}
	if got := d.in.CurrentState(); got != "S" {
		t.Errorf("current state %q", got)
	}
	d = playBoth(t, def, def, nil, resume("Go", nil), cancel())
	if d.last() != "Completed:Canceled" || d.in.CurrentState() != "" {
		t.Errorf("%v %q", d.results, d.in.CurrentState())
	}
	if got := join(states(d.records, "S")); strings.Contains(got, "StateExited") {
		t.Errorf("states %s", got)
	}
}
