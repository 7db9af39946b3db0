package interop

// What the authentication interop tests (auth_mono_test.go, auth_zeep_test.go,
// auth_gsoap_test.go) share: a wimp-server started with --tls-cert, --tls-key and --users,
// the users and the calls they make with the outcome each must get (README, Security,
// written out here, not taken from the server's code), the set-up of one Active instance
// per call and the check afterwards (state and tracking records, through the hosting
// contract as admin), and the SUMMARY line.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth/authtest"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/interop/interoptest"
	"github.com/wimp-project/wimp/soap"
)

// The users file of every auth test: one user per role.
var authUsers = []authtest.User{
	{Name: "reader", Password: "reader-pw", Roles: "reader"},
	{Name: "operator", Password: "operator-pw", Roles: "operator"},
	{Name: "admin", Password: "admin-pw", Roles: "admin"},
}

func authPassword(user string) string {
	for _, u := range authUsers {
		if u.Name == user {
			return u.Password
		}
	}
	panic("no user " + user)
}

// wrongPassword is what the wrong-password calls send.
const wrongPassword = "not-the-password"

// authWant is the outcome a call must get.
type authWant int

const (
	authOK            authWant = iota // success
	authDenied                        // the AccessDenied fault (Sender, subcode AccessDenied in WCF's dispatcher namespace)
	authBadPassword                   // basic: HTTP 401 with the Basic challenge; wsse: the wsse:FailedAuthentication fault
	authNoCredentials                 // HTTP 401 with the Basic challenge
	authUntrusted                     // the client refuses the server's certificate (a CA it was not given): no request is sent
	authUnsupported                   // the client cannot make the call at all (a known limitation of it): no request is sent
)

func (w authWant) String() string {
	return [...]string{"ok", "AccessDenied", "wrong password", "no credentials", "untrusted server", "unsupported by the client"}[w]
}

// authStep is one call of the plan: who calls which operation on an Active instance, and what
// README's role table says happens (reader: neither Suspend nor Terminate; operator: Suspend,
// not Terminate; admin: both).
type authStep struct {
	user     string
	wrongPW  bool
	op       string
	want     authWant
	describe string
}

var authPlan = []authStep{
	{user: "operator", op: "Suspend", want: authOK, describe: "operator may Suspend"},
	{user: "admin", op: "Suspend", want: authOK, describe: "admin includes operator"},
	{user: "admin", op: "Terminate", want: authOK, describe: "admin may Terminate"},
	{user: "reader", op: "Suspend", want: authDenied, describe: "reader may not Suspend"},
	{user: "reader", op: "Terminate", want: authDenied, describe: "reader may not Terminate"},
	{user: "operator", op: "Terminate", want: authDenied, describe: "operator may not Terminate"},
	{user: "operator", wrongPW: true, op: "Suspend", want: authBadPassword, describe: "wrong password"},
}

// authCase is one call a driver makes.
type authCase struct {
	Seq      int
	Binding  string // the client's name for how it calls
	SOAP12   bool
	Mech     string // basic, wsse, none
	User     string
	Password string
	Op       string
	Reason   string
	Want     authWant
	Describe string

	ID      string // set by setUp
	records int    // tracking records before the call
}

func (c *authCase) String() string {
	who := c.User
	if c.Mech == "none" {
		who = "no credentials"
	}
	return fmt.Sprintf("#%d %s/%s %s %s (%s)", c.Seq, c.Binding, c.Mech, who, c.Op, c.Describe)
}

// authCases is the plan for one binding and mechanism, plus a call without credentials when
// none is set.
func authCases(client, binding string, soap12 bool, mech string, none bool) []*authCase {
	var cs []*authCase
	for _, st := range authPlan {
		pw := authPassword(st.user)
		if st.wrongPW {
			pw = wrongPassword
		}
		cs = append(cs, &authCase{Binding: binding, SOAP12: soap12, Mech: mech, User: st.user, Password: pw,
			Op: st.op, Want: st.want, Describe: st.describe})
	}
	if none {
		cs = append(cs, &authCase{Binding: binding, SOAP12: soap12, Mech: "none", Op: "Suspend", Want: authNoCredentials,
			Describe: "no credentials"})
	}
	for _, c := range cs {
		c.Reason = fmt.Sprintf("interop auth %s %s/%s by %s", client, binding, mech, c.User)
	}
	return cs
}

