package gsoap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
)

// Namespaces of the fault codes the test expects.
const (
	nsWorkflowServices = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	nsDispatcher       = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
	nsSOAP11Env        = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12Env        = "http://www.w3.org/2003/05/soap-envelope"
)

// The 13 operations of IWorkflowInstanceManagement (with the updateable
// contract's Update and TransactedUpdate).
var operations = []string{
	"Abandon", "Cancel", "Run", "Suspend", "Terminate", "Unsuspend", "Update",
	"TransactedCancel", "TransactedRun", "TransactedSuspend", "TransactedTerminate", "TransactedUnsuspend", "TransactedUpdate",
}

// bindings: the driver's name for each generated proxy, with the SOAP
// version it must speak (the reply's version as gSOAP parsed it).
var bindings = []struct {
	name    string
	version int
}{{"soap11", 1}, {"soap12", 2}}

// setupState is the state an instance is put in before the call under test.
type setupState int

const (
	stActive     setupState = iota // ExpenseApproval 1.0.0.0, waiting for its Review bookmark
	stSuspended                    // the same, suspended with setupSuspendReason
	stClosed                       // Hello, which completes (Closed) at once
	stCanceled                     // ExpenseApproval, canceled
	stTerminated                   // ExpenseApproval, terminated
	stUnknown                      // a fresh GUID no instance has
)

var allStates = []setupState{stActive, stSuspended, stClosed, stCanceled, stTerminated, stUnknown}

func (s setupState) String() string {
	return [...]string{"Active", "Suspended", "Closed", "Canceled", "Terminated", "Unknown"}[s]
}

const (
	setupSuspendReason = "set up: suspended by the gSOAP test"
	nonASCIIReason     = `R&D <urgent> "q" 'a' Grüße ✓ 日本語 🚀`
	wantSender         = "Sender" // a Sender fault without subcode
)

// Identity is a workflow definition identity.
type Identity struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Version string `json:"version"`
}

func (id Identity) arg() string { return id.Name + "|" + id.Package + "|" + id.Version }

// want is a call's expected outcome and the instance's state after it.
type want struct {
	fault      string // "" success; wantSender; else the subcode's local name
	faultNS    string // the subcode's namespace; "" = WorkflowServices
	state      string // after the call; "" for an unknown id (must stay unknown)
	completion string
	reason     string    // suspensionReason, checked when state is Suspended
	definition *Identity // checked when set
	eventually bool      // the state may be reached shortly after the reply (Cancel)
}

// testCase is one driver call.
type testCase struct {
	name    string
	binding string
	op      string
	setup   setupState
	id      string // the instance's id, filled by set-up
	// idField returns the driver's ID field ("-" no instanceId, "=text");
	// nil sends "=" + id.
	idField func(id string) string
	arg     string // the driver's ARG field: "-" absent, "=text"
	want    want
}

func takesReason(op string) bool {
	switch strings.TrimPrefix(op, "Transacted") {
	case "Suspend", "Terminate", "Abandon":
		return true
	}
	return false
}

func isUpdate(op string) bool { return strings.TrimPrefix(op, "Transacted") == "Update" }

// stateOf is the state of an instance just set up in s.
func stateOf(s setupState) want {
	switch s {
	case stActive:
		return want{state: "Active"}
	case stSuspended:
		return want{state: "Suspended", reason: setupSuspendReason}
	case stClosed:
		return want{state: "Completed", completion: "Closed"}
	case stCanceled:
		return want{state: "Completed", completion: "Canceled"}
	case stTerminated:
		return want{state: "Completed", completion: "Terminated"}
	}
	return want{}
}

