package gowsdl

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/interop/interoptest"
	"github.com/wimp-project/wimp/wsdl"
)

// gowsdlVersion is the generator's version, as driver/go.mod requires it.
const gowsdlVersion = "v0.5.0"

// gowsdlClient: the generated client speaks SOAP 1.1 only (the WSDL's
// DefaultBinding_IWorkflowInstanceManagement port). instanceId is a *Guid, and
// Guid is a string type, so any text (or, as a nil pointer, no instanceId) goes
// out. A nil reason or identity is gowsdl's null: the element is left out
// (omitempty; gowsdl ignores nillable and never writes xsi:nil), so the cases'
// "nil" calls are absent elements and there is no separate "absent" variant.
var gowsdlClient = interoptest.Client{
	Name:     "gowsdl",
	Bindings: []string{"soap11"},
	SOAP12:   map[string]bool{},
	AnyID:    true,
}

// result is one output line of driver/main.go.
type result struct {
	Seq       int    `json:"seq"`
	Outcome   string `json:"outcome"`
	HTTP      int    `json:"http"`
	Faultcode string `json:"faultcode"`
	CodeNs    string `json:"codeNs"`
	CodeName  string `json:"codeName"`
	Reason    string `json:"reason"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

// goEnv is the environment of every go command run in the driver module: its own
// go.mod and go.sum decide (whatever GOFLAGS, GOWORK or GOTOOLCHAIN the caller has
// set), and it builds for this machine.
func goEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local",
		"GO111MODULE=on", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
}

// missingGowsdl is testserver.MissingClient for a client that comes from the Go
// module proxy rather than from Debian: it skips, or fails under WIMP_REQUIRE_INTEROP=1.
func missingGowsdl(t *testing.T, what string) {
	t.Helper()
	msg := fmt.Sprintf("%s: gowsdl %s cannot be obtained (it comes from the Go module proxy, GOPROXY, into the module cache; "+
		"`cd interop/gowsdl/driver && go mod download` fetches it)", what, gowsdlVersion)
	if os.Getenv(testserver.RequireInteropEnv) == "1" {
		t.Fatalf("%s (%s=1: a missing client is a failure)", msg, testserver.RequireInteropEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, testserver.RequireInteropEnv)
}

// goCmd runs the go command in dir with goEnv and a limit.
func goCmd(dir string, limit time.Duration, args ...string) (string, error) {
	return runEnv(dir, limit, "go", args...)
}

func runEnv(dir string, limit time.Duration, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, goEnv()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
		}
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s %s: timed out after %v", filepath.Base(name), strings.Join(args, " "), limit)
	}
	return out.String(), nil
}

// copyModule copies the committed driver module (driver/: go.mod, go.sum, tools.go,
// main.go) to dir, where gowsdl may write its package.
func copyModule(dir string) error {
	entries, err := os.ReadDir("driver")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("driver", e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// obtain copies the module to dir and downloads what its build needs (gowsdl and the
// go.mod files of its module graph): the only step that needs the module proxy, or a
// module cache that already has them.
func obtain(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		missingGowsdl(t, "the go command is not on PATH")
	}
	if err := copyModule(dir); err != nil {
		t.Fatal(err)
	}
	if out, err := goCmd(dir, 5*time.Minute, "mod", "download"); err != nil {
		missingGowsdl(t, fmt.Sprintf("%v\n%s", err, interoptest.FirstLines(out, 10)))
	}
}

// generated is what build produced.
type generated struct {
	driver string   // the driver binary, linked with the generated package
	log    []string // what each step did, for t.Log
}

// Declarations gowsdl v0.5.0 writes for the Serialization schema's types that are wrong in
// Go (see README): logged when the generated file has them.
var suspectDecls = regexp.MustCompile(`(?m)^type (byte int8|int int32|Duration \*Duration|UnsignedByte byte)$`)

// build compiles gowsdl in the module at dir, generates the client package from
// wsdlURL (dir/wfim/client.go) and builds the driver against it.
func build(dir, wsdlURL string) (*generated, error) {
	g := &generated{}
	start := time.Now()
	if out, err := goCmd(dir, 5*time.Minute, "build", "-o", "gowsdl", "github.com/hooklift/gowsdl/cmd/gowsdl"); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	out, err := runEnv(dir, 2*time.Minute, filepath.Join(dir, "gowsdl"), "-o", "client.go", "-p", "wfim", wsdlURL)
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	src, err := os.ReadFile(filepath.Join(dir, "wfim", "client.go"))
	if err != nil {
		return nil, fmt.Errorf("gowsdl wrote no wfim/client.go: %v\n%s", err, out)
	}
	var missing []string
	for _, want := range []string{"func NewIWorkflowInstanceManagement(client *soap.Client) IWorkflowInstanceManagement",
		"type WorkflowIdentity struct", "type Guid string"} {
		if !strings.Contains(string(src), want) {
			missing = append(missing, want)
		}
	}
	for _, op := range wsdl.Operations() {
		sig := fmt.Sprintf("%s(request *%s) (*%sResponse, error)", op.Name, op.Name, op.Name)
		action := fmt.Sprintf("%q", op.Action)
		if !strings.Contains(string(src), sig) || !strings.Contains(string(src), action) {
			missing = append(missing, sig+" with action "+action)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the generated wfim/client.go lacks %q; gowsdl said:\n%s", missing, out)
	}
	g.log = append(g.log, fmt.Sprintf("gowsdl %s -o client.go -p wfim %s: wfim/client.go, %d lines, %d operations",
		gowsdlVersion, wsdlURL, strings.Count(string(src), "\n"), len(wsdl.Operations())))
	if m := suspectDecls.FindAllString(string(src), -1); len(m) > 0 {
		g.log = append(g.log, fmt.Sprintf("generated declarations that are wrong in Go (unused by the driver): %q", m))
	}
	if out, err := goCmd(dir, 5*time.Minute, "build", "-o", "driver", "."); err != nil {
		return nil, fmt.Errorf("the driver does not build against the generated, unedited client: %v\n%s", err, out)
	}
	g.driver = filepath.Join(dir, "driver")
	g.log = append(g.log, fmt.Sprintf("go build gowsdl, generate, go build driver: %v", time.Since(start).Round(time.Millisecond)))
	return g, nil
}

// probe runs driver -probe and checks what README says of gowsdl: unaided, a fault is
// an *soap.HTTPError; identity members are written without their namespace; a null
// reason is left out rather than sent as xsi:nil.
func probe(t *testing.T, driver, endpoint string) {
	t.Helper()
	out, err := exec.Command(driver, "-probe", endpoint).Output()
	if err != nil {
		t.Errorf("driver -probe: %v\n%s", err, out)
		return
	}
	var p struct {
		UnaidedErrorType, UnaidedError string
		UnaidedStatus                  int
		UpdateRequest                  string
		NullReasonRequest              string
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Errorf("driver -probe printed %q: %v", out, err)
		return
	}
	t.Logf("gowsdl unaided (plain soap.NewClient): a fault reply is %s, HTTP %d, body not decoded", p.UnaidedErrorType, p.UnaidedStatus)
	if p.UnaidedErrorType != "*soap.HTTPError" || p.UnaidedStatus != 500 {
		t.Errorf("unaided, gowsdl reported a fault as %s (HTTP %d): %s; README says *soap.HTTPError with HTTP 500",
			p.UnaidedErrorType, p.UnaidedStatus, interoptest.FirstLine(p.UnaidedError))
	}

	body := func(req string) *etree.Element {
		d := etree.NewDocument()
		if err := d.ReadFromString(req); err != nil || d.Root() == nil {
			t.Errorf("request the generated client sent is not XML: %v\n%s", err, req)
			return nil
		}
		for _, b := range d.Root().ChildElements() {
			if b.Tag == "Body" && b.NamespaceURI() == interoptest.NSSOAP11Env && len(b.ChildElements()) == 1 {
				return b.ChildElements()[0]
			}
		}
		t.Errorf("request has no SOAP 1.1 Body with one child:\n%s", req)
		return nil
	}
	if op := body(p.UpdateRequest); op != nil {
		ident := op.FindElement("updatedDefinitionIdentity")
		if ident == nil || len(ident.ChildElements()) != 3 {
			t.Errorf("Update request without a three-member identity:\n%s", p.UpdateRequest)
		} else {
			for _, m := range ident.ChildElements() {
				if m.NamespaceURI() != interoptest.NSWorkflowServices {
					t.Errorf("identity member %s in {%s}; README says gowsdl writes it in the WorkflowServices namespace:\n%s",
						m.Tag, m.NamespaceURI(), p.UpdateRequest)
				}
			}
			t.Logf("gowsdl writes WorkflowIdentity's members in {%s}, not {%s} (wimp accepts both, docs/protocol.md Tolerance)",
				interoptest.NSWorkflowServices, wsdl.NSActivities)
		}
	}
	if op := body(p.NullReasonRequest); op != nil {
		if op.FindElement("reason") != nil {
			t.Errorf("Suspend with a nil reason sent a reason element; README says gowsdl leaves it out:\n%s", p.NullReasonRequest)
		} else {
			t.Logf("gowsdl leaves a nil reason out (no xsi:nil although the schema says nillable)")
		}
	}
}

// checkOutcome compares what the generated client reported with c.Want: success with
// HTTP 200, or a fault with HTTP 500 whose faultcode (gowsdl's SOAPFault.Code, resolved
// by the driver) is the expected one. "" means it matches.
func checkOutcome(c *interoptest.Case, r result) string {
	o := interoptest.Outcome{Seq: r.Seq, Outcome: r.Outcome, Reason: r.Reason, CodeNs: r.CodeNs, CodeName: r.CodeName,
		ErrorType: r.ErrorType, Error: r.Error}
	if msg := interoptest.Check(c.Want, false, o); msg != "" {
		return msg
	}
	if want := map[string]int{"ok": 200, "fault": 500}[r.Outcome]; r.HTTP != want {
		return fmt.Sprintf("%s with HTTP %d, want %d", o.Describe(), r.HTTP, want)
	}
	return ""
}

// TestGowsdlClient generates a Go client from the live server's ?wsdl with gowsdl,
// builds driver/main.go against it and calls every operation in every state through it.
func TestGowsdlClient(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "driver")
	obtain(t, mod)
	s := interoptest.Launch(t, dir)

	// Build gowsdl, generate and build the driver while the instances are set up.
	var gen *generated
	var genErr error
	built := make(chan struct{})
	go func() {
		defer close(built)
		gen, genErr = build(mod, s.Control+"?wsdl")
	}()
	defer func() { <-built }()

	ids := s.Identities(t)
	cases := interoptest.BuildCases(gowsdlClient, "soap11", ids)
	what := "13 operations through the client gowsdl " + gowsdlVersion + " generated from ?wsdl, SOAP 1.1 port"
	interoptest.Run(t, s, gowsdlClient.Name, what, cases, func(cases []*interoptest.Case) ([]string, error) {
		<-built
		if genErr != nil {
			return nil, fmt.Errorf("generating the gowsdl client from %s?wsdl: %v", s.Control, genErr)
		}
		for _, l := range gen.log {
			t.Log(l)
		}
		probe(t, gen.driver, s.Control)
		calls := make([]interoptest.Call, len(cases))
		for i, c := range cases {
			calls[i] = c.Call(i + 1)
		}
		in, err := interoptest.JSONLines(calls)
		if err != nil {
			return nil, err
		}
		res, _, err := interoptest.RunDriver[result](exec.Command(gen.driver, s.Control), in, len(calls), 5*time.Minute)
		if err != nil {
			return nil, err
		}
		problems := make([]string, len(cases))
		for i, c := range cases {
			if msg := interoptest.SeqMismatch(res[i].Seq, calls[i].Seq); msg != "" {
				problems[i] = msg
				continue
			}
			problems[i] = checkOutcome(c, res[i])
		}
		return problems, nil
	})
}
