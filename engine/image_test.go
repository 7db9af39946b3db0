package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/workflow"
)

func TestImageFormat(t *testing.T) {
	def := sample(t, "ExpenseApproval", "1.0.0.0")
	in := mustStart(t, def, expenseInputs(1500))
	in.Run(t0, 0)
	img, err := in.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(img, &m); err != nil {
		t.Fatal(err)
	}
	if m["format"] != ImageFormat || m["hasStarted"] != true {
		t.Errorf("format %v hasStarted %v", m["format"], m["hasStarted"])
	}
	for _, key := range []string{"activities", "queue", "bookmarks", "timers", "variables", "arguments", "definition"} {
		if _, ok := m[key]; !ok {
			t.Errorf("image lacks %q", key)
		}
	}
	// Continuations are data: the bookmark and the timer name their callbacks.
	if !bytes.Contains(img, []byte(`"callback":"Receive.resumed"`)) || !bytes.Contains(img, []byte(`"callback":"Delay.fired"`)) {
		t.Errorf("callbacks not in image: %s", img)
	}
	id, err := ImageIdentity(img)
	if err != nil || id != def.Identity {
		t.Fatal(id, err)
	}

	// Unknown versions are refused clearly.
	future := bytes.Replace(img, []byte(`"wimp-image/1"`), []byte(`"wimp-image/4"`), 1)
	_, err = Restore(def, future)
	if !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), `unsupported format "wimp-image/4"`) {
		t.Errorf("future format: %v", err)
	}
	if _, err := Restore(def, []byte(`{}`)); !errors.Is(err, ErrImage) {
		t.Errorf("empty: %v", err)
	}
	if _, err := Restore(def, []byte(`not json`)); !errors.Is(err, ErrImage) {
		t.Errorf("garbage: %v", err)
	}
	// The definition must match the image.
	other := sample(t, "Hello", "")
	if _, err := Restore(other, img); !errors.Is(err, ErrNotFound) {
		t.Errorf("wrong definition: %v", err)
	}
	// An image whose activities are not in the definition is refused.
	bad := bytes.Replace(img, []byte(`"activity":"receiveReview"`), []byte(`"activity":"nowhere"`), 1)
	if _, err := Restore(def, bad); !errors.Is(err, ErrImage) {
		t.Errorf("bad activity: %v", err)
	}
	bad = bytes.Replace(img, []byte(`"callback":"Receive.resumed"`), []byte(`"callback":"Receive.gone"`), 1)
	if _, err := Restore(def, bad); !errors.Is(err, ErrImage) {
		t.Errorf("bad callback: %v", err)
	}
}

func TestRestoreBehavesIdentically(t *testing.T) {
	// Restore(Snapshot(x)) at each quiescent point of a long run, continuing both copies with
	// the same actions, must produce identical records and images.
	reg := sampleRegistry(t)
	def := sample(t, "ExpenseApproval", "1.0.0.0")
	actions := []action{advance(240 * time.Hour), approve("a"), advance(240 * time.Hour), deny("b")}
	for cut := 0; cut <= len(actions); cut++ {
		x := newDriver(t, reg, mustStart(t, def, expenseInputs(1500)), false)
		x.play(actions[:cut]...)
		img, _ := x.in.Snapshot()
		y0, err := Restore(reg, img)
		if err != nil {
			t.Fatal(err)
		}
		y := newDriver(t, reg, y0, false)
		y.now = x.now
		x.records, x.results = nil, nil
		for _, a := range actions[cut:] {
			x.apply(a)
			y.apply(a)
		}
		if !reflect.DeepEqual(withoutLoadRecords(x.records), withoutLoadRecords(y.records)) || !reflect.DeepEqual(x.results, y.results) {
			t.Fatalf("cut %d: differ\n%v\n%v", cut, x.results, y.results)
		}
		a, _ := x.in.Snapshot()
		b, _ := y.in.Snapshot()
		if !bytes.Equal(a, b) {
			t.Fatalf("cut %d: images differ", cut)
		}
	}
}

func TestDeterminism(t *testing.T) {
	reg := sampleRegistry(t)
	def := sample(t, "ExpenseApproval", "1.0.0.0")
	play := func() ([]byte, []workflow.Record) {
		d := newDriver(t, reg, mustStart(t, def, expenseInputs(2500)), false)
		d.play(advance(240*time.Hour), approve("a"), advance(100*time.Hour), approve("b"))
		img, _ := d.in.Snapshot()
		return img, d.records
	}
	img1, rec1 := play()
	for i := 0; i < 20; i++ {
		img2, rec2 := play()
		if !bytes.Equal(img1, img2) || !reflect.DeepEqual(rec1, rec2) {
			t.Fatal("two identical runs differ")
		}
	}
}

