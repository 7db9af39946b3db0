package e2e

import (
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
	"github.com/wimp-project/wimp/workflow"
)

// The InvokeWorkflow tests drive the embedded samples DocumentApproval 1.0.0.0 (the parent) and
// ReviewTask 1.0.0.0 (the child), engine/samples/DocumentApproval.xml and ReviewTask.xml, across
// kill -9 of wimp-server. Every expected value below is written out from the two definitions
// and the rules of child instances:
//
//   - DocumentApproval (inputs document, reviewers; reviewTimeout defaults to 240h) declares
//     review (Object, null), approvals (Number, 0), comments (Object, []) and status (String,
//     'Pending'). A Pick races a ForEach over the reviewers against a Delay of reviewTimeout. For
//     each reviewer in turn the ForEach starts a wimp.samples.ReviewTask 1.0.0.0 with
//     {document, reviewer} and waits for it; its Result, review, receives the child's variables;
//     review.approved counts in approvals and "<reviewer>: <review.comment>" is appended to
//     comments. When the ForEach ends, status = Approved if approvals == len(reviewers), else
//     Rejected.
//   - ReviewTask (inputs document, reviewer; correlation key review/<document>/<reviewer>)
//     declares decision (Object, null), approved (Boolean, false) and comment (String, ""). It
//     writes "<document> is waiting for the review of <reviewer>", waits on the bookmark decide
//     (Result decision), sets approved = decision.approved == true and comment =
//     decision.comment, and completes Closed.
//   - A child is inserted in the same commit as the parent's image that waits for it (Create runs
//     the parent until it first goes idle before it acknowledges, so the first child exists once
//     the create is acknowledged). A child's completion is delivered to its parent in the same
//     commit as the completion; the parent then runs on. A terminated parent's child is
//     terminated by a command after the parent's commit, or by the sweep at the next start.

const (
	daDefinition = "DocumentApproval"
	rtDefinition = "ReviewTask"
	rtBookmark   = "decide"
)

var rtIdentity = workflow.Identity{Name: "ReviewTask", Package: "wimp.samples", Version: "1.0.0.0"}

// ivKey is the correlation key of the ReviewTask of document's reviewer.
func ivKey(document, reviewer string) string { return "review/" + document + "/" + reviewer }

func ivCreate(t *testing.T, s *server, document string, reviewers ...string) uuid.UUID {
	t.Helper()
	inputs := map[string]any{"document": document, "reviewers": reviewers}
	id, err := s.hosting().Create(callCtx(t), host.CreateRequest{Definition: daDefinition, Inputs: inputs})
	if err != nil {
		t.Fatalf("create %s %v: %v", daDefinition, inputs, err)
	}
	return id
}

// ivFind reads the instance r names; false when there is none (InstanceNotFound).
func ivFind(t *testing.T, s *server, r hosting.Ref) (*hosting.Instance, bool) {
	t.Helper()
	inst, err := s.hosting().GetInstanceByRef(callCtx(t), r)
	if err != nil {
		if code, ok := faultSubcode(err); ok && code == "InstanceNotFound" {
			return nil, false
		}
		t.Fatalf("GetInstance %+v: %v", r, err)
	}
	return inst, true
}

func ivGet(t *testing.T, s *server, r hosting.Ref) *hosting.Instance {
	t.Helper()
	inst, ok := ivFind(t, s, r)
	if !ok {
		t.Fatalf("GetInstance %+v: InstanceNotFound", r)
	}
	return inst
}

