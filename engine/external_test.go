package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/workflow"
)

// sendEmail is an asynchronous custom activity type for the tests.
var sendEmail = &ActivityType{Name: "SendEmail", Arguments: []ActivityArgument{
	{Name: "To", Type: String, Required: true},
	{Name: "Subject", Type: String, Default: "(no subject)"},
	{Name: "Priority", Type: Number, Validate: func(v any) error {
		if f := v.(float64); f < 0 || f > 9 {
			return fmt.Errorf("priority %v is not 0..9", f)
		}
		return nil
	}},
}}

// greet is a code-only custom activity type for the tests.
var greet = &ActivityType{Name: "Greet", Arguments: []ActivityArgument{{Name: "Who", Type: String, Required: true}},
	Run: func(c CodeContext, args map[string]any) (any, error) {
		who := args["Who"].(string)
		switch who {
		case "":
			return nil, &Exception{Name: "NobodyToGreet", Message: "empty name"}
		case "boom":
			panic("exploded")
		case "err":
			return nil, errors.New("plain failure")
		}
		return map[string]any{"text": "Hello, " + who + "!", "at": c.Now.Format(time.RFC3339), "activity": c.Activity}, nil
	}}

var testTypes = []*ActivityType{sendEmail, greet}

func parseWith(t testing.TB, src string) *Definition {
	t.Helper()
	d, err := ParseDefinition("test.xml", []byte(src), testTypes...)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return d
}

func init() {
	// deliver(outcome): the outcome of the only pending call.
	extraActions["deliver"] = func(d *driver, a action) error {
		calls := d.in.PendingCalls()
		if len(calls) != 1 {
			d.t.Fatalf("deliver: want one pending call, have %v", calls)
		}
		return d.in.CompleteCall(calls[0].ID, a.payload.(CallOutcome))
	}
}

func deliver(o CallOutcome) action { return action{op: "deliver", payload: o} }

const emailDecls = `<Variables><Variable Name="sent" Type="Object"/><Variable Name="status" Type="String"/></Variables>`

func emailWorkflow(attrs string) string {
	return wf(emailDecls, `<Sequence Id="main">
  <SendEmail Id="mail" To="[ 'ann' + '@example.com' ]" Result="sent" `+attrs+`/>
  <Assign Id="done" To="status" Value="Sent"/>
</Sequence>`)
}

