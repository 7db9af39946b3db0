package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
)

// The StateMachine tests drive the embedded sample SalesCollaboration 1.0.0.0
// (engine/samples/SalesCollaboration.xml; engine/FORMAT.md, "Walk-through: SalesCollaboration"
// and "StateMachine"). The server loads the embedded samples by itself: a copy of the file in a
// --definitions directory would be a second definition with the same identity, a load error.
// Every expected value below is written out from the definition and FORMAT.md's semantics:
//
//   - NewLead's Entry sets assignee = salesperson and writes "Lead <lead> assigned to <assignee>";
//     its only transition, startCollaboration, has neither trigger nor condition: taken at once.
//   - SalesCollaboration's Entry sets status = 'With ' + assignee and writes "Document with
//     <assignee>"; its Exit writes "Document leaves <assignee>". It waits on the bookmark
//     Transferred (Receive receiveTransfer, Result transfer) shared by close and handOver, and on
//     Delay escalationDelay (escalateAfter) for escalate.
//   - close (→ Closed): transfer.complete == true from the salesperson; Action writes
//     "Closing lead <lead>". handOver (→ SalesCollaboration, a self-transition): complete != true
//     from the current assignee with a non-empty "to"; Action counts transfers and sets assignee =
//     transfer.to. A transfer that fits neither is ignored: the Receive waits again and the Delay
//     goes on waiting. escalate (→ SalesCollaboration): counts escalations and writes
//     "Escalated: lead <lead> idle with <assignee> for <escalateAfter>".
//   - FinalState Closed's Entry sets status = Closed and writes "Lead <lead> closed by
//     <salesperson>"; the instance completes Closed.
//   - Entering a state records StateEntered then runs the Entry; taking a transition runs the Exit,
//     records StateExited {transition, to}, runs the Action, then enters the target.

const (
	smDefinition = "SalesCollaboration"
	smWaiting    = "SalesCollaboration"
	smBookmark   = "Transferred"
)

// smWant is what GetInstance must show after the operations a client saw acknowledged.
type smWant struct {
	state        string // Active, Completed
	completion   string // "", Closed
	currentState string // "" once completed: a completed instance is in no state
	bookmarks    []string
	vars         map[string]any // every declared variable (arguments are not listed): decoded JSON, numbers float64
	timer        bool           // a pending (escalation) timer
}

// callCtx bounds one request of a test to the server (30 s, and the test's own end).
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func smCreate(t *testing.T, s *server, inputs map[string]any) uuid.UUID {
	t.Helper()
	id, err := s.hosting().Create(callCtx(t), host.CreateRequest{Definition: smDefinition, Inputs: inputs})
	if err != nil {
		t.Fatalf("create %s %v: %v", smDefinition, inputs, err)
	}
	return id
}

// smResume resumes Transferred with payload and fails the test unless it is acknowledged.
func smResume(t *testing.T, s *server, id uuid.UUID, payload string) {
	t.Helper()
	if err := s.hosting().ResumeBookmark(callCtx(t), id, smBookmark, payload); err != nil {
		t.Fatalf("ResumeBookmark %s %s: %v", smBookmark, payload, err)
	}
}

func smGet(t *testing.T, s *server, id uuid.UUID) *hosting.Instance {
	t.Helper()
	inst, err := s.hosting().GetInstance(callCtx(t), id)
	if err != nil {
		t.Fatalf("GetInstance %s: %v", id, err)
	}
	return inst
}

func smRecords(t *testing.T, s *server, id uuid.UUID) []hosting.Record {
	t.Helper()
	recs, err := s.hosting().TrackingRecords(callCtx(t), id, 0)
	if err != nil {
		t.Fatalf("GetTrackingRecords %s: %v", id, err)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			t.Fatalf("tracking records out of order: seq %d after %d", recs[i].Seq, recs[i-1].Seq)
		}
	}
	return recs
}

