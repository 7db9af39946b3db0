package hosting_test

// The published WSDL checked by third-party tools: libxml2's XML Schema processor (xmllint,
// Debian package libxml2-utils) compiles its schema and validates every request the Go client
// sends and every reply the server gives; gSOAP's wsdl2h and soapcpp2 (Debian package gsoap)
// turn it into C++ declarations. Without the tools these tests skip, unless
// WIMP_REQUIRE_INTEROP=1.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/workflow"
)

// recorder keeps the SOAP Body element of every request sent and reply received through it.
type recorder struct {
	bodies []*etree.Element
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	r.keep(b)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	r.keep(rb)
	return resp, nil
}

func (r *recorder) keep(envelope []byte) {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(envelope) != nil || doc.Root() == nil {
		return
	}
	if body := doc.Root().SelectElement("Body"); body != nil && len(body.ChildElements()) == 1 {
		e := body.ChildElements()[0].Copy()
		if e.Tag != "Fault" {
			r.bodies = append(r.bodies, e)
		}
	}
}

// standaloneSchema is the WSDL's xs:schema as a document of its own.
func standaloneSchema(t *testing.T) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(hosting.WSDL("http://example.test/WorkflowHosting")); err != nil {
		t.Fatal(err)
	}
	sc := doc.FindElement("//wsdl:types/xs:schema")
	if sc == nil {
		t.Fatal("the WSDL has no xs:schema")
	}
	out := etree.NewDocument()
	out.SetRoot(sc.Copy())
	b, err := out.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestXmllintValidatesEveryMessage: the schema compiles without a warning, and every request