// An asynchronous activity waits for its call, retries a transient failure after a durable
// back-off with the same idempotency key, and completes with the delivered result; a
// snapshot/restore before every work item changes nothing.
func TestAsyncActivityRetriesWithTheSameKey(t *testing.T) {
	def := parseWith(t, emailWorkflow(`Attempts="3" RetryBackoff="2s" Timeout="10s"`))
	var keys []string
	var attempts []int
	extraActions["note"] = func(d *driver, _ action) error {
		for _, c := range d.in.PendingCalls() {
			keys = append(keys, c.Key)
			attempts = append(attempts, c.Attempt)
		}
		return nil
	}
	note := action{op: "note"}
	for _, step := range []bool{false, true} {
		keys, attempts = nil, nil
		d := newDriver(t, def, mustStart(t, def, nil), step)
		d.play(note,
			deliver(CallOutcome{Error: &Exception{Name: "SmtpBusy", Message: "try later"}, Retry: true}),
			note,
			advance(time.Second), note, // the back-off is 2s: no attempt yet
			advance(time.Second), note,
			deliver(CallOutcome{Value: map[string]any{"messageId": "m-1"}}))
		if d.last() != "Completed:Closed" {
			t.Fatalf("step=%v: results %v", step, d.results)
		}
		d.wantVars(t, map[string]any{"sent": map[string]any{"messageId": "m-1"}, "status": "Sent"})
		if len(keys) != 2 || keys[0] != keys[1] || keys[0] == "" {
			t.Fatalf("step=%v: keys %v, want one key for every attempt", step, keys)
		}
		if want := "1 2"; strings.Trim(fmt.Sprint(attempts), "[]") != want {
			t.Fatalf("step=%v: attempts seen %v, want %s (none during the back-off)", step, attempts, want)
		}
		var got []string
		for _, r := range d.records {
			if r.Name == "CallAttempt" || r.Name == "CallResult" {
				got = append(got, r.Name+" "+r.Data)
			}
		}
		want := []string{
			`CallAttempt {"attempt":1,"attempts":3,"key":"` + keys[0] + `"}`,
			`CallResult {"attempt":1,"exception":"SmtpBusy","message":"try later","outcome":"retrying","retryIn":"2s"}`,
			`CallAttempt {"attempt":2,"attempts":3,"key":"` + keys[0] + `"}`,
			`CallResult {"attempt":2,"outcome":"succeeded"}`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("step=%v: records\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	playBoth(t, def, def, nil,
		deliver(CallOutcome{Retry: true, Error: &Exception{Name: "SmtpBusy"}}), advance(2*time.Second),
		deliver(CallOutcome{Value: "ok"}))
}

// The call's arguments are evaluated when it executes, defaults filled in, and the key is
// kept across Snapshot/Restore; another execution of the same activity gets another key.
func TestAsyncActivityCallAndKey(t *testing.T) {
	def := parseWith(t, wf(`<Variables><Variable Name="i" Type="Number"/></Variables>`,
		`<While Id="loop" Condition="[i &lt; 2]"><Sequence>
  <SendEmail Id="mail" To="[ 'user' + string(i) ]" Priority="[i + 1]"/>
  <Assign To="i" Value="[i + 1]"/>
</Sequence></While>`))
	in := mustStart(t, def, nil)
	if r := in.Run(t0, 0); r.Kind != ResultIdle {
		t.Fatal(r)
	}
	calls := in.PendingCalls()
	if len(calls) != 1 {
		t.Fatalf("calls %v", calls)
	}
	c := calls[0]
	args, _ := json.Marshal(c.Args)
	if c.Type != "SendEmail" || c.Activity != "mail" || c.Attempt != 1 || c.Attempts != 1 || c.Timeout != 30*time.Second ||
		string(args) != `{"Priority":1,"Subject":"(no subject)","To":"user0"}` || !c.Started.Equal(t0) {
		t.Fatalf("call %+v args %s", c, args)
	}
	img, _ := in.Snapshot()
	if !strings.Contains(string(img), `"format":"wimp-image/2"`) {
		t.Fatalf("an image with a call is not version 2: %s", img)
	}
	in2, err := Restore(def, img)
	if err != nil {
		t.Fatal(err)
	}
	if c2 := in2.PendingCalls(); len(c2) != 1 || c2[0].Key != c.Key || c2[0].ID != c.ID {
		t.Fatalf("after restore: %v, want %v", c2, c)
	}
	// The host answers: the second execution asks with a new key.
	if err := in2.CompleteCall(c.ID, CallOutcome{}); err != nil {
		t.Fatal(err)
	}
	if err := in2.CompleteCall(c.ID, CallOutcome{}); !errors.Is(err, ErrCallNotFound) {
		t.Fatalf("second delivery: %v", err)
	}
	if r := in2.Run(t0.Add(time.Minute), 0); r.Kind != ResultIdle {
		t.Fatal(r)
	}
	next := in2.PendingCalls()
	if len(next) != 1 || next[0].Key == c.Key || next[0].Args["To"] != "user1" {
		t.Fatalf("second execution: %v (first key %s)", next, c.Key)
	}
	img, _ = in2.Snapshot()
	_ = in2.CompleteCall(next[0].ID, CallOutcome{})
	in2.Run(t0.Add(time.Minute), 0)
	if img, _ := in2.Snapshot(); !strings.Contains(string(img), `"format":"wimp-image/1"`) {
		t.Fatalf("a completed instance's image is not version 1: %s", img)
	}
	// A version 1 image does not carry calls.
	bad := strings.Replace(string(img), `"wimp-image/2"`, `"wimp-image/1"`, 1)
	if _, err := Restore(def, []byte(bad)); !errors.Is(err, ErrImage) {
		t.Fatalf("a call in a version 1 image: %v", err)
	}
}

// A lost attempt (no outcome within Timeout plus the grace) is asked for again: same attempt,
// same key, not counted as a failure.
func TestAsyncActivityLostAttempt(t *testing.T) {
	def := parseWith(t, emailWorkflow(`Timeout="3s"`))
	d := playBoth(t, def, def, nil, advance(3*time.Second+CallGrace-time.Millisecond))
	first := d.in.PendingCalls()
	d.play(advance(time.Millisecond))
	again := d.in.PendingCalls()
	if len(first) != 1 || len(again) != 1 || again[0].ID != first[0].ID || again[0].Key != first[0].Key ||
		!again[0].Started.Equal(t0.Add(3*time.Second+CallGrace)) {
		t.Fatalf("before the deadline %v, after %v", first, again)
	}
	if n := countNamed(d.records, "CallLost"); n != 1 {
		t.Fatalf("%d CallLost records", n)
	}
	d.play(deliver(CallOutcome{Value: true}))
	if d.last() != "Completed:Closed" {
		t.Fatal(d.results)
	}
}

func countNamed(recs []workflow.Record, name string) int {
	n := 0
	for _, r := range recs {
		if r.Name == name {
			n++
		}
	}
	return n
}

// Attempts run out: a retryable failure faults with its exception (catchable), a retryable
// outcome with a value is the result, a non-retryable failure faults at once.
func TestAsyncActivityFinalOutcome(t *testing.T) {
	caught := parseWith(t, wf(emailDecls, `<TryCatch>
  <Try><SendEmail Id="mail" To="x" Result="sent" Attempts="2" RetryBackoff="1s"/></Try>
  <Catch Exception="SmtpDown"><Assign To="status" Value="[ 'caught' ]"/></Catch>
</TryCatch>`))
	down := CallOutcome{Error: &Exception{Name: "SmtpDown", Message: "no route"}, Retry: true}
	d := playBoth(t, caught, caught, nil, deliver(down), advance(time.Second), deliver(down))
	if d.last() != "Completed:Closed" {
		t.Fatal(d.results)
	}
	d.wantVars(t, map[string]any{"status": "caught", "sent": nil})

	d = playBoth(t, caught, caught, nil, deliver(CallOutcome{Value: 1.0, Retry: true}), advance(time.Second),
		deliver(CallOutcome{Value: 2.0, Retry: true}))
	d.wantVars(t, map[string]any{"sent": 2.0, "status": ""})

	d = playBoth(t, caught, caught, nil, deliver(CallOutcome{Error: &Exception{Name: "SmtpDown"}}))
	d.wantVars(t, map[string]any{"status": "caught"})
	if n := countNamed(d.records, "CallAttempt"); n != 1 {
		t.Fatalf("a non-retryable failure was retried: %d attempts", n)
	}

	plain := parseWith(t, emailWorkflow(""))
	d = playBoth(t, plain, plain, nil, deliver(CallOutcome{Error: &Exception{Name: "not a name!"}}))
	if d.last() != "UnhandledException:ActivityError@mail" {
		t.Fatal(d.results)
	}
	d = playBoth(t, plain, plain, nil, deliver(CallOutcome{Value: func() {}}))
	if d.last() != "UnhandledException:ActivityError@mail" {
		t.Fatal(d.results)
	}
	// A result that does not fit the Result variable is a TypeError.
	typed := parseWith(t, wf(emailDecls, `<SendEmail Id="mail" To="x" Result="status"/>`))
	d = playBoth(t, typed, typed, nil, deliver(CallOutcome{Value: 5.0}))
	if d.last() != "UnhandledException:TypeError@mail" {
		t.Fatal(d.results)
	}
}

// Cancel during a call or a back-off cancels the activity; a late outcome is refused.
// Terminate aborts it. Neither leaves a call or a timer.
func TestAsyncActivityCancelAndTerminate(t *testing.T) {
	def := parseWith(t, wf(emailDecls, `<CancellationScope>
  <SendEmail Id="mail" To="x" Attempts="3"/>
  <CancellationHandler><Assign To="status" Value="[ 'cleaned' ]"/></CancellationHandler>
</CancellationScope>`))
	for _, tc := range []struct {
		name    string
		actions []action
		want    string
	}{
		{"during the call", []action{cancel()}, "Completed:Canceled"},
		{"during the back-off", []action{deliver(CallOutcome{Retry: true}), cancel()}, "Completed:Canceled"},
		{"terminate during the call", []action{terminate("stop")}, "Completed:Terminated"},
		{"terminate during the back-off", []action{deliver(CallOutcome{Retry: true}), terminate("stop")}, "Completed:Terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var late []Call
			extraActions["remember"] = func(d *driver, _ action) error { late = d.in.PendingCalls(); return nil }
			acts := append([]action{{op: "remember"}}, tc.actions...)
			d := playBoth(t, def, def, nil, acts...)
			if d.last() != tc.want {
				t.Fatal(d.results)
			}
			if len(d.in.PendingCalls()) != 0 || len(d.in.Timers()) != 0 {
				t.Fatalf("left calls %v timers %v", d.in.PendingCalls(), d.in.Timers())
			}
			if err := d.in.CompleteCall(late[0].ID, CallOutcome{}); !errors.Is(err, ErrCompleted) {
				t.Fatalf("late outcome: %v", err)
			}
			if tc.want == "Completed:Canceled" {
				d.wantVars(t, map[string]any{"status": "cleaned"})
			}
		})
	}
	// Canceled by a winning Pick branch: the instance goes on, and the outcome is discarded.
	pick := parseWith(t, wf(emailDecls, `<Sequence>
  <Pick>
    <PickBranch><Trigger><SendEmail Id="mail" To="x" Result="sent"/></Trigger></PickBranch>
    <PickBranch><Trigger><Delay Duration="1s"/></Trigger><Assign To="status" Value="[ 'timeout' ]"/></PickBranch>
  </Pick>
  <Receive Bookmark="more"/>
</Sequence>`))
	in := mustStart(t, pick, nil)
	in.Run(t0, 0)
	c := in.PendingCalls()[0]
	in.FireDueTimers(t0.Add(time.Second))
	in.Run(t0.Add(time.Second), 0)
	if err := in.CompleteCall(c.ID, CallOutcome{Value: "late"}); !errors.Is(err, ErrCallNotFound) {
		t.Fatalf("outcome after the Pick canceled the call: %v", err)
	}
	if v := in.Variables(); v["status"] != "timeout" || v["sent"] != nil {
		t.Fatal(v)
	}
}

// A host that holds the instance (suspended) makes no attempt: during the back-off nothing is
// asked for until the timer fires; an outcome delivered while the instance is held stays
// queued through a snapshot and runs when the instance runs again.
func TestAsyncActivityHeld(t *testing.T) {
	def := parseWith(t, emailWorkflow(`Attempts="2" RetryBackoff="1m"`))
	in := mustStart(t, def, nil)
	in.Run(t0, 0)
	c := in.PendingCalls()[0]
	if err := in.CompleteCall(c.ID, CallOutcome{Value: "queued"}); err != nil {
		t.Fatal(err)
	}
	img, _ := in.Snapshot()
	in, err := Restore(def, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.PendingCalls()) != 0 || in.Status() != StatusExecuting {
		t.Fatalf("held outcome: calls %v status %s", in.PendingCalls(), in.Status())
	}
	if r := in.Run(t0.Add(time.Hour), 0); r.Kind != ResultCompleted || in.Variables()["sent"] != "queued" {
		t.Fatal(r, in.Variables())
	}

	in = mustStart(t, def, nil)
	in.Run(t0, 0)
	_ = in.CompleteCall(in.PendingCalls()[0].ID, CallOutcome{Retry: true})
	in.Run(t0, 0)
	for _, at := range []time.Duration{time.Second, 59 * time.Second} {
		in.FireDueTimers(t0.Add(at))
		in.Run(t0.Add(at), 0)
		if len(in.PendingCalls()) != 0 {
			t.Fatalf("an attempt %v into a 1m back-off", at)
		}
	}
	if got := in.Timers(); len(got) != 1 || !got[0].Equal(t0.Add(time.Minute)) {
		t.Fatalf("back-off timer %v", got)
	}
	img, _ = in.Snapshot()
	in, _ = Restore(def, img)
	in.FireDueTimers(t0.Add(2 * time.Hour)) // held long past its due time: fires once
	in.Run(t0.Add(2*time.Hour), 0)
	if cs := in.PendingCalls(); len(cs) != 1 || cs[0].Attempt != 2 {
		t.Fatalf("after the back-off: %v", cs)
	}
}

// Update: a waiting asynchronous activity must exist in the new definition with its id and
// type; it keeps the call (arguments, key, policy) it started with.
func TestAsyncActivityUpdate(t *testing.T) {
	v1 := parseWith(t, emailWorkflow(`Attempts="2"`))
	same := parseWith(t, strings.Replace(strings.Replace(emailWorkflow(`Attempts="5"`), `Version="1.0.0.0">`,
		`Version="2.0.0.0"><UpdatableFrom Name="T" Package="test" Version="1.0.0.0"/>`, 1), "'ann'", "'bob'", 1))
	removed := parseWith(t, strings.Replace(wf(emailDecls, `<Sequence Id="main"><Receive Id="mail2" Bookmark="b"/></Sequence>`),
		`Version="1.0.0.0">`, `Version="3.0.0.0"><UpdatableFrom Name="T" Package="test" Version="1.0.0.0"/>`, 1))
	retyped := parseWith(t, strings.Replace(wf(emailDecls, `<Sequence Id="main"><Greet Id="mail" Who="x"/></Sequence>`),
		`Version="1.0.0.0">`, `Version="4.0.0.0"><UpdatableFrom Name="T" Package="test" Version="1.0.0.0"/>`, 1))
	reg := NewRegistry(testTypes...)
	for _, d := range []*Definition{v1, same, removed, retyped} {
		if err := reg.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	in := mustStart(t, v1, nil)
	in.Run(t0, 0)
	before := in.PendingCalls()[0]
	for _, d := range []*Definition{removed, retyped} {
		var ue *UpdateError
		if err := in.Update(d); !errors.As(err, &ue) || ue.Activity != "mail" {
			t.Fatalf("update to %s: %v", d.Identity, err)
		}
	}
	d := playBoth(t, reg, v1, nil, update(same), deliver(CallOutcome{Retry: true}), advance(time.Second),
		deliver(CallOutcome{Retry: true}))
	if d.last() != "Completed:Closed" {
		t.Fatal(d.results) // Attempts 2 of the started call, not the new 5: the second failure ends it
	}
	if err := in.Update(same); err != nil {
		t.Fatal(err)
	}
	after := in.PendingCalls()[0]
	if after.Key != before.Key || after.Args["To"] != "ann@example.com" || after.Attempts != 2 {
		t.Fatalf("after update %+v, before %+v", after, before)
	}
}

// A code-only activity runs inside its work item with its evaluated arguments; its errors
// are exceptions: an *Exception keeps its name, anything else (panics too) is ActivityError.
func TestCodeActivity(t *testing.T) {
	def := parseWith(t, wf(`<Arguments><In Name="who" Type="String"/></Arguments>`+emailDecls,
		`<TryCatch>
  <Try><Greet Id="hi" Who="[who]" Result="sent"/></Try>
  <Catch Exception="NobodyToGreet"><Assign To="status" Value="[ 'nobody' ]"/></Catch>
</TryCatch>`))
	d := playBoth(t, def, def, map[string]any{"who": "ann"})
	d.wantVars(t, map[string]any{"sent": map[string]any{"text": "Hello, ann!", "at": t0.Format(time.RFC3339), "activity": "hi"}})
	d = playBoth(t, def, def, map[string]any{"who": ""})
	d.wantVars(t, map[string]any{"status": "nobody"})
	for _, who := range []string{"boom", "err"} {
		d = playBoth(t, def, def, map[string]any{"who": who})
		if d.last() != "UnhandledException:ActivityError@hi" {
			t.Fatalf("%s: %v", who, d.results)
		}
	}
	if len(d.in.PendingCalls()) != 0 {
		t.Fatal("a code-only activity made a call")
	}
}

func TestCustomActivityLoadErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`<SendEmail/>`, "missing required attribute To on <SendEmail>"},
		{`<SendEmail To="a" Cc="b"/>`, "unknown attribute Cc on <SendEmail>"},
		{`<SendEmail To="a" Priority="12"/>`, "Priority: priority 12 is not 0..9"},
		{`<SendEmail To="a" Priority="x"/>`, `Priority: "x" is not a Number`},
		{`<SendEmail To="[1 + 1]"/>`, "To: bad expression"},
		{`<SendEmail To="a" Attempts="0"/>`, `bad Attempts "0"`},
		{`<SendEmail To="a" Attempts="[2]"/>`, `bad Attempts "[2]"`},
		{`<SendEmail To="a" Timeout="11m"/>`, `bad Timeout "11m"`},
		{`<SendEmail To="a" RetryBackoff="1m" RetryMaxBackoff="1s"/>`, "RetryMaxBackoff 1s is shorter than RetryBackoff 1m0s"},
		{`<SendEmail To="a" Result="nope"/>`, `Result="nope": unknown variable`},
		{`<Greet Who="a" Attempts="2"/>`, "unknown attribute Attempts on <Greet>"},
		{`<SendEmail To="a"><WriteLine Text="x"/></SendEmail>`, "<SendEmail> cannot contain <WriteLine>"},
		{`<HttpRequest/>`, "missing required attribute Url on <HttpRequest>"},
		{`<HttpRequest Url="ftp://example.com/"/>`, "want an absolute http:// or https:// URL"},
		{`<HttpRequest Url="http://example.com/" Method="GE T"/>`, `"GE T" is not an HTTP method`},
		{`<HttpRequest Url="http://example.com/" RetryStatuses="503,99"/>`, `bad status "99"`},
		{`<HttpRequest Url="http://example.com/" Headers='{"X-A": 1}'/>`, "header X-A: want a string, not a Number"},
	} {
		_, err := ParseDefinition("t.xml", []byte(wf(emailDecls, tc.body)), testTypes...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.want)
		}
	}
	// Without the type, the element is unknown.
	if _, err := ParseDefinition("t.xml", []byte(wf("", `<SendEmail To="a"/>`))); err == nil ||
		!strings.Contains(err.Error(), "unknown element <SendEmail>") {
		t.Errorf("undeclared type: %v", err)
	}
	for _, bad := range []struct {
		typ  *ActivityType
		want string
	}{
		{&ActivityType{Name: "Sequence"}, "is a built-in activity"},
		{&ActivityType{Name: "HttpRequest"}, "HttpRequest is built in"},
		{&ActivityType{Name: "a-b"}, "is not an identifier"},
		{&ActivityType{Name: "X", Arguments: []ActivityArgument{{Name: "Timeout", Type: String}}}, "argument name Timeout is reserved"},
		{&ActivityType{Name: "X", Arguments: []ActivityArgument{{Name: "A", Type: String}, {Name: "A", Type: String}}}, "declared twice"},
		{&ActivityType{Name: "X", Arguments: []ActivityArgument{{Name: "A", Type: "Text"}}}, `bad Type "Text"`},
		{&ActivityType{Name: "X", Arguments: []ActivityArgument{{Name: "A", Type: Number, Default: "one"}}}, "default of A"},
	} {
		if _, err := LoadRegistry("", bad.typ); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("type %+v: %v, want %q", bad.typ, err, bad.want)
		}
	}
	if _, err := LoadRegistry("", sendEmail, &ActivityType{Name: "SendEmail"}); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("two types named SendEmail: %v", err)
	}
}

