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
	{"Bookmark as expression", `<Workflow Name="W" Version="1.0">
  <Receive Bookmark="[x]"/>
</Workflow>`,
		`t.xml:2:3: Bookmark must be a literal name, not an expression`},
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
