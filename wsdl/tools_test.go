package wsdl

// Loads the served WSDL in third-party SOAP tooling: zeep (Python) and gSOAP's
// wsdl2h (and soapcpp2 on its output). The tools are Debian packages:
//
//	apt-get install -y python3-zeep gsoap
//
// Without them these tests skip, unless WIMP_REQUIRE_INTEROP=1 (CI), which
// turns a missing tool into a failure.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/internal/testserver"
)

// aptPackages are the interop tools these tests use.
const aptPackages = "python3-zeep gsoap"

// zeepPython returns a Python interpreter that can import zeep: $WIMP_PYTHON,
// Debian's /usr/bin/python3 (python3-zeep), or python3 on PATH.
func zeepPython(t *testing.T) string {
	t.Helper()
	py, _, ok := testserver.ZeepPython()
	if !ok {
		testserver.MissingClient(t, "python3 with zeep (Debian package python3-zeep)", aptPackages)
	}
	return py
}

// recorded is one SOAP request the test server received.
type recorded struct {
	ContentType, SOAPAction, EnvelopeNS, BodyNS, BodyOp, WSAAction string
	Body                                                           []byte
}

// soapEcho answers any operation request with its empty {Op}Response in the
// request's SOAP version, and records the request.
type soapEcho struct {
	mu   sync.Mutex
	reqs []recorded
}

const (
	soap11Env = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12Env = "http://www.w3.org/2003/05/soap-envelope"
)

