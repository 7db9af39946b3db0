package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
)

// WCF's access-denied reason (README, Security: reason "Access is denied.").
const accessDenied = "Access is denied."

// unchanged fails the test unless the instance is still Active, waiting on Review, with the
// same tracking records as before.
func (e *env) unchanged(t *testing.T, id uuid.UUID, records int) {
	t.Helper()
	if in := e.instance(t, id); in.State != "Active" || in.SuspensionReason != "" {
		t.Errorf("instance changed: state %s, reason %q", in.State, in.SuspensionReason)
	}
	if got := len(e.records(t, id)); got != records {
		t.Errorf("tracking records: %d, want %d (a refused request writes none)", got, records)
	}
}

func TestSuspendThroughTheDashboard(t *testing.T) {
	e := start(t)
	id := e.expense(t, "ann")
	before := len(e.records(t, id))
	resp, r := e.post(t, operator, "/ui/api/instances/"+id.String()+"/actions/Suspend", `{"reason":"audit of Q3"}`, nil)
	if resp.StatusCode != 200 || r.Outcome != "ok" {
		t.Fatalf("Suspend: %s %+v", resp.Status, r)
	}
	if r.Instance == nil || r.Instance.State != "Suspended" || !strings.Contains(r.Message, "Suspended") {
		t.Errorf("reply does not say the instance is suspended: %+v", r)
	}
	in := e.instance(t, id)
	if in.State != "Suspended" || in.SuspensionReason != "audit of Q3" {
		t.Fatalf("after Suspend: state %s, reason %q", in.State, in.SuspensionReason)
	}
	// One record of the operation, naming who asked and why (Suspend also unloads the
	// instance, which is recorded too).
	var suspended []hosting.Record
	for _, rec := range e.records(t, id)[before:] {
		if rec.Name == "Suspended" {
			suspended = append(suspended, rec)
		}
	}
	if len(suspended) != 1 || suspended[0].Reason != "audit of Q3" || !strings.HasPrefix(suspended[0].Principal, operator+"@") {
		t.Errorf("the Suspend records: %+v", suspended)
	}
	// The same operation is refused as the SOAP contract refuses it: Run on a suspended
	// instance is InstanceSuspended (docs/protocol.md's table).
	resp, r = e.post(t, operator, "/ui/api/instances/"+id.String()+"/actions/Run", `{}`, nil)
	if resp.StatusCode != http.StatusConflict || r.Error == nil || r.Error.Code != "InstanceSuspended" ||
		!strings.Contains(r.Error.Message, "suspended") {
		t.Errorf("Run on a suspended instance: %s %+v", resp.Status, r.Error)
	}
	resp, r = e.post(t, operator, "/ui/api/instances/"+id.String()+"/actions/Unsuspend", `{}`, nil)
	if resp.StatusCode != 200 || r.Instance == nil || r.Instance.State != "Active" {
		t.Errorf("Unsuspend: %s %+v", resp.Status, r)
	}
}

