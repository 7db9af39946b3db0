package interop

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
	it "github.com/wimp-project/wimp/interop/interoptest"
	"github.com/wimp-project/wimp/wsdl"
)

// fakeEndpoint is a scripted MS-WFIM endpoint: it answers each call with the
// outcome scripted for the call's instance id, shaped as docs/protocol.md (Faults)
// says wimp shapes replies and faults, and records what it received. It checks the
// drivers and the assertions on what clients report, independently of the
// real server.
type fakeEndpoint struct {
	mu       sync.Mutex
	script   map[string]string // lower-case id → "" (success), it.Sender, or a subcode name
	received map[string]fakeRequest
}

type fakeRequest struct {
	op, rawID, reason string
	reasonNil         bool
	reasonPresent     bool
	identity          *it.Identity
	identityNil       bool
	identityPresent   bool
	soap12, wsa       bool
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		wsdl.ServeControlMetadata(w, r, "http://"+r.Host+r.URL.Path) // a test server: its own Host
		return
	}
	b, _ := io.ReadAll(r.Body)
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil || d.Root() == nil {
		http.Error(w, "bad XML", http.StatusBadRequest)
		return
	}
	env := d.Root()
	envNS := env.NamespaceURI()
	var req fakeRequest
	req.soap12 = envNS == it.NSSOAP12Env
	var msgID, wsaNS string
	for _, c := range env.ChildElements() {
		switch c.Tag {
		case "Header":
			for _, h := range c.ChildElements() {
				if h.Tag == "MessageID" {
					msgID = strings.TrimSpace(h.Text())
				}
				if h.Tag == "Action" || h.Tag == "To" || h.Tag == "MessageID" {
					wsaNS, req.wsa = h.NamespaceURI(), true
				}
			}
		case "Body":
			wrapper := c.ChildElements()[0]
			req.op = wrapper.Tag
			for _, p := range wrapper.ChildElements() {
				isNil := p.SelectAttrValue("nil", "") == "true"
				switch p.Tag {
				case "instanceId":
					req.rawID = strings.TrimSpace(p.Text())
				case "reason":
					req.reasonPresent, req.reasonNil, req.reason = true, isNil, p.Text()
				case "updatedDefinitionIdentity":
					req.identityPresent, req.identityNil = true, isNil
					if !isNil {
						id := it.Identity{}
						for _, m := range p.ChildElements() {
							switch m.Tag {
							case "name":
								id.Name = m.Text()
							case "package":
								id.Package = m.Text()
							case "version":
								id.Version = m.Text()
							}
						}
						req.identity = &id
					}
				}
			}
		}
	}
	key := strings.ToLower(req.rawID)
	f.mu.Lock()
	f.received[key] = req
	outcome, ok := f.script[key]
	f.mu.Unlock()
	if !ok {
		http.Error(w, "unscripted id "+req.rawID, http.StatusBadRequest)
		return
	}
	ct := "text/xml; charset=utf-8"
	if req.soap12 {
		ct = "application/soap+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	header := func(action string) string {
		if !req.wsa {
			return ""
		}
		return `<s:Header><a:Action s:mustUnderstand="1" xmlns:a="` + wsaNS + `">` + action + `</a:Action>` +
			`<a:RelatesTo xmlns:a="` + wsaNS + `">` + msgID + `</a:RelatesTo></s:Header>`
	}
	if outcome == "" {
		fmt.Fprintf(w, `<s:Envelope xmlns:s="%s">%s<s:Body><%sResponse xmlns="%s"/></s:Body></s:Envelope>`,
			envNS, header(it.NSWorkflowServices+"/IWorkflowInstanceManagement/"+req.op+"Response"), req.op, it.NSWorkflowServices)
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
	text := "fake " + outcome + " für " + req.rawID
	fh := header("http://www.w3.org/2005/08/addressing/soap/fault")
	if req.soap12 {
		sub := ""
		if outcome != it.Sender {
			sub = `<s:Subcode><s:Value xmlns:a="` + it.NSWorkflowServices + `">a:` + outcome + `</s:Value></s:Subcode>`
		}
		fmt.Fprintf(w, `<s:Envelope xmlns:s="%s">%s<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value>%s</s:Code>`+
			`<s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`, envNS, fh, sub, text)
		return
	}
	code := `s:Client`
	if outcome != it.Sender {
		code = `a:` + outcome
	}
	fmt.Fprintf(w, `<s:Envelope xmlns:s="%s">%s<s:Body><s:Fault><faultcode xmlns:a="%s">%s</faultcode>`+
		`<faultstring xml:lang="en-US">%s</faultstring></s:Fault></s:Body></s:Envelope>`, envNS, fh, it.NSWorkflowServices, code, text)
}

