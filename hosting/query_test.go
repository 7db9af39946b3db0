package hosting_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

func pageIDs(p *hosting.Page) []string {
	out := []string{}
	for _, in := range p.Instances {
		out = append(out, in.ID)
	}
	return out
}

func TestQueryCountAndDefinitions(t *testing.T) {
	ctx := context.Background()
	c11, c12, base := clients(t)
	// A millisecond apart at least, so that the creation order is the page order (instances
	// created in the same millisecond are ordered by id).
	create := func(req host.CreateRequest) uuid.UUID {
		t.Helper()
		time.Sleep(2 * time.Millisecond)
		id, err := c11.Create(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b, hello := create(expense(10)), create(expense(2000)), create(host.CreateRequest{Definition: "Hello"})
	ctl := &soap.Client{URL: base + "/WorkflowControl"}
	body := etree.NewElement("Suspend")
	body.CreateAttr("xmlns", wfNS)
	body.CreateElement("instanceId").SetText(b.String())
	body.CreateElement("reason").SetText("audit by Bob")
	if _, err := ctl.Call(ctx, wfNS+"/IWorkflowInstanceManagement/Suspend", body); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*hosting.Client{"soap11": c11, "soap12wsa": c12} {
		t.Run(name, func(t *testing.T) {
			for _, q := range []struct {
				f    host.Filter
				want []string
			}{
				{host.Filter{}, []string{a.String(), b.String(), hello.String()}},
				{host.Filter{State: workflow.Suspended, ReasonContains: "Bob"}, []string{b.String()}},
				{host.Filter{Definition: "ExpenseApproval", VersionMin: "1.0", VersionMax: "1.0.0.0", Bookmark: "Review"}, []string{a.String(), b.String()}},
				{host.Filter{Completion: workflow.Closed, Package: "wimp.samples"}, []string{hello.String()}},
				{host.Filter{Exception: "Nothing"}, []string{}},
			} {
				p, err := c.QueryInstances(ctx, host.QueryRequest{Filter: q.f})
				if err != nil {
					t.Fatalf("QueryInstances(%+v): %v", q.f, err)
				}
				if got := pageIDs(p); !slices.Equal(got, q.want) || p.NextPageToken != "" {
					t.Errorf("QueryInstances(%+v) = %v (next %q), want %v", q.f, got, p.NextPageToken, q.want)
				}
			}
			// Two pages of 2, variables only when asked.
			p, err := c.QueryInstances(ctx, host.QueryRequest{PageSize: 2})
			if err != nil || !slices.Equal(pageIDs(p), []string{a.String(), b.String()}) || p.NextPageToken == "" {
				t.Fatalf("first page of 2: %v %+v", err, p)
			}
			if p.Instances[0].Variables != nil || p.Instances[1].State != "Suspended" || p.Instances[1].SuspensionReason != "audit by Bob" {
				t.Errorf("first page: %+v", p.Instances)
			}
			p, err = c.QueryInstances(ctx, host.QueryRequest{PageSize: 2, PageToken: p.NextPageToken, IncludeVariables: true})
			if err != nil || !slices.Equal(pageIDs(p), []string{hello.String()}) || p.NextPageToken != "" {
				t.Fatalf("second page: %v %+v", err, p)
			}
			if p.Instances[0].Variables["greeting"] != "Hello, world!" {
				t.Errorf("variables of Hello: %v", p.Instances[0].Variables)
			}

			counts, err := c.CountInstances(ctx, host.Filter{}, host.GroupByState)
			if err != nil || counts.Total != 3 || len(counts.Groups) != 3 ||
				counts.Groups[0] != (hosting.Count{State: "Active", Count: 1}) ||
				counts.Groups[1] != (hosting.Count{State: "Suspended", Count: 1}) ||
				counts.Groups[2] != (hosting.Count{State: "Completed", Count: 1}) {
				t.Errorf("CountInstances by state: %+v %v", counts, err)
			}
			counts, err = c.CountInstances(ctx, host.Filter{Bookmark: "Review"}, host.GroupByDefinition)
			if err != nil || counts.Total != 2 || len(counts.Groups) != 1 || counts.Groups[0].Count != 2 ||
				*counts.Groups[0].Definition != (workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}) {
				t.Errorf("CountInstances of Review by definition: %+v %v", counts, err)
			}
			counts, err = c.CountInstances(ctx, host.Filter{}, host.GroupByException)
			if err != nil || counts.Total != 3 || len(counts.Groups) != 1 || *counts.Groups[0].Exception != "" || counts.Groups[0].Count != 3 {
				t.Errorf("CountInstances by exception: %+v %v", counts, err)
			}
			counts, err = c.CountInstances(ctx, host.Filter{State: workflow.Active}, host.GroupNone)
			if err != nil || counts.Total != 1 || counts.Groups != nil {
				t.Errorf("CountInstances of Active: %+v %v", counts, err)
			}

			defs, err := c.Definitions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var v2 *hosting.Definition
			for i := range defs {
				if defs[i].Identity == (workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"}) {
					v2 = &defs[i]
				}
			}
			if v2 == nil || v2.Source != "embedded" || v2.Location != "samples/ExpenseApprovalV2.xml" ||
				!slices.Equal(v2.Arguments, []hosting.Argument{{Name: "amount", Type: "Number", Required: true},
					{Name: "submitter", Type: "String", Required: true}, {Name: "reviewTimeout", Type: "String", Default: "'240h'"}}) ||
				!slices.Equal(v2.UpdatableFrom, []workflow.Identity{{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}}) {
				t.Errorf("GetDefinitions' ExpenseApproval 2.0.0.0: %+v", v2)
			}
		})
	}

	// Refusals are InvalidArgument faults.
	_, err := c11.QueryInstances(ctx, host.QueryRequest{PageToken: "bm90IGEgdG9rZW4"})
	fault(t, err, hosting.NS, hosting.FaultInvalidArgument)
	if f := err.(*soap.Fault); !strings.Contains(f.Reason, "malformed page token") {
		t.Errorf("malformed token fault: %s", f.Reason)
	}
	raw := &soap.Client{URL: base + "/WorkflowHosting"}
	call := func(op, inner string) (*etree.Element, error) {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(`<` + op + ` xmlns="` + hosting.NS + `">` + inner + `</` + op + `>`); err != nil {
			t.Fatal(err)
		}
		return raw.Call(ctx, hosting.Action(op), doc.Root())
	}
	for _, bad := range []struct{ op, inner string }{
		{"QueryInstances", `<pageSize>-1</pageSize>`},
		{"QueryInstances", `<pageSize>ten</pageSize>`},
		{"QueryInstances", `<filter><state>active</state></filter>`},
		{"QueryInstances", `<filter><completion>Done</completion></filter>`},
		{"QueryInstances", `<filter><version>1</version></filter>`},
		{"QueryInstances", `<filter><createdAfter>yesterday</createdAfter></filter>`},
		{"QueryInstances", `<filter><state>Active</state><state>Suspended</state></filter>`},
		{"QueryInstances", `<includeVariables>yes</includeVariables>`},
		{"QueryInstances", `<pageToken>AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAR</pageToken>`},
		{"CountInstances", `<groupBy>colour</groupBy>`},
		{"CountInstances", `<filter><bookmark><b/></bookmark></filter>`},
	} {
		_, err := call(bad.op, bad.inner)
		fault(t, err, hosting.NS, hosting.FaultInvalidArgument)
	}
	// A page size above 1000 is taken as 1000; a time without a zone is UTC; an empty element is no condition.
	reply, err := call("QueryInstances", `<filter><state/><createdAfter>2000-01-01T00:00:00</createdAfter></filter><pageSize>5000</pageSize>`)
	if err != nil || len(reply.SelectElements("instance")) != 3 {
		t.Errorf("pageSize 5000: %v", err)
	}
	reply, err = call("GetDefinitions", "")
	if err != nil || len(reply.SelectElements("definition")) < 7 {
		t.Errorf("GetDefinitions: %v", err)
	}
}
