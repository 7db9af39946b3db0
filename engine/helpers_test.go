package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

var testID = uuid.MustParse("6f1c1f4e-8d0b-4a35-9a52-3c1d2b9f0a11")

// wf wraps declarations and a root activity in a Workflow element.
func wf(decls, body string) string {
	return `<Workflow Name="T" Package="test" Version="1.0.0.0">` + decls + body + `</Workflow>`
}

func mustParse(t testing.TB, src string) *Definition {
	t.Helper()
	d, err := ParseDefinition("test.xml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return d
}

func mustStart(t testing.TB, d *Definition, inputs map[string]any) *Instance {
	t.Helper()
	in, err := Start(d, testID, inputs, t0)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return in
}

func sampleRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := LoadRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sample(t testing.TB, name, version string) *Definition {
	t.Helper()
	d, err := sampleRegistry(t).Lookup(name, version)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// lines extracts WriteLine output from records.
func lines(recs []workflow.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Kind == workflow.ActivityRecord && r.Name == "WriteLine" {
			var d struct{ Text string }
			_ = json.Unmarshal([]byte(r.Data), &d)
			out = append(out, d.Text)
		}
	}
	return out
}

// states lists "id:State" activity records for the given ids (all when none given).
func states(recs []workflow.Record, ids ...string) []string {
	var out []string
	for _, r := range recs {
		if r.Kind != workflow.ActivityRecord || r.Name == "WriteLine" {
			continue
		}
		if len(ids) == 0 || contains(ids, r.Activity) {
			out = append(out, r.Activity+":"+r.Name)
		}
	}
	return out
}

func instanceRecords(recs []workflow.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Kind == workflow.InstanceRecord {
			out = append(out, r.Name)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// action is one host action in a scenario.
type action struct {
	op      string // "run", "resume", "advance" (move the clock, fire due timers, run), "cancel", "terminate", "update"
	name    string // bookmark name, termination reason
	payload any
	d       time.Duration
	def     *Definition // update
}

// extraActions are actions other test files define (op → how to apply it).
var extraActions = map[string]func(d *driver, a action) error{}

func run() action                      { return action{op: "run"} }
func resume(name string, p any) action { return action{op: "resume", name: name, payload: p} }
func advance(d time.Duration) action   { return action{op: "advance", d: d} }
func cancel() action                   { return action{op: "cancel"} }
func terminate(reason string) action   { return action{op: "terminate", name: reason} }
func update(d *Definition) action      { return action{op: "update", def: d} }
func fault() action                    { return action{op: "fault"} }
func (a action) String() string        { return fmt.Sprintf("%s(%s%v)", a.op, a.name, a.d) }
func payload(s string) json.RawMessage { return json.RawMessage(s) }
func vars(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// driver applies actions to an instance. In step mode every Run executes a single work item and
// the instance is replaced by Restore(Snapshot()) before each of them.
type driver struct {
	t       testing.TB
	in      *Instance
	defs    Definitions
	now     time.Time
	step    bool
	records []workflow.Record
	results []string // non-Runnable Run results and action errors, in order
}

func newDriver(t testing.TB, defs Definitions, in *Instance, step bool) *driver {
	return &driver{t: t, in: in, defs: defs, now: t0, step: step}
}

func (d *driver) collect() { d.records = append(d.records, d.in.DrainRecords()...) }

func (d *driver) roundTrip() {
	d.t.Helper()
	d.collect()
	img, err := d.in.Snapshot()
	if err != nil {
		d.t.Fatalf("snapshot: %v", err)
	}
	in2, err := Restore(d.defs, img)
	if err != nil {
		d.t.Fatalf("restore: %v\n%s", err, img)
	}
	// What the host keeps beside the image: its Invoker, and the children started and
	// orphaned that it takes at its next commit.
	in2.invoker, in2.started, in2.orphans = d.in.invoker, d.in.TakeStartedChildren(), d.in.TakeOrphans()
	img2, err := in2.Snapshot()
	if err != nil {
		d.t.Fatal(err)
	}
	if !bytes.Equal(img, img2) {
		d.t.Fatalf("snapshot of restored instance differs:\n%s\n%s", img, img2)
	}
	d.in = in2
}

func (d *driver) runToRest() {
	budget := 0
	if d.step {
		budget = 1
	}
	for i := 0; ; i++ {
		if i > 100000 {
			d.t.Fatal("runaway instance")
		}
		if d.step {
			d.roundTrip()
		}
		r := d.in.Run(d.now, budget)
		d.collect()
		if r.Kind == ResultRunnable {
			continue
		}
		s := string(r.Kind)
		switch r.Kind {
		case ResultCompleted:
			s += ":" + string(r.Completion)
		case ResultUnhandledException:
			s += ":" + r.Exception.Name + "@" + r.Exception.Activity
		}
		d.results = append(d.results, s)
		if r.Kind != ResultPersistRequested {
			return
		}
	}
}

func (d *driver) apply(a action) {
	d.t.Helper()
	if d.step {
		d.roundTrip()
	}
	var err error
	switch a.op {
	case "run":
	case "resume":
		err = d.in.ResumeBookmark(a.name, a.payload)
	case "advance":
		d.now = d.now.Add(a.d)
		d.in.FireDueTimers(d.now)
	case "cancel":
		err = d.in.Cancel()
	case "terminate":
		err = d.in.Terminate(a.name)
	case "fault":
		err = d.in.Fault()
	case "update":
		err = d.in.Update(a.def)
	default:
		f := extraActions[a.op]
		if f == nil {
			d.t.Fatalf("bad action %v", a)
		}
		err = f(d, a)
	}
	if err != nil {
		d.results = append(d.results, "error:"+err.Error())
	}
	d.collect()
	d.runToRest()
}

func (d *driver) play(actions ...action) {
	d.t.Helper()
	d.runToRest()
	for _, a := range actions {
		d.apply(a)
	}
}

// withoutLoadRecords drops Started/Resumed, which differ by design between an instance that
// stayed in memory and one reloaded at every step.
func withoutLoadRecords(recs []workflow.Record) []workflow.Record {
	var out []workflow.Record
	for _, r := range recs {
		if r.Kind == workflow.InstanceRecord && (r.Name == "Started" || r.Name == "Resumed") {
			continue
		}
		out = append(out, r)
	}
	return out
}

// playBoth runs a scenario straight and in step mode (snapshot/restore before every work item)
// and checks they behave identically; it returns the straight driver.
func playBoth(t *testing.T, defs Definitions, def *Definition, inputs map[string]any, actions ...action) *driver {
	t.Helper()
	straight := newDriver(t, defs, mustStart(t, def, inputs), false)
	straight.play(actions...)
	stepped := newDriver(t, defs, mustStart(t, def, inputs), true)
	stepped.play(actions...)
	if !reflect.DeepEqual(straight.results, stepped.results) {
		t.Fatalf("results differ:\nstraight %v\nstepped  %v", straight.results, stepped.results)
	}
	a, b := withoutLoadRecords(straight.records), withoutLoadRecords(stepped.records)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("records differ:\nstraight %v\nstepped  %v", a, b)
	}
	s1, _ := straight.in.Snapshot()
	s2, _ := stepped.in.Snapshot()
	if !bytes.Equal(s1, s2) {
		t.Fatalf("final images differ:\n%s\n%s", s1, s2)
	}
	return straight
}

func (d *driver) last() string {
	if len(d.results) == 0 {
		return ""
	}
	return d.results[len(d.results)-1]
}

func (d *driver) wantVars(t *testing.T, want map[string]any) {
	t.Helper()
	got := d.in.Variables()
	for k, v := range want {
		if n, err := normalize(v); err == nil {
			v = n
		}
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("variable %s = %#v, want %#v", k, got[k], v)
		}
	}
}

func join(ss []string) string { return strings.Join(ss, "|") }

var sprintf = fmt.Sprintf