func TestResumeBookmarkThroughTheDashboard(t *testing.T) {
	e := start(t)
	id := e.expense(t, "ann")
	resp, r := e.post(t, operator, "/ui/api/instances/"+id.String()+"/resume",
		`{"bookmark":"Review","payload":{"approved":true,"reviewer":"bob"}}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("resume: %s %+v", resp.Status, r.Error)
	}
	recs := e.records(t, id)
	found := false
	for _, rec := range recs {
		if rec.Kind == "Bookmark" && rec.Name == "Review" && strings.HasPrefix(rec.Principal, operator+"@") {
			found = true
		}
	}
	if !found {
		t.Errorf("no Review bookmark record naming %s: %+v", operator, recs)
	}
	resp, r = e.post(t, operator, "/ui/api/instances/"+id.String()+"/resume", `{"bookmark":"Nope"}`, nil)
	if resp.StatusCode != http.StatusConflict || r.Error == nil || r.Error.Code != "BookmarkNotFound" || !strings.Contains(r.Error.Message, `"Nope"`) {
		t.Errorf("unknown bookmark: %s %+v", resp.Status, r.Error)
	}
}

// A role that does not allow the operation gets WCF's AccessDenied text, and nothing changes.
func TestRoleRefusal(t *testing.T) {
	e := start(t)
	id := e.expense(t, "ann")
	n := len(e.records(t, id))
	for _, c := range []struct{ user, path, body string }{
		{reader, "/actions/Suspend", `{"reason":"x"}`},
		{reader, "/actions/Run", `{}`},
		{reader, "/resume", `{"bookmark":"Review"}`},
		{operator, "/actions/Terminate", `{"reason":"x"}`},
		{operator, "/actions/Cancel", `{}`},
		{operator, "/actions/Abandon", `{}`},
		// Authorized before the body is read, as WCF does: a reader learns nothing from
		// validation either.
		{reader, "/actions/Suspend", `not json`},
	} {
		resp, r := e.post(t, c.user, "/ui/api/instances/"+id.String()+c.path, c.body, nil)
		if resp.StatusCode != http.StatusForbidden || r.Error == nil || r.Error.Code != "AccessDenied" || r.Error.Message != accessDenied {
			t.Errorf("%s %s: %s %+v, want 403 AccessDenied %q", c.user, c.path, resp.Status, r.Error, accessDenied)
		}
	}
	resp, r := e.post(t, operator, "/ui/api/bulk", `{"operation":"Suspend","reason":"x","search":"state=Active"}`, nil)
	if resp.StatusCode != http.StatusForbidden || r.Error == nil || r.Error.Message != accessDenied {
		t.Errorf("bulk as operator: %s %+v", resp.Status, r.Error)
	}
	e.unchanged(t, id, n)

	// What the page is told to show: a reader no action, an admin every one.
	for user, want := range map[string]bool{reader: false, admin: true} {
		s := e.session(t, user)
		for _, op := range []string{"Run", "Suspend", "Unsuspend", "Cancel", "Terminate", "Abandon", "ResumeBookmark", "StartBulkOperation"} {
			if s.Allowed[op] != want {
				t.Errorf("session of %s: allowed[%s] = %v, want %v", user, op, s.Allowed[op], want)
			}
		}
	}
	if s := e.session(t, operator); !s.Allowed["Suspend"] || s.Allowed["Terminate"] || s.Role != "operator" {
		t.Errorf("session of the operator: %+v", s)
	}
}

// State-changing requests from another origin, or without the user's token, are refused
// before anything else and change nothing.
func TestCSRFRefusal(t *testing.T) {
	e := start(t)
	id := e.expense(t, "ann")
	n := len(e.records(t, id))
	other := e.session(t, reader).CSRFToken
	path := "/ui/api/instances/" + id.String() + "/actions/Suspend"
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
		code   string
	}{
		{"another origin", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, "CrossOrigin"},
		{"another origin, no fetch metadata", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": ""}, 403, "CrossOrigin"},
		{"same site, not same origin", map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "CrossOrigin"},
		{"opaque origin", map[string]string{"Origin": "null", "Sec-Fetch-Site": ""}, 403, "CrossOrigin"},
		{"no origin at all", map[string]string{"Origin": "", "Sec-Fetch-Site": ""}, 403, "CrossOrigin"},
		{"missing token", map[string]string{"X-Wimp-Csrf-Token": ""}, 403, "CSRFTokenMissing"},
		{"another user's token", map[string]string{"X-Wimp-Csrf-Token": other}, 403, "CSRFTokenInvalid"},
		{"a form's content type", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType"},
	} {
		resp, r := e.post(t, admin, path, `{"reason":"forged"}`, c.header)
		if resp.StatusCode != c.status || r.Error == nil || r.Error.Code != c.code {
			t.Errorf("%s: %s %+v, want %d %s", c.name, resp.Status, r.Error, c.status, c.code)
		}
	}
	e.unchanged(t, id, n)
	// A GET cannot change anything: the action routes answer 405.
	resp, b := e.request(t, admin, "GET", path, nil, "")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
}

// Bad bodies get a precise 400 (413 when too large) and change nothing.
func TestBadRequests(t *testing.T) {
	e := start(t)
	id := e.expense(t, "ann")
	n := len(e.records(t, id))
	base := "/ui/api/instances/" + id.String()
	for _, c := range []struct{ path, body, want string }{
		{"/actions/Suspend", `{"reason":`, "JSON"},
		{"/actions/Suspend", `{"reason":"a","why":"b"}`, `unknown field "why"`},
		{"/actions/Suspend", `{"reason":"a"} {"reason":"b"}`, "after its JSON object"},
		{"/actions/Suspend", `{"reason":"a","reason":"b"}`, `"reason" more than once`},
		{"/actions/Suspend", `{"reason":7}`, `"reason"`},
		{"/actions/Suspend", `["a"]`, "JSON object"},
		{"/actions/Suspend", ``, "empty"},
		{"/actions/Suspend", `{}`, "Suspend needs a reason"},
		{"/actions/Suspend", `{"reason":"   "}`, "Suspend needs a reason"},
		{"/actions/Run", `{"reason":"x"}`, "Run takes no reason"},
		{"/resume", `{"payload":{}}`, "name the bookmark"},
		{"/resume", `{"bookmark":"Review","payload":{"a":}}`, "JSON"},
	} {
		resp, r := e.post(t, admin, base+c.path, c.body, nil)
		if resp.StatusCode != http.StatusBadRequest || r.Error == nil || !strings.Contains(r.Error.Message, c.want) {
			t.Errorf("%s %s: %s %+v, want 400 saying %q", c.path, c.body, resp.Status, r.Error, c.want)
		}
	}
	big := `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`
	if resp, r := e.post(t, admin, base+"/actions/Suspend", big, nil); resp.StatusCode != http.StatusRequestEntityTooLarge || r.Error == nil {
		t.Errorf("a 70 KiB body: %s %+v", resp.Status, r.Error)
	}
	if resp, r := e.post(t, admin, "/ui/api/instances/not-a-guid/actions/Run", `{}`, nil); resp.StatusCode != 400 || !strings.Contains(r.Error.Message, "not an instance id") {
		t.Errorf("a bad id: %s %+v", resp.Status, r.Error)
	}
	if resp, r := e.post(t, admin, base+"/actions/Update", `{}`, nil); resp.StatusCode != 404 || r.Error == nil {
		t.Errorf("an action the dashboard has not: %s %+v", resp.Status, r.Error)
	}
	for _, c := range []struct{ body, want string }{
		{`{"operation":"Delete","search":"state=Active"}`, `"Delete" is not one of`},
		{`{"operation":"Run","search":"state=Sleeping"}`, `state "Sleeping" is not Active, Suspended or Completed`},
		{`{"operation":"Run","search":"pageSize=5"}`, `unknown parameter "pageSize"`},
		{`{"operation":"Run","search":"createdAfter=yesterday"}`, "RFC 3339"},
		{`{"operation":"Suspend","search":"state=Active"}`, "Suspend needs a reason"},
	} {
		resp, r := e.post(t, admin, "/ui/api/bulk", c.body, nil)
		if resp.StatusCode != 400 || r.Error == nil || !strings.Contains(r.Error.Message, c.want) {
			t.Errorf("bulk %s: %s %+v, want 400 saying %q", c.body, resp.Status, r.Error, c.want)
		}
	}
	e.unchanged(t, id, n)

	for _, c := range []struct{ query, want string }{
		{"state=sleeping", `state "sleeping" is not Active, Suspended or Completed`},
		{"colour=red", `unknown parameter "colour"`},
		{"state=Active&state=Suspended", `"state" is given 2 times`},
		{"definition=", `"definition" is empty`},
		{"pageSize=0", "pageSize"},
		{"version=1.x", "version"},
		{"pageToken=garbage", "token"},
		{"parent=42", `parent "42" is not an instance id (a GUID)`},
		{"parent=00000000-0000-0000-0000-000000000000", "is not an instance id"},
		{"hasParent=false", `hasParent "false": the only value is true`},
	} {
		resp, b := e.request(t, reader, "GET", "/ui/api/instances?"+c.query, nil, "")
		var r apiReply
		_ = json.Unmarshal(b, &r)
		if resp.StatusCode != 400 || r.Error == nil || !strings.Contains(r.Error.Message, c.want) {
			t.Errorf("search %s: %s %s, want 400 saying %q", c.query, resp.Status, b, c.want)
		}
	}
}

func TestUnknownInstance(t *testing.T) {
	e := start(t)
	id := uuid.New()
	resp, b := e.request(t, reader, "GET", "/ui/api/instances/"+id.String(), nil, "")
	var r apiReply
	_ = json.Unmarshal(b, &r)
	// MS-WFIM's fault for an id that is not in the instance table is InstanceNotFound.
	if resp.StatusCode != 404 || r.Error == nil || r.Error.Code != "InstanceNotFound" || !strings.Contains(r.Error.Message, id.String()) {
		t.Errorf("GET an unknown instance: %s %s", resp.Status, b)
	}
	resp2, r2 := e.post(t, admin, "/ui/api/instances/"+id.String()+"/actions/Terminate", `{"reason":"x"}`, nil)
	if resp2.StatusCode != 404 || r2.Error == nil || r2.Error.Code != "InstanceNotFound" {
		t.Errorf("Terminate an unknown instance: %s %+v", resp2.Status, r2.Error)
	}
	resp, b = e.request(t, reader, "GET", "/ui/api/bulk/"+id.String(), nil, "")
	if resp.StatusCode != 404 || !strings.Contains(string(b), "BulkOperationNotFound") {
		t.Errorf("GET an unknown bulk job: %s %s", resp.Status, b)
	}
	resp, b = e.request(t, reader, "GET", "/ui/api/nothing", nil, "")
	if resp.StatusCode != 404 || !strings.Contains(string(b), `"NotFound"`) {
		t.Errorf("an unknown API route: %s %s", resp.Status, b)
	}
}

// Without credentials the dashboard asks for them (so a browser prompts), everywhere under /ui/.
func TestAuthentication(t *testing.T) {
	e := start(t)
	for _, p := range []string{"/ui/", "/ui/assets/app.js", "/ui/api/overview"} {
		resp, _ := e.request(t, "", "GET", p, nil, "")
		if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != `Basic realm="wimp"` {
			t.Errorf("GET %s without credentials: %s, challenge %q", p, resp.Status, resp.Header.Get("Www-Authenticate"))
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %s to %q, want a redirect to /ui/", resp.Status, resp.Header.Get("Location"))
	}
}

func TestSecurityHeadersAndETags(t *testing.T) {
	e := start(t)
	id := e.expense(t, "ann")
	for _, p := range []string{"/ui/", "/ui/search", "/ui/instance/" + id.String(), "/ui/assets/app.js", "/ui/api/instances/" + id.String()} {
		resp, b := e.request(t, reader, "GET", p, nil, "")
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s %s", p, resp.Status, b)
			continue
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP %q allows inline script or eval", p, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", p)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", p)
			continue
		}
		again, b := e.request(t, reader, "GET", p, map[string]string{"If-None-Match": etag}, "")
		if again.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("GET %s with If-None-Match: %s (%d bytes), want 304", p, again.Status, len(b))
		}
	}
	resp, b := e.request(t, reader, "GET", "/ui/api/overview", nil, "")
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("API Cache-Control %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("API Content-Type %q", ct)
	}
	var o struct {
		Total  int64 `json:"total"`
		States []struct {
			State string `json:"state"`
			Count int64  `json:"count"`
		} `json:"states"`
		Health struct{ OK bool } `json:"health"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Total != 1 || len(o.States) != 3 || o.States[0].State != "Active" || o.States[0].Count != 1 || !o.Health.OK {
		t.Errorf("overview: %s (%v)", b, err)
	}
	// A change shows as a new ETag: what the pages' polling waits for.
	etag := resp.Header.Get("ETag")
	if r, _ := e.post(t, operator, "/ui/api/instances/"+id.String()+"/actions/Suspend", `{"reason":"r"}`, nil); r.StatusCode != 200 {
		t.Fatal(r.Status)
	}
	if resp, _ := e.request(t, reader, "GET", "/ui/api/overview", map[string]string{"If-None-Match": etag}, ""); resp.StatusCode != 200 {
		t.Errorf("overview after a Suspend, with the old ETag: %s, want 200", resp.Status)
	}
}

func TestSearchAndBulk(t *testing.T) {
	e := start(t)
	var ids []uuid.UUID
	for i := range 3 {
		ids = append(ids, e.expense(t, fmt.Sprint("sub", i)))
	}
	if r, _ := e.post(t, admin, "/ui/api/instances/"+ids[0].String()+"/actions/Suspend", `{"reason":"held"}`, nil); r.StatusCode != 200 {
		t.Fatal(r.Status)
	}
	var page struct {
		Instances []struct{ ID, State string } `json:"instances"`
		Next      string                       `json:"nextPageToken"`
		Total     int64                        `json:"total"`
	}
	get := func(q string) {
		t.Helper()
		resp, b := e.request(t, reader, "GET", "/ui/api/instances?"+q, nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("search %s: %s %s", q, resp.Status, b)
		}
		page.Next = ""
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
	}
	get("state=active") // any case, as wimpctl takes states
	if page.Total != 2 || len(page.Instances) != 2 {
		t.Errorf("Active: %+v", page)
	}
	get("state=Suspended&reasonContains=hel&bookmark=Review&definition=ExpenseApproval&versionMin=1.0&createdAfter=" +
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if page.Total != 1 || len(page.Instances) != 1 || page.Instances[0].ID != ids[0].String() {
		t.Errorf("Suspended with every kind of filter: %+v", page)
	}
	get("pageSize=2")
	seen := len(page.Instances)
	if page.Next == "" {
		t.Fatal("no next page after 2 of 3")
	}
	get("pageSize=2&pageToken=" + page.Next)
	if seen+len(page.Instances) != 3 || page.Next != "" {
		t.Errorf("pages: %d then %d instances, next %q", seen, len(page.Instances), page.Next)
	}

	resp, r := e.post(t, admin, "/ui/api/bulk", `{"operation":"Suspend","reason":"freeze","search":"state=Active"}`, nil)
	if resp.StatusCode != 200 || r.Job == nil {
		t.Fatalf("bulk: %s %+v", resp.Status, r.Error)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, b := e.request(t, reader, "GET", "/ui/api/bulk/"+r.Job.ID, nil, "")
		var j struct {
			Job struct {
				Status   string
				Done, OK int64
			} `json:"job"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &j) != nil {
			t.Fatalf("bulk job: %s %s", resp.Status, b)
		}
		if j.Job.Status != "Running" {
			if j.Job.Status != "Completed" || j.Job.Done != 2 || j.Job.OK != 2 {
				t.Errorf("bulk job ended: %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulk job still running: %s", b)
		}
		time.Sleep(50 * time.Millisecond) // polling an observable status, with a deadline
	}
	for _, id := range ids[1:] {
		if in := e.instance(t, id); in.State != "Suspended" || in.SuspensionReason != "freeze" {
			t.Errorf("after the bulk Suspend: %s %q", in.State, in.SuspensionReason)
		}
	}
}

// The instance view names the instance's correlation key and state-machine state, and the
// search finds it by them.
func TestInstanceViewCorrelation(t *testing.T) {
	e := start(t)
	id, err := e.hosting[admin].Create(context.Background(), host.CreateRequest{Definition: "SalesCollaboration",
		CorrelationKey: "lead/ACME", Inputs: map[string]any{"lead": "ACME", "salesperson": "ann"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := e.request(t, reader, "GET", "/ui/api/instances/"+id.String(), nil, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"correlationKey":"lead/ACME"`) ||
		!strings.Contains(string(body), `"currentState":"SalesCollaboration"`) {
		t.Fatalf("GET instance: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"correlationKey=lead%2FACME", "currentState=SalesCollaboration"} {
		resp, body := e.request(t, reader, "GET", "/ui/api/instances?"+q, nil, "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), id.String()) {
			t.Errorf("search %s: %d %s", q, resp.StatusCode, body)
		}
	}
}

// A child instance started by InvokeWorkflow names its parent, and searches select children.
func TestInstanceViewParent(t *testing.T) {
	e := start(t)
	parent, err := e.hosting[admin].Create(context.Background(), host.CreateRequest{Definition: "DocumentApproval",
		Inputs: map[string]any{"document": "spec-7", "reviewers": []string{"ann"}}})
	if err != nil {
		t.Fatal(err)
	}
	ann, err := e.hosting[admin].GetInstanceByRef(context.Background(), hosting.Ref{Key: "review/spec-7/ann"})
	if err != nil {
		t.Fatal(err)
	}
	child := ann.ID
	resp, body := e.request(t, reader, "GET", "/ui/api/instances/"+child, nil, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"parent":"`+parent.String()+`"`) || !strings.Contains(string(body), `"children":0,`) {
		t.Fatalf("GET child: %d %s", resp.StatusCode, body)
	}
	resp, body = e.request(t, reader, "GET", "/ui/api/instances/"+parent.String(), nil, "")
	if resp.StatusCode != 200 || strings.Contains(string(body), `"parent"`) || !strings.Contains(string(body), `"children":1,`) {
		t.Fatalf("GET parent: %d %s; want no parent field, one child", resp.StatusCode, body)
	}
	for _, q := range []string{"parent=" + parent.String(), "hasParent=true"} {
		resp, body := e.request(t, reader, "GET", "/ui/api/instances?"+q, nil, "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"`+child+`"`) ||
			strings.Contains(string(body), `"id":"`+parent.String()+`"`) {
			t.Errorf("search %s: %d %s; want the child only", q, resp.StatusCode, body)
		}
	}
}
