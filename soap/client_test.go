package soap

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func runBody(op string) *etree.Element {
	el := etree.NewElement(op)
	el.CreateAttr("xmlns", nsWS)
	el.CreateElement("instanceId").SetText("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	return el
}

// TestClient drives the Endpoint with the Client in every version × addressing combination.
func TestClient(t *testing.T) {
	rec := &recorder{}
	ep := testEndpoint(rec, map[string]func(context.Context, *Request) (*etree.Element, error){
		"Run": func(context.Context, *Request) (*etree.Element, error) {
			return nil, NewFault(Sender, "Instance 'x' not found.", qNotFound)
		},
	})
	srv := httptest.NewServer(ep)
	defer srv.Close()
	for _, v := range []Version{V11, V12} {
		for _, wsa := range []string{"", WSA10, WSA0408} {
			c := &Client{HTTP: srv.Client(), URL: srv.URL + "/WorkflowControl", Version: v, Addressing: wsa}
			name := v.String() + "/" + wsa
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				got, err := c.Call(ctx, actionNS+"Suspend", runBody("Suspend"))
				if err != nil {
					t.Fatal(err)
				}
				if got == nil || got.Tag != "SuspendResponse" || nsOf(got) != nsWS {
					t.Errorf("reply body %v", got)
				}
				req, _ := rec.get()
				if req.Version != v || req.Addressing != wsa || req.Action != actionNS+"Suspend" {
					t.Errorf("server saw version %v addressing %q action %q", req.Version, req.Addressing, req.Action)
				}
				h := req.HTTP.Header
				if v == V11 && h.Get("SOAPAction") != `"`+actionNS+`Suspend"` {
					t.Errorf("SOAPAction %q", h.Get("SOAPAction"))
				}
				if v == V12 && !strings.Contains(h.Get("Content-Type"), `action="`+actionNS+`Suspend"`) {
					t.Errorf("Content-Type %q", h.Get("Content-Type"))
				}
				if wsa != "" && !strings.HasPrefix(req.MessageID, "urn:uuid:") {
					t.Errorf("MessageID %q", req.MessageID)
				}

				resp, err := c.Do(ctx, actionNS+"Suspend", runBody("Suspend"))
				if err != nil {
					t.Fatal(err)
				}
				if wsa != "" && (resp.RelatesTo != resp.MessageID || resp.Action != actionNS+"SuspendResponse") {
					t.Errorf("reply addressing: action %q relatesTo %q messageID %q", resp.Action, resp.RelatesTo, resp.MessageID)
				}

				_, err = c.Call(ctx, actionNS+"Run", runBody("Run"))
				var f *Fault
				if !errors.As(err, &f) {
					t.Fatalf("want *Fault, got %v", err)
				}
				if f.Code != Sender || !sameQNames(f.Subcodes, []QName{qNotFound}) || f.Reason != "Instance 'x' not found." {
					t.Errorf("fault %+v", f)
				}
			})
		}
	}
}

func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/text":
			http.Error(w, "nope", http.StatusBadGateway)
		case "/empty500":
			w.Header().Set("Content-Type", ct11)
			w.WriteHeader(500)
			_, _ = w.Write([]byte(env11("", "")))
		case "/notxml":
			w.Header().Set("Content-Type", ct11)
			_, _ = w.Write([]byte("<a>"))
		}
	}))
	defer srv.Close()
	for _, p := range []string{"/text", "/empty500", "/notxml"} {
		c := &Client{HTTP: srv.Client(), URL: srv.URL + p}
		_, err := c.Call(context.Background(), "urn:x", runBody("Run"))
		var f *Fault
		if err == nil || errors.As(err, &f) {
			t.Errorf("%s: err %v", p, err)
		}
	}
}

// TestClientExtraHeaders: a Client can send a transaction header and sees the MustUnderstand fault.
func TestClientExtraHeaders(t *testing.T) {
	srv := httptest.NewServer(testEndpoint(nil, nil))
	defer srv.Close()
	cc := etree.NewElement("c:CoordinationContext")
	cc.CreateAttr("xmlns:c", NSWSCoor2004)
	cc.CreateAttr("xmlns:e", NS12)
	cc.CreateAttr("e:mustUnderstand", "1")
	c := &Client{HTTP: srv.Client(), URL: srv.URL, Version: V12, Addressing: WSA10, Headers: []*etree.Element{cc}}
	_, err := c.Call(context.Background(), actionNS+"TransactedRun", runBody("TransactedRun"))
	var f *Fault
	if !errors.As(err, &f) || f.Code != MustUnderstand || !sameQNames(f.NotUnderstood, []QName{{NSWSCoor2004, "CoordinationContext"}}) {
		t.Errorf("err %v (%+v)", err, f)
	}
}
