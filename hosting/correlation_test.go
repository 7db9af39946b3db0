package hosting_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/soap"
)

// CreateWithCorrelationKey, and a correlation key in place of the instance id in GetInstance,
// ResumeBookmark and GetTrackingRecords (issue: WF4's KeysTable).
func TestCorrelationKey(t *testing.T) {
	ctx := context.Background()
	c, _, _ := clients(t)
	req := expense(1500)
	req.CorrelationKey = "expense/2026-0042"
	id, err := c.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	byKey := hosting.Ref{Key: "expense/2026-0042"}
	inst, err := c.GetInstanceByRef(ctx, byKey)
	if err != nil || inst.ID != id.String() || inst.CorrelationKey != "expense/2026-0042" {
		t.Fatalf("GetInstance by key = %+v, %v; want instance %s with its key", inst, err, id)
	}
	// The key is unique: a second instance with it is InstanceExists, and is not created.
	_, err = c.Create(ctx, req)
	fault(t, err, hosting.NS, hosting.FaultInstanceExists)
	if !strings.Contains(err.Error(), "expense/2026-0042") {
		t.Errorf("the InstanceExists fault %q does not name the key", err)
	}
	if list, err := c.ListInstances(ctx, "", 0); err != nil || len(list) != 1 {
		t.Fatalf("after the refused creation: %d instances (%v), want 1", len(list), err)
	}
	// Resume by key, read the trail by key.
	if err := c.ResumeBookmarkByRef(ctx, byKey, "Review", `{"approved": true, "reviewer": "bob"}`); err != nil {
		t.Fatal(err)
	}
	recs, err := c.TrackingRecordsByRef(ctx, byKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	resumed := false
	for _, r := range recs {
		resumed = resumed || r.Kind == "Bookmark" && r.Name == "Review"
	}
	if !resumed {
		t.Fatalf("the trail read by key has no Review resumption: %+v", recs)
	}
	// A key no instance has is InstanceNotFound; an id and a key together, or an empty key,
	// are InvalidArgument.
	_, err = c.GetInstanceByRef(ctx, hosting.Ref{Key: "expense/none"})
	fault(t, err, wfNS, "InstanceNotFound")
	for name, body := range map[string]string{
		"both":      `<instanceId>` + id.String() + `</instanceId><correlationKey>expense/2026-0042</correlationKey>`,
		"empty key": `<correlationKey></correlationKey>`,
	} {
		_, err := c.SOAP.Call(ctx, hosting.Action(hosting.OpGetInstance), raw(t, `<GetInstance xmlns="`+hosting.NS+`">`+body+`</GetInstance>`))
		var f *soap.Fault
		if !errors.As(err, &f) || len(f.Subcodes) == 0 || f.Subcodes[0].Local != hosting.FaultInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

func raw(t *testing.T, xml string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// A child instance (started by an InvokeWorkflow) names its parent in the instance element, and
// the filter selects the children of one instance (parent) or every child (hasParent).
func TestChildInstances(t *testing.T) {
	ctx := context.Background()
	c, _, _ := clients(t)
	parent, err := c.Create(ctx, host.CreateRequest{Definition: "DocumentApproval",
		Inputs: map[string]any{"document": "spec-1", "reviewers": []any{"ann"}}})
	if err != nil {
		t.Fatal(err)
	}
	child, err := c.GetInstanceByRef(ctx, hosting.Ref{Key: "review/spec-1/ann"})
	if err != nil {
		t.Fatal(err)
	}
	if child.Parent != parent.String() || child.Definition.Name != "ReviewTask" {
		t.Fatalf("child %+v, want a ReviewTask with parent %s", child, parent)
	}
	if p, err := c.GetInstance(ctx, parent); err != nil || p.Parent != "" {
		t.Fatalf("the parent %+v (%v) has a parent", p, err)
	}
	for name, f := range map[string]host.Filter{"parent": {Parent: parent}, "hasParent": {HasParent: true}} {
		page, err := c.QueryInstances(ctx, host.QueryRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Instances) != 1 || page.Instances[0].ID != child.ID {
			t.Fatalf("%s: %+v, want the child %s only", name, page.Instances, child.ID)
		}
	}
	for name, body := range map[string]string{
		"bad parent":    `<filter><parent>not-a-guid</parent></filter>`,
		"bad hasParent": `<filter><hasParent>yes</hasParent></filter>`,
	} {
		_, err := c.SOAP.Call(ctx, hosting.Action(hosting.OpQueryInstances), raw(t, `<QueryInstances xmlns="`+hosting.NS+`">`+body+`</QueryInstances>`))
		var f *soap.Fault
		if !errors.As(err, &f) || len(f.Subcodes) == 0 || f.Subcodes[0].Local != hosting.FaultInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}
