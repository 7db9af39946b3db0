package host_test

import (
	"testing"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// A StateMachine's current state is persisted with the instance: Get reports it (also after the
// host restarted on the same store) and a query selects by it. The sample's lead enters
// NewLead, whose transition has no trigger, so it waits in SalesCollaboration until a
// Transferred event from the salesperson closes it (FORMAT.md, "Samples").
func TestCurrentStatePersisted(t *testing.T) {
	st := openStore(t)
	h := startHost(t, host.Config{Store: st})
	id, err := h.Create(bg, host.CreateRequest{Definition: "SalesCollaboration",
		Inputs: map[string]any{"lead": "ACME", "salesperson": "ann"}})
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := get(t, h, id); in.CurrentState != "SalesCollaboration" || in.State != workflow.Active {
		t.Fatalf("after create: state %s, currentState %q; want Active in SalesCollaboration", in.State, in.CurrentState)
	}
	page, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{CurrentState: "SalesCollaboration"}})
	if err != nil || len(page.Instances) != 1 || page.Instances[0].ID != id {
		t.Fatalf("query by currentState SalesCollaboration = %+v, %v; want the one instance", page, err)
	}
	if page, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{CurrentState: "NewLead"}}); err != nil || len(page.Instances) != 0 {
		t.Fatalf("query by currentState NewLead = %+v, %v; want none", page, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := startHost(t, host.Config{Store: st})
	if in, _ := get(t, h2, id); in.CurrentState != "SalesCollaboration" {
		t.Fatalf("after a restart: currentState %q, want SalesCollaboration", in.CurrentState)
	}
	if err := h2.ResumeBookmark(bg, id, "Transferred", map[string]any{"from": "ann", "complete": true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the lead closes", func() bool {
		in, _ := get(t, h2, id)
		return in.State == workflow.Completed
	})
	if in, _ := get(t, h2, id); in.CurrentState != "" {
		t.Fatalf("completed: currentState %q, want none", in.CurrentState)
	}
}
