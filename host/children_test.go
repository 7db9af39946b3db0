package host_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// The child of these tests: a review that waits for the reviewer's verdict on "decide".
const reviewDef = `<Workflow Name="Review" Package="test" Version="1.0.0.0" CorrelationKey="['review/' + doc]">
  <Arguments><In Name="doc" Type="String" Required="true"/></Arguments>
  <Variables><Variable Name="verdict" Type="String"/></Variables>
  <Receive Id="decide" Bookmark="decide" Result="verdict"/>
</Workflow>`

// The parent: an order that has its document reviewed, then records the verdict (or, when the
// child did not complete, that it failed).
const orderDef = `<Workflow Name="Order" Package="test" Version="1.0.0.0">
  <Arguments><In Name="doc" Type="String" Default="'D-1'"/></Arguments>
  <Variables><Variable Name="review" Type="Object"/><Variable Name="status" Type="String"/></Variables>
  <TryCatch Id="tc">
    <Try><Sequence Id="main">
      <InvokeWorkflow Id="inv" Definition="test.Review" Input="[{'doc': doc}]" Result="review"/>
      <Assign Id="done" To="status" Value="[review.verdict]"/>
    </Sequence></Try>
    <Catches><Catch Exception="InvokeWorkflowError"><Assign To="status" Value="review failed"/></Catch></Catches>
  </TryCatch>
</Workflow>`

func childHost(t *testing.T, unloadAfter time.Duration, st store.Store) *host.Host {
	t.Helper()
	return startHost(t, host.Config{Store: st, UnloadAfter: unloadAfter, Definitions: registry(t, reviewDef, orderDef)})
}