// expect is DESIGN §3's state table for a well-formed call (valid id, a
// reason where one is required, the current identity for Update).
func expect(op string, s setupState, reason string) want {
	w := stateOf(s)
	switch s {
	case stUnknown:
		return want{fault: "InstanceNotFound"}
	case stClosed, stCanceled:
		w.fault = "InstanceCompleted"
		return w
	case stTerminated:
		w.fault = "InstanceTerminated"
		return w
	}
	switch strings.TrimPrefix(op, "Transacted") {
	case "Run":
		if s == stSuspended {
			w.fault = "InstanceSuspended"
		}
		return w
	case "Suspend":
		return want{state: "Suspended", reason: reason}
	case "Unsuspend":
		return want{state: "Active"}
	case "Cancel":
		return want{state: "Completed", completion: "Canceled", eventually: true}
	case "Terminate":
		return want{state: "Completed", completion: "Terminated"}
	case "Abandon", "Update":
		// Abandon: back to the last persisted point, which is the current
		// state. Update to the current identity: OK, state unchanged.
		return w
	}
	panic("unknown operation " + op)
}

// identities are read from the server, not hard-coded.
type identities struct {
	v1    Identity // ExpenseApproval created with --version 1.0.0.0
	hello Identity
}

func buildCases(binding string, ids identities) []*testCase {
	var cs []*testCase
	add := func(name, op string, s setupState, arg string, w want) *testCase {
		tc := &testCase{name: binding + "/" + op + "/" + name, binding: binding, op: op, setup: s, arg: arg, want: w}
		cs = append(cs, tc)
		return tc
	}
	// Every operation in every state.
	for _, op := range operations {
		for _, s := range allStates {
			arg, reason := "-", ""
			if takesReason(op) {
				reason = fmt.Sprintf("gSOAP %s via %s", op, binding)
				arg = "=" + reason
			}
			if isUpdate(op) {
				cur := ids.v1
				if s == stClosed {
					cur = ids.hello
				}
				arg = "=" + cur.arg()
			}
			add(s.String(), op, s, arg, expect(op, s, reason))
		}
	}
	// Suspend's reason is required: absent or empty is a Sender fault
	// without subcode, state unchanged; a non-ASCII reason round-trips.
	for _, op := range []string{"Suspend", "TransactedSuspend"} {
		for _, s := range []setupState{stActive, stSuspended} {
			w := stateOf(s)
			w.fault = wantSender
			add("reason-absent/"+s.String(), op, s, "-", w)
			add("reason-empty/"+s.String(), op, s, "=", w)
		}
		add("reason-nonascii/Active", op, stActive, "="+nonASCIIReason, want{state: "Suspended", reason: nonASCIIReason})
	}
	// Terminate and Abandon take an optional reason.
	for _, op := range []string{"Terminate", "TransactedTerminate"} {
		add("reason-absent/Active", op, stActive, "-", want{state: "Completed", completion: "Terminated"})
	}
	add("reason-absent/Suspended", "Abandon", stSuspended, "-", stateOf(stSuspended))
	// Update: a nil identity never matches; 1.0.0.0 → the samples' 2.0.0.0,
	// which declares it can update from 1.0.0.0, switches the identity.
	v2 := Identity{Name: ids.v1.Name, Package: ids.v1.Package, Version: "2.0.0.0"}
	for _, op := range []string{"Update", "TransactedUpdate"} {
		for _, s := range []setupState{stActive, stSuspended} {
			failed := stateOf(s)
			failed.fault = "UpdateFailed"
			failed.definition = &ids.v1
			add("identity-nil/"+s.String(), op, s, "-", failed)
			other := Identity{Name: ids.v1.Name, Package: ids.v1.Package, Version: "99.9.9.9"}
			add("identity-unregistered/"+s.String(), op, s, "="+other.arg(), failed)
			switched := stateOf(s)
			switched.definition = &v2
			add("identity-v2/"+s.String(), op, s, "="+v2.arg(), switched)
			same := stateOf(s)
			same.definition = &ids.v1
			add("identity-current-v1/"+s.String(), op, s, "="+ids.v1.arg(), same)
		}
	}
	// instanceId forms: other .NET Guid.Parse forms work; a non-GUID or a
	// missing id is DeserializationFailed; the all-zero GUID is unknown.
	add("id-braces-uppercase/Active", "Suspend", stActive, "=id form", want{state: "Suspended", reason: "id form"}).idField =
		func(id string) string { return "={" + strings.ToUpper(id) + "}" }
	fixed := func(field string) func(string) string { return func(string) string { return field } }
	for _, op := range []string{"Run", "TransactedSuspend", "Update"} {
		arg := "-"
		if takesReason(op) {
			arg = "=bad id"
		}
		if isUpdate(op) {
			arg = "=" + ids.v1.arg()
		}
		add("id-not-a-guid", op, stUnknown, arg, want{fault: "DeserializationFailed", faultNS: nsDispatcher}).idField = fixed("=not-a-guid")
		add("id-missing", op, stUnknown, arg, want{fault: "DeserializationFailed", faultNS: nsDispatcher}).idField = fixed("-")
		add("id-all-zero", op, stUnknown, arg, want{fault: "InstanceNotFound"}).idField = fixed("=00000000-0000-0000-0000-000000000000")
	}
	return cs
}

