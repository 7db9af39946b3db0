package hosting_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
)

// post sends a raw request to the server and returns status, Content-Type and body.
func post(t *testing.T, url, contentType, soapAction, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if soapAction != "" {
		req.Header.Set("SOAPAction", `"`+soapAction+`"`)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestHostileRequestsChangeNothing: through the whole server, every malformed hosting request
// is refused with its fault, creates no instance, purges none (a completed one is there to be
// purged) and leaves the waiting instance as it was. (That a malformed StartBulkOperation
// starts no job, whose effect would come later, TestHostileRequestsEndpoint shows: it never
// reaches the host.)
func TestHostileRequestsChangeNothing(t *testing.T) {
	ctx := context.Background()
	base := servertest.Start(t, "")
	c := hosting.NewClient(base + "/WorkflowHosting")
	id, err := c.Create(ctx, expense(10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, host.CreateRequest{Definition: "Hello"}); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		inst, err := c.GetInstance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		all, err := c.ListInstances(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d instances; %s %s %v %v %v", len(all), inst.State, inst.Completion, inst.Bookmarks, inst.Variables, inst.Updated)
	}
	for _, hc := range hosting.HostileRequests(id.String()) {
		t.Run(hc.Name, func(t *testing.T) {
			before := snapshot()
			status, ct, body := post(t, base+"/WorkflowHosting", hc.ContentType, hc.SOAPAction, hc.Body)
			hosting.CheckHostileFault(t, hc, status, ct, body)
			if after := snapshot(); after != before {
				t.Fatalf("the request changed something:\n before %s\n after  %s", before, after)
			}
		})
	}
}

// TestControlRolesChangeNothing: SOAP 1.2 Part 1 §2.2, §5.2.2, §5.4.8 through the whole server: a
// flowed WS-AtomicTransaction CoordinationContext marked mustUnderstand and addressed to role
// next or ultimateReceiver (or, in SOAP 1.1, to actor next) makes TransactedTerminate a
// MustUnderstand fault and the instance is not terminated; malformed Terminate requests are
// Sender faults that change nothing. Role none is not processed, so the last request terminates.
func TestControlRolesChangeNothing(t *testing.T) {
	ctx := context.Background()
	base := servertest.Start(t, "")
	c := hosting.NewClient(base + "/WorkflowHosting")
	const id = "{ID}" // a fresh waiting instance for every request
	const (
		ct11 = "text/xml; charset=utf-8"
		ct12 = "application/soap+xml; charset=utf-8"
		act  = "http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/"
	)
	terminate := func(op string) string {
		return `<` + op + ` xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` + id + `</instanceId><reason>r</reason></` + op + `>`
	}
	coord12 := func(role string) string {
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>` +
			`<a:Action s:mustUnderstand="1">` + act + `TransactedTerminate</a:Action>` +
			`<c:CoordinationContext s:mustUnderstand="true" s:role="` + role + `" xmlns:c="http://docs.oasis-open.org/ws-tx/wscoor/2006/06"><c:Identifier>urn:uuid:1</c:Identifier></c:CoordinationContext>` +
			`</s:Header><s:Body>` + terminate("TransactedTerminate") + `</s:Body></s:Envelope>`
	}
	env11 := func(body string) string {
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + body + `</s:Body></s:Envelope>`
	}
	for _, tc := range []struct {
		name, ct, action, body, code string
	}{
		{"role next", ct12, "", coord12("http://www.w3.org/2003/05/soap-envelope/role/next"), "MustUnderstand"},
		{"role ultimateReceiver", ct12, "", coord12("http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"), "MustUnderstand"},
		{"SOAP 1.1 actor next", ct11, act + "TransactedTerminate", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><c:CoordinationContext s:mustUnderstand="1" s:actor="http://schemas.xmlsoap.org/soap/actor/next" xmlns:c="http://schemas.xmlsoap.org/ws/2004/10/wscoor"/></s:Header><s:Body>` + terminate("TransactedTerminate") + `</s:Body></s:Envelope>`, "MustUnderstand"},
		{"duplicate attribute", ct11, act + "Terminate", env11(strings.Replace(terminate("Terminate"), `<Terminate `, `<Terminate a="1" a="2" `, 1)), "Client"},
		{"two Terminates in one Body", ct11, act + "Terminate", env11(terminate("Terminate") + terminate("Terminate")), "Client"},
		{"Header after Body", ct11, act + "Terminate", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + terminate("Terminate") + `</s:Body><s:Header/></s:Envelope>`, "Client"},
		{"reference to a surrogate in the reason", ct11, act + "Terminate", env11(strings.Replace(terminate("Terminate"), "<reason>r", "<reason>&#xD800;", 1)), "Client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := c.Create(ctx, expense(10))
			if err != nil {
				t.Fatal(err)
			}
			status, _, body := post(t, base+"/WorkflowControl", tc.ct, tc.action, strings.ReplaceAll(tc.body, id, fresh.String()))
			if status != 500 || !strings.Contains(string(body), tc.code+"<") {
				t.Errorf("want HTTP 500 with a %s fault, got %d: %s", tc.code, status, body)
			}
			inst, err := c.GetInstance(ctx, fresh)
			if err != nil {
				t.Fatal(err)
			}
			if inst.State != "Active" || inst.Completion != "" {
				t.Fatalf("the instance was changed: %s %s", inst.State, inst.Completion)
			}
		})
	}
	// The same request with role none is not refused: the instance is terminated.
	fresh, err := c.Create(ctx, expense(10))
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := post(t, base+"/WorkflowControl", ct12, "", strings.ReplaceAll(coord12("http://www.w3.org/2003/05/soap-envelope/role/none"), id, fresh.String()))
	if status != 200 {
		t.Fatalf("role none: HTTP %d: %s", status, body)
	}
	inst, err := c.GetInstance(ctx, fresh)
	if err != nil || inst.State != "Completed" || inst.Completion != "Terminated" {
		t.Fatalf("after TransactedTerminate: %v %+v", err, inst)
	}
}
