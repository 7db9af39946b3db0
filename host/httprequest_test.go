package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

// fakeAPI is a local HTTP server that counts connections and reports every request.
type fakeAPI struct {
	*httptest.Server
	conns   atomic.Int64
	n       atomic.Int64
	reqs    chan apiRequest
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

type apiRequest struct {
	n                 int
	method, key, body string
	contentType       string
	canceled          <-chan struct{} // closed when the client gives the request up
}

func newFakeAPI(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *fakeAPI {
	t.Helper()
	a := &fakeAPI{reqs: make(chan apiRequest, 100), respond: respond}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(a.n.Add(1))
		b, _ := io.ReadAll(r.Body)
		a.reqs <- apiRequest{n: n, method: r.Method, key: r.Header.Get("Idempotency-Key"), body: string(b),
			contentType: r.Header.Get("Content-Type"), canceled: r.Context().Done()}
		a.respond(n, w, r)
	}))
	a.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.conns.Add(1)
		}
	}
	a.Start()
	t.Cleanup(a.Close)
	return a
}

// next waits for the next request (a liveness bound of 10s, not a timing assertion).
func (a *fakeAPI) next(t *testing.T) apiRequest {
	t.Helper()
	select {
	case r := <-a.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the test server within 10s")
	}
	return apiRequest{}
}