// result is one line of the driver's output.
type result struct {
	Seq          int     `json:"seq"`
	Binding      string  `json:"binding"`
	Op           string  `json:"op"`
	Error        int     `json:"error"`
	HTTP         int     `json:"http"`
	Version      int     `json:"version"`
	Faultcode    *string `json:"faultcode"`
	Code         *string `json:"code"`
	Subcode      *string `json:"subcode"`
	FaultSubcode *string `json:"faultSubcode"`
	Reason       *string `json:"reason"`
}

func (r result) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// gSOAP's error codes the test distinguishes (stdsoap2.h).
const (
	soapOK    = 0
	soapFault = 12
)

// qname resolves a QName as gSOAP reports it: prefix:local (prefix from
// the namespace table of the proxy that made the call) or "URI":local.
func qname(s *string, nsmap map[string]string) (ns, local string, ok bool) {
	if s == nil {
		return "", "", false
	}
	v := *s
	if strings.HasPrefix(v, `"`) {
		end := strings.Index(v[1:], `":`)
		if end < 0 {
			return "", "", false
		}
		return v[1 : end+1], v[end+3:], true
	}
	prefix, local, found := strings.Cut(v, ":")
	if !found {
		return "", v, true
	}
	ns, ok = nsmap[prefix]
	return ns, local, ok
}

// checkOutcome compares what gSOAP reported with w. "" means it matches.
func checkOutcome(tc *testCase, r result, nsmap11, nsmap12 map[string]string) string {
	version, nsmap, env := 2, nsmap12, nsSOAP12Env
	if tc.binding == "soap11" {
		version, nsmap, env = 1, nsmap11, nsSOAP11Env
	}
	if r.Version != version {
		return fmt.Sprintf("reply parsed as SOAP version %d, want %d: %s", r.Version, version, r)
	}
	if tc.want.fault == "" {
		if r.Error != soapOK || r.HTTP != 200 {
			return "want success, gSOAP reported " + r.String()
		}
		return ""
	}
	if r.Error != soapFault || r.HTTP != 500 {
		return fmt.Sprintf("want fault %s, gSOAP reported %s", tc.want.fault, r)
	}
	if r.Reason == nil || strings.TrimSpace(*r.Reason) == "" {
		return "fault without a reason: " + r.String()
	}
	wantNS := tc.want.faultNS
	if wantNS == "" {
		wantNS = nsWorkflowServices
	}
	if version == 1 {
		// SOAP 1.1: faultcode is the subcode QName (WCF's convention), or
		// Client for a Sender fault without subcode.
		ns, local, ok := qname(r.Faultcode, nsmap)
		wantLocal := tc.want.fault
		if tc.want.fault == wantSender {
			wantNS, wantLocal = env, "Client"
		}
		if !ok || ns != wantNS || local != wantLocal {
			return fmt.Sprintf("faultcode {%s}%s, want {%s}%s: %s", ns, local, wantNS, wantLocal, r)
		}
		if r.FaultSubcode == nil || *r.FaultSubcode != *r.Faultcode {
			return "soap_fault_subcode differs from faultcode: " + r.String()
		}
		return ""
	}
	ns, local, ok := qname(r.Code, nsmap)
	if !ok || ns != env || local != "Sender" {
		return fmt.Sprintf("Code/Value {%s}%s, want {%s}Sender: %s", ns, local, env, r)
	}
	if tc.want.fault == wantSender {
		if r.Subcode != nil {
			return "want no Subcode: " + r.String()
		}
		return ""
	}
	ns, local, ok = qname(r.Subcode, nsmap)
	if !ok || ns != wantNS || local != tc.want.fault {
		return fmt.Sprintf("Subcode/Value {%s}%s, want {%s}%s: %s", ns, local, wantNS, tc.want.fault, r)
	}
	if r.FaultSubcode == nil || *r.FaultSubcode != *r.Subcode {
		return "soap_fault_subcode differs from Subcode/Value: " + r.String()
	}
	return ""
}