// and reply body of every operation (the client's and the server's, faults aside) is valid.
func TestXmllintValidatesEveryMessage(t *testing.T) {
	bin := testserver.LookTool(t, "xmllint", "xmllint (Debian package libxml2-utils)", "libxml2-utils")
	ctx := context.Background()
	c, _, base := clients(t)
	rec := &recorder{}
	c.SOAP.HTTP = &http.Client{Transport: rec}

	a := mustCreate(t, c, expense(10))
	b := mustCreate(t, c, host.CreateRequest{ID: uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), Definition: "ExpenseApproval",
		Version: "1.0.0.0", Inputs: map[string]any{"amount": 20, "submitter": "ann"}})
	manage(t, base, "Suspend", a, "audit")
	if err := c.ResumeBookmark(ctx, b, "Review", `{"approved": false, "reviewer": "bob"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListInstances(ctx, "", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TrackingRecords(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	every := host.Filter{State: workflow.Suspended, Definition: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0",
		VersionMin: "1.0", VersionMax: "2.0", Exception: "", ReasonContains: "aud", Bookmark: "Review",
		CreatedAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), CreatedBefore: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedBefore: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	if p, err := c.QueryInstances(ctx, host.QueryRequest{Filter: every, PageSize: 1, IncludeVariables: true}); err != nil || len(p.Instances) != 1 {
		t.Fatalf("QueryInstances: %v %+v", err, p)
	}
	for _, by := range []host.GroupBy{host.GroupByState, host.GroupByDefinition, host.GroupByException} {
		if _, err := c.CountInstances(ctx, host.Filter{}, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Definitions(ctx); err != nil {
		t.Fatal(err)
	}
	// A job with every argument, whose results include a refusal (b is completed) with its detail.
	v2 := workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"}
	j := mustStart(t, c, host.BulkRequest{Operation: "Update", Filter: host.Filter{Definition: "ExpenseApproval", CreatedAfter: every.CreatedAfter},
		Reason: "r", Identity: &v2, DryRun: true, RatePerSecond: 12.5, MaxInstances: 10})
	done := waitBulk(t, c, j.ID)
	if p, err := c.GetBulkOperation(ctx, j.ID, 0, 10); err != nil || len(p.Items) != 2 || done.Faults["InstanceCompleted"] != 1 {
		t.Fatalf("GetBulkOperation: %v %+v", err, p)
	}
	if _, err := c.CancelBulkOperation(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Purge(ctx, host.Filter{Completion: workflow.Closed}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Purge(ctx, host.Filter{}, false); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Nodes(ctx); err != nil || len(n) != 1 {
		t.Fatalf("GetNodes: %v %+v", err, n)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hosting.xsd"), standaloneSchema(t), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--noout", "--schema", "hosting.xsd"}
	seen := map[string]bool{}
	for i, e := range rec.bodies {
		doc := etree.NewDocument()
		doc.SetRoot(e)
		name := fmt.Sprintf("%02d-%s.xml", i, e.Tag)
		if err := doc.WriteToFile(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
		seen[e.Tag] = true
	}
	for _, op := range []string{"Create", "CreateWithInstanceId", "ResumeBookmark", "GetInstance", "ListInstances", "GetTrackingRecords",
		"QueryInstances", "CountInstances", "GetDefinitions", "StartBulkOperation", "GetBulkOperation", "CancelBulkOperation", "Purge", "GetNodes"} {
		for _, el := range []string{op, op + "Response"} {
			if !seen[el] {
				t.Errorf("no %s was exchanged", el)
			}
		}
	}
	out, err := testserver.RunTool(dir, time.Minute, bin, args...)
	rest := regexp.MustCompile(`(?m)^\S+\.xml validates$\n?`).ReplaceAllString(out, "")
	if err != nil || strings.TrimSpace(rest) != "" {
		t.Fatalf("xmllint --schema hosting.xsd (%d messages): %v\n%s", len(rec.bodies), err, rest)
	}
	t.Logf("xmllint: the schema compiles without warnings and validates %d messages of %d elements", len(rec.bodies), len(seen))
}

// TestGSOAPReadsTheWSDL: wsdl2h turns the WSDL into a header without an error or a warning,
// with a request and a response element for every operation, and soapcpp2 compiles it into
// proxies for both bindings.
func TestGSOAPReadsTheWSDL(t *testing.T) {
	const pkgs = "gsoap"
	wsdl2h := testserver.LookTool(t, "wsdl2h", "wsdl2h (Debian package gsoap)", pkgs)
	soapcpp2 := testserver.LookTool(t, "soapcpp2", "soapcpp2 (Debian package gsoap)", pkgs)
	share := testserver.GSOAPShare()
	if share == "" {
		testserver.MissingClient(t, "gSOAP's import/soap12.h and WS/typemap.dat (Debian package gsoap; or set WIMP_GSOAP_SHARE)", pkgs)
	}
	dir := t.TempDir()
	typemap, err := os.ReadFile(filepath.Join(share, "WS", "typemap.dat"))
	if err != nil {
		t.Fatal(err)
	}
	typemap = append(typemap, "\nwh = \""+hosting.NS+"\"\n"...)
	for name, b := range map[string][]byte{"hosting.wsdl": hosting.WSDL("http://example.test/WorkflowHosting"), "typemap.dat": typemap} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := testserver.RunTool(dir, time.Minute, wsdl2h, "-t", "typemap.dat", "-Nwh", "-o", "hosting.h", "hosting.wsdl")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if ll := strings.ToLower(l); strings.Contains(ll, "error") || strings.Contains(ll, "warning") {
			t.Fatalf("wsdl2h reported: %s\n%s", strings.TrimSpace(l), out)
		}
	}
	h, err := os.ReadFile(filepath.Join(dir, "hosting.h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"Create", "CreateWithInstanceId", "ResumeBookmark", "GetInstance", "ListInstances", "GetTrackingRecords",
		"QueryInstances", "CountInstances", "GetDefinitions", "StartBulkOperation", "GetBulkOperation", "CancelBulkOperation", "Purge", "GetNodes"} {
		for _, el := range []string{"_wh__" + op, "_wh__" + op + "Response"} {
			if !bytes.Contains(h, []byte("class "+el+"\n")) && !bytes.Contains(h, []byte("class "+el+" ")) {
				t.Errorf("hosting.h declares no %s", el)
			}
		}
	}
	for _, typ := range []string{"wh__BulkOperation", "wh__BulkItem", "wh__BulkFaultCount", "wh__Filter", "wh__Node"} {
		if !bytes.Contains(h, []byte("class "+typ)) {
			t.Errorf("hosting.h declares no %s", typ)
		}
	}
	out, err = testserver.RunTool(dir, time.Minute, soapcpp2, "-C", "-j", "-x", "-I", filepath.Join(share, "import"), "hosting.h")
	if err != nil || strings.Contains(strings.ToLower(out), "error") {
		t.Fatalf("soapcpp2: %v\n%s", err, out)
	}
	for _, proxy := range []string{"soapSoapBinding_USCOREIWorkflowHostingProxy.h", "soapSoap12Binding_USCOREIWorkflowHostingProxy.h"} {
		p, err := os.ReadFile(filepath.Join(dir, proxy))
		if err != nil {
			t.Fatalf("soapcpp2 made no %s: %v\n%s", proxy, err, out)
		}
		if !bytes.Contains(p, []byte("StartBulkOperation(")) || !bytes.Contains(p, []byte("Purge(")) {
			t.Errorf("%s has no StartBulkOperation or Purge call", proxy)
		}
	}
}
