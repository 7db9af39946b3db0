package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth/authtest"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
)

// Users of the test server, one per role (README, Security).
const (
	admin    = "ada"
	operator = "olga"
	reader   = "rita"
	password = "correct horse battery staple"
)

// env is a complete wimp server in process (server.New over a SQLite store) with a users file.
type env struct {
	url     string
	hosting map[string]*hosting.Client // the hosting contract, as each user: an independent view of the instances
}

func start(t testing.TB) *env {
	t.Helper()
	users := authtest.UsersFile(t,
		authtest.User{Name: admin, Password: password, Roles: "admin"},
		authtest.User{Name: operator, Password: password, Roles: "operator"},
		authtest.User{Name: reader, Password: password, Roles: "reader"})
	srv := servertest.Run(t, servertest.Options{Users: users})
	e := &env{url: srv.URL, hosting: map[string]*hosting.Client{}}
	for _, u := range []string{admin, operator, reader} {
		c := hosting.NewClient(srv.URL + "/WorkflowHosting")
		c.SOAP.Credentials = &soap.Credentials{Username: u, Password: password}
		e.hosting[u] = c
	}
	return e
}

// expense creates an ExpenseApproval instance waiting on its Review bookmark and an hour's
// timer.
func (e *env) expense(t testing.TB, submitter string) uuid.UUID {
	t.Helper()
	id, err := e.hosting[admin].Create(context.Background(), host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": 1500, "submitter": submitter, "reviewTimeout": "1h"}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) instance(t testing.TB, id uuid.UUID) *hosting.Instance {
	t.Helper()
	in, err := e.hosting[admin].GetInstance(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (e *env) records(t testing.TB, id uuid.UUID) []hosting.Record {
	t.Helper()
	recs, err := e.hosting[admin].TrackingRecords(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// request sends one request as user ("" for none) with the headers given.
func (e *env) request(t testing.TB, user, method, path string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// session is GET /ui/api/session as user.
type session struct {
	User       string          `json:"user"`
	Role       string          `json:"role"`
	CSRFToken  string          `json:"csrfToken"`
	CSRFHeader string          `json:"csrfHeader"`
	Allowed    map[string]bool `json:"allowed"`
}

func (e *env) session(t testing.TB, user string) session {
	t.Helper()
	resp, b := e.request(t, user, "GET", "/ui/api/session", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /ui/api/session as %s: %s %s", user, resp.Status, b)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// post sends a state-changing request as the dashboard's page would: same origin, the user's
// token, JSON. extra overrides (or, with "", removes) headers.
func (e *env) post(t testing.TB, user, path, body string, extra map[string]string) (*http.Response, apiReply) {
	t.Helper()
	s := e.session(t, user)
	h := map[string]string{"Origin": e.url, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json", s.CSRFHeader: s.CSRFToken}
	for k, v := range extra {
		h[k] = v
	}
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	resp, b := e.request(t, user, "POST", path, h, body)
	var r apiReply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("POST %s: %s, not JSON: %q", path, resp.Status, b)
	}
	return resp, r
}

// apiReply is either shape of a POST's answer.
type apiReply struct {
	Outcome string `json:"outcome"`
	Message string `json:"message"`
	Error   *struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Instance *struct {
		State            string `json:"state"`
		SuspensionReason string `json:"suspensionReason"`
	} `json:"instance"`
	Job *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"job"`
}