// env is the running server and wimpctl.
type env struct {
	srv    *testserver.Process
	ctlBin string
}

func (e *env) ctl(args ...string) (string, error) {
	r, err := testserver.Ctl(e.ctlBin, e.srv.URL, args...)
	if err != nil {
		return r.Stdout, fmt.Errorf("wimpctl %s: exit %d: %s %v", strings.Join(args, " "), r.Code, strings.TrimSpace(r.Stderr), err)
	}
	return r.Stdout, nil
}

type instanceInfo struct {
	State            string   `json:"state"`
	Completion       string   `json:"completion"`
	SuspensionReason string   `json:"suspensionReason"`
	Definition       Identity `json:"definition"`
}

func (e *env) get(id string) (instanceInfo, error) {
	var info instanceInfo
	out, err := e.ctl("get", id, "--json")
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return info, fmt.Errorf("wimpctl get %s --json: %v in %q", id, err, out)
	}
	return info, nil
}

func (e *env) create(definition string) (string, error) {
	args := []string{"create", "--definition", definition}
	if definition == "ExpenseApproval" {
		args = append(args, "--version", "1.0.0.0", "--input", "amount=10", "--input", "submitter=x")
	}
	out, err := e.ctl(args...)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(out)
	if len(id) != 36 {
		return "", fmt.Errorf("wimpctl %s printed %q", strings.Join(args, " "), out)
	}
	return strings.ToLower(id), nil
}

// setup creates tc's instance in tc.setup and checks it got there.
func (e *env) setup(tc *testCase) error {
	if tc.setup == stUnknown {
		tc.id = newGUID()
		return nil
	}
	definition := "ExpenseApproval"
	if tc.setup == stClosed {
		definition = "Hello"
	}
	id, err := e.create(definition)
	if err != nil {
		return fmt.Errorf("%s: %w", tc.name, err)
	}
	tc.id = id
	switch tc.setup {
	case stSuspended:
		_, err = e.ctl("suspend", id, "--reason", setupSuspendReason)
	case stCanceled:
		_, err = e.ctl("cancel", id)
	case stTerminated:
		_, err = e.ctl("terminate", id, "--reason", "set up: terminated by the gSOAP test")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", tc.name, err)
	}
	w := stateOf(tc.setup)
	w.eventually = tc.setup == stCanceled || tc.setup == stClosed
	if msg := e.waitState(id, w); msg != "" {
		return fmt.Errorf("%s: set-up state: %s", tc.name, msg)
	}
	return nil
}

// waitState compares the instance with w, at once or, for w.eventually,
// polling for up to 10 seconds. "" means it matches.
func (e *env) waitState(id string, w want) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := e.get(id)
		var msg string
		switch {
		case err != nil:
			msg = err.Error()
		case info.State != w.state || info.Completion != w.completion:
			msg = fmt.Sprintf("state %s/%q, want %s/%q", info.State, info.Completion, w.state, w.completion)
		case w.state == "Suspended" && info.SuspensionReason != w.reason:
			msg = fmt.Sprintf("suspensionReason %q, want %q", info.SuspensionReason, w.reason)
		case w.definition != nil && info.Definition != *w.definition:
			msg = fmt.Sprintf("definition %+v, want %+v", info.Definition, *w.definition)
		}
		if msg == "" || !w.eventually || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkState verifies the instance after the call.