// authOutcome is what a client reported, in the terms the checks use.
type authOutcome struct {
	Kind string // ok, fault, http (an HTTP error status, not a SOAP reply), error (anything else)
	// fault: the code and subcode resolved to namespace and local name (SOAP 1.1: the
	// faultcode, no subcode), IsSender where the client says it.
	interoptest.Outcome
	HTTPStatus int    // http: the status the client reports
	Challenge  string // http: the Basic challenge as the client exposes it ("" if it does not)
	WCF        bool   // a WCF client: a SOAP 1.2 fault must also say IsSenderFault
	Said       string // the client's own words, for failure messages
}

// checkAuthOutcome compares what the client reported with c.Want; "" means it matches.
// challenge is the Basic challenge as this client exposes it; refused says whether a client
// error is the refusal c.Want names (authUntrusted, authUnsupported), in the client's terms.
func checkAuthOutcome(c *authCase, o authOutcome, challenge string, refused func(*authCase, authOutcome) bool) string {
	fault := func(sub string, ns string) string {
		if o.Kind != "fault" {
			return fmt.Sprintf("want the %s fault, the client reported %s", sub, o.Said)
		}
		w := interoptest.Want{Fault: sub, FaultNS: ns}
		if o.WCF {
			return interoptest.CheckWCF(w, c.SOAP12, o.Outcome)
		}
		return interoptest.Check(w, c.SOAP12, o.Outcome)
	}
	unauthorized := func() string {
		if o.Kind != "http" || o.HTTPStatus != http.StatusUnauthorized {
			return "want HTTP 401, the client reported " + o.Said
		}
		if o.Challenge != challenge {
			return fmt.Sprintf("HTTP 401 with the challenge %q, want %q (%s)", o.Challenge, challenge, o.Said)
		}
		return ""
	}
	switch c.Want {
	case authOK:
		if o.Kind != "ok" {
			return "want success, the client reported " + o.Said
		}
		return ""
	case authDenied:
		msg := fault("AccessDenied", interoptest.NSDispatcher)
		if msg == "" && o.Reason != "Access is denied." {
			msg = fmt.Sprintf("AccessDenied with reason %q, want %q", o.Reason, "Access is denied.")
		}
		return msg
	case authBadPassword:
		if c.Mech == "wsse" {
			return fault("FailedAuthentication", soap.NSWSSE)
		}
		return unauthorized()
	case authNoCredentials:
		return unauthorized()
	case authUntrusted, authUnsupported:
		if o.Kind != "error" || !refused(c, o) {
			return fmt.Sprintf("want the client's refusal (%s), it reported %s", c.Want, o.Said)
		}
		return ""
	}
	return "unknown want"
}

// authTLSFiles are the server's certificate, its key and the CA that issued it.
type authTLSFiles struct{ Cert, Key, CA string }

// ecdsaTLS issues the server's certificate from an authtest CA (ECDSA P-256).
func ecdsaTLS(t *testing.T, name string) authTLSFiles {
	t.Helper()
	ca := authtest.NewCA(t, name+" CA")
	p := ca.Server(t, name+" server")
	return authTLSFiles{Cert: p.CertFile, Key: p.KeyFile, CA: ca.File}
}

