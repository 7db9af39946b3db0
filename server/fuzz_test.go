package server_test

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

// FuzzControlEndpoint sends arbitrary requests to the whole stack (soap, protocol, host,
// store) and checks that the server always answers (a SOAP reply or an HTTP error, never a
// hang or a crash) and that a request it refuses changes nothing.
func FuzzControlEndpoint(f *testing.F) {
	const id = "{ID}" // replaced by a fresh waiting instance for every input
	ns := "http://schemas.datacontract.org/2008/10/WorkflowServices"
	for _, op := range []string{"Suspend", "Run", "Terminate", "Update", "Unsuspend", "Abandon", "Cancel"} {
		f.Add("text/xml; charset=utf-8", `"`+ns+`/IWorkflowInstanceManagement/`+op+`"`,
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><`+op+` xmlns="`+ns+`"><instanceId>`+id+`</instanceId><reason>r</reason></`+op+`></s:Body></s:Envelope>`)
	}
	f.Add("application/soap+xml", "", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">`+ns+`/IWorkflowInstanceManagement/Run</a:Action><a:MessageID>urn:x</a:MessageID></s:Header><s:Body><Run xmlns="`+ns+`"><instanceId>`+id+`</instanceId></Run></s:Body></s:Envelope>`)

	base := servertest.Start(f, "")
	c := hosting.NewClient(base + "/WorkflowHosting")
	ctx := context.Background()
	req := host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10.0, "submitter": "fuzz"}}
	f.Fuzz(func(t *testing.T, contentType, soapAction, body string) {
		if strings.ContainsFunc(contentType+soapAction, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return // not sendable as an HTTP header value
		}
		fresh, err := c.Create(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		snapshot := func() string {
			inst, err := c.GetInstance(ctx, fresh)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s/%s/%q/%s/%v", inst.State, inst.Completion, inst.SuspensionReason, inst.Definition.Version, inst.Updated)
		}
		before := snapshot()
		body = strings.ReplaceAll(body, id, fresh.String())
		r, err := http.NewRequest(http.MethodPost, base+"/WorkflowControl", strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", contentType)
		if soapAction != "" {
			r.Header.Set("SOAPAction", soapAction)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("no reply: %v", err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 200:
		case resp.StatusCode == 500 && strings.Contains(string(reply), "Fault"):
			if after := snapshot(); after != before {
				t.Fatalf("a refused request changed the instance: %s → %s\nreply: %s", before, after, reply)
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			if after := snapshot(); after != before {
				t.Fatalf("an HTTP %d changed the instance: %s → %s", resp.StatusCode, before, after)
			}
		default:
			t.Fatalf("unexpected reply %d: %s", resp.StatusCode, reply)
		}
	})
}