func TestSnapshotOfPausedAndCompletedInstances(t *testing.T) {
	def := mustParse(t, wf("", `<Sequence><Receive Bookmark="Go"/><Throw Id="t" Exception="Boom"/></Sequence>`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	_ = in.ResumeBookmark("Go", nil)
	if r := in.Run(t0, 0); r.Kind != ResultUnhandledException {
		t.Fatal(r)
	}
	img, _ := in.Snapshot()
	in2, err := Restore(def, img)
	if err != nil {
		t.Fatal(err)
	}
	if in2.Status() != StatusUnhandledException || in2.PendingException().Name != "Boom" {
		t.Fatal(in2.Status())
	}
	_ = in2.Cancel()
	if r := in2.Run(t0, 0); r.Completion != workflow.Canceled {
		t.Fatal(r)
	}
	img, _ = in2.Snapshot()
	in3, err := Restore(def, img)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := in3.Completion(); c != workflow.Canceled || in3.Status() != StatusCompleted {
		t.Fatal(c)
	}
	if r := in3.Run(t0, 0); r.Kind != ResultCompleted || r.WorkItems != 0 {
		t.Fatal(r)
	}
}

func FuzzRestore(f *testing.F) {
	reg, err := LoadRegistry("")
	if err != nil {
		f.Fatal(err)
	}
	def, _ := reg.Lookup("ExpenseApproval", "1.0.0.0")
	in, _ := Start(def, testID, expenseInputs(1500), t0)
	in.Run(t0, 0)
	img, _ := in.Snapshot()
	f.Add(img)
	_ = in.ResumeBookmark("Review", map[string]any{"approved": true})
	in.Run(t0, 3)
	img, _ = in.Snapshot()
	f.Add(img)
	// State machines (current state, transition being taken) and ForEach (collection, loop
	// variables), idle and cut at several work items.
	seeds := []struct {
		name   string
		inputs map[string]any
		resume string
		value  any
	}{
		{"SalesCollaboration", map[string]any{"lead": "L", "salesperson": "sam"}, "Transferred", map[string]any{"from": "sam", "to": "ann"}},
		{"ReviewerApproval", map[string]any{"document": "d", "reviewers": []any{"ann", "bob"}}, "approve/ann", nil},
	}
	for _, s := range seeds {
		def, _ := reg.Lookup(s.name, "")
		for _, cut := range []int{2, 5, 0} {
			in, _ := Start(def, testID, s.inputs, t0)
			in.Run(t0, cut)
			img, _ := in.Snapshot()
			f.Add(img)
		}
		in, _ := Start(def, testID, s.inputs, t0)
		in.Run(t0, 0)
		_ = in.ResumeBookmark(s.resume, s.value)
		in.Run(t0, 3)
		img, _ := in.Snapshot()
		f.Add(img)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Restore(reg, data)
		if err != nil {
			return
		}
		if _, err := in.Snapshot(); err != nil {
			t.Fatal(err)
		}
		in.Run(t0, 200)
	})
}

func TestRestoreRefusesBadMachineAndLoopImages(t *testing.T) {
	reg := sampleRegistry(t)
	image := func(name string, inputs map[string]any) []byte {
		in := mustStart(t, sample(t, name, ""), inputs)
		in.Run(t0, 0)
		img, err := in.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(reg, img); err != nil {
			t.Fatalf("the image itself: %v", err)
		}
		return img
	}
	sales := image("SalesCollaboration", salesInputs())
	review := image("ReviewerApproval", vars("document", "d", "reviewers", []any{"ann"}))
	cases := []struct {
		name     string
		img      []byte
		old, new string
	}{
		{"unknown current state", sales, `"state":"SalesCollaboration"`, `"state":"Nowhere"`},
		{"a state on another activity", sales, `"type":"Receive"`, `"type":"Receive","state":"NewLead"`},
		{"a transition of another state", sales, `"state":"SalesCollaboration"`, `"state":"SalesCollaboration","winner":"startCollaboration"`},
		{"loop variable under another name", review, `"locals":{"reviewer":`, `"locals":{"who":`},
		{"loop variables outside a ForEach body", review, `"type":"Receive"`, `"type":"Receive","locals":{"reviewer":"ann"}`},
		{"a collection outside a ForEach", review, `"type":"Receive"`, `"type":"Receive","values":[1]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Replace(c.img, []byte(c.old), []byte(c.new), 1)
			if bytes.Equal(bad, c.img) {
				t.Fatalf("%s not in the image", c.old)
			}
			if _, err := Restore(reg, bad); !errors.Is(err, ErrImage) {
				t.Errorf("accepted: %v", err)
			}
		})
	}

	// Parents forming a cycle (each child listed by its parent, callbacks fitting) are refused
	// rather than walked for ever.
	def := mustParse(t, wf("", `<Sequence Id="s1"><Sequence Id="s2"><Sequence Id="s3"><Receive Id="r" Bookmark="Go"/></Sequence></Sequence></Sequence>`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	img, _ := in.Snapshot()
	var m map[string]any
	if err := json.Unmarshal(img, &m); err != nil {
		t.Fatal(err)
	}
	acts := map[string]map[string]any{}
	for _, a := range m["activities"].([]any) {
		a := a.(map[string]any)
		acts[a["activity"].(string)] = a
	}
	n := func(id string) float64 { return acts[id]["n"].(float64) }
	delete(acts["s1"], "children")
	acts["s2"]["parent"] = n("s3")
	acts["s3"]["children"] = []any{n("r"), n("s2")}
	cyclic, _ := json.Marshal(m)
	if _, err := Restore(def, cyclic); !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}