// HttpRequest's computed arguments are checked when it executes (ArgumentError), its literal
// ones when it loads; defaults fill the call.
func TestHttpRequestArguments(t *testing.T) {
	def := mustParse(t, wf(`<Arguments><In Name="u" Type="String"/><In Name="h" Type="Object"/></Arguments>
<Variables><Variable Name="res" Type="Object"/></Variables>`,
		`<HttpRequest Id="call" Url="[u]" Headers="[h]" Result="res"/>`))
	in := mustStart(t, def, map[string]any{"u": "https://api.example.com/v1?q=1", "h": map[string]any{"Accept": "application/json"}})
	in.Run(t0, 0)
	c := in.PendingCalls()
	if len(c) != 1 {
		t.Fatal(c)
	}
	args, _ := json.Marshal(c[0].Args)
	if want := `{"Body":null,"FailOnStatus":false,"Headers":{"Accept":"application/json"},"Method":"GET","RetryStatuses":"429,502,503,504","Url":"https://api.example.com/v1?q=1"}`; string(args) != want {
		t.Fatalf("args %s\nwant %s", args, want)
	}
	for _, inputs := range []map[string]any{
		{"u": "file:///etc/passwd"},
		{"u": "http://x/", "h": map[string]any{"Bad Name": "v"}},
		{"u": "http://x/", "h": map[string]any{"X": "a\r\nInjected: yes"}},
		{"u": "http://x/", "h": "not an object"},
	} {
		in := mustStart(t, def, inputs)
		if r := in.Run(t0, 0); r.Kind != ResultUnhandledException || r.Exception.Name != ArgumentError {
			t.Errorf("%v: %v", inputs, r)
		}
	}
}

