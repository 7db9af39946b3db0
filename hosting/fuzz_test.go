package hosting

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// fakeHost answers every call with success and counts the calls that would change something.
type fakeHost struct {
	mu      sync.Mutex
	changes int
}

func (h *fakeHost) changed() {
	h.mu.Lock()
	h.changes++
	h.mu.Unlock()
}

func (h *fakeHost) Authorize(context.Context, string, host.Role) error { return nil }

func (h *fakeHost) Create(context.Context, host.CreateRequest) (uuid.UUID, error) {
	h.changed()
	return uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), nil
}

func (h *fakeHost) ResumeBookmark(context.Context, uuid.UUID, string, any) error {
	h.changed()
	return nil
}

func (h *fakeHost) Get(_ context.Context, id uuid.UUID) (*host.Instance, error) {
	return &host.Instance{ID: id, State: workflow.Active, Created: time.Unix(0, 0), Updated: time.Unix(0, 0)}, nil
}

// Await answers at once: a fuzzed request must not make the fuzzer wait.
func (h *fakeHost) Await(ctx context.Context, id uuid.UUID, _ time.Duration) (*host.Instance, error) {
	return h.Get(ctx, id)
}

func (h *fakeHost) FindByKey(_ context.Context, key string) (uuid.UUID, error) {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(key)), nil
}

func (h *fakeHost) List(context.Context, workflow.State, int) ([]*host.Instance, error) {
	return nil, nil
}

func (h *fakeHost) Records(context.Context, uuid.UUID, int64) ([]workflow.Record, error) {
	return nil, nil
}

func (h *fakeHost) Query(_ context.Context, req host.QueryRequest) (*host.QueryResult, error) {
	return &host.QueryResult{Instances: []*host.Instance{{ID: uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
		State: workflow.Active, Variables: []byte(`{"a":1}`)}}, NextPageToken: req.PageToken + "x"}, nil
}

func (h *fakeHost) Count(_ context.Context, _ host.Filter, by host.GroupBy) (*host.CountResult, error) {
	r := &host.CountResult{Total: 3}
	if by != host.GroupNone {
		r.Groups = []host.Count{{State: workflow.Active, N: 2}, {State: workflow.Suspended, N: 1}}
	}
	return r, nil
}

func (h *fakeHost) Definitions(context.Context) ([]host.Definition, error) {
	return []host.Definition{{Identity: workflow.Identity{Name: "Hello", Version: "1.0"}, Source: host.SourceEmbedded,
		Arguments: []host.Argument{{Name: "name", Type: "String", Default: "'world'"}}}}, nil
}

func (h *fakeHost) StartBulk(_ context.Context, req host.BulkRequest) (*host.BulkJob, error) {
	h.changed()
	return &host.BulkJob{ID: uuid.MustParse("6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b"), Request: req, Status: "Running"}, nil
}

func (h *fakeHost) GetBulk(_ context.Context, id uuid.UUID, after int64, limit int) (*host.BulkJob, []host.BulkItem, error) {
	j := &host.BulkJob{ID: id, Request: host.BulkRequest{Operation: "Suspend"}, Status: "Completed", Matched: 2, Done: 2, OK: 1,
		Faults: map[string]int64{"InstanceCompleted": 1}}
	var items []host.BulkItem
	for seq := after + 1; seq <= 2 && len(items) < limit; seq++ {
		items = append(items, host.BulkItem{Seq: seq, Instance: uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), Outcome: "ok"})
	}
	return j, items, nil
}

func (h *fakeHost) CancelBulk(_ context.Context, id uuid.UUID) (*host.BulkJob, error) {
	h.changed()
	return &host.BulkJob{ID: id, Request: host.BulkRequest{Operation: "Suspend"}, Status: "Canceled"}, nil
}

// Purge counts as a change even in a dry run: a refused request must not reach it at all.
func (h *fakeHost) Purge(context.Context, host.Filter, bool) (*host.PurgeResult, error) {
	h.changed()
	return &host.PurgeResult{Purged: 2, Live: 1}, nil
}

