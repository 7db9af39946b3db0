package server_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/auth/authtest"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testlog"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
)

// The passwords of the test users. Each is distinctive, so that a test can grep the log for it.
const (
	readerPassword   = "reader-pw-Kq81"
	operatorPassword = "operator-pw-Zt27"
	adminPassword    = "admin-pw-Hv55"
)

var testUsers = []authtest.User{
	{Name: "rita", Password: readerPassword, Roles: "reader"},
	{Name: "otto", Password: operatorPassword, Roles: "operator"},
	{Name: "ada", Password: adminPassword, Roles: "reader,admin"},
	{Name: "carol", Roles: "admin"}, // certificate only
}

func securedServer(t *testing.T, log io.Writer) *servertest.Server {
	t.Helper()
	return servertest.Run(t, servertest.Options{Users: authtest.UsersFile(t, testUsers...), Log: log})
}

// as returns the hosting and control clients of user (nil: no credentials) over the given
// mechanism.
func as(base string, hc *http.Client, user, password string, wsse bool) (*hosting.Client, *soap.Client) {
	h, c := clients(base, hc)
	if user != "" {
		cr := &soap.Credentials{Username: user, Password: password, WSSE: wsse}
		h.SOAP.Credentials, c.Credentials = cr, cr
	}
	return h, c
}

// The MS-WFIM roles of README's Security table, written out per operation.
var mswfimRole = map[string]string{
	"Run": "operator", "TransactedRun": "operator",
	"Suspend": "operator", "TransactedSuspend": "operator",
	"Unsuspend": "operator", "TransactedUnsuspend": "operator",
	"Cancel": "admin", "TransactedCancel": "admin",
	"Terminate": "admin", "TransactedTerminate": "admin",
	"Abandon": "admin",
	"Update":  "admin", "TransactedUpdate": "admin",
}

var rank = map[string]int{"reader": 1, "operator": 2, "admin": 3}

// isAccessDenied reports whether err is WCF's access-denied fault: Sender, subcode AccessDenied
// in the dispatcher namespace, reason "Access is denied.".
func isAccessDenied(err error) bool {
	var f *soap.Fault
	return errors.As(err, &f) && f.Code == soap.Sender && len(f.Subcodes) == 1 &&
		f.Subcodes[0] == soap.QName{Space: "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher", Local: "AccessDenied"} &&
		f.Reason == "Access is denied."
}

// Every MS-WFIM operation, called by each role over HTTP Basic and over a WS-Security
// UsernameToken: a role below the operation's gets AccessDenied and changes nothing (state and
// tracking records); the operation's role or a higher one gets past authorization (success or
// the state table's answer).
func TestRolesPerMSWFIMOperation(t *testing.T) {
	srv := securedServer(t, nil)
	adminH, _ := as(srv.URL, http.DefaultClient, "ada", adminPassword, false)
	users := []struct{ name, password, role string }{
		{"rita", readerPassword, "reader"}, {"otto", operatorPassword, "operator"}, {"ada", adminPassword, "admin"},
	}
	for _, wsse := range []bool{false, true} {
		for _, u := range users {
			for op, need := range mswfimRole {
				id := createExpense(t, adminH, 1500, "unit")
				before := condition(t, adminH, id)
				_, c := as(srv.URL, http.DefaultClient, u.name, u.password, wsse)
				err := control(t, c, op, id, "by "+u.name)
				allowed := rank[u.role] >= rank[need]
				switch {
				case !allowed && !isAccessDenied(err):
					t.Errorf("wsse=%v: %s (%s) calling %s (needs %s): %v, want AccessDenied", wsse, u.name, u.role, op, need, err)
				case allowed && isAccessDenied(err):
					t.Errorf("wsse=%v: %s (%s) calling %s (needs %s): AccessDenied", wsse, u.name, u.role, op, need)
				}
				if after := condition(t, adminH, id); !allowed && (after != before || !strings.HasPrefix(before, "Active ")) {
					t.Errorf("wsse=%v: a denied %s by %s changed the instance: %s before, %s after", wsse, op, u.name, before, after)
				}
			}
		}
	}
}