// ivWait polls GetInstance until the instance r names exists and cond holds (a liveness bound,
// not a timing assertion).
// On failure it also shows the instances also names as they are then (e.g. a stalled parent).
func ivWait(t *testing.T, s *server, r hosting.Ref, within time.Duration, what string, cond func(*hosting.Instance) bool, also ...hosting.Ref) *hosting.Instance {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		inst, ok := ivFind(t, s, r)
		if ok && cond(inst) {
			return inst
		}
		if time.Now().After(deadline) {
			var more strings.Builder
			for _, a := range also {
				x, found := ivFind(t, s, a)
				if found {
					fmt.Fprintf(&more, "\n%+v is then: state=%s executionStatus=%s pendingTimer=%v bookmarks=%v variables=%v",
						a, x.State, x.ExecutionStatus, x.PendingTimer, x.Bookmarks, x.Variables)
				}
			}
			t.Fatalf("instance %+v: %s did not happen within %v; last read (found %v): %+v%s", r, what, within, ok, inst, more.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ivResume(t *testing.T, s *server, key, payload string) {
	t.Helper()
	if err := s.hosting().ResumeBookmarkByRef(callCtx(t), hosting.Ref{Key: key}, rtBookmark, payload); err != nil {
		t.Fatalf("ResumeBookmark %s of %s %s: %v", rtBookmark, key, payload, err)
	}
}

func ivRecords(t *testing.T, s *server, id uuid.UUID) []hosting.Record {
	t.Helper()
	recs, err := s.hosting().TrackingRecords(callCtx(t), id, 0)
	if err != nil {
		t.Fatalf("GetTrackingRecords %s: %v", id, err)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			t.Fatalf("instance %s: tracking records out of order: seq %d after %d", id, recs[i].Seq, recs[i-1].Seq)
		}
	}
	return recs
}

func ivData(t *testing.T, r hosting.Record) map[string]any {
	t.Helper()
	var d map[string]any
	if r.Data != "" && r.Data != "null" {
		if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
			t.Fatalf("record %d (%s/%s) data %q: %v", r.Seq, r.Kind, r.Name, r.Data, err)
		}
	}
	return d
}

func ivCount(recs []hosting.Record, kind, name string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && r.Name == name {
			n++
		}
	}
	return n
}

// ivChildEvents renders the parent's ChildStarted and ChildCompleted records in order:
// "started <child id>", "completed <child id> <completion>".
func ivChildEvents(t *testing.T, recs []hosting.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		if r.Kind != "Activity" || (r.Name != "ChildStarted" && r.Name != "ChildCompleted") {
			continue
		}
		d := ivData(t, r)
		child, _ := d["child"].(string)
		if r.Name == "ChildStarted" {
			if def, _ := d["definition"].(string); !strings.Contains(def, rtDefinition) {
				t.Fatalf("ChildStarted record %d names the definition %q, want %s", r.Seq, def, rtIdentity)
			}
			out = append(out, "started "+child)
		} else {
			out = append(out, "completed "+child+" "+d["completion"].(string))
		}
	}
	return out
}

