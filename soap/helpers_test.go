package soap

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
)

const (
	nsWS     = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	actionNS = nsWS + "/IWorkflowInstanceManagement/"
)

var wfimOps = []string{
	"Abandon", "Cancel", "Run", "Suspend", "Terminate", "Unsuspend", "Update",
	"TransactedCancel", "TransactedRun", "TransactedSuspend", "TransactedTerminate", "TransactedUnsuspend", "TransactedUpdate",
}

// recorder remembers the last request an operation handled.
type recorder struct {
	mu   sync.Mutex
	last *Request
	n    int
}

func (r *recorder) get() (*Request, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.n
}

// testEndpoint serves the 13 MS-WFIM operations; each answers <{Op}Response/>, except that the
// handler can be overridden per operation name.
func testEndpoint(rec *recorder, override map[string]func(context.Context, *Request) (*etree.Element, error)) *Endpoint {
	e := &Endpoint{Logger: slog.New(slog.DiscardHandler)}
	for _, op := range wfimOps {
		op := op
		h := func(ctx context.Context, req *Request) (*etree.Element, error) {
			if rec != nil {
				rec.mu.Lock()
				rec.last, rec.n = req, rec.n+1
				rec.mu.Unlock()
			}
			if f := override[op]; f != nil {
				return f(ctx, req)
			}
			el := etree.NewElement(op + "Response")
			el.CreateAttr("xmlns", nsWS)
			return el, nil
		}
		e.Operations = append(e.Operations, Operation{
			Action: actionNS + op, ReplyAction: actionNS + op + "Response",
			Element: QName{nsWS, op}, Handle: h,
		})
	}
	return e
}

// post sends body to h with the given headers (name, value pairs).
func post(t testing.TB, h http.Handler, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/WorkflowControl", strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// reply parses a reply the way a client would, failing the test if it is not a SOAP envelope.
type reply struct {
	status int
	ct     string
	env    *etree.Element
	ver    Version
	body   *etree.Element
	fault  *Fault
	raw    string
}

func parseReply(t testing.TB, w *httptest.ResponseRecorder) reply {
	t.Helper()
	raw := w.Body.Bytes()
	r := reply{status: w.Code, ct: w.Header().Get("Content-Type"), raw: string(raw)}
	env, v, err := ParseEnvelope(raw, r.ct)
	if err != nil {
		t.Fatalf("reply is not a SOAP envelope: %v\n%s", err, raw)
	}
	r.env, r.ver = env, v
	b := child(env, v.Namespace(), "Body")
	if b == nil {
		t.Fatalf("reply has no Body:\n%s", raw)
	}
	if cs := b.ChildElements(); len(cs) > 0 {
		r.body = cs[0]
	}
	if is(r.body, v.Namespace(), "Fault") {
		f, err := ParseFault(env)
		if err != nil {
			t.Fatalf("ParseFault: %v\n%s", err, raw)
		}
		r.fault = f
	}
	if !bytes.HasPrefix(raw, []byte(`<?xml version="1.0" encoding="utf-8"?><`)) {
		t.Errorf("reply does not start with the XML declaration and then the envelope:\n%s", raw)
	}
	return r
}

// header returns the text of the reply header {ns}local and whether it is present.
func (r reply) header(ns, local string) (*etree.Element, bool) {
	hdr := child(r.env, r.ver.Namespace(), "Header")
	if hdr == nil {
		return nil, false
	}
	h := child(hdr, ns, local)
	return h, h != nil
}

// env11/env12 wrap header and body XML in an envelope with prefix s.
func env11(header, body string) string {
	h := ""
	if header != "" {
		h = "<s:Header>" + header + "</s:Header>"
	}
	return `<s:Envelope xmlns:s="` + NS11 + `">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
}

func env12(header, body string) string {
	h := ""
	if header != "" {
		h = "<s:Header>" + header + "</s:Header>"
	}
	return `<s:Envelope xmlns:s="` + NS12 + `">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
}

func wrapper(op string) string {
	return `<` + op + ` xmlns="` + nsWS + `"><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></` + op + `>`
}

const (
	ct11 = "text/xml; charset=utf-8"
	ct12 = "application/soap+xml; charset=utf-8"
)

func wsa10(action, msgID string) string {
	s := `<a:Action s:mustUnderstand="1" xmlns:a="` + WSA10 + `">` + action + `</a:Action>`
	if msgID != "" {
		s += `<a:MessageID xmlns:a="` + WSA10 + `">` + msgID + `</a:MessageID>`
	}
	return s
}

func sameQNames(a, b []QName) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