func TestParseStatusList(t *testing.T) {
	for s, want := range map[string]string{
		"429,502,503,504":  "[429 502 503 504]",
		" 503 , 429 ,503 ": "[429 503]",
		"":                 "[]",
		"100,599":          "[100 599]",
	} {
		got, err := ParseStatusList(s)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ParseStatusList(%q) = %v, %v; want %s", s, got, err, want)
		}
	}
	for _, s := range []string{"99", "600", "5030", "50x", "503,", ",503", "+50", "503 429", "٣٠٣"} {
		if got, err := ParseStatusList(s); err == nil {
			t.Errorf("ParseStatusList(%q) = %v, want an error", s, got)
		}
	}
}

func FuzzParseStatusList(f *testing.F) {
	for _, s := range []string{"429,502,503,504", "", " 200 ", "99", "503,,504", "1000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseStatusList(s)
		if err != nil {
			return
		}
		for i, n := range got {
			if n < 100 || n > 599 || (i > 0 && got[i-1] >= n) {
				t.Fatalf("ParseStatusList(%q) = %v: out of range or not sorted and unique", s, got)
			}
		}
		// The list written back parses to itself.
		var parts []string
		for _, n := range got {
			parts = append(parts, fmt.Sprint(n))
		}
		again, err := ParseStatusList(strings.Join(parts, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("round trip of %v: %v, %v", got, again, err)
		}
	})
}
