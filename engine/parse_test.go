package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/engine/samples"
	"github.com/wimp-project/wimp/workflow"
)

// Each source is written so that the offending element starts at a known line and column.
var definitionErrors = []struct {
	name, src, want string
}{
	{"DTD refused", `<?xml version="1.0"?>
<!DOCTYPE Workflow [<!ENTITY x "y">]>
<Workflow Name="W" Version="1.0"><Sequence/></Workflow>`,
		`t.xml:2:1: DTDs and <!...> directives are not allowed`},
	{"not XML", `<Workflow Name="W" Version="1.0">
  <Sequence>
</Workflow>`,
		`t.xml:3:1: XML: element <Sequence> closed by </Workflow>`},
	{"wrong root", `<Flow/>`, `t.xml:1:1: root element must be <Workflow>, not <Flow>`},
	{"empty document", ``, `t.xml:1:1: no root element: expected <Workflow>`},
	{"missing Version", `<Workflow Name="W"><Sequence/></Workflow>`,
		`t.xml:1:1: missing required attribute Version on <Workflow>`},
	{"bad Version", `<Workflow Name="W" Version="1.x"><Sequence/></Workflow>`,
		`t.xml:1:1: bad Version: version "1.x" has an invalid component "x" (want an integer 0..2147483647)`},
	{"version out of range", `<Workflow Name="W" Version="1.2147483648"><Sequence/></Workflow>`,
		`t.xml:1:1: bad Version: version "1.2147483648" has an invalid component "2147483648" (want an integer 0..2147483647)`},
	{"zero MaxWorkItems", `<Workflow Name="W" Version="1.0" MaxWorkItems="0"><Sequence/></Workflow>`,
		`t.xml:1:1: bad MaxWorkItems "0": want a positive integer`},
	{"MaxWorkItems not a number", `<Workflow Name="W" Version="1.0" MaxWorkItems="lots"><Sequence/></Workflow>`,
		`t.xml:1:1: bad MaxWorkItems "lots": want a positive integer`},
	{"unknown element", `<Workflow Name="W" Version="1.0">
  <Sequence>
    <WriteLine Text="a"/>
    <Writeline Text="b"/>
  </Sequence>
</Workflow>`,
		`t.xml:4:5: unknown element <Writeline> in <Sequence>`},
	{"unknown attribute", `<Workflow Name="W" Version="1.0">
  <Sequence>
      <Delay Duraton="1h"/>
  </Sequence>
</Workflow>`,
		`t.xml:3:7: unknown attribute Duraton on <Delay> (allowed: Id, DisplayName, Duration)`},
	{"missing required attribute", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="x" Type="Number"/></Variables>
  <Sequence>
    <Assign Value="1"/>
  </Sequence>
</Workflow>`,
		`t.xml:4:5: missing required attribute To on <Assign>`},
	{"bad expression", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="amount" Type="Number"/></Arguments>
  <Sequence>
    <If Condition="[amount >]"/>
  </Sequence>
</Workflow>`,
		`t.xml:4:5: Condition: bad expression "amount >": unexpected token EOF (1:8)`},
	{"unknown name in an expression", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="amount" Type="Number"/></Arguments>
  <WriteLine Text="[amuont * 2]"/>
</Workflow>`,
		`t.xml:3:3: Text: bad expression "amuont * 2": unknown name amuont (1:1)`},
	{"condition of the wrong type", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="amount" Type="Number"/></Arguments>
  <While Condition="[amount]"/>
</Workflow>`,
		`t.xml:3:3: Condition: bad expression "amount": expected bool, but got float64`},
	{"duplicate ids", `<Workflow Name="W" Version="1.0">
  <Sequence>
    <WriteLine Id="say" Text="a"/>
    <WriteLine Id="say" Text="b"/>
  </Sequence>
</Workflow>`,
		`t.xml:4:5: duplicate activity id "say" (also used by the <WriteLine> at line 3)`},
	{"explicit id colliding with an automatic one", `<Workflow Name="W" Version="1.0">
  <Sequence>
    <WriteLine Text="a"/>
    <WriteLine Id="1.1" Text="b"/>
  </Sequence>
</Workflow>`,
		`t.xml:4:5: duplicate activity id "1.1" (also used by the <WriteLine> at line 3)`},
	{"unknown variable in To", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="status" Type="String"/></Variables>
  <Assign To="stauts" Value="x"/>
</Workflow>`,
		`t.xml:3:3: To="stauts": unknown variable`},
	{"argument in To", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="a" Type="String"/></Arguments>
  <Assign To="a" Value="x"/>
</Workflow>`,
		`t.xml:3:3: To="a" names an argument; arguments are read-only, declare a variable`},
	{"unknown variable in Result", `<Workflow Name="W" Version="1.0">
  <Receive Bookmark="B" Result="payload"/>
</Workflow>`,
		`t.xml:2:3: Result="payload": unknown variable`},
	{"literal of the wrong type", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="n" Type="Number"/></Variables>
  <Assign To="n" Value="ten"/>
</Workflow>`,
		`t.xml:3:3: Value: "ten" is not a Number (write an expression as [...])`},
	{"bad literal duration", `<Workflow Name="W" Version="1.0">
  <Delay Duration="soon"/>
</Workflow>`,
		`t.xml:2:3: Duration: bad duration "soon": want a Go duration such as "90s" or "240h"`},
	{"bad type", `<Workflow Name="W" Version="1.0">
  <Variables>
    <Variable Name="n" Type="Integer"/>
  </Variables>
  <Sequence/>
</Workflow>`,
		`t.xml:3:5: bad Type "Integer" for n: want Number, String, Boolean or Object`},
	{"duplicate names", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="x" Type="String"/></Arguments>
  <Variables><Variable Name="x" Type="String"/></Variables>
  <Sequence/>
</Workflow>`,
		`t.xml:3:14: duplicate argument or variable name "x"`},
	{"reserved name", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="now" Type="String"/></Variables>
  <Sequence/>
</Workflow>`,
		`t.xml:2:14: bad name "now": want an identifier (letters, digits, _) that is not a reserved word`},
	{"bad default", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="n" Type="Number" Default="'x'"/></Variables>
  <Sequence/>
</Workflow>`,
		`t.xml:2:14: Default of n: bad expression "'x'": expected float64, but got string`},
	{"text content", `<Workflow Name="W" Version="1.0">
  <WriteLine Text="a">hello</WriteLine>
</Workflow>`,
		`t.xml:2:23: unexpected text "hello" (values go in attributes)`},
	{"two root activities", `<Workflow Name="W" Version="1.0">
  <Sequence/>
  <Sequence/>
</Workflow>`,
		`t.xml:3:3: <Workflow> has more than one root activity (wrap them in a <Sequence>)`},
	{"no activity", `<Workflow Name="W" Version="1.0"/>`, `t.xml:1:1: <Workflow> has no activity`},
	{"two activities in Then", `<Workflow Name="W" Version="1.0">
  <If Condition="true">
    <Then>
      <WriteLine Text="a"/>
      <WriteLine Text="b"/>
    </Then>
  </If>
</Workflow>`,
		`t.xml:5:7: <Then> holds one activity (wrap several in a <Sequence>)`},
	{"PickBranch outside Pick", `<Workflow Name="W" Version="1.0">
  <Sequence>
    <PickBranch/>
  </Sequence>
</Workflow>`,
		`t.xml:3:5: <PickBranch> is only allowed in <Pick>`},
	{"Pick with an activity", `<Workflow Name="W" Version="1.0">
  <Pick>
    <Delay Duration="1h"/>
  </Pick>
</Workflow>`,
		`t.xml:3:5: <Pick> holds <PickBranch> elements, not <Delay>`},
	{"PickBranch without a trigger", `<Workflow Name="W" Version="1.0">
  <Pick>
    <PickBranch><Action><WriteLine Text="x"/></Action></PickBranch>
  </Pick>
</Workflow>`,
		`t.xml:3:5: <PickBranch> needs a <Trigger> activity`},
	{"unknown property", `<Workflow Name="W" Version="1.0">
  <If Condition="true">
    <If.Otherwise/>
  </If>
</Workflow>`,
		`t.xml:3:5: <If> has no property Otherwise`},
	{"bad exception name", `<Workflow Name="W" Version="1.0">
  <Throw Exception="Not valid"/>
</Workflow>`,
		`t.xml:2:3: bad Exception name "Not valid": want an identifier such as PaymentFailed`},
	{"processing instruction", `<Workflow Name="W" Version="1.0">
  <?php echo 1 ?>
  <Sequence/>
</Workflow>`,
		`t.xml:2:3: processing instruction <?php?> is not allowed`},
	{"Bookmark expression of the wrong type", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="amount" Type="Number"/></Arguments>
  <Receive Bookmark="[amount]"/>
</Workflow>`,
		`t.xml:3:3: Bookmark: bad expression "amount": expected string, but got float64`},
	{"StateMachine without InitialState", `<Workflow Name="W" Version="1.0">
  <StateMachine>
    <State Id="A"><Transition To="A"/></State>
  </StateMachine>
</Workflow>`,
		`t.xml:2:3: missing required attribute InitialState on <StateMachine>`},
	{"InitialState not a state", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="Nope">
    <State Id="A"><Transition To="F"/></State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:2:3: InitialState="Nope": no <State> with that Id in this <StateMachine>`},
	{"InitialState a FinalState", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="F">
    <State Id="A"><Transition To="F"/></State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:2:3: InitialState="F" is a <FinalState>; the initial state must be a <State>`},
	{"State without Id", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State><Transition To="A"/></State>
  </StateMachine>
</Workflow>`,
		`t.xml:3:5: <State> needs an Id: it is the state's name, which InitialState and Transition To refer to`},
	{"State without transitions", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A"/>
  </StateMachine>
</Workflow>`,
		`t.xml:3:5: <State> "A" has no <Transition> (a state without a way out is a <FinalState>)`},
	{"Transition to an unknown state", `<Workflow Name="W" Version="1.0">
  <StateMachine Id="m" InitialState="A">
    <State Id="A">
      <Transition To="Nowhere"/>
    </State>
  </StateMachine>
</Workflow>`,
		`t.xml:4:7: To="Nowhere": no <State> or <FinalState> with that Id in <StateMachine> "m"`},
	{"Transition outside a State", `<Workflow Name="W" Version="1.0">
  <Sequence>
    <Transition To="A"/>
  </Sequence>
</Workflow>`,
		`t.xml:3:5: <Transition> is only allowed in <State>`},
	{"State in a property element", `<Workflow Name="W" Version="1.0">
  <If Condition="true">
    <Then><State Id="A"/></Then>
  </If>
</Workflow>`,
		`t.xml:3:11: <State> is only allowed in <StateMachine>`},
	{"PickBranch in a property element", `<Workflow Name="W" Version="1.0">
  <If Condition="true">
    <Then>
      <PickBranch><Trigger><Delay Duration="0"/></Trigger></PickBranch>
    </Then>
  </If>
</Workflow>`,
		`t.xml:4:7: <PickBranch> is only allowed in <Pick>`},
	{"FinalState with an Exit", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A"><Transition To="F"/></State>
    <FinalState Id="F">
      <Exit><WriteLine Text="x"/></Exit>
    </FinalState>
  </StateMachine>
</Workflow>`,
		`t.xml:5:7: <FinalState> takes only an <Entry> (no Exit, no Transition): reaching it completes the StateMachine`},
	{"Trigger Ref to no earlier trigger", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <Transition To="F"><Trigger><Receive Id="r" Bookmark="B"/></Trigger></Transition>
      <Transition Id="t2" To="F" Condition="true"><Trigger Ref="x"/></Transition>
    </State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:5:7: Trigger Ref="x": no earlier <Transition> of state "A" has a trigger activity with that Id`},
	{"Trigger Ref holding an activity", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <Transition To="F" Condition="true"><Trigger><Receive Id="r" Bookmark="B"/></Trigger></Transition>
      <Transition To="F"><Trigger Ref="r"><Delay Duration="1h"/></Trigger></Transition>
    </State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:5:43: <Trigger Ref="r"> shares another transition's trigger and holds no activity`},
	{"unconditional transition before one sharing its trigger", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <Transition Id="t1" To="F"><Trigger><Receive Id="r" Bookmark="B"/></Trigger></Transition>
      <Transition Id="t2" To="F"><Trigger Ref="r"/></Transition>
    </State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:5:7: <Transition> "t2" can never be taken: the earlier transition "t1", sharing its trigger, has no Condition`},
	{"unconditional transition without trigger before another", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <Transition Id="a" To="F"/>
      <Transition Id="b" To="F" Condition="true"/>
    </State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:5:7: <Transition> "b" can never be taken: the earlier transition "a", also without a trigger, has no Condition`},
	{"unconditional transition without trigger beside triggered ones", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <Transition Id="now" To="F"/>
      <Transition Id="later" To="F"><Trigger><Receive Bookmark="B"/></Trigger></Transition>
    </State>
    <FinalState Id="F"/>
  </StateMachine>
</Workflow>`,
		`t.xml:5:7: <Transition> "later" can never be taken: transition "now" has neither Trigger nor Condition, so it is taken as soon as the Entry completes`},
	{"StateMachine holding an activity", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <WriteLine Text="x"/>
  </StateMachine>
</Workflow>`,
		`t.xml:3:5: <StateMachine> holds <State> and <FinalState> elements, not <WriteLine>`},
	{"State holding an activity", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <WriteLine Text="x"/>
    </State>
  </StateMachine>
</Workflow>`,
		`t.xml:4:7: <State> holds <Transition> elements (and its <Entry> and <Exit>), not <WriteLine>`},
	{"Transition holding an activity", `<Workflow Name="W" Version="1.0">
  <StateMachine InitialState="A">
    <State Id="A">
      <Transition To="A">
        <Receive Bookmark="B"/>
      </Transition>
    </State>
  </StateMachine>
</Workflow>`,
		`t.xml:5:9: <Transition> takes its activities in <Trigger> and <Action>, not as a direct <Receive>`},
	{"ForEach without Values", `<Workflow Name="W" Version="1.0">
  <ForEach Variable="x"><WriteLine Text="[x]"/></ForEach>
</Workflow>`,
		`t.xml:2:3: missing required attribute Values on <ForEach>`},
	{"ForEach over a Number", `<Workflow Name="W" Version="1.0">
  <Arguments><In Name="n" Type="Number"/></Arguments>
  <ForEach Values="[n]" Variable="x"/>
</Workflow>`,
		`t.xml:3:3: Values: [n] yields a float64, not a list`},
	{"ForEach Values not an expression", `<Workflow Name="W" Version="1.0">
  <ForEach Values="a,b"/>
</Workflow>`,
		`t.xml:2:3: Values must be an expression in [...], got "a,b"`},
	{"loop variable named like a variable", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="x" Type="String"/></Variables>
  <ForEach Values="[[1]]" Variable="x"/>
</Workflow>`,
		`t.xml:3:3: Variable "x" is already a workflow variable; a loop variable needs a name of its own`},
	{"nested ForEach reusing the loop variable", `<Workflow Name="W" Version="1.0">
  <ForEach Values="[[1]]" Variable="x">
    <ForEach Values="[[2]]" Variable="x"/>
  </ForEach>
</Workflow>`,
		`t.xml:3:5: Variable "x" is already the loop variable of an enclosing ForEach`},
	{"loop variable outside the body", `<Workflow Name="W" Version="1.0">
  <Sequence>
    <ForEach Values="[[1]]" Variable="x"/>
    <WriteLine Text="[x]"/>
  </Sequence>
</Workflow>`,
		`t.xml:4:5: Text: bad expression "x": unknown name x (1:1)`},
	{"assigning the loop variable", `<Workflow Name="W" Version="1.0">
  <ForEach Values="[[1]]" Variable="x">
    <Assign To="x" Value="2"/>
  </ForEach>
</Workflow>`,
		`t.xml:3:5: To="x" names a loop variable; loop variables are read-only, declare a variable`},
	{"ForEach has no CompletionCondition", `<Workflow Name="W" Version="1.0">
  <ForEach Values="[[1]]" CompletionCondition="true"/>
</Workflow>`,
		`t.xml:2:3: unknown attribute CompletionCondition on <ForEach> (allowed: Id, DisplayName, Values, Variable)`},
	{"bad loop variable name", `<Workflow Name="W" Version="1.0">
  <ForEach Values="[[1]]" Variable="now"/>
</Workflow>`,
		`t.xml:2:3: bad Variable "now": want an identifier (letters, digits, _) that is not a reserved word`},
	{"CompletionCondition does not see the loop variable", `<Workflow Name="W" Version="1.0">
  <ParallelForEach Values="[[1]]" Variable="x" CompletionCondition="[x > 0]"/>
</Workflow>`,
		`t.xml:2:3: CompletionCondition: bad expression "x > 0": unknown name x (1:1)`},
	{"CorrelationKey is an expression", `<Workflow Name="W" Version="1.0" CorrelationKey="order">
  <WriteLine Text="x"/>
</Workflow>`,
		`t.xml:1:1: CorrelationKey must be an expression in [...], got "order"`},
	{"CorrelationKey names what is declared", `<Workflow Name="W" Version="1.0" CorrelationKey="[orderId]">
  <WriteLine Text="x"/>
</Workflow>`,
		`t.xml:1:1: CorrelationKey: bad expression "orderId": unknown name orderId (1:1)`},
	{"Promote needs a Value", `<Workflow Name="W" Version="1.0">
  <Promote Name="amount"/>
  <WriteLine Text="x"/>
</Workflow>`,
		`t.xml:2:3: missing required attribute Value on <Promote>`},
	{"Promote twice", `<Workflow Name="W" Version="1.0">
  <Variables><Variable Name="a" Type="Number"/></Variables>
  <Promote Name="amount" Value="[a]"/>
  <Promote Name="amount" Value="[a + 1]"/>
  <WriteLine Text="x"/>
</Workflow>`,
		`t.xml:4:3: property "amount" is promoted twice`},
	{"Tracking profile", `<Workflow Name="W" Version="1.0" Tracking="Activity">
  <WriteLine Text="x"/>
</Workflow>`,
		`t.xml:1:1: bad Tracking: tracking profile "Activity": instance records are always written; write All, or Instance with Activity and/or Bookmark`},
	{"Promote name", `<Workflow Name="W" Version="1.0">
  <Promote Name="the amount" Value="[1]"/>
  <WriteLine Text="x"/>
</Workflow>`,
		`t.xml:2:3: bad promoted property name "the amount": want an identifier (letters, digits, _)`},
}

