package soap

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// sentRequest is one request as an authTestServer received it.
type sentRequest struct {
	header http.Header
	body   []byte
}

// authTestServer answers every POST with an empty RunResponse in the request's SOAP version
// and keeps the raw requests.
type authTestServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []sentRequest
}

func newAuthTestServer(t *testing.T) *authTestServer {
	s := &authTestServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request: %v", err)
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, sentRequest{r.Header.Clone(), body})
		s.mu.Unlock()
		ns, ct := "http://schemas.xmlsoap.org/soap/envelope/", "text/xml; charset=utf-8"
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/soap+xml") {
			ns, ct = "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = io.WriteString(w, `<s:Envelope xmlns:s="`+ns+`"><s:Body>`+
			`<RunResponse xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"/></s:Body></s:Envelope>`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *authTestServer) requests() []sentRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentRequest(nil), s.reqs...)
}

// TestClientBasicAuth: without WSSE every request carries Authorization: Basic (RFC 7617), on
// the first attempt (no challenge needed), and no Security header.
func TestClientBasicAuth(t *testing.T) {
	for _, tc := range []struct{ user, password, want string }{
		{"alice", "secret", "Basic YWxpY2U6c2VjcmV0"},
		{"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, // RFC 7617 §2
		{"test", "123\u00a3", "Basic dGVzdDoxMjPCow=="},                  // RFC 7617 §2.1, UTF-8
		{"bob", "pa:ss word", "Basic Ym9iOnBhOnNzIHdvcmQ="},              // a colon is fine in the password
	} {
		for _, v := range []Version{V11, V12} {
			srv := newAuthTestServer(t)
			c := &Client{HTTP: srv.Client(), URL: srv.URL, Version: v,
				Credentials: &Credentials{Username: tc.user, Password: tc.password}}
			for range 2 {
				if _, err := c.Call(context.Background(), actionNS+"Run", runBody("Run")); err != nil {
					t.Fatalf("%s %v: %v", tc.user, v, err)
				}
			}
			reqs := srv.requests()
			if len(reqs) != 2 {
				t.Fatalf("%s %v: the server saw %d requests, want 2 (Basic is sent preemptively)", tc.user, v, len(reqs))
			}
			for i, r := range reqs {
				if got := r.header.Values("Authorization"); len(got) != 1 || got[0] != tc.want {
					t.Errorf("%s %v request %d: Authorization %q, want %q", tc.user, v, i, got, tc.want)
				}
				if strings.Contains(string(r.body), "Security") {
					t.Errorf("%s %v request %d: a Basic request carries a Security header: %s", tc.user, v, i, r.body)
				}
			}
		}
	}
}

// TestClientNoCredentials: without Credentials a request carries neither.
func TestClientNoCredentials(t *testing.T) {
	srv := newAuthTestServer(t)
	c := &Client{HTTP: srv.Client(), URL: srv.URL}
	if _, err := c.Call(context.Background(), actionNS+"Run", runBody("Run")); err != nil {
		t.Fatal(err)
	}
	r := srv.requests()[0]
	if _, ok := r.header["Authorization"]; ok || strings.Contains(string(r.body), "Security") {
		t.Errorf("credentials sent without Credentials: %v %s", r.header, r.body)
	}
}

// TestClientWSSE: with WSSE every request carries a WS-Security 1.0 header with a
// UsernameToken (PasswordText) and a fresh Timestamp, and no Authorization header.
func TestClientWSSE(t *testing.T) {
	const (
		wsse   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
		wsu    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
		pwText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
		soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
		soap12 = "http://www.w3.org/2003/05/soap-envelope"
	)
	for _, v := range []Version{V11, V12} {
		for _, wsa := range []string{"", WSA10} {
			envNS := soap11
			if v == V12 {
				envNS = soap12
			}
			srv := newAuthTestServer(t)
			// One header of the caller's own, in a slice with room to spare: a Client that
			// appended to it would write into the caller's array.
			extra := etree.NewElement("x:Extra")
			extra.CreateAttr("xmlns:x", "urn:example:extra")
			headers := make([]*etree.Element, 1, 4)
			headers[0] = extra
			c := &Client{HTTP: srv.Client(), URL: srv.URL, Version: v, Addressing: wsa, Headers: headers,
				Credentials: &Credentials{Username: "alice", Password: "s3cret <&> \u00e9", WSSE: true}}
			var sent []time.Time
			for range 2 {
				sent = append(sent, time.Now())
				if _, err := c.Call(context.Background(), actionNS+"Run", runBody("Run")); err != nil {
					t.Fatalf("%v %q: %v", v, wsa, err)
				}
			}
			if len(c.Headers) != 1 || c.Headers[0] != extra || headers[:2][1] != nil {
				t.Errorf("%v %q: the Client changed its Headers: %v", v, wsa, headers[:2])
			}
			reqs := srv.requests()
			if len(reqs) != 2 {
				t.Fatalf("%v %q: %d requests", v, wsa, len(reqs))
			}
			for i, r := range reqs {
				name := fmt.Sprintf("%v %q request %d", v, wsa, i)
				if got, ok := r.header["Authorization"]; ok {
					t.Errorf("%s: a WSSE request carries Authorization %q", name, got)
				}
				doc := etree.NewDocument()
				if err := doc.ReadFromBytes(r.body); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				env := doc.Root()
				if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != envNS {
					t.Fatalf("%s: root %v", name, env)
				}
				var hdr *etree.Element
				for _, e := range env.ChildElements() {
					if e.Tag == "Header" && e.NamespaceURI() == envNS {
						hdr = e
					}
				}
				if hdr == nil {
					t.Fatalf("%s: no Header: %s", name, r.body)
				}
				var secs []*etree.Element
				extras := 0
				for _, h := range hdr.ChildElements() {
					switch {
					case h.Tag == "Security" && h.NamespaceURI() == wsse:
						secs = append(secs, h)
					case h.Tag == "Security":
						t.Errorf("%s: a Security header in namespace %q", name, h.NamespaceURI())
					case h.Tag == "Extra" && h.NamespaceURI() == "urn:example:extra":
						extras++
					}
				}
				if len(secs) != 1 || extras != 1 {
					t.Fatalf("%s: %d Security headers and %d Extra headers, want 1 and 1: %s", name, len(secs), extras, r.body)
				}
				sec := secs[0]
				mu := ""
				for _, a := range sec.Attr {
					if a.Key == "mustUnderstand" && a.NamespaceURI() == envNS {
						mu = a.Value
					}
				}
				if mu != "1" {
					t.Errorf("%s: Security mustUnderstand %q, want \"1\" in %s", name, mu, envNS)
				}
				kids := func(e *etree.Element, ns, local string) []*etree.Element {
					var out []*etree.Element
					for _, c := range e.ChildElements() {
						if c.Tag == local && c.NamespaceURI() == ns {
							out = append(out, c)
						}
					}
					return out
				}
				uts := kids(sec, wsse, "UsernameToken")
				if len(uts) != 1 {
					t.Fatalf("%s: %d UsernameTokens", name, len(uts))
				}
				users, pws := kids(uts[0], wsse, "Username"), kids(uts[0], wsse, "Password")
				if len(users) != 1 || users[0].Text() != "alice" {
					t.Errorf("%s: Username %v", name, users)
				}
				if len(pws) != 1 || pws[0].Text() != "s3cret <&> \u00e9" {
					t.Fatalf("%s: Password %v", name, pws)
				}
				if typ := pws[0].SelectAttrValue("Type", ""); typ != pwText {
					t.Errorf("%s: Password Type %q", name, typ)
				}
				tss := kids(sec, wsu, "Timestamp")
				if len(tss) != 1 {
					t.Fatalf("%s: %d Timestamps in %s", name, len(tss), wsu)
				}
				created, expires := kids(tss[0], wsu, "Created"), kids(tss[0], wsu, "Expires")
				if len(created) != 1 || len(expires) != 1 {
					t.Fatalf("%s: Created %v Expires %v", name, created, expires)
				}
				ct, err := time.Parse(time.RFC3339Nano, created[0].Text())
				if err != nil || !strings.HasSuffix(created[0].Text(), "Z") {
					t.Fatalf("%s: Created %q: %v", name, created[0].Text(), err)
				}
				if d := ct.Sub(sent[i]); d < -2*time.Second || d > 5*time.Second {
					t.Errorf("%s: Created %v is %v from the time the request was sent (%v): not fresh", name, ct, d, sent[i])
				}
				et, err := time.Parse(time.RFC3339Nano, expires[0].Text())
				if err != nil || et.Sub(ct) != 5*time.Minute {
					t.Errorf("%s: Expires %q, want Created + 5m: %v", name, expires[0].Text(), err)
				}
			}
		}
	}
}

// TestClientCredentialsRefused: credentials the scheme cannot carry are refused before anything
// is sent.
func TestClientCredentialsRefused(t *testing.T) {
	srv := newAuthTestServer(t)
	for _, cr := range []Credentials{
		{Username: "", Password: "x"},
		{Username: "a:b", Password: "x"}, // RFC 7617: no colon in the user-id
		{Username: "alice", Password: "x\ny"},
		{Username: "alice", Password: "x\x7f"},
		{Username: "al\tice", Password: "x", WSSE: true},
		{Username: "alice", Password: "x\ry", WSSE: true},
		{Username: "alice", Password: "\xff", WSSE: true},
	} {
		c := &Client{HTTP: srv.Client(), URL: srv.URL, Credentials: &cr}
		if _, err := c.Call(context.Background(), actionNS+"Run", runBody("Run")); err == nil {
			t.Errorf("%+v: accepted", cr)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent with refused credentials", n)
	}
	// A colon in a WSSE username is no problem.
	c := &Client{HTTP: srv.Client(), URL: srv.URL, Credentials: &Credentials{Username: "a:b", Password: "x", WSSE: true}}
	if _, err := c.Call(context.Background(), actionNS+"Run", runBody("Run")); err != nil {
		t.Errorf("WSSE username with a colon: %v", err)
	}
}