func (a *fakeAPI) hostPort(t *testing.T) string {
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func status(code int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// httpWorkflow calls u (an input) with attrs; res gets the result, err the message of a caught
// HttpRequestError.
func httpWorkflow(attrs string) string {
	return `<Workflow Name="Call" Package="test" Version="1.0.0.0">
  <Arguments><In Name="u" Type="String" Required="true"/></Arguments>
  <Variables><Variable Name="res" Type="Object"/><Variable Name="err" Type="String"/></Variables>
  <TryCatch>
    <Try><HttpRequest Id="call" Url="[u]" Result="res" ` + attrs + `/></Try>
    <Catch Exception="HttpRequestError"><Assign To="err" Value="[ 'caught' ]"/></Catch>
  </TryCatch>
</Workflow>`
}

// A UUID (version 5) as a Structured Field string, as draft-ietf-httpapi-idempotency-key-header
// writes the header: "8e03978e-40d5-43e8-bc93-6894a57f9324".
var keyRE = regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$`)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func createCall(t *testing.T, h *host.Host, u string) uuid.UUID {
	t.Helper()
	id, err := h.Create(bg, host.CreateRequest{Definition: "test.Call", Inputs: map[string]any{"u": u}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func waitCompleted(t *testing.T, h *host.Host, id uuid.UUID) (*host.Instance, map[string]any) {
	t.Helper()
	eventually(t, "completion", func() bool { inst, _ := get(t, h, id); return inst.State == workflow.Completed })
	return get(t, h, id)
}

// Retries follow RetryStatuses with a back-off; every attempt carries the same Idempotency-Key;
// the result holds status, headers and the parsed JSON body.
func TestHttpRequestRetriesStatuses(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			status(201, `{"ok": true, "n": 3}`)(n, w, r)
		}
	})
	h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(`Method="POST" Body="[{'a': 1}]" Attempts="4" RetryBackoff="1ms"`)),
		HTTP: host.HTTPOptions{Allow: host.AllowList{{Host: "127.0.0.1"}}}, Logger: quiet()})
	id := createCall(t, h, api.URL+"/orders")
	var keys []string
	for i := 1; i <= 3; i++ {
		r := api.next(t)
		if r.method != "POST" || r.body != `{"a":1}` || r.contentType != "application/json" {
			t.Fatalf("request %d: %+v", i, r)
		}
		keys = append(keys, r.key)
	}
	if !keyRE.MatchString(keys[0]) || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Fatalf("Idempotency-Key headers %q: want one quoted UUID for every attempt", keys)
	}
	inst, vars := waitCompleted(t, h, id)
	if inst.Completion != workflow.Closed {
		t.Fatal(inst)
	}
	res, _ := vars["res"].(map[string]any)
	hs, _ := res["headers"].(map[string]any)
	if res["status"] != 201.0 || fmt.Sprint(res["body"]) != "map[n:3 ok:true]" || hs["content-type"] != "application/json" {
		t.Fatalf("result %v", res)
	}
	if got := countKind(records(t, h, id), workflow.ActivityRecord, "CallAttempt"); got != 3 {
		t.Fatalf("%d CallAttempt records, want 3", got)
	}
	// A status outside RetryStatuses is a result at once; with FailOnStatus, a caught error.
	for _, tc := range []struct{ attrs, wantErr string }{{`Attempts="3"`, ""}, {`Attempts="3" FailOnStatus="true"`, "caught"}} {
		api404 := newFakeAPI(t, status(404, `not json`))
		h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(tc.attrs)), Logger: quiet(),
			HTTP: host.HTTPOptions{Allow: host.AllowList{{Host: "127.0.0.1"}}}})
		id := createCall(t, h, api404.URL)
		_, vars := waitCompleted(t, h, id)
		if api404.n.Load() != 1 || vars["err"] != tc.wantErr {
			t.Fatalf("%s: %d requests, vars %v", tc.attrs, api404.n.Load(), vars)
		}
		if res, _ := vars["res"].(map[string]any); tc.wantErr == "" && (res["status"] != 404.0 || res["body"] != "not json") {
			t.Fatalf("%s: result %v", tc.attrs, res)
		}
	}
}

// openAt opens (or reopens) the SQLite store at path.
func openAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The back-off is a durable timer: no attempt before it is due (by the host's clock), and the
// Idempotency-Key is the same for the attempt made by another host on the same database after
// the first closed; an attempt lost in flight with its host is made again, with the same key,
// once its deadline (Timeout plus the grace) has passed.
func TestHttpRequestKeySurvivesRestart(t *testing.T) {
	release := make(chan struct{})
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		case 2:
			<-release // held until its host has closed: the attempt is lost
			w.WriteHeader(http.StatusBadGateway)
		default:
			status(200, `{"done": true}`)(n, w, r)
		}
	})
	path := filepath.Join(t.TempDir(), "wimp.db")
	clock := newFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	defs := registry(t, httpWorkflow(`Attempts="5" RetryBackoff="1m" Timeout="10s"`))
	open := func() (*host.Host, *sqlite.Store) {
		st := openAt(t, path)
		h, err := host.New(host.Config{Store: st, Definitions: defs, Clock: clock.now, Logger: quiet(),
			HTTP: host.HTTPOptions{Allow: host.AllowList{{Host: "127.0.0.1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(bg); err != nil {
			t.Fatal(err)
		}
		return h, st
	}
	h, st := open()
	id := createCall(t, h, api.URL)
	first := api.next(t)
	eventually(t, "the back-off timer is persisted", func() bool {
		inst, _ := get(t, h, id)
		return inst.PendingTimer.Equal(clock.now().Add(time.Minute))
	})
	turns := h.TimerTurns()
	h.NudgeTimers()
	eventually(t, "the timer loop looked again", func() bool { return h.TimerTurns() > turns })
	if n := api.n.Load(); n != 1 {
		t.Fatalf("%d requests before the back-off was due", n)
	}
	h.Close()
	st.Close()

	clock.advance(time.Minute)
	h, st = open()
	second := api.next(t) // the back-off timer fired in the new host
	if second.key != first.key || !keyRE.MatchString(first.key) {
		t.Fatalf("keys %q then %q", first.key, second.key)
	}
	h.Close() // while attempt 2 is in flight
	close(release)
	st.Close()

	clock.advance(10*time.Second + engine.CallGrace)
	h, st = open()
	defer st.Close()
	defer h.Close()
	third := api.next(t)
	if third.key != first.key {
		t.Fatalf("the lost attempt was made again with key %q, want %q", third.key, first.key)
	}
	_, vars := waitCompleted(t, h, id)
	if res, _ := vars["res"].(map[string]any); fmt.Sprint(res["body"]) != "map[done:true]" || res["status"] != 200.0 {
		t.Fatalf("result %v", vars)
	}
	recs := records(t, h, id)
	if countKind(recs, workflow.ActivityRecord, "CallLost") != 1 || countKind(recs, workflow.ActivityRecord, "CallAttempt") != 3 {
		t.Fatalf("records: %d CallLost, %d CallAttempt", countKind(recs, workflow.ActivityRecord, "CallLost"),
			countKind(recs, workflow.ActivityRecord, "CallAttempt"))
	}
}

// A host outside --http-allow is refused with a catchable HttpRequestError and no connection;
// without --http-allow nothing is allowed.
func TestHttpRequestAllowList(t *testing.T) {
	api := newFakeAPI(t, status(200, `{}`))
	_, port, _ := net.SplitHostPort(api.hostPort(t))
	otherPort := "1"
	if port == "1" {
		otherPort = "2"
	}
	for _, allow := range []host.AllowList{nil, {{Host: "127.0.0.1", Port: otherPort}}, {{Host: "localhost"}}, {{Host: "example.com"}}} {
		h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(`Attempts="3" RetryBackoff="1ms"`)), Logger: quiet(),
			HTTP: host.HTTPOptions{Allow: allow}})
		id := createCall(t, h, api.URL)
		inst, vars := waitCompleted(t, h, id)
		if inst.Completion != workflow.Closed || vars["err"] != "caught" {
			t.Fatalf("allow %v: %v %v", allow, inst, vars)
		}
		recs := records(t, h, id)
		if n := countKind(recs, workflow.ActivityRecord, "CallAttempt"); n != 1 {
			t.Fatalf("allow %v: a refusal was retried (%d attempts)", allow, n)
		}
	}
	if n := api.conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the server", n)
	}
	// The same request to an allowed host:port connects.
	h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(``)), Logger: quiet(),
		HTTP: host.HTTPOptions{Allow: host.AllowList{{Host: "127.0.0.1", Port: port}}}})
	_, vars := waitCompleted(t, h, createCall(t, h, api.URL))
	if vars["err"] != "" || api.conns.Load() != 1 {
		t.Fatalf("allowed: vars %v, %d connections", vars, api.conns.Load())
	}
}

// Redirects are not followed: not to a host outside the allow-list (which sees no
// connection), not even to an allowed one; the 3xx is the result.
func TestHttpRequestRedirectNotFollowed(t *testing.T) {
	elsewhere := newFakeAPI(t, status(200, `{}`))
	for _, allowTarget := range []bool{false, true} {
		api := newFakeAPI(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/stolen", http.StatusFound)
		})
		allow := host.AllowList{{Host: "127.0.0.1", Port: strings.Split(api.hostPort(t), ":")[1]}}
		if allowTarget {
			allow = append(allow, host.AllowEntry{Host: "127.0.0.1", Port: strings.Split(elsewhere.hostPort(t), ":")[1]})
		}
		h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(``)), Logger: quiet(), HTTP: host.HTTPOptions{Allow: allow}})
		_, vars := waitCompleted(t, h, createCall(t, h, api.URL))
		res, _ := vars["res"].(map[string]any)
		hs, _ := res["headers"].(map[string]any)
		if res["status"] != 302.0 || hs["location"] != elsewhere.URL+"/stolen" {
			t.Fatalf("result %v", res)
		}
	}
	if n := elsewhere.conns.Load(); n != 0 {
		t.Fatalf("the redirect target saw %d connections", n)
	}
}

// A suspended instance makes no new attempt: not when its back-off falls due, only after
// Unsuspend. The outcome of an attempt in flight when it was suspended is kept, and the
// instance goes on from it after Unsuspend, with no further request.
func TestHttpRequestSuspended(t *testing.T) {
	release := make(chan struct{})
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			<-release
			status(200, `{"n": 2}`)(n, w, r)
		default:
			status(200, `{"n": 3}`)(n, w, r)
		}
	})
	clock := newFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(`Attempts="3" RetryBackoff="1m"`)), Clock: clock.now,
		Logger: quiet(), HTTP: host.HTTPOptions{Allow: host.AllowList{{Host: "127.0.0.1"}}}})
	id := createCall(t, h, api.URL)
	api.next(t)
	eventually(t, "the back-off", func() bool {
		return countKind(records(t, h, id), workflow.ActivityRecord, "CallResult") == 1
	})
	mustManage(t, h, "Suspend", id, "hold on")
	clock.advance(time.Hour)
	turns := h.TimerTurns()
	h.NudgeTimers()
	eventually(t, "the timer loop looked again", func() bool { return h.TimerTurns() > turns })
	if n := api.n.Load(); n != 1 {
		t.Fatalf("a suspended instance made %d requests", n)
	}
	mustManage(t, h, "Unsuspend", id, "")
	api.next(t) // the held timer fired at Unsuspend
	mustManage(t, h, "Suspend", id, "again")
	close(release)
	eventually(t, "the outcome is kept", func() bool {
		return countKind(records(t, h, id), workflow.ActivityRecord, "CallResult") == 1 && h.InFlight() == 0 &&
			func() bool { inst, _ := get(t, h, id); return inst.ExecutionStatus == "Executing" }()
	})
	if inst, _ := get(t, h, id); inst.State != workflow.Suspended {
		t.Fatal(inst)
	}
	mustManage(t, h, "Unsuspend", id, "")
	_, vars := waitCompleted(t, h, id)
	if res, _ := vars["res"].(map[string]any); fmt.Sprint(res["body"]) != "map[n:2]" {
		t.Fatalf("result %v", vars)
	}
	if n := api.n.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

// Cancel and Terminate during a call end the activity at once; the request in flight is given
// up (its context is canceled) and nothing is asked again.
func TestHttpRequestCancelDuringCall(t *testing.T) {
	for _, op := range []string{"Cancel", "Terminate"} {
		api := newFakeAPI(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		h := startHost(t, host.Config{Definitions: registry(t, httpWorkflow(`Attempts="3" Timeout="5m"`)), Logger: quiet(),
			HTTP: host.HTTPOptions{Allow: host.AllowList{{Host: "127.0.0.1"}}}})
		id := createCall(t, h, api.URL)
		r := api.next(t)
		mustManage(t, h, op, id, "stop")
		select {
		case <-r.canceled:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the request in flight was not given up", op)
		}
		inst, _ := get(t, h, id)
		if inst.State != workflow.Completed || (op == "Cancel") != (inst.Completion == workflow.Canceled) {
			t.Fatalf("%s: %+v", op, inst)
		}
		eventually(t, "no call in flight", func() bool { return h.InFlight() == 0 })
		if n := api.n.Load(); n != 1 {
			t.Fatalf("%s: %d requests", op, n)
		}
	}
}

// A custom asynchronous activity runs through Config.Calls with its evaluated arguments and
// key; New refuses a definition set using an asynchronous type nobody implements.
func TestCustomAsyncActivity(t *testing.T) {
	notify := &engine.ActivityType{Name: "Notify", Arguments: []engine.ActivityArgument{{Name: "Who", Type: engine.String, Required: true}}}
	defs, err := engine.LoadRegistry("", notify)
	if err != nil {
		t.Fatal(err)
	}
	d, err := engine.ParseDefinition("n.xml", []byte(`<Workflow Name="N" Version="1.0">
  <Variables><Variable Name="r" Type="Object"/></Variables>
  <Notify Id="n" Who="[ 'ann' ]" Result="r" Attempts="2" RetryBackoff="1ms"/>
</Workflow>`), notify)
	if err != nil {
		t.Fatal(err)
	}
	if err := defs.Add(d); err != nil {
		t.Fatal(err)
	}
	if _, err := host.New(host.Config{Store: openStore(t), Definitions: defs}); err == nil || !strings.Contains(err.Error(), "Notify has no CallFunc") {
		t.Fatalf("New without Notify's CallFunc: %v", err)
	}
	var calls atomic.Int64
	var keys [2]atomic.Value
	h := startHost(t, host.Config{Definitions: defs, Logger: quiet(), Calls: map[string]host.CallFunc{
		"Notify": func(ctx context.Context, c host.Call) engine.CallOutcome {
			n := calls.Add(1)
			keys[n-1].Store(c.Key)
			if n == 1 {
				return engine.CallOutcome{Retry: true, Error: &engine.Exception{Name: "Busy", Message: "later"}}
			}
			return engine.CallOutcome{Value: map[string]any{"who": c.Args["Who"], "attempt": c.Attempt, "instance": c.Instance.String()}}
		}}})
	id, err := h.Create(bg, host.CreateRequest{Definition: "N"})
	if err != nil {
		t.Fatal(err)
	}
	_, vars := waitCompleted(t, h, id)
	if fmt.Sprint(vars["r"]) != fmt.Sprintf("map[attempt:2 instance:%s who:ann]", id) || keys[0].Load() != keys[1].Load() {
		t.Fatalf("vars %v keys %v %v", vars, keys[0].Load(), keys[1].Load())
	}
}

func TestParseAllowList(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"api.example.com":                  "api.example.com",
		" API.Example.COM.:443 , 10.0.0.1": "api.example.com:443,10.0.0.1",
		"[::1]:8080,[2001:DB8::1]":         "[::1]:8080,[2001:db8::1]",
		"localhost:80,localhost:080":       "localhost:80",
		"[::ffff:127.0.0.1]":               "127.0.0.1",
	} {
		l, err := host.ParseAllowList(in)
		if err != nil || l.String() != want {
			t.Errorf("ParseAllowList(%q) = %q, %v; want %q", in, l.String(), err, want)
		}
	}
	for _, in := range []string{"::1", "[::1", "[::1]x", "a..b", "-a.com", "a.com:0", "a.com:65536", "a.com:", "a.com:+80",
		"a,,b", "*.example.com", "http://a.com", "a b", "[fe80::1%eth0]", "1.2.3", "[1.2.3.4]"} {
		if l, err := host.ParseAllowList(in); err == nil {
			t.Errorf("ParseAllowList(%q) = %v, want an error", in, l)
		}
	}
	l, _ := host.ParseAllowList("api.example.com:443,10.0.0.1,[::1]")
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"API.example.com", "443", true}, {"api.example.com.", "443", true}, {"api.example.com", "80", false},
		{"10.0.0.1", "8080", true}, {"::ffff:10.0.0.1", "1", true}, {"::1", "9", true}, {"0:0:0:0:0:0:0:1", "9", true},
		{"example.com", "443", false}, {"x.api.example.com", "443", false}, {"10.0.0.2", "80", false},
	} {
		if got := l.Allows(tc.host, tc.port); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.host, tc.port, got)
		}
	}
}

func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"", "a.com", "a.com:443,[::1]:80", "10.0.0.1", "[::ffff:1.2.3.4]", "a..b", "[x]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := host.ParseAllowList(s)
		if err != nil {
			return
		}
		// Written back, the list parses to itself, and every entry allows itself.
		again, err := host.ParseAllowList(l.String())
		if err != nil || again.String() != l.String() {
			t.Fatalf("%q: %q does not parse back (%v, %q)", s, l.String(), err, again.String())
		}
		for _, e := range l {
			port := e.Port
			if port == "" {
				port = "1"
			}
			if !l.Allows(e.Host, port) {
				t.Fatalf("%q: entry %v does not allow itself", s, e)
			}
		}
	})
}