// The hosting contract's operations by role: reads for every role, Create and ResumeBookmark
// from operator up.
func TestRolesPerHostingOperation(t *testing.T) {
	srv := securedServer(t, nil)
	adminH, _ := as(srv.URL, http.DefaultClient, "ada", adminPassword, false)
	id := createExpense(t, adminH, 1500, "unit")
	readerH, _ := as(srv.URL, http.DefaultClient, "rita", readerPassword, false)
	operatorH, _ := as(srv.URL, http.DefaultClient, "otto", operatorPassword, true)
	if _, err := readerH.GetInstance(bg, id); err != nil {
		t.Errorf("reader GetInstance: %v", err)
	}
	if _, err := readerH.ListInstances(bg, "", 10); err != nil {
		t.Errorf("reader ListInstances: %v", err)
	}
	if _, err := readerH.TrackingRecords(bg, id, 0); err != nil {
		t.Errorf("reader GetTrackingRecords: %v", err)
	}
	if _, err := readerH.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0"}); !isAccessDenied(err) {
		t.Errorf("reader Create: %v, want AccessDenied", err)
	}
	if _, err := readerH.Create(bg, host.CreateRequest{ID: uuid.New(), Definition: "ExpenseApproval", Version: "1.0.0.0"}); !isAccessDenied(err) {
		t.Errorf("reader CreateWithInstanceId: %v, want AccessDenied", err)
	}
	if err := readerH.ResumeBookmark(bg, id, "Review", `{"approved":true,"reviewer":"rita"}`); !isAccessDenied(err) {
		t.Errorf("reader ResumeBookmark: %v, want AccessDenied", err)
	}
	if list, err := adminH.ListInstances(bg, "", 100); err != nil || len(list) != 1 {
		t.Errorf("after the denied creations: %d instances (%v), want 1", len(list), err)
	}
	if err := operatorH.ResumeBookmark(bg, id, "Review", `{"approved":true,"reviewer":"otto"}`); err != nil {
		t.Errorf("operator ResumeBookmark: %v", err)
	}
	if _, err := operatorH.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 10, "submitter": "otto"}}); err != nil {
		t.Errorf("operator Create: %v", err)
	}
	// The audit names the verified user and the address.
	recs, err := adminH.TrackingRecords(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Kind == "Bookmark" && r.Name == "Review" {
			found = true
			if !strings.HasPrefix(r.Principal, "otto@127.0.0.1:") {
				t.Errorf("the resumption's record names %q, want otto@127.0.0.1:PORT", r.Principal)
			}
		}
		if strings.Contains(r.Principal, "rita") {
			t.Errorf("a denied request left a record: %+v", r)
		}
	}
	if !found {
		t.Errorf("no Review record in %+v", recs)
	}
}