func (h *fakeHost) Nodes(context.Context) ([]host.Node, error) {
	return []host.Node{{ID: "n1", Name: "a:8080", Advertise: "http://127.0.0.1:8080", Instances: 2, Self: true}}, nil
}

// FuzzRequest sends arbitrary requests through a soap.Endpoint serving the hosting operations
// (envelope parsing, argument decoding, every operation) to a host that always succeeds: the
// endpoint must never panic, must answer a plain HTTP error, a reply or a fault, and a request
// answered with a fault or an HTTP error must not have reached Create, ResumeBookmark,
// StartBulk, CancelBulk or Purge. Seeds:
// valid requests and one of every malformed class (HostileRequests).
func FuzzRequest(f *testing.F) {
	const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	env := func(body string) string {
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + body + `</s:Body></s:Envelope>`
	}
	f.Add("text/xml", Action(OpCreate), env(`<Create xmlns="`+NS+`"><definition>Hello</definition><inputs><input><name>n</name><value>"x"</value></input></inputs></Create>`))
	f.Add("text/xml", Action(OpResumeBookmark), env(`<ResumeBookmark xmlns="`+NS+`"><instanceId>{`+id+`}</instanceId><bookmark>B</bookmark><payload>{"a":[1,2]}</payload></ResumeBookmark>`))
	f.Add("text/xml", "", env(`<ListInstances xmlns="`+NS+`"><state>Active</state><limit>3</limit></ListInstances>`))
	f.Add("text/xml", "", env(`<GetTrackingRecords xmlns="`+NS+`"><instanceId>`+id+`</instanceId><after>2</after></GetTrackingRecords>`))
	f.Add("text/xml", Action(OpQueryInstances), env(`<QueryInstances xmlns="`+NS+`"><filter><state>Suspended</state><versionMin>1.0</versionMin>`+
		`<createdAfter>2026-11-30T08:00:00Z</createdAfter></filter><pageSize>10</pageSize><pageToken>AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAQ</pageToken>`+
		`<includeVariables>true</includeVariables></QueryInstances>`))
	f.Add("text/xml", Action(OpCountInstances), env(`<CountInstances xmlns="`+NS+`"><filter><bookmark>Review</bookmark></filter><groupBy>state</groupBy></CountInstances>`))
	f.Add("application/soap+xml", "", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetDefinitions xmlns="`+NS+`"/></s:Body></s:Envelope>`)
	f.Add("text/xml", Action(OpStartBulkOperation), env(`<StartBulkOperation xmlns="`+NS+`"><operation>Update</operation>`+
		`<filter><state>Suspended</state><exception>OrderRejected</exception></filter><reason>r</reason>`+
		`<identity><name>ExpenseApproval</name><package>wimp.samples</package><version>2.0.0.0</version></identity>`+
		`<dryRun>1</dryRun><ratePerSecond>2.5e1</ratePerSecond><maxInstances>10</maxInstances></StartBulkOperation>`))
	f.Add("text/xml", Action(OpGetBulkOperation), env(`<GetBulkOperation xmlns="`+NS+`"><jobId>{`+id+`}</jobId><itemsAfter>1</itemsAfter><itemsLimit>5</itemsLimit></GetBulkOperation>`))
	f.Add("application/soap+xml", "", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><CancelBulkOperation xmlns="`+NS+`"><jobId>`+id+`</jobId></CancelBulkOperation></s:Body></s:Envelope>`)
	f.Add("text/xml", Action(OpPurge), env(`<Purge xmlns="`+NS+`"><filter><completion>Terminated</completion><updatedBefore>2026-11-01T00:00:00Z</updatedBefore></filter><dryRun>false</dryRun></Purge>`))
	for _, c := range HostileRequests(id) {
		f.Add(c.ContentType, c.SOAPAction, c.Body)
	}
	fh := &fakeHost{}
	ep := &soap.Endpoint{Operations: Operations(fh), Logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, contentType, soapAction, body string) {
		req := httptest.NewRequest(http.MethodPost, "/WorkflowHosting", strings.NewReader(body))
		req.Header.Set("Content-Type", strings.ToValidUTF8(contentType, ""))
		if soapAction != "" {
			req.Header.Set("SOAPAction", strings.ToValidUTF8(soapAction, ""))
		}
		fh.mu.Lock()
		before := fh.changes
		fh.mu.Unlock()
		w := httptest.NewRecorder()
		ep.ServeHTTP(w, req)
		fh.mu.Lock()
		changes := fh.changes - before
		fh.mu.Unlock()
		if changes > 1 {
			t.Fatalf("one request made %d changes", changes)
		}
		switch {
		case w.Code == http.StatusOK:
			return
		case w.Code == http.StatusInternalServerError && bytes.Contains(w.Body.Bytes(), []byte("Fault")):
		case w.Code >= 400 && w.Code < 500:
		default:
			t.Fatalf("HTTP %d: %s", w.Code, w.Body.Bytes())
		}
		if changes != 0 {
			t.Fatalf("a refused request (HTTP %d) reached the host: %s", w.Code, w.Body.Bytes())
		}
	})
}