// rsaTLS makes a throw-away RSA CA and a server certificate for 127.0.0.1 and localhost
// issued by it. Mono needs RSA: its managed X509Chain, which a validation callback uses to
// check the chain against the CA, cannot decode an ECDSA public key (NotSupportedException
// "Cannot decode public key from unknown OID '1.2.840.10045.2.1'").
func rsaTLS(t *testing.T, name string) authTLSFiles {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := func() *big.Int {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " RSA CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " RSA server"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return authTLSFiles{
		CA:   write("ca.pem", "CERTIFICATE", caDER),
		Cert: write("server.crt", "CERTIFICATE", srvDER),
		Key:  write("server.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(srvKey)),
	}
}

// authServer is a wimp-server with TLS and the users file, and an admin client of its
// hosting contract for set-up and checks.
type authServer struct {
	*testserver.Process
	Control string // https://127.0.0.1:PORT/WorkflowControl
	TLS     authTLSFiles
	admin   *hosting.Client
	http    *http.Client // verifies the server with the CA only
}

// startAuthServer runs wimp-server --tls-cert --tls-key --users (authUsers) on a free
// loopback port for t. --unload-after 1h keeps an Active instance in memory for the whole
// test, so that no housekeeping record (Unloaded) can be taken for a change.
func startAuthServer(t *testing.T, files authTLSFiles) *authServer {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	dir := t.TempDir()
	users := authtest.UsersFile(t, authUsers...)
	p, err := testserver.Start(serverBin, dir, "--tls-cert", files.Cert, "--tls-key", files.Key, "--users", users,
		"--unload-after", "1h")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if !strings.HasPrefix(p.URL, "https://127.0.0.1:") {
		t.Fatalf("the server announced %s, want https://127.0.0.1:PORT", p.URL)
	}
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", files.CA)
	}
	hc := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	admin := hosting.NewClient(p.URL + "/WorkflowHosting")
	admin.SOAP.HTTP = hc
	admin.SOAP.Credentials = &soap.Credentials{Username: "admin", Password: authPassword("admin")}
	return &authServer{Process: p, Control: p.URL + "/WorkflowControl", TLS: files, admin: admin, http: hc}
}

// get fetches a URL of the server (e.g. ?singleWsdl, which needs no credentials).
func (s *authServer) get(url string) ([]byte, error) {
	resp, err := s.http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, interoptest.FirstLine(string(b)))
	}
	return b, err
}

// setUp creates one Active ExpenseApproval instance per case as admin (hosting contract) and
// counts its tracking records.
func (s *authServer) setUp(t *testing.T, cases []*authCase) {
	t.Helper()
	errs := make([]error, len(cases))
	interoptest.Parallel(len(cases), func(i int) {
		c := cases[i]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := s.admin.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval", ID: uuid.New(),
			Inputs: map[string]any{"amount": 120, "submitter": "interop-auth"}})
		if err != nil {
			errs[i] = fmt.Errorf("%s: create as admin: %w", c, err)
			return
		}
		c.ID = id.String()
		inst, err := s.admin.GetInstance(ctx, id)
		if err == nil && inst.State != "Active" {
			err = fmt.Errorf("state %s after create, want Active", inst.State)
		}
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", c, err)
			return
		}
		recs, err := s.admin.TrackingRecords(ctx, id, 0)
		if err != nil {
			errs[i] = fmt.Errorf("%s: tracking records: %w", c, err)
			return
		}
		c.records = len(recs)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("setting up instances as admin failed (the server, not the client):\n%s\nserver log:\n%s",
			interoptest.FirstLines(err.Error(), 20), s.LogTail(40))
	}
}