func (s *soapEcho) handle(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rec := recorded{ContentType: r.Header.Get("Content-Type"), SOAPAction: r.Header.Get("SOAPAction"), Body: b}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil || d.Root() == nil {
		http.Error(w, "bad XML", 400)
		return
	}
	env := d.Root()
	rec.EnvelopeNS = env.NamespaceURI()
	for _, c := range env.ChildElements() {
		switch c.Tag {
		case "Header":
			for _, h := range c.ChildElements() {
				if h.Tag == "Action" {
					rec.WSAAction = strings.TrimSpace(h.Text())
				}
			}
		case "Body":
			if op := c.ChildElements(); len(op) > 0 {
				rec.BodyOp, rec.BodyNS = op[0].Tag, op[0].NamespaceURI()
			}
		}
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	ct := "text/xml; charset=utf-8"
	if rec.EnvelopeNS == soap12Env {
		ct = "application/soap+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="`+rec.EnvelopeNS+`"><s:Body><`+
		rec.BodyOp+`Response xmlns="`+NSWorkflowServices+`"/></s:Body></s:Envelope>`)
}

const zeepProgram = `
import json, sys, zeep
base, ports = sys.argv[1], json.loads(sys.argv[2])
ident = {"name": "ExpenseApproval", "package": "wimp.samples", "version": "1.0.0.0"}
iid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
for doc in ("wsdl", "singleWsdl"):
    client = zeep.Client(base + "?" + doc)
    services = {s.name: sorted(p for p in s.ports) for s in client.wsdl.services.values()}
    print(json.dumps({"doc": doc, "services": services}), flush=True)
    for port in ports:
        svc = client.bind("WorkflowControlService", port)
        ops = sorted(svc._binding._operations)
        print(json.dumps({"doc": doc, "port": port, "operations": ops}), flush=True)
        for op in ops:
            args = {"instanceId": iid}
            if op in ("Suspend", "TransactedSuspend", "Terminate", "TransactedTerminate", "Abandon"):
                args["reason"] = "zeep " + op
            if op in ("Update", "TransactedUpdate"):
                args["updatedDefinitionIdentity"] = ident
            try:
                res = getattr(svc, op)(**args)
                out = {"doc": doc, "port": port, "op": op, "result": "ok" if res is None else repr(res)}
            except Exception as e:
                out = {"doc": doc, "port": port, "op": op, "result": "error", "error": repr(e)}
            print(json.dumps(out), flush=True)
`

func TestZeepLoadsAndCallsBothPorts(t *testing.T) {
	py := zeepPython(t)
	echo := &soapEcho{}
	srv := serve(t, echo.handle)
	svc := srv.URL + "/WorkflowControl"
	dir := t.TempDir()
	script := filepath.Join(dir, "zeep_wsdl.py")
	if err := os.WriteFile(script, []byte(zeepProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := []string{SOAP11PortName, SOAP12PortName}
	pj, _ := json.Marshal(ports)
	cmd := command(t, py, script, svc, string(pj))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.Bytes()
	if err != nil {
		t.Fatalf("zeep: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	actions := map[string]string{}
	for _, op := range Operations() {
		actions[op.Name] = op.Action
	}
	calls := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line struct {
			Doc, Port, Op, Result, Error string
			Services                     map[string][]string
			Operations                   []string
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("zeep output %q: %v", sc.Text(), err)
		}
		switch {
		case line.Services != nil:
			got := line.Services[ServiceName]
			if len(line.Services) != 1 || strings.Join(got, ",") != SOAP11PortName+","+SOAP12PortName {
				t.Errorf("%s: zeep sees services %v", line.Doc, line.Services)
			}
		case line.Operations != nil:
			if len(line.Operations) != 13 {
				t.Errorf("%s %s: zeep sees %d operations: %v", line.Doc, line.Port, len(line.Operations), line.Operations)
			}
		default:
			calls++
			if line.Result != "ok" {
				t.Errorf("%s %s %s: %s %s", line.Doc, line.Port, line.Op, line.Result, line.Error)
			}
		}
	}
	if want := 2 * 2 * 13; calls != want || len(echo.reqs) != want {
		t.Fatalf("zeep made %d calls, server saw %d requests, want %d\n%s", calls, len(echo.reqs), want, stderr.String())
	}
	// Requests arrive in order: per document, 13 over SOAP 1.1 then 13 over SOAP 1.2.
	for i, r := range echo.reqs {
		soap12 := (i/13)%2 == 1
		action := actions[r.BodyOp]
		if action == "" || r.BodyNS != NSWorkflowServices {
			t.Errorf("request %d: body element {%s}%s", i, r.BodyNS, r.BodyOp)
			continue
		}
		mt, params, err := mime.ParseMediaType(r.ContentType)
		if err != nil {
			t.Errorf("request %d: Content-Type %q: %v", i, r.ContentType, err)
			continue
		}
		if soap12 {
			if r.EnvelopeNS != soap12Env || mt != "application/soap+xml" || params["action"] != action {
				t.Errorf("request %d (%s over the SOAP 1.2 port): envelope %s, Content-Type %q", i, r.BodyOp, r.EnvelopeNS, r.ContentType)
			}
		} else {
			if r.EnvelopeNS != soap11Env || mt != "text/xml" || strings.Trim(r.SOAPAction, `"`) != action {
				t.Errorf("request %d (%s over the SOAP 1.1 port): envelope %s, Content-Type %q, SOAPAction %q", i, r.BodyOp, r.EnvelopeNS, r.ContentType, r.SOAPAction)
			}
		}
		// zeep follows the portType's wsaw:Action and adds WS-Addressing.
		if r.WSAAction != "" && r.WSAAction != action {
			t.Errorf("request %d: wsa:Action %q, want %q", i, r.WSAAction, action)
		}
		if strings.HasSuffix(r.BodyOp, "Update") {
			for _, part := range []string{"ExpenseApproval", "wimp.samples", "1.0.0.0", NSActivities} {
				if !bytes.Contains(r.Body, []byte(part)) {
					t.Errorf("request %d (%s): identity %q not serialised:\n%s", i, r.BodyOp, part, r.Body)
				}
			}
		}
	}
	t.Logf("zeep: loaded ?wsdl and ?singleWsdl, %d calls through both ports checked", calls)
}

func TestWsdl2h(t *testing.T) {
	wsdl2h := testserver.LookTool(t, "wsdl2h", "wsdl2h (Debian package gsoap)", aptPackages)
	srv := serve(t, nil)
	for _, doc := range []string{"wsdl", "singleWsdl"} {
		t.Run(doc, func(t *testing.T) {
			dir := t.TempDir()
			cmd := command(t, wsdl2h, "-o", "wfim.h", srv.URL+"/WorkflowControl?"+doc)
			cmd.Dir = dir
			var outb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &outb, &outb
			if err := cmd.Run(); err != nil {
				t.Fatalf("wsdl2h %s: %v\n%s", doc, err, outb.String())
			}
			log := outb.String()
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(strings.ToLower(l), "error") {
					t.Errorf("wsdl2h reported: %s", l)
				}
			}
			h, err := os.ReadFile(filepath.Join(dir, "wfim.h"))
			if err != nil {
				t.Fatal(err)
			}
			header := string(h)
			for _, op := range Operations() {
				if !strings.Contains(header, `"`+op.Action+`"`) {
					t.Errorf("wfim.h lacks the action of %s", op.Name)
				}
			}
			// WorkflowIdentity resolved to a class with its three members, and
			// the SOAP 1.2 binding seen.
			for _, re := range []string{
				`class ns\d+__WorkflowIdentity(\s*:\s*public\s+\w+)?\s*\{[^}]*std::string\*\s+name\s[^}]*std::string\*\s+package\s[^}]*std::string\*\s+version\s`,
				`ns\d+__WorkflowIdentity\*\s+updatedDefinitionIdentity\s`,
				`This service supports SOAP 1.2 namespaces`,
			} {
				if !regexp.MustCompile(re).MatchString(header) {
					t.Errorf("wfim.h does not match %s", re)
				}
			}
			// soapcpp2 must accept the generated header.
			soapcpp2 := testserver.LookTool(t, "soapcpp2", "soapcpp2 (Debian package gsoap)", aptPackages)
			share := testserver.GSOAPShare()
			if share == "" {
				testserver.MissingClient(t, "gSOAP's import directory (Debian package gsoap; or set WIMP_GSOAP_SHARE)", aptPackages)
			}
			imp := filepath.Join(share, "import")
			gen := command(t, soapcpp2, "-C", "-j", "-x", "-I"+imp, "wfim.h")
			gen.Dir = dir
			var genOut bytes.Buffer
			gen.Stdout, gen.Stderr = &genOut, &genOut
			if err := gen.Run(); err != nil || !strings.Contains(genOut.String(), "Compilation successful") {
				t.Fatalf("soapcpp2 on wsdl2h's output: %v\n%s", err, genOut.String())
			}
		})
	}
}

// command returns cmd with a deadline of two minutes.
// With -N, wsdl2h generates one service per binding: both ports appear with
// the server's address.
func TestWsdl2hSeparateBindings(t *testing.T) {
	wsdl2h := testserver.LookTool(t, "wsdl2h", "wsdl2h (Debian package gsoap)", aptPackages)
	srv := serve(t, nil)
	dir := t.TempDir()
	cmd := command(t, wsdl2h, "-Nwfim", "-o", "wfim.h", srv.URL+"/WorkflowControl?wsdl")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wsdl2h -N: %v\n%s", err, out)
	}
	h, err := os.ReadFile(filepath.Join(dir, "wfim.h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{SOAP11Binding, SOAP12Binding} {
		mangled := strings.ReplaceAll(b, "_", "_USCORE")
		re := regexp.MustCompile(`//gsoap (wfim\d+) +service name:\s+` + mangled + `\s*\n//gsoap (wfim\d+) +service type:\s+` + PortTypeName +
			`\s*\n//gsoap (wfim\d+) +service port:\s+` + regexp.QuoteMeta(srv.URL+"/WorkflowControl") + `\s*\n`)
		if !re.Match(h) {
			t.Errorf("wfim.h has no service for binding %s at %s", b, srv.URL+"/WorkflowControl")
		}
	}
}

func command(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, name, args...)
}