func createOrder(t *testing.T, h *host.Host, doc string) uuid.UUID {
	t.Helper()
	id, err := h.Create(bg, host.CreateRequest{Definition: "test.Order", Inputs: map[string]any{"doc": doc}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// childOf waits for the one child of parent to be waiting on its bookmark, and returns it.
func childOf(t *testing.T, h *host.Host, parent uuid.UUID) *host.Instance {
	t.Helper()
	var child *host.Instance
	eventually(t, "the child waits on decide", func() bool {
		page, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{Parent: parent}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Instances) != 1 {
			return false
		}
		c, _ := get(t, h, page.Instances[0].ID)
		child = c
		return len(c.Bookmarks) == 1 && c.Bookmarks[0] == "decide"
	})
	return child
}

// waitCompletion waits for the instance to complete and checks how.
func waitCompletion(t *testing.T, h *host.Host, id uuid.UUID, want workflow.Completion) (*host.Instance, map[string]any) {
	t.Helper()
	in, vars := waitCompleted(t, h, id)
	if in.Completion != want {
		t.Fatalf("instance %s completed %s (%s), want %s", id, in.Completion, in.CompletionReason, want)
	}
	return in, vars
}

// A parent starts its child, which is an ordinary instance (found by its parent and by its
// correlation key); resuming the child completes it and, in the same commit, hands its
// variables to the parent, which runs on to completion. Loaded or unloaded at once.
func TestInvokeWorkflowRunsAChild(t *testing.T) {
	for _, unload := range []time.Duration{-1, time.Minute} {
		h := childHost(t, unload, nil)
		order := createOrder(t, h, "D-1")
		child := childOf(t, h, order)
		if child.Parent != order || child.Definition.Name != "Review" || child.State != workflow.Active || child.CorrelationKey != "review/D-1" {
			t.Fatalf("child %+v", child)
		}
		if id, err := h.FindByKey(bg, "review/D-1"); err != nil || id != child.ID {
			t.Fatalf("FindByKey: %v %v", id, err)
		}
		p, _ := get(t, h, order)
		if p.State != workflow.Active || p.ExecutionStatus != "Idle" || len(p.Bookmarks) != 0 {
			t.Fatalf("parent while its child runs: %+v", p)
		}
		created := records(t, h, child.ID)[0]
		if created.Name != "Created" || created.Principal != "instance/"+order.String() ||
			created.Data != `{"definition":"Review; Version=1.0.0.0; Package=test","parent":"`+order.String()+`"}` {
			t.Fatalf("the child's Created record: %+v", created)
		}
		if err := h.ResumeBookmark(bg, child.ID, "decide", "approved"); err != nil {
			t.Fatal(err)
		}
		waitCompletion(t, h, child.ID, workflow.Closed)
		_, vars := waitCompletion(t, h, order, workflow.Closed)
		if vars["status"] != "approved" || vars["review"].(map[string]any)["verdict"] != "approved" {
			t.Fatalf("unload=%v: parent variables %v", unload, vars)
		}
		if n := countKind(records(t, h, order), workflow.ActivityRecord, "ChildCompleted"); n != 1 {
			t.Fatalf("ChildCompleted records: %d", n)
		}
	}
}

// A child terminated by an operator raises InvokeWorkflowError in the parent; a parent that is
// suspended when its child completes keeps the outcome until it is unsuspended.
func TestInvokeWorkflowChildEndsWhileParentWaits(t *testing.T) {
	h := childHost(t, -1, nil)
	order := createOrder(t, h, "D-2")
	child := childOf(t, h, order)
	mustManage(t, h, "Terminate", child.ID, "wrong reviewer")
	_, vars := waitCompletion(t, h, order, workflow.Closed)
	if vars["status"] != "review failed" {
		t.Fatalf("parent variables %v", vars)
	}

	order = createOrder(t, h, "D-3")
	child = childOf(t, h, order)
	mustManage(t, h, "Suspend", order, "audit")
	if err := h.ResumeBookmark(bg, child.ID, "decide", "approved"); err != nil {
		t.Fatal(err)
	}
	waitCompletion(t, h, child.ID, workflow.Closed)
	p, _ := get(t, h, order)
	if p.State != workflow.Suspended {
		t.Fatalf("a suspended parent ran on: %+v", p)
	}
	mustManage(t, h, "Unsuspend", order, "")
	_, vars = waitCompletion(t, h, order, workflow.Closed)
	if vars["status"] != "approved" {
		t.Fatalf("parent variables %v", vars)
	}
}

// The parent's Cancel cancels its child; its Terminate terminates it, naming the parent.
func TestInvokeWorkflowParentStopsChild(t *testing.T) {
	h := childHost(t, time.Minute, nil)
	for _, c := range []struct {
		op   string
		want workflow.Completion
	}{{"Cancel", workflow.Canceled}, {"Terminate", workflow.Terminated}} {
		order := createOrder(t, h, "D-"+c.op)
		child := childOf(t, h, order)
		mustManage(t, h, c.op, order, "")
		ch, _ := waitCompletion(t, h, child.ID, c.want)
		if c.op == "Terminate" && ch.CompletionReason != "parent "+order.String()+": its parent no longer waits for it" {
			t.Fatalf("the child's termination reason: %q", ch.CompletionReason)
		}
		recs := records(t, h, child.ID)
		last := recs[len(recs)-1]
		for _, r := range recs {
			if r.Kind == workflow.InstanceRecord && (r.Name == "CancelRequested" || r.Name == "Terminated") {
				last = r
			}
		}
		if last.Principal != "instance/"+order.String() {
			t.Fatalf("%s: the child's %s record names %q", c.op, last.Name, last.Principal)
		}
	}
}

// A host that stopped after a parent's completion was durable but before its child was
// stopped: the next host's start-up sweep terminates the child.
func TestInvokeWorkflowSweepAtStart(t *testing.T) {
	st := openStore(t)
	h := childHost(t, -1, st)
	order := createOrder(t, h, "D-9")
	child := childOf(t, h, order)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// What the stopped host committed: the parent Terminated (its child not yet told).
	p, err := st.Get(bg, order)
	if err != nil {
		t.Fatal(err)
	}
	p.State, p.Completion, p.CompletionReason, p.ExecutionStatus = workflow.Completed, workflow.Terminated, "by hand", "Terminated"
	if err := st.Commit(bg, store.Change{Op: store.Update, Instance: p}); err != nil {
		t.Fatal(err)
	}
	h2 := childHost(t, -1, st)
	c, _ := waitCompletion(t, h2, child.ID, workflow.Terminated)
	if !strings.HasPrefix(c.CompletionReason, "parent "+order.String()+": it completed (Terminated)") {
		t.Fatalf("reason %q", c.CompletionReason)
	}
}

// A child whose definition cannot start faults the InvokeWorkflow; no child is stored.
func TestInvokeWorkflowKeyInUse(t *testing.T) {
	h := childHost(t, -1, nil)
	first := createOrder(t, h, "D-5")
	childOf(t, h, first)
	second := createOrder(t, h, "D-5") // the same document: the key review/D-5 is taken
	_, vars := waitCompletion(t, h, second, workflow.Closed)
	if vars["status"] != "review failed" {
		t.Fatalf("variables %v", vars)
	}
	page, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{Parent: second}})
	if err != nil || len(page.Instances) != 0 {
		t.Fatalf("children of the second order: %v %v", page, err)
	}
}