func (e *env) checkState(tc *testCase) string {
	if tc.want.state == "" {
		if _, err := e.get(tc.id); err == nil {
			return "instance " + tc.id + " exists after a call on an unknown id"
		}
		return ""
	}
	return e.waitState(tc.id, tc.want)
}

func (e *env) identity(definition string) (Identity, error) {
	id, err := e.create(definition)
	if err != nil {
		return Identity{}, err
	}
	info, err := e.get(id)
	if err != nil {
		return Identity{}, err
	}
	d := info.Definition
	if d.Name != definition || d.Version == "" || (definition == "ExpenseApproval" && d.Version != "1.0.0.0") {
		return d, fmt.Errorf("wimpctl create --definition %s made an instance with identity %+v", definition, d)
	}
	return d, nil
}

func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// parallel runs f(i) for i in [0,n) on up to 8 goroutines.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// escape writes a driver text field (tabs, newlines and backslashes escaped).
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`).Replace(s)
}

// TestGSOAPClient generates a gSOAP C++ client from the live server's ?wsdl
// and calls every operation through the proxies of both WSDL bindings.
func TestGSOAPClient(t *testing.T) {
	tools := findToolchain(t)
	dir := t.TempDir()
	serverBin, ctlBin, err := testserver.Build(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	srvDir := filepath.Join(dir, "server")
	if err := os.Mkdir(srvDir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := testserver.Start(serverBin, srvDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e := &env{srv: srv, ctlBin: ctlBin}
	control := srv.URL + "/WorkflowControl"

	// Generate and compile the client while the instances are set up.
	genDir := filepath.Join(dir, "gsoap")
	if err := os.Mkdir(genDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var gen *generated
	var genErr error
	built := make(chan struct{})
	go func() {
		defer close(built)
		gen, genErr = buildDriver(tools, genDir, control+"?wsdl", control)
	}()

	var ids identities
	if ids.v1, err = e.identity("ExpenseApproval"); err == nil {
		ids.hello, err = e.identity("Hello")
	}
	if err != nil {
		<-built
		t.Fatalf("%v\nserver log:\n%s", err, srv.LogTail(40))
	}
	var cases []*testCase
	for _, b := range bindings {
		cases = append(cases, buildCases(b.name, ids)...)
	}
	start := time.Now()
	setupErrs := make([]error, len(cases))
	parallel(len(cases), func(i int) { setupErrs[i] = e.setup(cases[i]) })
	<-built
	if err := errors.Join(setupErrs...); err != nil {
		t.Fatalf("setting up instances with wimpctl failed (the server or wimpctl is broken, not gSOAP):\n%s\nserver log:\n%s",
			firstLines(err.Error(), 20), srv.LogTail(40))
	}
	t.Logf("set up %d instances with wimpctl in %v", len(cases), time.Since(start).Round(time.Millisecond))
	if genErr != nil {
		t.Fatalf("generating the gSOAP client from %s?wsdl: %v", control, genErr)
	}
	for _, l := range gen.log {
		t.Log(l)
	}

	// One driver process for all calls.
	var input bytes.Buffer
	for i, tc := range cases {
		id := "=" + tc.id
		if tc.idField != nil {
			id = tc.idField(tc.id)
		}
		fmt.Fprintf(&input, "%d\t%s\t%s\t%s\t%s\n", i+1, tc.binding, tc.op, escape(id), escape(tc.arg))
	}
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gen.driver, control)
	cmd.Stdin = &input
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("driver: %v\nstderr:\n%s\nserver log:\n%s", err, firstLines(stderr.String(), 40), srv.LogTail(40))
	}
	var results []result
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("driver output line %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(cases) {
		t.Fatalf("driver printed %d results for %d calls; stderr:\n%s", len(results), len(cases), firstLines(stderr.String(), 40))
	}
	t.Logf("%d calls in one driver process in %v", len(cases), time.Since(start).Round(time.Millisecond))

	// The SOAP 1.1 proxy's table is the generated one with SOAP 1.1's
	// envelope namespace (testdata/driver.cpp: soap11Namespaces).
	nsmap11 := map[string]string{}
	for k, v := range gen.nsmap {
		nsmap11[k] = v
	}
	nsmap11["SOAP-ENV"] = nsSOAP11Env
	problems := make([]string, len(cases))
	parallel(len(cases), func(i int) {
		tc, r := cases[i], results[i]
		if r.Seq != i+1 || r.Binding != tc.binding || r.Op != tc.op {
			problems[i] = fmt.Sprintf("result %s for call %d %s %s", r, i+1, tc.binding, tc.op)
			return
		}
		var p []string
		if msg := checkOutcome(tc, r, nsmap11, gen.nsmap); msg != "" {
			p = append(p, msg)
		}
		if msg := e.checkState(tc); msg != "" {
			p = append(p, "after the call: "+msg)
		}
		problems[i] = strings.Join(p, "; ")
	})

	type tally struct{ calls, ok, faults, failed int }
	per := map[string]*tally{}
	opsOK, opsFault := map[string]bool{}, map[string]bool{}
	failed := 0
	for i, tc := range cases {
		n := per[tc.binding]
		if n == nil {
			n = &tally{}
			per[tc.binding] = n
		}
		n.calls++
		if tc.want.fault == "" {
			n.ok++
			opsOK[tc.op] = true
		} else {
			n.faults++
			opsFault[tc.op] = true
		}
		if problems[i] != "" {
			n.failed++
			failed++
			t.Errorf("%s (id %s): %s", tc.name, tc.id, problems[i])
		}
	}
	for _, op := range operations {
		if !opsOK[op] || !opsFault[op] {
			t.Errorf("operation %s lacks a success or a fault case", op)
		}
	}
	var parts []string
	var names []string
	for b := range per {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		n := per[b]
		parts = append(parts, fmt.Sprintf("%s %d (%d ok, %d faults, %d failed)", b, n.calls, n.ok, n.faults, n.failed))
	}
	t.Logf("SUMMARY gsoap: %d client calls checked (13 operations through wsdl2h/soapcpp2 proxies from ?wsdl; outcome as gSOAP reports it + state via wimpctl get --json), %d failed; %s",
		len(cases), failed, strings.Join(parts, ", "))
	if failed > 0 {
		t.Logf("server log (tail):\n%s", srv.LogTail(60))
	}
}

// The expectation table is DESIGN §3's; pin what the assertions rely on.
func TestExpectationTable(t *testing.T) {
	for _, c := range []struct {
		op    string
		s     setupState
		fault string
		state string
	}{
		{"Run", stActive, "", "Active"},
		{"TransactedRun", stSuspended, "InstanceSuspended", "Suspended"},
		{"Suspend", stSuspended, "", "Suspended"},
		{"Unsuspend", stSuspended, "", "Active"},
		{"Cancel", stSuspended, "", "Completed"},
		{"TransactedTerminate", stActive, "", "Completed"},
		{"Abandon", stSuspended, "", "Suspended"},
		{"Update", stSuspended, "", "Suspended"},
		{"Unsuspend", stCanceled, "InstanceCompleted", "Completed"},
		{"Run", stClosed, "InstanceCompleted", "Completed"},
		{"Update", stTerminated, "InstanceTerminated", "Completed"},
		{"Abandon", stUnknown, "InstanceNotFound", ""},
	} {
		if w := expect(c.op, c.s, "r"); w.fault != c.fault || w.state != c.state {
			t.Errorf("%s on %s: %+v", c.op, c.s, w)
		}
	}
	v1 := Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}
	cs := buildCases("soap11", identities{v1: v1, hello: Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0.0.0"}})
	seen := map[string]bool{}
	for _, tc := range cs {
		if seen[tc.name] {
			t.Errorf("duplicate case %s", tc.name)
		}
		seen[tc.name] = true
	}
	if len(cs) < len(operations)*len(allStates) {
		t.Errorf("only %d cases", len(cs))
	}
	if len(operations) != 13 {
		t.Errorf("%d operations", len(operations))
	}
}