// checkState compares the instance after c's call with what c.Want implies: a successful
// Suspend leaves it Suspended with the reason and one new Suspended record naming the verified
// user (user@127.0.0.1:PORT), a successful Terminate Completed(Terminated) with a Terminated
// record naming the user; every refusal leaves it Active, unsuspended, without a new tracking
// record. "" means it matches.
func (s *authServer) checkState(c *authCase) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := uuid.MustParse(c.ID)
	inst, err := s.admin.GetInstance(ctx, id)
	if err != nil {
		return "reading the instance as admin: " + err.Error()
	}
	recs, err := s.admin.TrackingRecords(ctx, id, 0)
	if err != nil {
		return "reading the tracking records as admin: " + err.Error()
	}
	added := recs[min(c.records, len(recs)):]
	if c.Want != authOK {
		if inst.State != "Active" || inst.SuspensionReason != "" || inst.Completion != "" {
			return fmt.Sprintf("after a refused call the instance is %s/%q (reason %q), want Active", inst.State, inst.Completion, inst.SuspensionReason)
		}
		if len(added) > 0 {
			return fmt.Sprintf("a refused call added tracking records %+v", added)
		}
		return ""
	}
	var state, completion, record string
	switch c.Op {
	case "Suspend":
		state, record = "Suspended", "Suspended"
	case "Terminate":
		state, completion, record = "Completed", "Terminated", "Terminated"
	}
	if string(inst.State) != state || inst.Completion != completion {
		return fmt.Sprintf("state %s/%q, want %s/%q", inst.State, inst.Completion, state, completion)
	}
	if state == "Suspended" && inst.SuspensionReason != c.Reason {
		return fmt.Sprintf("suspensionReason %q, want %q", inst.SuspensionReason, c.Reason)
	}
	for _, r := range added {
		if r.Name == record {
			if !strings.HasPrefix(r.Principal, c.User+"@127.0.0.1:") || r.Reason != c.Reason {
				return fmt.Sprintf("the %s record names %q with reason %q, want %s@127.0.0.1:PORT and %q", record, r.Principal, r.Reason, c.User, c.Reason)
			}
			return ""
		}
	}
	return fmt.Sprintf("no new %s tracking record (new: %+v)", record, added)
}

// authDriver makes the calls of cases through a client and returns one outcome per case.
type authDriver func(cases []*authCase) ([]authOutcome, error)

// runAuth is one client's auth test against s: it numbers the cases, sets up their
// instances, has drive make the calls, checks each outcome (checkAuthOutcome) and the
// instance afterwards, and logs the line
//
//	SUMMARY interop auth CLIENT: N calls checked (WHAT; ...), F failed; per binding/mechanism
func runAuth(t *testing.T, s *authServer, client, what string, cases []*authCase, challenge string,
	refused func(*authCase, authOutcome) bool, drive authDriver) {
	t.Helper()
	for i, c := range cases {
		c.Seq = i + 1
	}
	start := time.Now()
	s.setUp(t, cases)
	t.Logf("%s: set up %d Active instances as admin in %v", client, len(cases), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	outcomes, err := drive(cases)
	if err == nil && len(outcomes) != len(cases) {
		err = fmt.Errorf("driver reported %d of %d calls", len(outcomes), len(cases))
	}
	if err != nil {
		t.Fatalf("%s driver: %v\nserver log:\n%s", client, err, s.LogTail(40))
	}
	t.Logf("%s: %d calls in %v", client, len(cases), time.Since(start).Round(time.Millisecond))

	problems := make([]string, len(cases))
	interoptest.Parallel(len(cases), func(i int) {
		var p []string
		if msg := checkAuthOutcome(cases[i], outcomes[i], challenge, refused); msg != "" {
			p = append(p, msg)
		}
		if msg := s.checkState(cases[i]); msg != "" {
			p = append(p, "after the call: "+msg)
		}
		problems[i] = strings.Join(p, "; ")
	})
	type key struct{ binding, mech string }
	tally := map[key]map[authWant]int{}
	failedBy := map[key]int{}
	failed := 0
	for i, c := range cases {
		k := key{c.Binding, c.Mech}
		if tally[k] == nil {
			tally[k] = map[authWant]int{}
		}
		tally[k][c.Want]++
		if problems[i] != "" {
			failed++
			failedBy[k]++
			t.Errorf("%s (id %s): %s", c, c.ID, problems[i])
		}
	}
	var keys []key
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].binding != keys[j].binding {
			return keys[i].binding < keys[j].binding
		}
		return keys[i].mech < keys[j].mech
	})
	var parts []string
	for _, k := range keys {
		var ws []string
		n := 0
		for w := authOK; w <= authUnsupported; w++ {
			if m := tally[k][w]; m > 0 {
				ws = append(ws, fmt.Sprintf("%d %s", m, w))
				n += m
			}
		}
		parts = append(parts, fmt.Sprintf("%s/%s %d (%s; %d failed)", k.binding, k.mech, n, strings.Join(ws, ", "), failedBy[k]))
	}
	t.Logf("SUMMARY interop auth %s: %d calls checked (%s; outcome as the client reports it + state and tracking records via the hosting contract as admin), %d failed; %s",
		client, len(cases), what, failed, strings.Join(parts, ", "))
	if failed > 0 {
		t.Logf("server log (tail):\n%s", s.LogTail(60))
	}
}