func TestDefinitionErrors(t *testing.T) {
	for _, c := range definitionErrors {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseDefinition("t.xml", []byte(c.src))
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T), want a *DefinitionError", err, err)
			}
			if err.Error() != c.want {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
		})
	}
}

func TestAutomaticIDs(t *testing.T) {
	d := mustParse(t, wf(`<Variables><Variable Name="x" Type="Number"/></Variables>`, `
<Sequence>
  <WriteLine Text="a"/>
  <If Id="check" Condition="true">
    <Then><Assign To="x" Value="1"/></Then>
    <Else><Assign To="x" Value="2"/></Else>
  </If>
  <Pick>
    <PickBranch><Trigger><Receive Bookmark="A"/></Trigger><Action><WriteLine Text="b"/></Action></PickBranch>
  </Pick>
</Sequence>`))
	var got []string
	for _, a := range d.Activities() {
		got = append(got, a.ID+"="+string(a.Kind))
	}
	want := "1=Sequence|1.1=WriteLine|check=If|check.1=Assign|check.2=Assign|1.3=Pick|1.3.1=PickBranch|1.3.1.1=Receive|1.3.1.2=WriteLine"
	if join(got) != want {
		t.Errorf("got  %s\nwant %s", join(got), want)
	}
	if d.RootID() != "1" {
		t.Error(d.RootID())
	}
}

