package gsoap

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/interop/interoptest"
)

// gsoapClient: the driver's name for each generated proxy, soap11 and soap12.
// instanceId is a string in the generated code, so any id goes out; a NULL
// reason or identity is what gSOAP makes of it (no "absent" of its own).
var gsoapClient = interoptest.Client{
	Name:     "gsoap",
	Bindings: []string{"soap11", "soap12"},
	SOAP12:   map[string]bool{"soap12": true},
	AnyID:    true,
}

// result is one line of the driver's output.
type result struct{ interoptest.GSOAPResult }

// gSOAP's error codes the test distinguishes (stdsoap2.h).
const (
	soapOK    = 0
	soapFault = 12
)

// outcome is what gSOAP reported as interoptest compares it: over SOAP 1.1 the
// faultcode is the code, over SOAP 1.2 Code/Value and Code/Subcode/Value. A
// message means a QName could not be resolved.
func (r result) outcome(soap12 bool, nsmap map[string]string) (interoptest.Outcome, string) {
	o := interoptest.Outcome{Seq: r.Seq}
	if r.Reason != nil {
		o.Reason = *r.Reason
	}
	switch {
	case r.Error == soapOK && r.HTTP == 200:
		o.Outcome = "ok"
	case r.Error == soapFault && r.HTTP == 500:
		o.Outcome = "fault"
		code := r.Faultcode
		if soap12 {
			code = r.Code
		}
		var ok bool
		if o.CodeNs, o.CodeName, ok = interoptest.GSOAPQName(code, nsmap); !ok {
			return o, "fault code not resolved with the proxy's namespace table: " + r.String()
		}
		if soap12 && r.Subcode != nil {
			if o.SubcodeNs, o.SubcodeName, ok = interoptest.GSOAPQName(r.Subcode, nsmap); !ok {
				return o, "Subcode/Value not resolved with the proxy's namespace table: " + r.String()
			}
		}
	default:
		o.Outcome, o.ErrorType, o.Error = "error", fmt.Sprintf("gSOAP error %d, HTTP %d", r.Error, r.HTTP), o.Reason
	}
	return o, ""
}

// checkOutcome compares what gSOAP reported with c.Want. "" means it matches.
func checkOutcome(c *interoptest.Case, r result, nsmap11, nsmap12 map[string]string) string {
	soap12 := gsoapClient.SOAP12[c.Binding]
	version, nsmap := 1, nsmap11
	if soap12 {
		version, nsmap = 2, nsmap12
	}
	if r.Binding != c.Binding || r.Op != c.Op {
		return fmt.Sprintf("result %s for call %s %s", r, c.Binding, c.Op)
	}
	if r.Version != version {
		return fmt.Sprintf("reply parsed as SOAP version %d, want %d: %s", r.Version, version, r)
	}
	o, msg := r.outcome(soap12, nsmap)
	if msg == "" {
		msg = interoptest.Check(c.Want, soap12, o)
	}
	if msg != "" {
		return msg + "; gSOAP reported " + r.String()
	}
	// soap_fault_subcode is the SOAP 1.1 faultcode or the SOAP 1.2 Subcode/Value.
	sub := r.Faultcode
	if soap12 {
		sub = r.Subcode
	}
	if o.Outcome == "fault" && sub != nil && (r.FaultSubcode == nil || *r.FaultSubcode != *sub) {
		return "soap_fault_subcode differs from the reported code: " + r.String()
	}
	return ""
}

// escape writes a driver text field (tabs, newlines and backslashes escaped).
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`).Replace(s)
}

// inputLine is c as the driver's SEQ BINDING OP ID ARG line (testdata/driver.cpp).
func inputLine(seq int, c *interoptest.Case) string {
	id := "=" + escape(c.SentID())
	if c.NoID {
		id = "-"
	}
	arg := "-"
	switch {
	case interoptest.TakesReason(c.Op) && c.Reason != nil:
		arg = "=" + escape(*c.Reason)
	case interoptest.IsUpdate(c.Op) && c.Identity != nil:
		arg = "=" + escape(c.Identity.Name+"|"+c.Identity.Package+"|"+c.Identity.Version)
	}
	return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\n", seq, c.Binding, c.Op, id, arg)
}

// TestGSOAPClient generates a gSOAP C++ client from the live server's ?wsdl
// and calls every operation through the proxies of both WSDL bindings.
func TestGSOAPClient(t *testing.T) {
	tools := findToolchain(t)
	dir := t.TempDir()
	s := interoptest.Launch(t, dir)

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
		gen, genErr = buildDriver(tools, genDir, s.Control+"?wsdl", s.Control)
	}()
	defer func() { <-built }()

	ids := s.Identities(t)
	var cases []*interoptest.Case
	for _, b := range gsoapClient.Bindings {
		cases = append(cases, interoptest.BuildCases(gsoapClient, b, ids)...)
	}
	what := "13 operations through wsdl2h/soapcpp2 proxies from ?wsdl"
	interoptest.Run(t, s, gsoapClient.Name, what, cases, func(cases []*interoptest.Case) ([]string, error) {
		<-built
		if genErr != nil {
			return nil, fmt.Errorf("generating the gSOAP client from %s?wsdl: %v", s.Control, genErr)
		}
		for _, l := range gen.log {
			t.Log(l)
		}
		var input bytes.Buffer
		for i, c := range cases {
			input.WriteString(inputLine(i+1, c))
		}
		results, _, err := interoptest.RunDriver[result](exec.Command(gen.driver, s.Control), input.Bytes(), len(cases), 2*time.Minute)
		if err != nil {
			return nil, err
		}
		// The SOAP 1.1 proxy's table is the generated one with SOAP 1.1's
		// envelope namespace (testdata/driver.cpp: soap11Namespaces).
		nsmap11 := map[string]string{}
		for k, v := range gen.nsmap {
			nsmap11[k] = v
		}
		nsmap11["SOAP-ENV"] = interoptest.NSSOAP11Env
		problems := make([]string, len(cases))
		for i, c := range cases {
			if results[i].Seq != i+1 {
				problems[i] = fmt.Sprintf("result %s for call %d", results[i], i+1)
				continue
			}
			problems[i] = checkOutcome(c, results[i], nsmap11, gen.nsmap)
		}
		return problems, nil
	})
}
