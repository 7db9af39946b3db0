package hosting_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

const wfNS = "http://schemas.datacontract.org/2008/10/WorkflowServices"

func clients(t *testing.T) (*hosting.Client, *hosting.Client, string) {
	base := servertest.Start(t, "")
	c11 := hosting.NewClient(base + "/WorkflowHosting")
	c12 := &hosting.Client{SOAP: &soap.Client{URL: base + "/WorkflowHosting", Version: soap.V12, Addressing: soap.WSA10}}
	return c11, c12, base
}

// fault asserts err is a SOAP fault with that subcode (namespace and local name).
func fault(t *testing.T, err error, ns, local string) {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("want fault %s, got %v", local, err)
	}
	if f.Code != soap.Sender || len(f.Subcodes) == 0 || f.Subcodes[0] != (soap.QName{Space: ns, Local: local}) {
		t.Fatalf("want Sender/{%s}%s, got %v %v: %s", ns, local, f.Code, f.Subcodes, f.Reason)
	}
}

func expense(amount float64) host.CreateRequest {
	return host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": amount, "submitter": "ann"}}
}

func TestCreateGetResumeTrack(t *testing.T) {
	ctx := context.Background()
	c11, c12, _ := clients(t)
	for name, c := range map[string]*hosting.Client{"soap11": c11, "soap12wsa": c12} {
		t.Run(name, func(t *testing.T) {
			id, err := c.Create(ctx, expense(1500))
			if err != nil {
				t.Fatal(err)
			}
			inst, err := c.GetInstance(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if inst.ID != id.String() || inst.State != "Active" || inst.Completion != "" ||
				strings.Join(inst.Bookmarks, ",") != "Review" || inst.PendingTimer == nil ||
				inst.Definition != (workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}) ||
				inst.Variables["required"] != 2.0 || inst.Variables["status"] != "Pending" {
				t.Fatalf("after Create: %+v", inst)
			}
			if err := c.ResumeBookmark(ctx, id, "Review", `{"approved": false, "reviewer": "bob"}`); err != nil {
				t.Fatal(err)
			}
			inst, err = c.GetInstance(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if inst.State != "Completed" || inst.Completion != "Closed" || inst.Variables["status"] != "Denied" ||
				len(inst.Bookmarks) != 0 || inst.PendingTimer != nil {
				t.Fatalf("after a denial: %+v", inst)
			}
			recs, err := c.TrackingRecords(ctx, id, 0)
			if err != nil || len(recs) < 3 || recs[0].Name != "Created" || recs[0].Principal == "" {
				t.Fatalf("records: %v %+v", err, recs)
			}
			later, err := c.TrackingRecords(ctx, id, recs[len(recs)-2].Seq)
			if err != nil || len(later) != 1 || later[0].Seq != recs[len(recs)-1].Seq {
				t.Fatalf("records after %d: %v %+v", recs[len(recs)-2].Seq, err, later)
			}
		})
	}
}

func TestCreateWithInstanceIDAndList(t *testing.T) {
	ctx := context.Background()
	c, _, _ := clients(t)
	req := expense(10)
	req.ID = uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	id, err := c.Create(ctx, req)
	if err != nil || id != req.ID {
		t.Fatalf("CreateWithInstanceId: %v %v", id, err)
	}
	_, err = c.Create(ctx, req)
	fault(t, err, hosting.NS, hosting.FaultInstanceExists)
	hello, err := c.Create(ctx, host.CreateRequest{Definition: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	active, err := c.ListInstances(ctx, "Active", 0)
	if err != nil || len(active) != 1 || active[0].ID != req.ID.String() {
		t.Fatalf("Active list: %v %+v", err, active)
	}
	done, err := c.ListInstances(ctx, "Completed", 0)
	if err != nil || len(done) != 1 || done[0].ID != hello.String() {
		t.Fatalf("Completed list: %v %+v", err, done)
	}
	all, err := c.ListInstances(ctx, "", 1)
	if err != nil || len(all) != 1 {
		t.Fatalf("limit 1: %v %d", err, len(all))
	}
	_, err = c.ListInstances(ctx, "Sleeping", 0)
	fault(t, err, hosting.NS, hosting.FaultInvalidArgument)
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	c, _, base := clients(t)
	_, err := c.Create(ctx, host.CreateRequest{Definition: "NoSuchWorkflow"})
	fault(t, err, hosting.NS, hosting.FaultDefinitionNotFound)
	_, err = c.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval", Version: "7.0.0.0"})
	fault(t, err, hosting.NS, hosting.FaultDefinitionNotFound)
	_, err = c.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval", Inputs: map[string]any{"submitter": "no amount"}})
	fault(t, err, hosting.NS, hosting.FaultInvalidInput)
	_, err = c.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval", Inputs: map[string]any{"amount": "many", "submitter": "x"}})
	fault(t, err, hosting.NS, hosting.FaultInvalidInput)
	_, err = c.Create(ctx, host.CreateRequest{Definition: "Hello", ID: uuid.Nil, Inputs: map[string]any{"nosuch": 1}})
	fault(t, err, hosting.NS, hosting.FaultInvalidInput)

	unknown := uuid.New()
	_, err = c.GetInstance(ctx, unknown)
	fault(t, err, wfNS, "InstanceNotFound")
	err = c.ResumeBookmark(ctx, unknown, "Review", "")
	fault(t, err, wfNS, "InstanceNotFound")

	id, err := c.Create(ctx, expense(10))
	if err != nil {
		t.Fatal(err)
	}
	err = c.ResumeBookmark(ctx, id, "Reveiw", `{"approved": true}`)
	fault(t, err, hosting.NS, hosting.FaultBookmarkNotFound)
	if f := err.(*soap.Fault); !strings.Contains(f.Reason, "Review") {
		t.Errorf("the fault should name the bookmarks the instance has: %s", f.Reason)
	}
	err = c.ResumeBookmark(ctx, id, "Review", `{"approved": tru`)
	fault(t, err, hosting.NS, hosting.FaultInvalidArgument)

	// Raw requests for what the Go client cannot send.
	raw := &soap.Client{URL: base + "/WorkflowHosting"}
	call := func(op, inner string) error {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(`<` + op + ` xmlns="` + hosting.NS + `">` + inner + `</` + op + `>`); err != nil {
			t.Fatal(err)
		}
		_, err := raw.Call(ctx, hosting.Action(op), doc.Root())
		return err
	}
	fault(t, call("CreateWithInstanceId", `<instanceId>00000000-0000-0000-0000-000000000000</instanceId><definition>Hello</definition>`), hosting.NS, hosting.FaultInvalidArgument)
	fault(t, call("GetInstance", `<instanceId>nope</instanceId>`), hosting.NS, hosting.FaultInvalidArgument)
	fault(t, call("Create", ``), hosting.NS, hosting.FaultInvalidArgument)
	fault(t, call("Create", `<definition>Hello</definition><inputs><input><name>name</name><value>not json</value></input></inputs>`), hosting.NS, hosting.FaultInvalidArgument)
	fault(t, call("GetTrackingRecords", `<instanceId>`+id.String()+`</instanceId><after>x</after>`), hosting.NS, hosting.FaultInvalidArgument)
	fault(t, call("ListInstances", `<limit>-1</limit>`), hosting.NS, hosting.FaultInvalidArgument)
	if err := call("GetInstance", `<instanceId>{`+strings.ToUpper(id.String())+`}</instanceId>`); err != nil {
		t.Errorf("GetInstance accepts every Guid form: %v", err)
	}

	// Suspended instances refuse bookmark resumption with MS-WFIM's InstanceSuspended.
	ctl := &soap.Client{URL: base + "/WorkflowControl"}
	body := etree.NewElement("Suspend")
	body.CreateAttr("xmlns", wfNS)
	body.CreateElement("instanceId").SetText(id.String())
	body.CreateElement("reason").SetText("hold")
	if _, err := ctl.Call(ctx, wfNS+"/IWorkflowInstanceManagement/Suspend", body); err != nil {
		t.Fatal(err)
	}
	err = c.ResumeBookmark(ctx, id, "Review", `{"approved": true, "reviewer": "x"}`)
	fault(t, err, wfNS, "InstanceSuspended")
	inst, err := c.GetInstance(ctx, id)
	if err != nil || inst.State != "Suspended" || inst.SuspensionReason != "hold" || inst.Variables["approvals"] != 0.0 {
		t.Fatalf("a refused resumption changed the instance: %v %+v", err, inst)
	}
}

func TestWSDL(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(hosting.WSDL("http://example.test/WorkflowHosting")); err != nil {
		t.Fatal(err)
	}
	ops := doc.FindElements("//portType/operation")
	if len(ops) != 15 {
		t.Fatalf("%d portType operations, want 15", len(ops))
	}
	bindings := doc.FindElements("//wsdl:binding")
	if len(bindings) != 2 {
		t.Fatalf("%d bindings, want SOAP 1.1 and SOAP 1.2", len(bindings))
	}
	for _, b := range bindings {
		if n := len(b.SelectElements("wsdl:operation")); n != 15 {
			t.Errorf("binding %s has %d operations", b.SelectAttrValue("name", ""), n)
		}
		for _, o := range b.SelectElements("wsdl:operation") {
			want := hosting.Action(o.SelectAttrValue("name", ""))
			soapOp := o.ChildElements()[0]
			if got := soapOp.SelectAttrValue("soapAction", ""); soapOp.Tag != "operation" || got != want {
				t.Errorf("%s soapAction %q, want %q", o.SelectAttrValue("name", ""), got, want)
			}
		}
	}
	addrs := doc.FindElements("//service/port/address")
	if len(addrs) != 2 {
		t.Fatalf("%d port addresses, want 2", len(addrs))
	}
	for _, a := range addrs {
		if a.SelectAttrValue("location", "") != "http://example.test/WorkflowHosting" {
			t.Errorf("address %q", a.SelectAttrValue("location", ""))
		}
	}
	for _, el := range doc.FindElements("//schema/element") {
		name := el.SelectAttrValue("name", "")
		op := strings.TrimSuffix(name, "Response")
		if doc.FindElement("//portType/operation[@name='"+op+"']") == nil {
			t.Errorf("schema element %s has no operation", name)
		}
	}
}

// GetInstance with waitSeconds answers when the instance completes (here: a bookmark resumed
// while the call waits), at once for one already Completed, with the instance as it is at the
// end of the wait otherwise; a wait outside 0..30 seconds is InvalidArgument.
func TestGetInstanceWaits(t *testing.T) {
	ctx := context.Background()
	c, _, base := clients(t)
	id, err := c.Create(ctx, expense(10))
	if err != nil {
		t.Fatal(err)
	}
	if inst, err := c.AwaitInstance(ctx, hosting.Ref{ID: id}, 0); err != nil || inst.State != "Active" {
		t.Fatalf("waitSeconds 0: %+v, %v; want it Active", inst, err)
	}
	got := make(chan *hosting.Instance, 1)
	errc := make(chan error, 1)
	go func() {
		inst, err := c.AwaitInstance(ctx, hosting.Ref{ID: id}, 30*time.Second)
		got <- inst
		errc <- err
	}()
	if err := c.ResumeBookmark(ctx, id, "Review", `{"approved": true, "reviewer": "bob"}`); err != nil {
		t.Fatal(err)
	}
	if inst, err := <-got, <-errc; err != nil || inst.State != "Completed" || inst.Completion != "Closed" {
		t.Fatalf("waitSeconds 30 across the resumption: %+v, %v; want it Completed Closed", inst, err)
	}
	raw := &soap.Client{URL: base + "/WorkflowHosting"}
	for _, w := range []string{"-1", "31", "2.5", "PT5S"} {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(`<GetInstance xmlns="` + hosting.NS + `"><instanceId>` + id.String() + `</instanceId><waitSeconds>` + w + `</waitSeconds></GetInstance>`); err != nil {
			t.Fatal(err)
		}
		_, err := raw.Call(ctx, hosting.Action("GetInstance"), doc.Root())
		fault(t, err, hosting.NS, hosting.FaultInvalidArgument)
	}
}