func TestDriversAgainstScriptedEndpoint(t *testing.T) {
	for _, c := range []*client{monoClient, zeepClient} {
		t.Run(c.Name, func(t *testing.T) {
			c.prepare(t)
			fake := &fakeEndpoint{script: map[string]string{}, received: map[string]fakeRequest{}}
			srv := httptest.NewServer(fake)
			defer srv.Close()

			type check struct {
				call it.Call
				want it.Want
				sent func(fakeRequest) string // checks what the endpoint received
			}
			var checks []check
			ident := it.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}
			for _, b := range c.Bindings {
				for i, outcome := range []string{"", it.Sender, "InstanceNotFound", "InstanceCompleted",
					"InstanceTerminated", "InstanceSuspended", "UpdateFailed"} {
					op := it.Operations()[i%13]
					call := it.Call{Binding: b, Op: op, ID: it.NewGUID()}
					if it.TakesReason(op) {
						call.Reason = strp(it.NonASCIIReason)
					}
					if it.IsUpdate(op) {
						id := ident
						call.Identity = &id
					}
					fake.script[call.ID] = outcome
					checks = append(checks, check{call: call, want: it.Want{Fault: outcome}})
				}
				// Arguments reach the wire as the client means them.
				sent := func(call it.Call, verify func(fakeRequest) string) {
					if call.ID == "" {
						call.ID = it.NewGUID()
					}
					fake.script[strings.ToLower(call.ID)] = ""
					checks = append(checks, check{call: call, sent: verify})
				}
				sent(it.Call{Binding: b, Op: "TransactedSuspend", Reason: strp(it.NonASCIIReason)}, func(r fakeRequest) string {
					if r.op != "TransactedSuspend" || !r.reasonPresent || r.reasonNil || r.reason != it.NonASCIIReason {
						return fmt.Sprintf("sent %+v", r)
					}
					return ""
				})
				sent(it.Call{Binding: b, Op: "Suspend"}, func(r fakeRequest) string {
					if !r.reasonPresent || !r.reasonNil { // both drivers send xsi:nil by default
						return fmt.Sprintf("null reason sent as %+v", r)
					}
					return ""
				})
				sent(it.Call{Binding: b, Op: "Run", ID: strings.ToUpper(it.NewGUID()), TextID: c.Name == "mono"}, func(r fakeRequest) string {
					if r.rawID != strings.ToUpper(r.rawID) {
						return "id not sent in upper case: " + r.rawID
					}
					return ""
				})
				v2 := it.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"}
				sent(it.Call{Binding: b, Op: "Update", Identity: &v2}, func(r fakeRequest) string {
					if r.identity == nil || *r.identity != v2 {
						return fmt.Sprintf("identity sent as %+v", r.identity)
					}
					return ""
				})
				sent(it.Call{Binding: b, Op: "TransactedUpdate"}, func(r fakeRequest) string {
					if !r.identityPresent || !r.identityNil {
						return fmt.Sprintf("null identity sent as %+v", r)
					}
					return ""
				})
				if c.Name == "zeep" {
					sent(it.Call{Binding: b, Op: "Suspend", ReasonMode: "absent"}, func(r fakeRequest) string {
						if r.reasonPresent {
							return "absent reason was sent"
						}
						return ""
					})
				}
			}
			calls := make([]it.Call, len(checks))
			for i := range checks {
				checks[i].call.Seq = i + 1
				calls[i] = checks[i].call
			}
			results, err := c.run(srv.URL+"/WorkflowControl", calls)
			if err != nil {
				t.Fatal(err)
			}
			for i, ck := range checks {
				if msg := c.checkOutcome(ck.call.Binding, ck.want, results[i]); msg != "" {
					t.Errorf("%s %s (scripted %q): %s", ck.call.Binding, ck.call.Op, ck.want.Fault, msg)
				}
				if ck.want.Fault != "" && !strings.Contains(results[i].Reason, "für") {
					t.Errorf("%s %s: fault reason %q lost its non-ASCII text", ck.call.Binding, ck.call.Op, results[i].Reason)
				}
				fake.mu.Lock()
				r, ok := fake.received[strings.ToLower(ck.call.ID)]
				fake.mu.Unlock()
				if !ok {
					t.Errorf("%s %s: endpoint received nothing", ck.call.Binding, ck.call.Op)
					continue
				}
				if r.soap12 != c.SOAP12[ck.call.Binding] {
					t.Errorf("%s: SOAP 1.2 = %v", ck.call.Binding, r.soap12)
				}
				if ck.sent != nil {
					if msg := ck.sent(r); msg != "" {
						t.Errorf("%s %s: %s", ck.call.Binding, ck.call.Op, msg)
					}
				}
			}
			t.Logf("%s: %d driver calls against the scripted endpoint checked", c.Name, len(checks))
		})
	}
}

func strp(s string) *string { return &s }