func ivCheckChildEvents(t *testing.T, s *server, parent uuid.UUID, when string, want ...string) {
	t.Helper()
	if got := ivChildEvents(t, ivRecords(t, s, parent)); !slices.Equal(got, want) {
		t.Fatalf("%s: the parent's ChildStarted/ChildCompleted records:\ngot:\n  %s\nwant:\n  %s",
			when, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// ivReviewTasks lists the correlation keys of every stored ReviewTask, sorted, with their ids.
func ivReviewTasks(t *testing.T, s *server) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	ids := map[string]string{}
	token := ""
	for {
		page, err := s.hosting().QueryInstances(callCtx(t), host.QueryRequest{
			Filter: host.Filter{Definition: rtIdentity.Name, Package: rtIdentity.Package}, PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatalf("QueryInstances %s: %v", rtDefinition, err)
		}
		for _, inst := range page.Instances {
			keys = append(keys, inst.CorrelationKey)
			ids[inst.CorrelationKey] = inst.ID
		}
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	slices.Sort(keys)
	return keys, ids
}

func ivCheckReviewTasks(t *testing.T, s *server, when string, want ...string) {
	t.Helper()
	got, _ := ivReviewTasks(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: the stored ReviewTasks have the keys %q, want exactly %q", when, got, want)
	}
}

// ivWant is what GetInstance must show.
type ivWant struct {
	state, completion string
	bookmarks         []string
	vars              map[string]any // every declared variable: decoded JSON, numbers float64
	timer             bool
}

func ivCheck(t *testing.T, inst *hosting.Instance, when string, w ivWant) {
	t.Helper()
	bookmarks := slices.Clone(inst.Bookmarks)
	slices.Sort(bookmarks)
	if string(inst.State) != w.state || inst.Completion != w.completion || !slices.Equal(bookmarks, w.bookmarks) {
		t.Fatalf("%s: instance %s (%s): want state=%s completion=%q bookmarks=%v;\ngot state=%s completion=%q (%q) bookmarks=%v (suspension %q %q)",
			when, inst.ID, inst.Definition, w.state, w.completion, w.bookmarks,
			inst.State, inst.Completion, inst.CompletionReason, inst.Bookmarks, inst.SuspensionException, inst.SuspensionReason)
	}
	if !reflect.DeepEqual(inst.Variables, w.vars) {
		t.Errorf("%s: instance %s (%s) variables\n got %#v\nwant %#v", when, inst.ID, inst.Definition, inst.Variables, w.vars)
	}
	if (inst.PendingTimer != nil) != w.timer {
		t.Errorf("%s: instance %s pendingTimer %v, want a pending timer: %v", when, inst.ID, inst.PendingTimer, w.timer)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// ivCheckChild checks what only the child is: a ReviewTask with its key, started by parent (its
// Created record attributed to the parent and naming it).
func ivCheckChild(t *testing.T, s *server, child *hosting.Instance, parent uuid.UUID, key, when string) {
	t.Helper()
	if child.Definition != rtIdentity || child.CorrelationKey != key {
		t.Fatalf("%s: the child found by %s is %s with key %q, want %s with that key", when, key, child.Definition, child.CorrelationKey, rtIdentity)
	}
	id, err := uuid.Parse(child.ID)
	if err != nil {
		t.Fatalf("%s: child id %q: %v", when, child.ID, err)
	}
	recs := ivRecords(t, s, id)
	if len(recs) == 0 || recs[0].Kind != "Instance" || recs[0].Name != "Created" {
		t.Fatalf("%s: the child %s's first tracking record is not Instance/Created: %+v", when, key, recs)
	}
	if p := ivData(t, recs[0])["parent"]; recs[0].Principal != "instance/"+parent.String() || p != parent.String() {
		t.Fatalf("%s: the child %s's Created record (principal %q, data %s) does not name the parent %s",
			when, key, recs[0].Principal, recs[0].Data, parent)
	}
	if n := ivCount(recs, "Instance", "Created"); n != 1 {
		t.Fatalf("%s: the child %s has %d Created records, want 1", when, key, n)
	}
}

// ivReviewWaiting: a ReviewTask that waits on decide.
func ivReviewWaiting() ivWant {
	return ivWant{state: "Active", bookmarks: []string{rtBookmark},
		vars: map[string]any{"decision": nil, "approved": false, "comment": ""}}
}

// ivReviewDone: a ReviewTask that completed with the decision {approved, comment}.
func ivReviewDone(approved bool, comment string) ivWant {
	return ivWant{state: "Completed", completion: "Closed", bookmarks: []string{}, vars: ivReviewVars(approved, comment)}
}

// ivReviewVars are a completed ReviewTask's variables, which its parent's review receives.
func ivReviewVars(approved bool, comment string) map[string]any {
	return map[string]any{"decision": map[string]any{"approved": approved, "comment": comment}, "approved": approved, "comment": comment}
}

// ivCheckWrites checks the child's WriteLine records: exactly the one line ReviewTask writes.
func ivCheckWrites(t *testing.T, s *server, child *hosting.Instance, document, reviewer, when string) {
	t.Helper()
	id := uuid.MustParse(child.ID)
	var got []string
	for _, r := range ivRecords(t, s, id) {
		if r.Kind == "Activity" && r.Name == "WriteLine" {
			text, _ := ivData(t, r)["text"].(string)
			got = append(got, text)
		}
	}
	if want := []string{document + " is waiting for the review of " + reviewer}; !slices.Equal(got, want) {
		t.Fatalf("%s: the child %s wrote %q, want %q", when, child.CorrelationKey, got, want)
	}
}

func ivKill9(s *server) {
	s.Kill9()
	s.restart()
}

// A DocumentApproval with two reviewers survives kill -9 of wimp-server right after each
// acknowledged step. After the create: the first ReviewTask (ann's) exists — it was inserted
// with the parent's image that waits for it — and, run by the restarted process if need be,
// waits on decide; bob's does not exist yet. After ann's decision: ann's child is Completed and
// its outcome reached the parent in the same commit, so the parent runs on after the restart
// and starts bob's child, without any further request. After bob's decision: the parent
// completes Rejected with both reviews counted. Throughout, exactly one ReviewTask per
// reviewer ever exists, and the parent's tracking records show each child started once and
// completed once.
func TestInvokeWorkflowSurvivesKill9(t *testing.T) {
	const document = "spec-7"
	annKey, bobKey := ivKey(document, "ann"), ivKey(document, "bob")
	annRef, bobRef := hosting.Ref{Key: annKey}, hosting.Ref{Key: bobKey}

	s := startServer(t)
	parent := ivCreate(t, s, document, "ann", "bob")
	pref := hosting.Ref{ID: parent}

	// The parent waits for its first child, with the Pick's escalation Delay pending.
	parentWaiting := func(review any, approvals float64, comments ...any) ivWant {
		if comments == nil {
			comments = []any{}
		}
		return ivWant{state: "Active", bookmarks: []string{}, timer: true,
			vars: map[string]any{"review": review, "approvals": approvals, "comments": comments, "status": "Pending"}}
	}

	// 1. Killed right after the create was acknowledged.
	step := "create, kill -9 and restart"
	ivKill9(s)
	ann, ok := ivFind(t, s, annRef)
	if !ok {
		t.Fatalf("%s: no ReviewTask with the key %s: the create was acknowledged, and the parent's image that waits for it was in that commit", step, annKey)
	}
	ivCheckChild(t, s, ann, parent, annKey, step)
	annID := uuid.MustParse(ann.ID)
	ann = ivWait(t, s, annRef, 30*time.Second, "ann's review waits on decide", func(i *hosting.Instance) bool {
		return len(i.Bookmarks) > 0 || i.State != workflow.Active
	})
	ivCheck(t, ann, step+": ann's review", ivReviewWaiting())
	ivCheckWrites(t, s, ann, document, "ann", step)
	if _, ok := ivFind(t, s, bobRef); ok {
		t.Fatalf("%s: a ReviewTask with the key %s exists while ann's review is under way", step, bobKey)
	}
	ivCheckReviewTasks(t, s, step, annKey)
	p := ivGet(t, s, pref)
	ivCheck(t, p, step+": the parent", parentWaiting(nil, 0))
	// reviewTimeout defaults to 240h: the escalation is due 10 days after the start.
	if d := p.PendingTimer.Sub(p.Created); d < 240*time.Hour-time.Minute || d > 240*time.Hour+time.Minute {
		t.Fatalf("%s: the escalation is due %s, %v after the parent was created (%s); want about 240h",
			step, p.PendingTimer.Format(time.RFC3339Nano), d, p.Created.Format(time.RFC3339Nano))
	}
	due := *p.PendingTimer
	ivCheckChildEvents(t, s, parent, step, "started "+annID.String())

	// 2. ann approves; killed right after the acknowledgement.
	step = "ann's decision, kill -9 and restart"
	ivResume(t, s, annKey, `{"approved": true, "comment": "fine"}`)
	ivKill9(s)
	ann = ivGet(t, s, annRef)
	ivCheck(t, ann, step+": ann's review", ivReviewDone(true, "fine"))
	if n := ivCount(ivRecords(t, s, annID), "Instance", "Completed"); n != 1 {
		t.Fatalf("%s: ann's review has %d Instance/Completed records, want 1", step, n)
	}
	// The delivery to the parent was in the commit of ann's completion: whatever the kill
	// interrupted, the parent runs on from it and starts bob's review by itself.
	bob := ivWait(t, s, bobRef, 30*time.Second, "bob's review waits on decide", func(i *hosting.Instance) bool {
		return len(i.Bookmarks) > 0 || i.State != workflow.Active
	}, pref)
	ivCheckChild(t, s, bob, parent, bobKey, step)
	ivCheck(t, bob, step+": bob's review", ivReviewWaiting())
	ivCheckWrites(t, s, bob, document, "bob", step)
	bobID := uuid.MustParse(bob.ID)
	p = ivGet(t, s, pref)
	ivCheck(t, p, step+": the parent", parentWaiting(ivReviewVars(true, "fine"), 1, "ann: fine"))
	if !p.PendingTimer.Equal(due) {
		t.Fatalf("%s: the escalation moved from %s to %s; the Pick's Delay runs on beside the reviews", step, due, p.PendingTimer)
	}
	ivCheckReviewTasks(t, s, step, annKey, bobKey)
	ivCheckChildEvents(t, s, parent, step,
		"started "+annID.String(), "completed "+annID.String()+" Closed", "started "+bobID.String())

	// 3. bob rejects; killed right after the acknowledgement.
	step = "bob's decision, kill -9 and restart"
	ivResume(t, s, bobKey, `{"approved": false, "comment": "typo"}`)
	ivKill9(s)
	ivCheck(t, ivGet(t, s, bobRef), step+": bob's review", ivReviewDone(false, "typo"))
	p = ivWait(t, s, pref, 30*time.Second, "the parent's completion", func(i *hosting.Instance) bool {
		return i.State == workflow.Completed
	})
	ivCheck(t, p, step+": the parent", ivWant{state: "Completed", completion: "Closed", bookmarks: []string{},
		vars: map[string]any{"review": ivReviewVars(false, "typo"), "approvals": 1.0,
			"comments": []any{"ann: fine", "bob: typo"}, "status": "Rejected"}})
	ivCheck(t, ivGet(t, s, annRef), step+": ann's review", ivReviewDone(true, "fine"))
	ivCheckReviewTasks(t, s, step, annKey, bobKey)
	wantEvents := []string{"started " + annID.String(), "completed " + annID.String() + " Closed",
		"started " + bobID.String(), "completed " + bobID.String() + " Closed"}
	ivCheckChildEvents(t, s, parent, step, wantEvents...)
	for _, c := range []struct {
		id   uuid.UUID
		what string
	}{{parent, "the parent"}, {annID, "ann's review"}, {bobID, "bob's review"}} {
		recs := ivRecords(t, s, c.id)
		if n := ivCount(recs, "Instance", "Completed"); n != 1 {
			t.Errorf("%s: %s has %d Instance/Completed records, want 1", step, c.what, n)
		}
		if c.id != parent {
			if n := ivCount(recs, "Bookmark", rtBookmark); n != 1 {
				t.Errorf("%s: %s has %d %s resumption records, want 1", step, c.what, n, rtBookmark)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// 4. And once more: everything completed stays as it is.
	step = "after the completion, kill -9 and restart"
	ivKill9(s)
	ivCheck(t, ivGet(t, s, pref), step+": the parent", ivWant{state: "Completed", completion: "Closed", bookmarks: []string{},
		vars: map[string]any{"review": ivReviewVars(false, "typo"), "approvals": 1.0,
			"comments": []any{"ann: fine", "bob: typo"}, "status": "Rejected"}})
	ivCheckReviewTasks(t, s, step, annKey, bobKey)
	ivCheckChildEvents(t, s, parent, step, wantEvents...)
}

// A DocumentApproval terminated while its first review runs, the server killed with -9 right
// after the Terminate was acknowledged — before or after the command that terminates the child
// ran: after the restart the child ends Terminated within a bounded wait (by that command, or by
// the start-up sweep), with a reason naming the parent, attributed to the parent. The second
// reviewer's review is never started, and the terminated parent receives no child outcome.
func TestInvokeWorkflowTerminatePropagatesAcrossKill9(t *testing.T) {
	const document, reason = "spec-8", "withdrawn by the author"
	carolKey, danKey := ivKey(document, "carol"), ivKey(document, "dan")
	carolRef := hosting.Ref{Key: carolKey}

	s := startServer(t)
	parent := ivCreate(t, s, document, "carol", "dan")
	carol := ivWait(t, s, carolRef, 30*time.Second, "carol's review waits on decide", func(i *hosting.Instance) bool {
		return len(i.Bookmarks) > 0 || i.State != workflow.Active
	})
	ivCheckChild(t, s, carol, parent, carolKey, "before the Terminate")
	ivCheck(t, carol, "before the Terminate: carol's review", ivReviewWaiting())
	carolID := uuid.MustParse(carol.ID)

	if err := callWFIM(callCtx(t), s.control(), "Terminate", parent, reason); err != nil {
		t.Fatalf("MS-WFIM Terminate %s: %v", parent, err)
	}
	s.Kill9()
	killed := time.Now()
	s.restart()

	step := "Terminate, kill -9 and restart"
	p := ivGet(t, s, hosting.Ref{ID: parent})
	if p.State != workflow.Completed || p.Completion != "Terminated" || p.CompletionReason != reason {
		t.Fatalf("%s: the parent is %s/%s (%q), want Completed/Terminated (%q)", step, p.State, p.Completion, p.CompletionReason, reason)
	}
	carol = ivWait(t, s, carolRef, 30*time.Second, "carol's review completes", func(i *hosting.Instance) bool {
		return i.State == workflow.Completed
	})
	if carol.Completion != "Terminated" || !strings.HasPrefix(carol.CompletionReason, "parent "+parent.String()+": ") {
		t.Fatalf("%s: carol's review completed %s (%q), want Terminated with a reason naming the parent %s",
			step, carol.Completion, carol.CompletionReason, parent)
	}
	recs := ivRecords(t, s, carolID)
	var term hosting.Record
	for _, r := range recs {
		if r.Kind == "Instance" && r.Name == "Terminated" {
			term = r
		}
	}
	if n := ivCount(recs, "Instance", "Terminated"); n != 1 || term.Principal != "instance/"+parent.String() {
		t.Fatalf("%s: carol's review has %d Instance/Terminated records (the last by %q), want 1 by instance/%s",
			step, n, term.Principal, parent)
	}
	by := "the command after the parent's commit, before the kill"
	if term.Time.After(killed) {
		by = "the restarted process (start-up sweep or command)"
	}
	t.Logf("carol's review was terminated by %s: %q", by, carol.CompletionReason)
	if n := ivCount(recs, "Bookmark", rtBookmark); n != 0 {
		t.Fatalf("%s: carol's review has %d %s resumptions, want none", step, n, rtBookmark)
	}
	if _, ok := ivFind(t, s, hosting.Ref{Key: danKey}); ok {
		t.Fatalf("%s: a ReviewTask with the key %s exists, but its parent was terminated during carol's review", step, danKey)
	}
	ivCheckReviewTasks(t, s, step, carolKey)
	ivCheckChildEvents(t, s, parent, step, "started "+carolID.String())

	// Nothing repeats after another kill: the child stays Terminated, terminated once.
	step = "after the child's termination, kill -9 and restart"
	ivKill9(s)
	carol = ivGet(t, s, carolRef)
	if carol.State != workflow.Completed || carol.Completion != "Terminated" {
		t.Fatalf("%s: carol's review is %s/%s", step, carol.State, carol.Completion)
	}
	if n := ivCount(ivRecords(t, s, carolID), "Instance", "Terminated"); n != 1 {
		t.Fatalf("%s: carol's review has %d Instance/Terminated records, want 1", step, n)
	}
	ivCheckReviewTasks(t, s, step, carolKey)
	ivCheckChildEvents(t, s, parent, step, "started "+carolID.String())
}
