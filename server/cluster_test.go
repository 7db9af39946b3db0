package server_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/auth/authtest"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store/postgres"
	"github.com/wimp-project/wimp/store/postgres/pgtest"
	"github.com/wimp-project/wimp/ui"
	"github.com/wimp-project/wimp/workflow"
)

// tlsClient is a client of the test CA's servers, presenting cert when given.
func tlsClient(ca *authtest.CA, cert *authtest.Pair) *http.Client {
	c := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
}

// Two nodes over HTTPS with users and client certificates, on one PostgreSQL database. Node a
// holds what it creates (it stays loaded, so leased, for the one-minute unload delay); every
// kind of request sent to node b for it reaches a and is applied there as the caller b
// authenticated: a client certificate (which a never sees), a bulk job's items, a dashboard
// action. A principal b did not sign is refused, and only a node may call /cluster/v1/apply.
func TestForwardingAcrossNodes(t *testing.T) {
	db := pgtest.Fresh(t)
	ca := authtest.NewCA(t, "wimp test CA")
	pair := ca.Server(t, "wimp test server")
	tlsConf, err := auth.LoadTLS(auth.TLSFiles{Cert: pair.CertFile, Key: pair.KeyFile, ClientCA: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	users := authtest.UsersFile(t, testUsers...)
	node := func(name string) *servertest.Server {
		return servertest.Run(t, servertest.Options{Users: users, TLS: tlsConf, Postgres: db, Node: name, PeerRoots: ca.Pool()})
	}
	a, b := node("a"), node("b")
	adaA, _ := as(a.URL, tlsClient(ca, nil), "ada", adminPassword, false)
	adaB, _ := as(b.URL, tlsClient(ca, nil), "ada", adminPassword, false)
	state := func(id uuid.UUID) (workflow.State, []hosting.Record) {
		t.Helper()
		inst, err := adaA.GetInstance(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := adaA.TrackingRecords(bg, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		return inst.State, recs
	}
	lastNamed := func(recs []hosting.Record, name string) hosting.Record {
		for i := len(recs) - 1; i >= 0; i-- {
			if recs[i].Name == name {
				return recs[i]
			}
		}
		t.Fatalf("no %s record in %+v", name, recs)
		return hosting.Record{}
	}

	// A client certificate's request, sent to b.
	id := createExpense(t, adaA, 10, "ada")
	_, carolB := as(b.URL, tlsClient(ca, ca.Client(t, "carol")), "", "", false)
	if err := control(t, carolB, "Suspend", id, "by certificate, via b"); err != nil {
		t.Fatalf("carol's Suspend (client certificate) sent to b: %v", err)
	}
	st, recs := state(id)
	if rec := lastNamed(recs, "Suspended"); st != workflow.Suspended || rec.Reason != "by certificate, via b" ||
		!strings.HasPrefix(rec.Principal, "carol@127.0.0.1:") {
		t.Fatalf("after carol's Suspend via b: %s, record %+v; want Suspended by carol@127.0.0.1:PORT", st, rec)
	}

	// A bulk job started on b over instances a holds.
	var held []uuid.UUID
	for range 3 {
		held = append(held, createExpense(t, adaA, 20, "ada"))
	}
	job, err := adaB.StartBulkOperation(bg, host.BulkRequest{Operation: "Terminate", Reason: "bulk, via b", RatePerSecond: 1000,
		Filter: host.Filter{Definition: "ExpenseApproval", State: workflow.Active}})
	if err != nil {
		t.Fatal(err)
	}
	var page *hosting.BulkPage
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if page, err = adaB.GetBulkOperation(bg, job.ID, 0, 100); err != nil {
			t.Fatal(err)
		}
		if !page.Job.Running() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bulk job is still running after 30 s: %+v", page.Job)
		}
	}
	if page.Job.Status != "Completed" || page.Job.OK != 3 || len(page.Items) != 3 {
		t.Fatalf("bulk job %+v, items %+v; want 3 instances terminated", page.Job, page.Items)
	}
	for _, it := range page.Items {
		if it.Outcome != "ok" {
			t.Errorf("item %+v; want ok", it)
		}
	}
	for _, hid := range held {
		st, recs := state(hid)
		if rec := lastNamed(recs, "Terminated"); st != workflow.Completed || rec.Reason != "bulk, via b" || rec.Principal != "ada@127.0.0.1" &&
			!strings.HasPrefix(rec.Principal, "ada@127.0.0.1:") {
			t.Errorf("instance %s after the bulk job: %s, record %+v", hid, st, rec)
		}
	}

	// A dashboard action on b.
	dash := createExpense(t, adaA, 30, "ada")
	session := struct {
		Token string `json:"csrfToken"`
	}{}
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/ui/api/session", nil)
	req.SetBasicAuth("ada", adminPassword)
	resp, err := tlsClient(ca, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&session); err != nil || session.Token == "" {
		t.Fatalf("b's /ui/api/session: %v, token %q", err, session.Token)
	}
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodPost, b.URL+"/ui/api/instances/"+dash.String()+"/actions/Suspend", strings.NewReader(`{"reason":"from b's dashboard"}`))
	req.SetBasicAuth("ada", adminPassword)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set(ui.TokenHeader, session.Token)
	resp, err = tlsClient(ca, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st, recs = state(dash)
	if rec := lastNamed(recs, "Suspended"); resp.StatusCode != http.StatusOK || st != workflow.Suspended || rec.Reason != "from b's dashboard" {
		t.Fatalf("the dashboard's Suspend on b: HTTP %d, instance %s, record %+v", resp.StatusCode, st, rec)
	}

	// A principal nobody signed, and /cluster/v1/apply called by a user: refused, nothing done.
	forged := createExpense(t, adaA, 40, "ada")
	before, _ := state(forged)
	body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Terminate xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` +
		forged.String() + `</instanceId><reason>forged</reason></Terminate></s:Body></s:Envelope>`
	for _, c := range []struct {
		what, path, assertion string
		want                  int
	}{
		{"a made-up assertion", "/WorkflowControl", "eyJuYW1lIjoiYWRhIiwicm9sZSI6ImFkbWluIn0", http.StatusForbidden},
		{"an empty assertion", "/WorkflowControl", "", http.StatusForbidden},
		{"ada's Basic on /cluster/v1/apply", "/cluster/v1/apply", "-", http.StatusForbidden},
	} {
		req, _ := http.NewRequest(http.MethodPost, b.URL+c.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/Terminate"`)
		if c.assertion == "-" {
			req.SetBasicAuth("ada", adminPassword)
		} else {
			req.Header.Set(auth.AssertionHeader, c.assertion)
			req.Header.Set(auth.SignatureHeader, "AogEhzUxkrijVDyFd2CAwOmD2X0UBJCurxbkibfZYoE")
		}
		resp, err := tlsClient(ca, nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.what, resp.StatusCode, c.want)
		}
	}
	if after, _ := state(forged); after != before || before != workflow.Active {
		t.Errorf("after the refused requests the instance is %s (was %s)", after, before)
	}

	// Signed as a node would with the database's secret: for another registration of b, 421 and
	// nothing done; for b itself, applied as the principal asserted.
	st2, err := postgres.Open(bg, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	key, err := st2.ClusterSecret(bg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := adaB.Nodes(bg)
	if err != nil {
		t.Fatal(err)
	}
	bID := ""
	for _, n := range nodes {
		if n.Self {
			bID = n.ID
		}
	}
	signed := func(to string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, b.URL+"/WorkflowControl", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/Terminate"`)
		as, sig := auth.AssertPrincipal(key, host.Principal{Name: "nina", Address: "192.0.2.4:7000", Role: host.Admin}, "test", to,
			time.Now(), http.MethodPost, "/WorkflowControl", []byte(body))
		req.Header.Set(auth.AssertionHeader, as)
		req.Header.Set(auth.SignatureHeader, sig)
		resp, err := tlsClient(ca, nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := signed(bID + "-before-a-restart"); code != http.StatusMisdirectedRequest {
		t.Errorf("an assertion for another registration of b: HTTP %d, want 421", code)
	}
	if after, _ := state(forged); after != workflow.Active {
		t.Errorf("after the misdirected request the instance is %s", after)
	}
	// b does not hold the instance (a does): b forwards nothing again, so the Terminate gets
	// b's Receiver fault for a's lease — a 500 — and changes nothing; once a lets go (Suspend
	// unloads it), the same signed request is applied by b as nina.
	if code := signed(bID); code != http.StatusInternalServerError {
		t.Errorf("a signed request b cannot apply itself: HTTP %d, want the Receiver fault's 500", code)
	}
	if err := control(t, adaAControl(t, a, ca), "Suspend", forged, "let go"); err != nil {
		t.Fatal(err)
	}
	if code := signed(bID); code != http.StatusOK {
		t.Fatalf("a signed Terminate for b: HTTP %d, want 200", code)
	}
	st, recs = state(forged)
	if rec := lastNamed(recs, "Terminated"); st != workflow.Completed || rec.Principal != "nina@192.0.2.4:7000" || rec.Reason != "forged" {
		t.Errorf("after the signed Terminate: %s, record %+v; want Terminated by nina@192.0.2.4:7000", st, rec)
	}
}

// adaAControl is ada's MS-WFIM client of node a.
func adaAControl(t *testing.T, a *servertest.Server, ca *authtest.CA) *soap.Client {
	_, c := as(a.URL, tlsClient(ca, nil), "ada", adminPassword, false)
	return c
}