// post sends a raw SOAP 1.1 Run request with the given extra header blocks and Authorization.
func post(t *testing.T, c *http.Client, url, header, authorization string) (*http.Response, string) {
	t.Helper()
	body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` + header +
		`</s:Header><s:Body><Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices">` +
		`<instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run></s:Body></s:Envelope>`
	req, err := http.NewRequest(http.MethodPost, url+"/WorkflowControl", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/Run"`)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// faultcode returns the SOAP 1.1 faultcode of a reply as {namespace}local.
func faultcode(t *testing.T, reply string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(reply); err != nil {
		t.Fatalf("reply is not XML: %v\n%s", err, reply)
	}
	fc := doc.FindElement("//faultcode")
	if fc == nil {
		t.Fatalf("no faultcode in %s", reply)
	}
	prefix, local, ok := strings.Cut(strings.TrimSpace(fc.Text()), ":")
	if !ok {
		return "{}" + prefix
	}
	for e := fc; e != nil; e = e.Parent() {
		if a := e.SelectAttr("xmlns:" + prefix); a != nil {
			return "{" + a.Value + "}" + local
		}
	}
	return "{?" + prefix + "}" + local
}

const wsse = `xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`
const wsu = `xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"`
const passwordText = `http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText`

func token(user, password string) string {
	return `<o:UsernameToken><o:Username>` + user + `</o:Username><o:Password Type="` + passwordText + `">` + password + `</o:Password></o:UsernameToken>`
}

func security(inner string) string {
	return `<o:Security s:mustUnderstand="1" ` + wsse + ` ` + wsu + `>` + inner + `</o:Security>`
}

func stamp(created, expires time.Time) string {
	f := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	return `<u:Timestamp><u:Created>` + f(created) + `</u:Created><u:Expires>` + f(expires) + `</u:Expires></u:Timestamp>`
}

// What each way of (not) authenticating gets, as HTTP status and SOAP 1.1 faultcode.
func TestAuthenticationOutcomes(t *testing.T) {
	srv := securedServer(t, nil)
	now := time.Now()
	const (
		wsseNS     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
		contractNS = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	)
	for _, c := range []struct {
		name, header, authorization string
		status                      int
		faultcode                   string // "" for no SOAP reply
	}{
		{"no credentials", "", "", 401, ""},
		{"Basic, right password", "", "Basic YWRhOmFkbWluLXB3LUh2NTU=", 500, "{" + contractNS + "}InstanceNotFound"}, // ada:admin-pw-Hv55
		{"Basic, wrong password", "", "Basic YWRhOndyb25n", 401, ""},                                                 // ada:wrong
		{"Basic, unknown user", "", "Basic bWFsbG9yeTp4", 401, ""},                                                   // mallory:x
		{"Basic, certificate-only user", "", "Basic Y2Fyb2w6eA==", 401, ""},                                          // carol:x
		{"Bearer token", "", "Bearer abc", 401, ""},
		{"UsernameToken, right password", security(token("ada", adminPassword)), "", 500, "{" + contractNS + "}InstanceNotFound"},
		{"UsernameToken with a fresh Timestamp", security(stamp(now, now.Add(5*time.Minute)) + token("ada", adminPassword)), "", 500, "{" + contractNS + "}InstanceNotFound"},
		{"UsernameToken, wrong password", security(token("ada", "wrong")), "", 500, "{" + wsseNS + "}FailedAuthentication"},
		{"UsernameToken, unknown user", security(token("mallory", "x")), "", 500, "{" + wsseNS + "}FailedAuthentication"},
		{"two UsernameTokens", security(token("ada", adminPassword) + token("ada", adminPassword)), "", 500, "{" + wsseNS + "}InvalidSecurity"},
		{"UsernameToken without Username", security(`<o:UsernameToken><o:Password>x</o:Password></o:UsernameToken>`), "", 500, "{" + wsseNS + "}InvalidSecurity"},
		{"expired Timestamp", security(stamp(now.Add(-time.Hour), now.Add(-10*time.Minute)) + token("ada", adminPassword)), "", 500, "{" + wsseNS + "}MessageExpired"},
		{"Timestamp created in the future", security(stamp(now.Add(time.Hour), now.Add(2*time.Hour)) + token("ada", adminPassword)), "", 500, "{" + wsseNS + "}InvalidSecurity"},
		{"malformed Timestamp", security(`<u:Timestamp><u:Created>yesterday</u:Created></u:Timestamp>` + token("ada", adminPassword)), "", 500, "{" + wsseNS + "}InvalidSecurity"},
		{"PasswordDigest", security(`<o:UsernameToken><o:Username>ada</o:Username><o:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">x</o:Password></o:UsernameToken>`), "", 500, "{" + wsseNS + "}UnsupportedSecurityToken"},
		{"Security header without a token", security(stamp(now, now.Add(time.Minute))), "", 401, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, http.DefaultClient, srv.URL, c.header, c.authorization)
			if resp.StatusCode != c.status {
				t.Fatalf("HTTP %d, want %d; body %s", resp.StatusCode, c.status, body)
			}
			if c.status == 401 {
				if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="wimp"` {
					t.Errorf("WWW-Authenticate %q, want Basic realm=\"wimp\"", got)
				}
				return
			}
			if got := faultcode(t, body); got != c.faultcode {
				t.Errorf("faultcode %s, want %s\n%s", got, c.faultcode, body)
			}
		})
	}
}

// A WS-Security fault answers in the request's SOAP version: SOAP 1.2, Sender with the WSS
// subcode.
func TestUsernameTokenFaultSOAP12(t *testing.T) {
	srv := securedServer(t, nil)
	_, c := as(srv.URL, http.DefaultClient, "ada", "wrong", true)
	c.Version, c.Addressing = soap.V12, soap.WSA10
	err := control(t, c, "Run", uuid.New(), "")
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != soap.Sender || len(f.Subcodes) != 1 ||
		f.Subcodes[0] != (soap.QName{Space: "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd", Local: "FailedAuthentication"}) {
		t.Fatalf("SOAP 1.2 UsernameToken with a wrong password: %v, want Sender / wsse:FailedAuthentication", err)
	}
}

// After FailureBurst failures an address is refused with 429 and Retry-After, even with the
// right password, until it has earned an attempt back.
func TestFailedAttemptsAreLimited(t *testing.T) {
	srv := securedServer(t, nil)
	for i := 0; i < 10; i++ {
		if resp, _ := post(t, http.DefaultClient, srv.URL, "", "Basic YWRhOndyb25n"); resp.StatusCode != 401 {
			t.Fatalf("failure %d: HTTP %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, body := post(t, http.DefaultClient, srv.URL, "", "Basic YWRhOmFkbWluLXB3LUh2NTU=")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right password after 10 failures: HTTP %d, Retry-After %q, want 429 with Retry-After; %s",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// ?wsdl and /healthz need no credentials; /metrics needs the reader role.
func TestOpenAndReaderURLs(t *testing.T) {
	srv := securedServer(t, nil)
	get := func(path, user, password string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, user, password string
		want                 int
	}{
		{"/WorkflowControl?wsdl", "", "", 200},
		{"/WorkflowControl?singleWsdl", "", "", 200},
		{"/WorkflowHosting?wsdl", "", "", 200},
		{"/healthz", "", "", 200},
		{"/metrics", "", "", 401},
		{"/metrics", "rita", readerPassword, 200},
	} {
		if got := get(c.path, c.user, c.password); got != c.want {
			t.Errorf("GET %s as %q: HTTP %d, want %d", c.path, c.user, got, c.want)
		}
	}
}

// No password or hash ever appears in the log, a reply or a tracking record, whatever fails.
func TestCredentialsNeverLeak(t *testing.T) {
	log := &testlog.Buffer{}
	users := authtest.UsersText(t, testUsers...)
	srv := securedServer(t, log)
	adminH, adminC := as(srv.URL, http.DefaultClient, "ada", adminPassword, false)
	id := createExpense(t, adminH, 1500, "unit")
	var replies []string
	for _, c := range []struct{ header, authorization string }{
		{"", "Basic YWRhOndyb25nLXB3LVFxOTk="},                        // ada:wrong-pw-Qq99
		{security(token("ada", "wrong-pw-Qq99")), ""},                 // the same over WS-Security
		{security(token("rita", readerPassword)), ""},                 // a reader's Run: AccessDenied
		{"", "Basic cml0YTpyZWFkZXItcHctS3E4MQ=="},                    // rita:reader-pw-Kq81
		{security(token("ada", adminPassword)), "Basic bWFsbG9yeTp4"}, // Basic fails first
	} {
		_, body := post(t, http.DefaultClient, srv.URL, c.header, c.authorization)
		replies = append(replies, body)
	}
	if err := control(t, adminC, "Suspend", id, "audit"); err != nil {
		t.Fatal(err)
	}
	recs, err := adminH.TrackingRecords(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var trail strings.Builder
	for _, r := range recs {
		trail.WriteString(r.Principal + " " + r.Reason + " " + r.Data + "\n")
	}
	secrets := []string{readerPassword, operatorPassword, adminPassword, "wrong-pw-Qq99", "$2a$"}
	for _, line := range strings.Split(users, "\n") {
		if parts := strings.Split(line, ":"); len(parts) == 3 && parts[1] != "-" {
			secrets = append(secrets, parts[1])
		}
	}
	for what, text := range map[string]string{"log": log.String(), "replies": strings.Join(replies, "\n"), "tracking records": trail.String()} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s contain the secret %q:\n%s", what, s, text)
			}
		}
	}
	metrics := getBody(t, srv.URL+"/metrics", "rita", readerPassword)
	for _, want := range []string{
		`wimp_auth_failures_total{mechanism="basic",result="bad-credentials"} 2`,
		`wimp_auth_failures_total{mechanism="wsse",result="bad-credentials"} 1`,
		`wimp_operations_total{code="Sender",operation="Run",outcome="AccessDenied"} 2`, // rita over WS-Security and over Basic
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	if !strings.Contains(log.String(), "authentication failed") || !strings.Contains(log.String(), "access denied") {
		t.Errorf("the log does not record the failures:\n%s", log.String())
	}
}

// Client certificates: a verified certificate's CN is the user; a listed certificate-only user
// gets its role, an unlisted CN none; a client without a certificate or credentials gets 401.
func TestClientCertificates(t *testing.T) {
	ca := authtest.NewCA(t, "wimp test CA")
	srvPair := ca.Server(t, "wimp test server")
	tlsConf, err := auth.LoadTLS(auth.TLSFiles{Cert: srvPair.CertFile, Key: srvPair.KeyFile, ClientCA: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Run(t, servertest.Options{Users: authtest.UsersFile(t, testUsers...), TLS: tlsConf})
	client := func(cert *authtest.Pair) *http.Client {
		c := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		if cert != nil {
			// Sent whatever CAs the server names (Go's client would otherwise hold back a
			// certificate of a CA the server did not list).
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
	}
	carolH, carolC := as(srv.URL, client(ca.Client(t, "carol")), "", "", false)
	id := createExpense(t, carolH, 1500, "carol")
	if err := control(t, carolC, "Terminate", id, "by certificate"); err != nil {
		t.Fatalf("carol Terminate: %v", err)
	}
	recs, err := carolH.TrackingRecords(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; !strings.HasPrefix(last.Principal, "carol@127.0.0.1:") {
		t.Errorf("the Terminate record names %q, want carol@127.0.0.1:PORT", last.Principal)
	}
	_, daveC := as(srv.URL, client(ca.Client(t, "dave")), "", "", false)
	if err := control(t, daveC, "Run", id, ""); !isAccessDenied(err) {
		t.Errorf("an unlisted CN's Run: %v, want AccessDenied", err)
	}
	if resp, err := client(ca.Client(t, "dave")).Get(srv.URL + "/metrics"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an unlisted CN's GET /metrics: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, _ := post(t, client(nil), srv.URL, "", "")
	if resp.StatusCode != 401 {
		t.Errorf("no certificate, no credentials: HTTP %d, want 401", resp.StatusCode)
	}
	// A password still works over TLS without a certificate.
	_, adaC := as(srv.URL, client(nil), "ada", adminPassword, true)
	if err := control(t, adaC, "Run", id, ""); err == nil || isAccessDenied(err) {
		t.Errorf("ada's Run on a terminated instance over TLS with a UsernameToken: %v, want InstanceTerminated", err)
	}
	// A certificate from another CA is refused in the handshake.
	other := authtest.NewCA(t, "another CA")
	if _, err := client(other.Client(t, "carol")).Get(srv.URL + "/healthz"); err == nil {
		t.Errorf("a certificate of another CA was accepted")
	}
}

// A users file that is replaced takes effect at once (the SIGHUP reload's step); users it no
// longer lists are refused.
func TestUsersReplaced(t *testing.T) {
	srv := securedServer(t, nil)
	_, c := as(srv.URL, http.DefaultClient, "ada", adminPassword, false)
	if err := control(t, c, "Run", uuid.New(), ""); isAccessDenied(err) || (err != nil && strings.Contains(err.Error(), "401")) {
		t.Fatalf("ada before the reload: %v", err)
	}
	u, err := auth.LoadUsers(authtest.UsersFile(t, authtest.User{Name: "ada", Password: adminPassword, Roles: "reader"}))
	if err != nil {
		t.Fatal(err)
	}
	srv.Auth.Verifier().SetUsers(u)
	if err := control(t, c, "Run", uuid.New(), ""); !isAccessDenied(err) {
		t.Errorf("ada, now a reader, calling Run: %v, want AccessDenied", err)
	}
	_, o := as(srv.URL, http.DefaultClient, "otto", operatorPassword, false)
	if err := control(t, o, "Run", uuid.New(), ""); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("otto, no longer listed: %v, want HTTP 401", err)
	}
}

// A request that does not authenticate changes nothing: no state change, no tracking record,
// whichever way it fails.
func TestUnauthenticatedChangesNothing(t *testing.T) {
	srv := securedServer(t, nil)
	adminH, _ := as(srv.URL, http.DefaultClient, "ada", adminPassword, false)
	id := createExpense(t, adminH, 1500, "unit")
	before := condition(t, adminH, id)
	for _, c := range []struct {
		name           string
		user, password string
		wsse           bool
	}{
		{"no credentials", "", "", false},
		{"wrong Basic password", "ada", "wrong", false},
		{"unknown Basic user", "mallory", "x", false},
		{"wrong UsernameToken password", "ada", "wrong", true},
		{"certificate-only user with a password", "carol", "x", true},
	} {
		_, ctl := as(srv.URL, http.DefaultClient, c.user, c.password, c.wsse)
		if err := control(t, ctl, "Terminate", id, "forged"); err == nil {
			t.Errorf("%s: Terminate succeeded", c.name)
		}
	}
	if after := condition(t, adminH, id); after != before {
		t.Errorf("after the refused requests: %s (before: %s)", after, before)
	}
}

// The server speaks TLS 1.2 or later only.
func TestTLSVersions(t *testing.T) {
	ca := authtest.NewCA(t, "wimp test CA")
	pair := ca.Server(t, "wimp test server")
	conf, err := auth.LoadTLS(auth.TLSFiles{Cert: pair.CertFile, Key: pair.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Run(t, servertest.Options{TLS: conf})
	for _, c := range []struct {
		max uint16
		ok  bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: c.max}}}
		resp, err := hc.Get(srv.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("a client of at most %s: %v, want success %v", tls.VersionName(c.max), err, c.ok)
		}
	}
}

// getBody GETs url as user and returns the body of a 200 reply.
func getBody(t *testing.T, url, user, password string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