// untrustedCase is a call made while the client trusts another CA: the client must refuse
// the server's certificate, so the call never reaches the server.
func untrustedCase(client, binding string, soap12 bool, mech string) *authCase {
	return &authCase{Binding: binding, SOAP12: soap12, Mech: mech, User: "operator", Password: authPassword("operator"),
		Op: "Suspend", Want: authUntrusted, Describe: "server certificate from a CA the client was not given",
		Reason: fmt.Sprintf("interop auth %s %s/%s untrusted", client, binding, mech)}
}

// splitUntrusted separates the calls to make with the wrong CA from the others, keeping the
// index of each in cases.
// byTrust runs the cases in two groups, those that expect the server to be trusted with
// trustedCA and those that expect its certificate refused with otherCA, through drive, which
// returns one outcome per case of its group, in order (a result for another call is an error
// outcome); the outcomes come back in the order of cases.
func byTrust(cases []*authCase, trustedCA, otherCA string, drive func(group []*authCase, ca string) ([]authOutcome, error)) ([]authOutcome, error) {
	out := make([]authOutcome, len(cases))
	trusted, untrusted := splitUntrusted(cases)
	for _, g := range []struct {
		idx []int
		ca  string
	}{{trusted, trustedCA}, {untrusted, otherCA}} {
		group := make([]*authCase, len(g.idx))
		for j, i := range g.idx {
			group[j] = cases[i]
		}
		res, err := drive(group, g.ca)
		if err != nil {
			return nil, err
		}
		for j, i := range g.idx {
			out[i] = res[j]
		}
	}
	return out, nil
}

// seqOutcome is the outcome of c from a driver's result numbered seq: outcome(), or an error
// outcome when the driver answered another call.
func seqOutcome(c *authCase, seq int, said string, outcome func() authOutcome) authOutcome {
	if seq != c.Seq {
		return authOutcome{Kind: "error", Said: fmt.Sprintf("result %s for call %d, want call %d", said, seq, c.Seq)}
	}
	return outcome()
}

// portCases are the cases of a client generated from the WSDL, over both ports: Basic (with
// the no-credentials case) and a UsernameToken, and a server certificate it must refuse.
func portCases(client string) []*authCase {
	var cases []*authCase
	for _, b := range []struct {
		name   string
		soap12 bool
	}{{"soap11", false}, {"soap12", true}} {
		cases = append(cases, authCases(client, b.name, b.soap12, "basic", true)...)
		cases = append(cases, authCases(client, b.name, b.soap12, "wsse", false)...)
		cases = append(cases, untrustedCase(client, b.name, b.soap12, "basic"))
	}
	return cases
}

func splitUntrusted(cases []*authCase) (trusted, untrusted []int) {
	for i, c := range cases {
		if c.Want == authUntrusted {
			untrusted = append(untrusted, i)
		} else {
			trusted = append(trusted, i)
		}
	}
	return
}

// otherCA is a CA file that did not issue the server's certificate.
func otherCA(t *testing.T) string {
	t.Helper()
	return authtest.NewCA(t, "a CA the server does not use").File
}