func TestParseAccepts(t *testing.T) {
	// XML declaration, comments, namespaces, WF-XAML property syntax, DoWhile body element.
	src := `<?xml version="1.0" encoding="UTF-8"?>
<!-- comment -->
<Workflow xmlns="urn:wimp" xmlns:x="urn:other" Name="W" Package="p" Version="1.2.3.4" DisplayName="A workflow">
  <Variables><Variable Name="n" Type="Number" Default="[1 + 1]"/></Variables>
  <DoWhile Condition="[n &lt; 5]">
    <DoWhile.Body><Assign To="n" Value="[n + 1]"/></DoWhile.Body>
  </DoWhile>
</Workflow>`
	d, err := ParseDefinition("w.xml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if d.Identity != (workflow.Identity{Name: "W", Package: "p", Version: "1.2.3.4"}) {
		t.Error(d.Identity)
	}
	in := mustStart(t, d, nil)
	if r := in.Run(t0, 0); r.Completion != workflow.Closed || in.Variables()["n"] != 5.0 {
		t.Fatal(r, in.Variables())
	}
}

func TestCompareVersions(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.0.0.0", "1.0.0.0", 0},
		{"2.0.0.0", "10.0.0.0", -1},
		{"1.10", "1.9", 1},
		{"1.0", "1.0.0", -1},
		{"1.0.0.1", "1.0.0", 1},
		{"junk", "1.0", -1},
	}
	for _, c := range cases {
		if got := workflow.CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestMaxWorkItems(t *testing.T) {
	for src, want := range map[string]int{
		`<Workflow Name="W" Version="1.0"><Sequence/></Workflow>`:                       0,
		`<Workflow Name="W" Version="1.0" MaxWorkItems="250"><Sequence/></Workflow>`:    250,
		`<Workflow Name="W" Version="1.0" MaxWorkItems=" 5000 "><Sequence/></Workflow>`: 5000,
	} {
		d, err := ParseDefinition("t.xml", []byte(src))
		if err != nil || d.MaxWorkItems != want {
			t.Errorf("%s: MaxWorkItems %v (%v), want %d", src, d, err, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := sampleRegistry(t)
	d, err := r.Lookup("ExpenseApproval", "")
	if err != nil || d.Identity.Version != "2.0.0.0" {
		t.Fatalf("newest: %v %v", d, err)
	}
	if d, err := r.Lookup("wimp.samples.ExpenseApproval", "1.0.0.0"); err != nil || d.Identity.Version != "1.0.0.0" {
		t.Fatalf("qualified: %v", err)
	}
	if _, err := r.Lookup("ExpenseApproval", "9.9"); !errors.Is(err, ErrNotFound) {
		t.Error(err)
	}
	if _, err := r.Lookup("Nope", ""); !errors.Is(err, ErrNotFound) {
		t.Error(err)
	}
	if _, err := r.Get(workflow.Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0.0.0"}); err != nil {
		t.Error(err)
	}
	if _, err := r.Get(workflow.Identity{Name: "Hello", Version: "1.0.0.0"}); !errors.Is(err, ErrNotFound) {
		t.Error(err)
	}
	// Versions are System.Version values everywhere, as WorkflowIdentity.Equals compares them:
	// the same version written differently finds the definition; 1.0 is not 1.0.0.0.
	for _, v := range []string{"1.00.0.0", " 1.0.0.0", "+1.0.0.0"} {
		if _, err := r.Get(workflow.Identity{Name: "Hello", Package: "wimp.samples", Version: v}); err != nil {
			t.Errorf("Get version %q: %v", v, err)
		}
		if d, err := r.Lookup("ExpenseApproval", v); err != nil || d.Identity.Version != "1.0.0.0" {
			t.Errorf("Lookup version %q: %v %v", v, d, err)
		}
	}
	if _, err := r.Get(workflow.Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get version 1.0 found 1.0.0.0: %v", err)
	}
	if _, err := r.Lookup("ExpenseApproval", "one"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of an unparsable version: %v", err)
	}
	v1 := workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "01.0.0.0"}
	v2 := workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.00.0"}
	if !r.CanUpdate(v1, v2) {
		t.Error("CanUpdate compares versions as strings: 01.0.0.0 → 2.0.00.0 refused")
	}

	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mine.xml", `<Workflow Name="Mine" Package="acme" Version="10.0"><Sequence/></Workflow>`)
	write("mine2.xml", `<Workflow Name="Mine" Package="acme" Version="9.0"><Sequence/></Workflow>`)
	write("other.txt", `not a definition`)
	r, err = LoadRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := r.Lookup("Mine", ""); err != nil || d.Identity.Version != "10.0" {
		t.Fatalf("%v %v", d, err)
	}
	// Same name in two packages: ambiguous unless qualified.
	write("other.xml", `<Workflow Name="Mine" Package="zeta" Version="1.0"><Sequence/></Workflow>`)
	r, err = LoadRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("Mine", ""); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Error(err)
	}
	if d, err := r.Lookup("zeta.Mine", ""); err != nil || d.Identity.Package != "zeta" {
		t.Error(err)
	}
	// Duplicate identity: both files named.
	write("hello.xml", `<Workflow Name="Hello" Package="wimp.samples" Version="1.0.0.0"><Sequence/></Workflow>`)
	_, err = LoadRegistry(dir)
	if err == nil || !strings.Contains(err.Error(), "hello.xml") || !strings.Contains(err.Error(), "samples/Hello.xml") {
		t.Errorf("duplicate: %v", err)
	}
	os.Remove(filepath.Join(dir, "hello.xml"))
	// A broken file is reported with its path and position.
	write("broken.xml", "<Workflow Name=\"B\" Version=\"1.0\">\n  <Nope/>\n</Workflow>")
	_, err = LoadRegistry(dir)
	var de *DefinitionError
	if !errors.As(err, &de) || de.File != filepath.Join(dir, "broken.xml") || de.Line != 2 {
		t.Errorf("broken: %v", err)
	}
	if _, err := LoadRegistry(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory accepted")
	}
}

func FuzzParseDefinition(f *testing.F) {
	entries, _ := samples.FS.ReadDir(".")
	for _, e := range entries {
		b, _ := samples.FS.ReadFile(e.Name())
		f.Add(b)
	}
	for _, c := range definitionErrors {
		f.Add([]byte(c.src))
	}
	for _, cases := range [][]activityCase{activityCases, machineCases, forEachCases, bookmarkCases} {
		for _, c := range cases {
			f.Add([]byte(wf(c.decls, c.body)))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition("fuzz.xml", data)
		if err != nil {
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if d.root == nil || d.byID[d.root.ID] != d.root {
			t.Fatal("definition without a root")
		}
		// A valid definition must be startable when it has no required inputs, and run
		// a bounded number of steps without panicking.
		for _, a := range d.Arguments {
			if a.Required {
				return
			}
		}
		in, err := Start(d, testID, nil, t0)
		if err != nil {
			return
		}
		in.Run(t0, 1000)
		if _, err := in.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStateMachineIDs(t *testing.T) {
	// States are named by their explicit Id; the other parts count under their nearest parent.
	d := mustParse(t, wf("", `
<StateMachine InitialState="A">
  <State Id="A">
    <Entry><WriteLine Text="a"/></Entry>
    <Transition To="F"><Trigger><Receive Bookmark="Go"/></Trigger><Action><WriteLine Text="b"/></Action></Transition>
  </State>
  <FinalState Id="F"/>
</StateMachine>`))
	var got []string
	for _, a := range d.Activities() {
		got = append(got, a.ID+"="+string(a.Kind))
	}
	want := "1=StateMachine|A=State|A.1=WriteLine|A.2=Transition|A.2.1=Receive|A.2.2=WriteLine|F=FinalState"
	if join(got) != want {
		t.Errorf("got  %s\nwant %s", join(got), want)
	}
}
