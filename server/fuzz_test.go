package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
)

// FuzzControlEndpoint sends arbitrary requests to the whole stack (soap, protocol, host,
// store) and checks that the server always answers (a SOAP reply or an HTTP error, never a
// hang or a crash) and that a request it refuses changes nothing.
// exchangeBound is how long one exchange of FuzzControlEndpoint may take before it counts as a
// hang: far beyond any exchange's cost, even on a loaded machine.
const exchangeBound = 30 * time.Second

func FuzzControlEndpoint(f *testing.F) {
	const id = "{ID}" // replaced by a fresh waiting instance for every input
	ns := "http://schemas.datacontract.org/2008/10/WorkflowServices"
	for _, op := range []string{"Suspend", "Run", "Terminate", "Update", "Unsuspend", "Abandon", "Cancel"} {
		f.Add("text/xml; charset=utf-8", `"`+ns+`/IWorkflowInstanceManagement/`+op+`"`,
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><`+op+` xmlns="`+ns+`"><instanceId>`+id+`</instanceId><reason>r</reason></`+op+`></s:Body></s:Envelope>`)
	}
	f.Add("application/soap+xml", "", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">`+ns+`/IWorkflowInstanceManagement/Run</a:Action><a:MessageID>urn:x</a:MessageID></s:Header><s:Body><Run xmlns="`+ns+`"><instanceId>`+id+`</instanceId></Run></s:Body></s:Envelope>`)

	// One request of every malformed class (XML 1.0, Namespaces in XML 1.0, SOAP 1.1/1.2 envelope
	// structure, the parser limits, mustUnderstand roles): each must be refused and change nothing.
	env11 := func(header, body string) string {
		h := ""
		if header != "" {
			h = "<s:Header>" + header + "</s:Header>"
		}
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
	}
	env12 := func(header, body string) string {
		h := ""
		if header != "" {
			h = "<s:Header>" + header + "</s:Header>"
		}
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
	}
	term := func(attrs, reason string) string {
		return `<Terminate xmlns="` + ns + `"` + attrs + `><instanceId>` + id + `</instanceId><reason>` + reason + `</reason></Terminate>`
	}
	tterm := `<TransactedTerminate xmlns="` + ns + `"><instanceId>` + id + `</instanceId><reason>r</reason></TransactedTerminate>`
	sa := `"` + ns + `/IWorkflowInstanceManagement/Terminate"`
	for _, body := range []string{
		env11("", term(` a="1" a="2"`, "r")),
		env11("", term(` xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"`, "r")),
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:s="urn:x"><s:Body>` + term("", "r") + `</s:Body></s:Envelope>`,
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + term("", "r") + `</s:Body><s:Header/></s:Envelope>`,
		env11("", term("", "r")+term("", "r")),
		env11("", term("", "&#xD800;")),
		env11("", term("", "&#0;")),
		env11("", term("", "&#x1;")),
		env11("", term("", "&#xFFFE;")),
		env11("", term("", "\x01")),
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">x<s:Body>` + term("", "r") + `</s:Body></s:Envelope>`,
		env11("x", term("", "r")),
		env11("", term("", "r")+"x"),
		env11("", term(` xmlns:p=""`, "r")),
		env11("", term(` xmlns:xml="urn:x"`, "r")),
		env11("", term(` xmlns:xmlns="urn:x"`, "r")),
		env11("", term(` xmlns:x="http://www.w3.org/XML/1998/namespace"`, "r")),
		env11("", "<?pi x?>"+term("", "r")),
		env11("<Trace>1</Trace>", term("", "r")),
		env11("", strings.Replace(term("", "r"), "<reason>", strings.Repeat("<x>", 62)+strings.Repeat("</x>", 62)+"<reason>", 1)),
		env11(`<h xmlns="urn:h">`+strings.Repeat("<b/>", 8192)+`</h>`, term("", "r")),
		env11(`<x:A s:mustUnderstand="2" xmlns:x="urn:x"/>`, term("", "r")),
	} {
		f.Add("text/xml; charset=utf-8", sa, body)
	}
	utf16 := []byte{0xFF, 0xFE} // UTF-16LE with a high surrogate that no low one follows
	for i, c := range []byte(env11("", term("", "r"))) {
		if i == 40 {
			utf16 = append(utf16, 0x00, 0xD8)
		}
		utf16 = append(utf16, c, 0)
	}
	f.Add("text/xml; charset=utf-16", sa, string(utf16))
	for _, role := range []string{"next", "ultimateReceiver", "none"} {
		f.Add("application/soap+xml; charset=utf-8", "", env12(`<c:CoordinationContext s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/`+role+`" xmlns:c="http://schemas.xmlsoap.org/ws/2004/10/wscoor"/>`, tterm))
	}
	f.Add("text/xml; charset=utf-8", `"`+ns+`/IWorkflowInstanceManagement/TransactedTerminate"`, env11(`<c:CoordinationContext s:mustUnderstand="1" s:actor="http://schemas.xmlsoap.org/soap/actor/next" xmlns:c="http://schemas.xmlsoap.org/ws/2004/10/wscoor"/>`, tterm))

	base := servertest.Start(f, "")
	c := hosting.NewClient(base + "/WorkflowHosting")
	req := host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10.0, "submitter": "fuzz"}}
	f.Fuzz(func(t *testing.T, contentType, soapAction, body string) {
		if strings.ContainsFunc(contentType+soapAction, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return // not sendable as an HTTP header value
		}
		// Every exchange must end: one that takes longer than exchangeBound is a hang, a failure
		// that names the step and the input.
		bounded := func(step string, f func(ctx context.Context) error) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), exchangeBound)
			defer cancel()
			start := time.Now()
			if err := f(ctx); err != nil {
				t.Fatalf("%s after %v: %v\ninput: Content-Type %q, SOAPAction %q, body %q", step, time.Since(start).Round(time.Millisecond), err, contentType, soapAction, body)
			}
		}
		var fresh uuid.UUID
		bounded("creating the instance", func(ctx context.Context) (err error) {
			fresh, err = c.Create(ctx, req)
			return err
		})
		snapshot := func() string {
			var inst *hosting.Instance
			bounded("reading the instance", func(ctx context.Context) (err error) {
				inst, err = c.GetInstance(ctx, fresh)
				return err
			})
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
		start := time.Now()
		resp, err := (&http.Client{Timeout: exchangeBound}).Do(r)
		if err != nil {
			t.Fatalf("no reply after %v: %v\ninput: Content-Type %q, SOAPAction %q, body %q", time.Since(start).Round(time.Millisecond), err, contentType, soapAction, body)
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