// smCheck reads the instance and fails the test unless it is what w says; it returns the read.
func smCheck(t *testing.T, s *server, id uuid.UUID, when string, w smWant) *hosting.Instance {
	t.Helper()
	inst := smGet(t, s, id)
	bookmarks := slices.Clone(inst.Bookmarks)
	slices.Sort(bookmarks)
	if string(inst.State) != w.state || inst.Completion != w.completion || inst.CurrentState != w.currentState ||
		!slices.Equal(bookmarks, w.bookmarks) {
		t.Fatalf("%s: want state=%s completion=%q currentState=%q bookmarks=%v;\ngot state=%s completion=%q currentState=%q bookmarks=%v (suspension %q %q)",
			when, w.state, w.completion, w.currentState, w.bookmarks,
			inst.State, inst.Completion, inst.CurrentState, inst.Bookmarks, inst.SuspensionException, inst.SuspensionReason)
	}
	if !reflect.DeepEqual(inst.Variables, w.vars) {
		t.Errorf("%s: variables\n got %#v\nwant %#v", when, inst.Variables, w.vars)
	}
	if (inst.PendingTimer != nil) != w.timer {
		t.Errorf("%s: pendingTimer %v, want a pending timer: %v", when, inst.PendingTimer, w.timer)
	}
	if t.Failed() {
		t.FailNow()
	}
	return inst
}

// smWait polls GetInstance until cond holds (a liveness bound, not a timing assertion).
func smWait(t *testing.T, s *server, id uuid.UUID, within time.Duration, what string, cond func(*hosting.Instance) bool) *hosting.Instance {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		inst := smGet(t, s, id)
		if cond(inst) {
			return inst
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s: %s did not happen within %v; last read: %+v", id, what, within, inst)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func smNum(inst *hosting.Instance, name string) float64 {
	f, _ := inst.Variables[name].(float64)
	return f
}

// smTrace renders the records the StateMachine semantics fix, in order: state entries and
// exits, WriteLine texts, Transferred resumptions (with their payload) and fired timers. The
// other activity records (Executing/Closed of each activity) are left out.
func smTrace(t *testing.T, recs []hosting.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		var d map[string]any
		if r.Data != "" && r.Data != "null" {
			if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
				t.Fatalf("record %d (%s/%s) data %q: %v", r.Seq, r.Kind, r.Name, r.Data, err)
			}
		}
		switch {
		case r.Kind == "Activity" && r.Name == "StateEntered":
			out = append(out, fmt.Sprintf("enter %s (%v)", r.Activity, d["stateMachine"]))
		case r.Kind == "Activity" && r.Name == "StateExited":
			out = append(out, fmt.Sprintf("exit %s (%v) by %v to %v", r.Activity, d["stateMachine"], d["transition"], d["to"]))
		case r.Kind == "Activity" && r.Name == "WriteLine":
			out = append(out, fmt.Sprintf("write %v", d["text"]))
		case r.Kind == "Bookmark" && r.Name == smBookmark:
			b, _ := json.Marshal(d) // keys sorted
			out = append(out, "resume "+string(b))
		case r.Kind == "Bookmark" && r.Name == "(timer)":
			out = append(out, "timer")
		}
	}
	return out
}

func smCheckTrace(t *testing.T, when string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: tracking records (state entries/exits, WriteLines, resumptions, timers):\ngot:\n  %s\nwant:\n  %s",
			when, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// smTimers are the fired-timer records with their due times.
func smTimers(t *testing.T, recs []hosting.Record) []firedTimer {
	t.Helper()
	var rs []record
	for _, r := range recs {
		rs = append(rs, record{Seq: r.Seq, Time: r.Time, Kind: r.Kind, Name: r.Name, Activity: r.Activity, Data: r.Data})
	}
	return timerRecords(t, rs)
}

// smEntered lists the states entered, in order (the StateEntered records).
func smEntered(recs []hosting.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Kind == "Activity" && r.Name == "StateEntered" {
			out = append(out, r.Activity)
		}
	}
	return out
}

