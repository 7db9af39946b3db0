package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wimp-project/wimp/auth/authtest"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/soap"
)

const testID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

// seen is one request as fakeServer received it.
type seen struct {
	path, authorization string
	hasAuthorization    bool
	security            *etree.Element // the wsse:Security header, nil if none
	clientCert          string         // the verified client certificate's CN, "" if none
}

// fakeServer answers both endpoints with canned replies (the control endpoint: an empty
// response; the hosting endpoint: inst for GetInstance and ListInstances, recs for
// GetTrackingRecords) and records what each request carried. Whether credentials are right is
// not its business: the tests check what was sent.
type fakeServer struct {
	t     *testing.T
	inst  map[string]string // child elements of <instance>
	recs  []map[string]string
	fault *soap.Fault // when set, the control endpoint answers with it

	mu   sync.Mutex
	reqs []seen
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		f.t.Errorf("%s: unreadable request: %v", r.URL.Path, err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s := seen{path: r.URL.Path}
	s.authorization = r.Header.Get("Authorization")
	_, s.hasAuthorization = r.Header["Authorization"]
	var body *etree.Element
	for _, e := range doc.Root().ChildElements() {
		switch e.Tag {
		case "Header":
			for _, h := range e.ChildElements() {
				if h.Tag == "Security" && h.NamespaceURI() == "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" {
					s.security = h
				}
			}
		case "Body":
			if cs := e.ChildElements(); len(cs) > 0 {
				body = cs[0]
			}
		}
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		s.clientCert = r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	f.mu.Unlock()
	if body == nil {
		f.t.Errorf("%s: empty body", r.URL.Path)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if f.fault != nil && r.URL.Path == "/WorkflowControl" {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(soap.FaultMessage(soap.V11, "", "", f.fault).Marshal())
		return
	}
	reply := etree.NewElement(body.Tag + "Response")
	reply.CreateAttr("xmlns", body.NamespaceURI())
	switch body.Tag {
	case hosting.OpGetInstance:
		writeFields(reply.CreateElement("instance"), f.inst)
	case hosting.OpListInstances, hosting.OpQueryInstances:
		writeFields(reply.CreateElement("instance"), f.inst)
	case hosting.OpCountInstances:
		reply.CreateElement("total").SetText("1")
		g := reply.CreateElement("group")
		g.CreateElement("exception").SetText(f.inst["suspensionException"])
		g.CreateElement("count").SetText("1")
	case hosting.OpGetDefinitions:
		d := reply.CreateElement("definition")
		writeFields(d, map[string]string{"name": f.inst["suspensionException"]})
		d.CreateElement("package").SetText("p")
		d.CreateElement("version").SetText("1.0")
		d.CreateElement("source").SetText("file")
		d.CreateElement("location").SetText(f.inst["suspensionException"])
		a := d.CreateElement("arguments").CreateElement("argument")
		a.CreateElement("name").SetText(f.inst["suspensionException"])
		a.CreateElement("type").SetText("String")
		a.CreateElement("required").SetText("false")
		writeFields(d.CreateElement("updatableFrom").CreateElement("identity"), map[string]string{"name": f.inst["suspensionException"]})
	case hosting.OpGetNodes:
		n := reply.CreateElement("node")
		for _, kv := range [][2]string{{"id", f.inst["suspensionException"]}, {"name", f.inst["suspensionException"]},
			{"advertise", f.inst["suspensionException"]}, {"info", f.inst["suspensionException"]}, {"registered", "2026-01-01T00:00:00Z"},
			{"renewed", "2026-01-01T00:00:00Z"}, {"expiry", "2026-01-01T00:00:10Z"}, {"instances", "3"}, {"self", "true"}} {
			n.CreateElement(kv[0]).SetText(kv[1])
		}
	case hosting.OpGetTrackingRecords:
		for _, rec := range f.recs {
			writeFields(reply.CreateElement("record"), rec)
		}
	}
	_, _ = w.Write((&soap.Message{Version: soap.V11, Body: reply}).Marshal())
}

func writeFields(e *etree.Element, fields map[string]string) {
	for _, k := range []string{"id", "state", "completion", "completionReason", "suspensionReason",
		"suspensionException", "executionStatus", "variables", "created", "updated",
		"seq", "time", "kind", "name", "activity", "reason", "principal", "data"} {
		if v, ok := fields[k]; ok {
			e.CreateElement(k).SetText(v)
		}
	}
	if v, ok := fields["definition"]; ok {
		d := e.CreateElement("definition")
		parts := strings.SplitN(v, "|", 3)
		d.CreateElement("name").SetText(parts[0])
		d.CreateElement("package").SetText(parts[1])
		d.CreateElement("version").SetText(parts[2])
	}
	if v, ok := fields["bookmarks"]; ok {
		b := e.CreateElement("bookmarks")
		for _, x := range strings.Split(v, "|") {
			b.CreateElement("bookmark").SetText(x)
		}
	}
}

func (f *fakeServer) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs
	f.reqs = nil
	return out
}

var goodInstance = map[string]string{
	"id": testID, "state": "Active", "executionStatus": "Idle", "variables": `{"amount":1}`,
	"created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
	"definition": "Hello|wimp.samples|1.0.0.0", "bookmarks": "Review",
}

// pki is a test CA with a server certificate for 127.0.0.1 and a client certificate, as PEM
// files.
type pki struct {
	caFile, certFile, keyFile string // the CA, the client certificate and its key
	otherCA                   string // a CA that signed nothing here
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, other := authtest.NewCA(t, "wimp test CA"), authtest.NewCA(t, "another CA")
	cli := ca.Client(t, "wimpctl-client")
	return &pki{caFile: ca.File, certFile: cli.CertFile, keyFile: cli.KeyFile, otherCA: other.File,
		server: ca.Server(t, "127.0.0.1").TLS, pool: ca.Pool()}
}

// startTLS starts f over TLS with p's server certificate, requiring a client certificate
// when require is set.
func startTLS(t *testing.T, f http.Handler, p *pki, require bool, maxVersion uint16) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven,
		MinVersion: tls.VersionTLS10, MaxVersion: maxVersion}
	if require {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCredentialsAndTLS: the control and the hosting client both send the credentials (HTTP
// Basic, or a WS-Security header) and the client certificate, and verify the server with --ca.
func TestCredentialsAndTLS(t *testing.T) {
	t.Setenv("WIMP_USER", "")
	t.Setenv("WIMP_PASSWORD", "")
	p := newPKI(t)
	f := &fakeServer{t: t, inst: goodInstance}
	base := startTLS(t, f, p, true, 0)
	tlsArgs := []string{"--endpoint", base, "--ca", p.caFile, "--cert", p.certFile, "--key", p.keyFile}
	both := func(t *testing.T, extra ...string) []seen {
		t.Helper()
		args := append(append(append([]string(nil), tlsArgs...), extra...), "run", testID)
		if r := ctlIn("", args...); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		args = append(append(append([]string(nil), tlsArgs...), extra...), "get", testID)
		if r := ctlIn("", args...); r.code != 0 || !strings.Contains(r.stdout, "Active") {
			t.Fatalf("get: %+v", r)
		}
		reqs := f.requests()
		if len(reqs) != 2 || reqs[0].path != "/WorkflowControl" || reqs[1].path != "/WorkflowHosting" {
			t.Fatalf("requests %+v", reqs)
		}
		for _, s := range reqs {
			if s.clientCert != "wimpctl-client" {
				t.Errorf("%s: client certificate %q", s.path, s.clientCert)
			}
		}
		return reqs
	}

	t.Run("basic via WIMP_PASSWORD", func(t *testing.T) {
		t.Setenv("WIMP_PASSWORD", "secret")
		for _, s := range both(t, "--user", "alice") {
			if s.authorization != "Basic YWxpY2U6c2VjcmV0" || s.security != nil {
				t.Errorf("%s: Authorization %q, Security %v", s.path, s.authorization, s.security)
			}
		}
	})
	t.Run("basic via WIMP_USER and --password-file", func(t *testing.T) {
		t.Setenv("WIMP_USER", "alice")
		t.Setenv("WIMP_PASSWORD", "not this one")
		file := writeFile(t, "secret\r\nsecond line\n")
		for _, s := range both(t, "--password-file", file, "--auth", "basic") {
			if s.authorization != "Basic YWxpY2U6c2VjcmV0" || s.security != nil {
				t.Errorf("%s: Authorization %q, Security %v", s.path, s.authorization, s.security)
			}
		}
	})
	t.Run("wsse", func(t *testing.T) {
		file := writeFile(t, "s3cret\n")
		for _, s := range both(t, "--user", "bob", "--password-file", file, "--auth", "wsse") {
			if s.hasAuthorization || s.security == nil {
				t.Fatalf("%s: Authorization %q, Security %v", s.path, s.authorization, s.security)
			}
			user := s.security.FindElement("UsernameToken/Username")
			pw := s.security.FindElement("UsernameToken/Password")
			created := s.security.FindElement("Timestamp/Created")
			if user == nil || user.Text() != "bob" || pw == nil || pw.Text() != "s3cret" || created == nil {
				t.Errorf("%s: Security header lacks bob/s3cret or a Created", s.path)
			}
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		for _, s := range both(t) {
			if s.hasAuthorization || s.security != nil {
				t.Errorf("%s: credentials sent without --user", s.path)
			}
		}
	})

	// The server's certificate is checked against --ca, and only against it.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cert", p.certFile, "--key", p.keyFile}, "unknown authority"},                    // the system's CAs
		{[]string{"--ca", p.otherCA, "--cert", p.certFile, "--key", p.keyFile}, "unknown authority"}, // another CA
		{[]string{"--ca", p.caFile}, "certificate required"},                                         // no client certificate
	} {
		args := append(append([]string{"--endpoint", base}, tc.args...), "get", testID)
		if r := ctlIn("", args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests got through without the right TLS set-up", n)
	}

	// TLS 1.1 is refused.
	old := startTLS(t, f, p, false, tls.VersionTLS11)
	if r := ctlIn("", "--endpoint", old, "--ca", p.caFile, "get", testID); r.code != 1 || !strings.Contains(r.stderr, "protocol version") {
		t.Errorf("a TLS 1.1 server: %+v", r)
	}
	hc, err := httpClient("", "", "")
	if err != nil || hc.Transport.(*http.Transport).TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("httpClient: %v", err)
	}
}

// TestNoRedirects: a redirect is not followed, so the credentials go nowhere else.
func TestNoRedirects(t *testing.T) {
	t.Setenv("WIMP_PASSWORD", "secret")
	f := &fakeServer{t: t, inst: goodInstance}
	target := httptest.NewServer(f)
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	if r := ctlIn("", "--endpoint", redirector.URL, "--user", "alice", "get", testID); r.code != 1 || !strings.Contains(r.stderr, "307") {
		t.Errorf("get through a redirect: %+v", r)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
}

func TestAuthUsageErrors(t *testing.T) {
	t.Setenv("WIMP_USER", "")
	t.Setenv("WIMP_PASSWORD", "")
	p := newPKI(t)
	f := &fakeServer{t: t, inst: goodInstance}
	srv := httptest.NewServer(f)
	defer srv.Close()
	pwFile := writeFile(t, "secret\n")
	// Flags that cannot work together are usage errors (64); files that do not load, and
	// credentials the soap client refuses to send, other errors (1).
	for _, tc := range []struct {
		env  map[string]string
		args []string
		code int
		msg  []string
	}{
		{nil, []string{"--user", "alice", "get", testID}, 64, []string{"$WIMP_PASSWORD", "--password-file"}},
		{map[string]string{"WIMP_USER": "alice"}, []string{"get", testID}, 64, []string{"$WIMP_PASSWORD", "--password-file"}},
		{nil, []string{"--password-file", pwFile, "get", testID}, 64, []string{"--user"}},
		{nil, []string{"--user", "alice", "--password-file", filepath.Join(t.TempDir(), "missing"), "get", testID}, 1, []string{"--password-file"}},
		{nil, []string{"--user", "alice", "--password-file", writeFile(t, "\nsecret\n"), "get", testID}, 1, []string{"empty"}},
		{map[string]string{"WIMP_PASSWORD": "secret"}, []string{"--user", "alice", "--auth", "digest", "get", testID}, 64, []string{"--auth"}},
		{nil, []string{"--cert", p.certFile, "get", testID}, 64, []string{"--cert", "--key"}},
		{nil, []string{"get", testID, "--key", p.keyFile}, 64, []string{"--cert", "--key"}},
		{nil, []string{"--cert", p.keyFile, "--key", p.certFile, "get", testID}, 1, []string{"--cert"}},
		{nil, []string{"--ca", filepath.Join(t.TempDir(), "missing"), "get", testID}, 1, []string{"--ca"}},
		{nil, []string{"--ca", pwFile, "get", testID}, 1, []string{"--ca", "PEM"}},
		{map[string]string{"WIMP_PASSWORD": "secret"}, []string{"--user", "a:b", "get", testID}, 1, []string{"':'"}},
		{nil, []string{"--password", "secret", "get", testID}, 64, []string{"password"}}, // no such flag
		{nil, []string{"get", testID, "--password", "secret"}, 64, []string{"password"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := ctlIn("", append([]string{"--endpoint", srv.URL}, tc.args...)...)
			if r.code != tc.code || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, want %d with one line: %+v", r.code, tc.code, r)
			}
			for _, m := range tc.msg {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("stderr %q does not name %q", r.stderr, m)
				}
			}
		})
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent despite usage errors", n)
	}
}

// TestTextOutputEscapes: every text printer escapes what the server sent; JSON output keeps it.
func TestTextOutputEscapes(t *testing.T) {
	// (XML cannot carry ESC and most other C0 controls; TestPrintable covers those.)
	const evil = "ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory\u0085\u2028\u2029\u009b2J\x7f\r"
	const shown = `ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory\u0085\u2028\u2029\u009b2J\x7f\r`
	inst := map[string]string{
		"id": testID + evil, "state": "Suspended" + evil, "completion": "Closed" + evil, "completionReason": evil,
		"suspensionReason": "r" + evil, "suspensionException": evil, "executionStatus": "Idle",
		"variables": `{"note":"a\u0085b\u007fc"}`, "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
		"definition": "Name" + evil + "|Pkg" + evil + "|1.0" + evil, "bookmarks": "B1" + evil + "|B2",
	}
	rec := map[string]string{"seq": "1", "time": "2026-01-01T00:00:00Z", "kind": "Instance" + evil, "name": "Suspended" + evil,
		"activity": evil, "reason": evil, "principal": "alice" + evil, "data": evil}
	f := &fakeServer{t: t, inst: inst, recs: []map[string]string{rec},
		fault: soap.NewFault(soap.Sender, "nope"+evil, soap.QName{Space: "urn:x\u2028y", Local: "Sub"})}
	srv := httptest.NewServer(f)
	defer srv.Close()

	for _, tc := range []struct {
		args       []string
		rows, hits int // lines of output, and how many show the value escaped
	}{
		{[]string{"get", testID}, 9, 6},
		{[]string{"list"}, 2, 1},
		{[]string{"track", testID}, 2, 1},
		{[]string{"count", "--by", "exception"}, 3, 1},
		{[]string{"definitions"}, 2, 1},
		{[]string{"nodes"}, 2, 1},
		{[]string{"nodes", "-o", "wide"}, 2, 1},
	} {
		r := ctl(srv.URL, tc.args...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", tc.args, r)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		hits := 0
		for _, l := range lines {
			if strings.Contains(l, shown) {
				hits++
			}
			if strings.ContainsAny(l, "\r\t\u009b\u0085\u2028\u2029\x7f") {
				t.Errorf("%v: a control character printed: %q", tc.args, l)
			}
		}
		if len(lines) != tc.rows || hits != tc.hits {
			t.Errorf("%v: %d lines (want %d), %d with the escaped value (want %d):\n%s", tc.args, len(lines), tc.rows, hits, tc.hits, r.stdout)
		}
	}
	if r := ctl(srv.URL, "get", testID); !strings.Contains(r.stdout, `a\u0085b\x7fc`) {
		t.Errorf("get: variables not escaped:\n%s", r.stdout)
	}

	// A fault's reason and subcode are escaped too, on one line.
	r := ctl(srv.URL, "run", testID)
	if r.code != 2 || r.stderr != `wimpctl: fault (Sender {urn:x\u2028y}Sub): nope`+shown+"\n" {
		t.Errorf("run's fault: %+v", r)
	}

	// JSON keeps the values; encoding/json escapes them by its rules.
	for _, args := range [][]string{{"get", testID, "--json"}, {"list", "--json"}, {"track", testID, "--json"}} {
		r := ctl(srv.URL, args...)
		if r.code != 0 || !strings.Contains(r.stdout, `\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory`) {
			t.Errorf("%v: %+v", args, r)
		}
	}
	r = ctl(srv.URL, "track", testID, "--json")
	var n int
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, `"reason"`) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("track --json: %d reason lines\n%s", n, r.stdout)
	}
}