// TestHostileRequestsEndpoint: every HostileRequests case is refused with the fault it names,
// and never reaches the host.
func TestHostileRequestsEndpoint(t *testing.T) {
	fh := &fakeHost{}
	ep := &soap.Endpoint{Operations: Operations(fh), Logger: slog.New(slog.DiscardHandler)}
	for _, c := range HostileRequests("3f2504e0-4f89-41d3-9a0c-0305e82c3301") {
		t.Run(c.Name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/WorkflowHosting", strings.NewReader(c.Body))
			req.Header.Set("Content-Type", c.ContentType)
			if c.SOAPAction != "" {
				req.Header.Set("SOAPAction", `"`+c.SOAPAction+`"`)
			}
			before := fh.changes
			w := httptest.NewRecorder()
			ep.ServeHTTP(w, req)
			if fh.changes != before {
				t.Errorf("the request reached the host")
			}
			CheckHostileFault(t, c, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
		})
	}
}

// CheckHostileFault asserts an HTTP 500 SOAP fault of the kind c names.
func CheckHostileFault(t *testing.T, c HostileCase, status int, ct string, body []byte) {
	t.Helper()
	if status != http.StatusInternalServerError {
		t.Fatalf("HTTP %d, want 500 with a fault: %s", status, body)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		t.Fatalf("reply unreadable: %v", err)
	}
	want12 := strings.HasPrefix(ct, "application/soap+xml")
	if strings.HasPrefix(c.ContentType, "application/soap+xml") != want12 {
		t.Errorf("reply Content-Type %q for a request sent as %q", ct, c.ContentType)
	}
	code := ""
	sub := ""
	if e := doc.FindElement("//faultcode"); e != nil { // SOAP 1.1: the first subcode or the code
		code = e.Text()
		sub = code
	}
	if e := doc.FindElement("//Code/Value"); e != nil {
		code = e.Text()
		if s := doc.FindElement("//Code/Subcode/Value"); s != nil {
			sub = s.Text()
		} else {
			sub = ""
		}
	}
	reason := ""
	for _, path := range []string{"//faultstring", "//Reason/Text"} {
		if e := doc.FindElement(path); e != nil {
			reason = e.Text()
		}
	}
	if !strings.Contains(reason, c.Reason) {
		t.Errorf("reason %q does not say %q", reason, c.Reason)
	}
	local := func(q string) string { return q[strings.LastIndex(q, ":")+1:] }
	switch c.Subcode {
	case "":
		if local(code) != "Client" && local(code) != "Sender" || (want12 && sub != "") {
			t.Errorf("want a Sender fault without subcode, got %q / %q: %s", code, sub, body)
		}
	case "MustUnderstand":
		if local(code) != "MustUnderstand" {
			t.Errorf("want a MustUnderstand fault, got %q: %s", code, body)
		}
	default:
		if local(sub) != c.Subcode {
			t.Errorf("want subcode %s, got %q / %q: %s", c.Subcode, code, sub, body)
		}
	}
}