// A SalesCollaboration lead survives kill -9 of wimp-server after every acknowledged
// resumption: two hand-overs (self-transitions of SalesCollaboration), a transfer the
// conditions ignore, and the closing transition to the FinalState. After each restart on the
// same database the acknowledged step is in effect — currentState, the bookmark it waits on,
// the escalation timer (restarted by a re-entry, left alone by an ignored transfer), the
// variables — and at the end the tracking records show each state entered in order, once per
// acknowledged step.
func TestStateMachineSurvivesKill9(t *testing.T) {
	s := startServer(t)
	id := smCreate(t, s, map[string]any{"lead": "ACME-42", "salesperson": "sam"})

	// NewLead's triggerless transition is taken at once: the first state the machine waits in
	// is SalesCollaboration, with the document assigned to the salesperson.
	waiting := func(assignee string, transfers float64, transfer any) smWant {
		return smWant{state: "Active", currentState: smWaiting, bookmarks: []string{smBookmark}, timer: true,
			vars: map[string]any{"assignee": assignee, "status": "With " + assignee, "transfers": transfers, "escalations": 0.0,
				"transfer": transfer}}
	}
	inst := smCheck(t, s, id, "after create", waiting("sam", 0, nil))
	// escalateAfter defaults to 168h: the escalation is due 7 days after the entry.
	if d := inst.PendingTimer.Sub(inst.Updated); d < 168*time.Hour-time.Minute || d > 168*time.Hour+time.Minute {
		t.Fatalf("after create: the escalation timer is due %s, %v after the instance was persisted (%s); want about 168h",
			inst.PendingTimer.Format(time.RFC3339Nano), d, inst.Updated.Format(time.RFC3339Nano))
	}
	want := []string{
		"enter NewLead (leadLifecycle)",
		"write Lead ACME-42 assigned to sam",
		"exit NewLead (leadLifecycle) by startCollaboration to SalesCollaboration",
		"enter SalesCollaboration (leadLifecycle)",
		"write Document with sam",
	}
	smCheckTrace(t, "after create", smTrace(t, smRecords(t, s, id)), want)
	due := *inst.PendingTimer

	// kill9Check kills the server right after an acknowledged step, restarts it on the same
	// database and checks that the step is in effect, as it was before the kill.
	kill9Check := func(step string, w smWant, before *hosting.Instance) *hosting.Instance {
		t.Helper()
		s.Kill9()
		s.restart()
		after := smCheck(t, s, id, step+", after kill -9 and restart", w)
		if (before.PendingTimer == nil) != (after.PendingTimer == nil) ||
			before.PendingTimer != nil && !before.PendingTimer.Equal(*after.PendingTimer) {
			t.Fatalf("%s: the escalation timer was due %v before the kill, %v after the restart", step, before.PendingTimer, after.PendingTimer)
		}
		smCheckTrace(t, step+", after kill -9 and restart", smTrace(t, smRecords(t, s, id)), want)
		return after
	}

	// 1. sam hands the document over to ann: handOver, a self-transition. The Exit runs (the
	// document leaves sam), the Action reassigns, the Entry runs again and restarts the timer.
	step := "hand-over sam → ann"
	smResume(t, s, id, `{"from": "sam", "to": "ann", "complete": false}`)
	transfer := map[string]any{"from": "sam", "to": "ann", "complete": false}
	inst = smCheck(t, s, id, step, waiting("ann", 1, transfer))
	if !inst.PendingTimer.After(due) {
		t.Fatalf("%s: the re-entry did not restart the escalation timer: due %s, before %s", step, inst.PendingTimer, due)
	}
	due = *inst.PendingTimer
	want = append(want,
		`resume {"complete":false,"from":"sam","to":"ann"}`,
		"write Document leaves sam",
		"exit SalesCollaboration (leadLifecycle) by handOver to SalesCollaboration",
		"enter SalesCollaboration (leadLifecycle)",
		"write Document with ann",
	)
	smCheckTrace(t, step, smTrace(t, smRecords(t, s, id)), want)
	kill9Check(step, waiting("ann", 1, transfer), inst)

	// 2. sam no longer holds the document: his hand-over to bob fits neither close nor handOver.
	// The payload is stored in transfer, the Receive waits again, no transition is taken, and
	// the escalation Delay goes on waiting (same due time).
	step = "ignored hand-over sam → bob"
	smResume(t, s, id, `{"from": "sam", "to": "bob", "complete": false}`)
	transfer = map[string]any{"from": "sam", "to": "bob", "complete": false}
	inst = smCheck(t, s, id, step, waiting("ann", 1, transfer))
	if !inst.PendingTimer.Equal(due) {
		t.Fatalf("%s: the escalation timer moved from %s to %s, but no transition was taken", step, due, inst.PendingTimer)
	}
	want = append(want, `resume {"complete":false,"from":"sam","to":"bob"}`)
	smCheckTrace(t, step, smTrace(t, smRecords(t, s, id)), want)
	kill9Check(step, waiting("ann", 1, transfer), inst)

	// 3. ann (the assignee, not the salesperson) says complete: close needs the salesperson,
	// handOver needs complete != true. Ignored too; this one is not followed by a kill.
	step = "ignored completion by ann"
	smResume(t, s, id, `{"from": "ann", "complete": true}`)
	transfer = map[string]any{"from": "ann", "complete": true}
	inst = smCheck(t, s, id, step, waiting("ann", 1, transfer))
	if !inst.PendingTimer.Equal(due) {
		t.Fatalf("%s: the escalation timer moved from %s to %s, but no transition was taken", step, due, inst.PendingTimer)
	}
	want = append(want, `resume {"complete":true,"from":"ann"}`)
	smCheckTrace(t, step, smTrace(t, smRecords(t, s, id)), want)

	// 4. ann hands it back to sam: a second self-transition.
	step = "hand-over ann → sam"
	smResume(t, s, id, `{"from": "ann", "to": "sam", "complete": false}`)
	transfer = map[string]any{"from": "ann", "to": "sam", "complete": false}
	inst = smCheck(t, s, id, step, waiting("sam", 2, transfer))
	if !inst.PendingTimer.After(due) {
		t.Fatalf("%s: the re-entry did not restart the escalation timer: due %s, before %s", step, inst.PendingTimer, due)
	}
	want = append(want,
		`resume {"complete":false,"from":"ann","to":"sam"}`,
		"write Document leaves ann",
		"exit SalesCollaboration (leadLifecycle) by handOver to SalesCollaboration",
		"enter SalesCollaboration (leadLifecycle)",
		"write Document with sam",
	)
	smCheckTrace(t, step, smTrace(t, smRecords(t, s, id)), want)
	kill9Check(step, waiting("sam", 2, transfer), inst)

	// 5. The salesperson completes it: close, to the FinalState Closed. The instance completes
	// Closed, in no state, waiting on nothing, with no timer.
	step = "completion by sam"
	smResume(t, s, id, `{"from": "sam", "complete": true}`)
	closed := smWant{state: "Completed", completion: "Closed", currentState: "", bookmarks: []string{},
		vars: map[string]any{"assignee": "sam", "status": "Closed", "transfers": 2.0, "escalations": 0.0,
			"transfer": map[string]any{"from": "sam", "complete": true}}}
	inst = smCheck(t, s, id, step, closed)
	want = append(want,
		`resume {"complete":true,"from":"sam"}`,
		"write Document leaves sam",
		"exit SalesCollaboration (leadLifecycle) by close to Closed",
		"write Closing lead ACME-42",
		"enter Closed (leadLifecycle)",
		"write Lead ACME-42 closed by sam",
	)
	smCheckTrace(t, step, smTrace(t, smRecords(t, s, id)), want)
	kill9Check(step, closed, inst)

	// Each state entered in order, once per acknowledged step; the completion is recorded once.
	recs := smRecords(t, s, id)
	if got, wantStates := smEntered(recs), []string{"NewLead", smWaiting, smWaiting, smWaiting, "Closed"}; !slices.Equal(got, wantStates) {
		t.Fatalf("states entered %v, want %v", got, wantStates)
	}
	if n := countHosting(recs, "Instance", "Completed"); n != 1 {
		t.Errorf("%d Instance/Completed tracking records, want 1", n)
	}
	if n := len(smTimers(t, recs)); n != 0 {
		t.Errorf("%d escalation timers fired, want none (escalateAfter 168h)", n)
	}
	// A completed instance has no bookmark to resume.
	s.wantFault("InstanceCompleted", "resume-bookmark", id.String(), smBookmark, "--payload", `{"from": "sam", "complete": true}`)
}

func countHosting(recs []hosting.Record, kind, name string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && r.Name == name {
			n++
		}
	}
	return n
}

// The escalation transition (a Delay trigger) survives kill -9 while its timer is pending: once
// restarted before the due time (the new process fires it when it falls due), once restarted
// only after it fell due (the new process fires it at once). Each timer fires exactly once,
// in the process started after the kill, each firing takes escalate exactly once, and the lead
// then closes with both escalations counted.
func TestStateMachineEscalationSurvivesKill9(t *testing.T) {
	const escalateAfter = 6 * time.Second // leaves the kill and restart ample time before the due time
	s := startServer(t)
	id := smCreate(t, s, map[string]any{"lead": "GLOBEX-7", "salesperson": "sam", "escalateAfter": "6s"})
	waiting := func(escalations float64) smWant {
		return smWant{state: "Active", currentState: smWaiting, bookmarks: []string{smBookmark}, timer: true,
			vars: map[string]any{"assignee": "sam", "status": "With sam", "transfers": 0.0, "escalations": escalations, "transfer": nil}}
	}
	inst := smCheck(t, s, id, "after create", waiting(0))
	due1 := *inst.PendingTimer
	if d := due1.Sub(inst.Updated); d < escalateAfter-time.Second || d > escalateAfter {
		t.Fatalf("after create: the escalation is due %s, %v after the instance was persisted (%s); want about %v",
			due1.Format(time.RFC3339Nano), d, inst.Updated.Format(time.RFC3339Nano), escalateAfter)
	}
	want := []string{
		"enter NewLead (leadLifecycle)",
		"write Lead GLOBEX-7 assigned to sam",
		"exit NewLead (leadLifecycle) by startCollaboration to SalesCollaboration",
		"enter SalesCollaboration (leadLifecycle)",
		"write Document with sam",
	}
	smCheckTrace(t, "after create", smTrace(t, smRecords(t, s, id)), want)
	escalation := []string{
		"timer",
		"write Document leaves sam",
		"exit SalesCollaboration (leadLifecycle) by escalate to SalesCollaboration",
		"write Escalated: lead GLOBEX-7 idle with sam for 6s",
		"enter SalesCollaboration (leadLifecycle)",
		"write Document with sam",
	}

	// escalated waits until escalation number n is persisted (the machine back in
	// SalesCollaboration with a new timer) and checks that the timer pending at the kill, due
	// at due, fired exactly once, when it was due and after the kill (in the restarted
	// process), and took escalate exactly once.
	escalated := func(n int, due, killed time.Time) *hosting.Instance {
		t.Helper()
		when := fmt.Sprintf("escalation %d", n)
		smWait(t, s, id, 30*time.Second, when, func(i *hosting.Instance) bool {
			return smNum(i, "escalations") >= float64(n) && i.PendingTimer != nil && i.PendingTimer.After(due)
		})
		inst := smCheck(t, s, id, when, waiting(float64(n)))
		recs := smRecords(t, s, id)
		fired := smTimers(t, recs)
		if len(fired) != n {
			t.Fatalf("%s: %d timer records, want %d: %+v", when, len(fired), n, fired)
		}
		assertFiredOnce(t, fired)
		f := fired[n-1]
		if !f.Due.Truncate(time.Millisecond).Equal(due.Truncate(time.Millisecond)) {
			t.Fatalf("%s: the timer that fired was due %s, want the one pending at the kill, due %s",
				when, f.Due.Format(time.RFC3339Nano), due.Format(time.RFC3339Nano))
		}
		if f.Time.Before(due.Truncate(time.Millisecond)) || !f.Time.After(killed) {
			t.Fatalf("%s: the timer due %s fired at %s: want at or after its due time and after the kill (%s)",
				when, due.Format(time.RFC3339Nano), f.Time.Format(time.RFC3339Nano), killed.Format(time.RFC3339Nano))
		}
		t.Logf("%s: the timer due %s fired at %s (%v after the due time)", when,
			due.Format(time.RFC3339Nano), f.Time.Format(time.RFC3339Nano), f.Time.Sub(due))
		want = append(want, escalation...)
		smCheckTrace(t, when, smTrace(t, recs), want)
		return inst
	}

	// 1. Killed while the first escalation timer is pending; restarted before it is due.
	if fired := smTimers(t, smRecords(t, s, id)); len(fired) != 0 {
		t.Fatalf("a timer fired before the kill: %+v", fired)
	}
	s.Kill9()
	killed := time.Now()
	s.restart()
	if !s.Listened.Before(due1) {
		t.Fatalf("set-up too slow: the kill and restart took until %s, after the due time %s: the case did not happen",
			s.Listened.Format(time.RFC3339Nano), due1.Format(time.RFC3339Nano))
	}
	t.Logf("restart 1: listening %v before the pending timer's due time", due1.Sub(s.Listened))
	inst = escalated(1, due1, killed)
	due2 := *inst.PendingTimer
	if d := due2.Sub(due1); d < escalateAfter {
		t.Fatalf("the re-entry's timer is due %v after the first one, want at least %v", d, escalateAfter)
	}

	// 2. Killed while the second timer is pending, and kept down until after it fell due: the
	// sleep is the scenario (the server is down across the due time), not a wait for an event.
	s.Kill9()
	killed = time.Now()
	if !killed.Before(due2) {
		t.Fatalf("set-up too slow: killed at %s, after the due time %s: the case did not happen",
			killed.Format(time.RFC3339Nano), due2.Format(time.RFC3339Nano))
	}
	time.Sleep(time.Until(due2) + 700*time.Millisecond)
	s.restart()
	inst = escalated(2, due2, killed)
	due3 := *inst.PendingTimer

	// 3. The salesperson closes the lead before the third timer is due.
	smResume(t, s, id, `{"from": "sam", "complete": true}`)
	if smNum(smGet(t, s, id), "escalations") != 2 && time.Now().After(due3) {
		t.Fatalf("set-up too slow: the lead was closed after the third escalation was due (%s): the case did not happen",
			due3.Format(time.RFC3339Nano))
	}
	closed := smWant{state: "Completed", completion: "Closed", currentState: "", bookmarks: []string{},
		vars: map[string]any{"assignee": "sam", "status": "Closed", "transfers": 0.0, "escalations": 2.0,
			"transfer": map[string]any{"from": "sam", "complete": true}}}
	smCheck(t, s, id, "after the completion", closed)
	want = append(want,
		`resume {"complete":true,"from":"sam"}`,
		"write Document leaves sam",
		"exit SalesCollaboration (leadLifecycle) by close to Closed",
		"write Closing lead GLOBEX-7",
		"enter Closed (leadLifecycle)",
		"write Lead GLOBEX-7 closed by sam",
	)
	smCheckTrace(t, "after the completion", smTrace(t, smRecords(t, s, id)), want)

	// The completion is durable too, and nothing fires or repeats after it.
	s.Kill9()
	s.restart()
	smCheck(t, s, id, "after the completion, kill -9 and restart", closed)
	recs := smRecords(t, s, id)
	smCheckTrace(t, "after the completion, kill -9 and restart", smTrace(t, recs), want)
	if got, wantStates := smEntered(recs), []string{"NewLead", smWaiting, smWaiting, smWaiting, "Closed"}; !slices.Equal(got, wantStates) {
		t.Fatalf("states entered %v, want %v", got, wantStates)
	}
	fired := smTimers(t, recs)
	if len(fired) != 2 || !fired[0].Due.Truncate(time.Millisecond).Equal(due1.Truncate(time.Millisecond)) ||
		!fired[1].Due.Truncate(time.Millisecond).Equal(due2.Truncate(time.Millisecond)) {
		t.Fatalf("fired timers %+v, want exactly the two due %s and %s", fired, due1.Format(time.RFC3339Nano), due2.Format(time.RFC3339Nano))
	}
	if n := countHosting(recs, "Instance", "Completed"); n != 1 {
		t.Errorf("%d Instance/Completed tracking records, want 1", n)
	}
}
