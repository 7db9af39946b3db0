package wsdl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

const testURL = "http://127.0.0.1:8080/WorkflowControl"

var wantOps = []string{
	"TransactedUnsuspend", "Abandon", "Cancel", "Run", "Suspend", "Terminate", "Unsuspend",
	"TransactedCancel", "TransactedRun", "TransactedSuspend", "TransactedTerminate", "Update", "TransactedUpdate",
}

// The embedded documents are the spec text; pin their checksums too, so an
// edit of the documents and of testdata/MS-WFIM-section8.md together still shows.
func TestSpecDocumentsPinned(t *testing.T) {
	for name, c := range map[string]struct {
		b   []byte
		sum string
	}{
		"wsdl.xml":             {SpecWSDL(), "be2e81e1c79165631faba1adbb6d1645d44e341762c9afde3ddb03a7e363db7e"},
		"workflowservices.xsd": {SpecWorkflowServicesSchema(), "1e6ef4fa0be26db9f51ce8dbe02d1959de65a9f20cbf6265a9fdedd909c3bba2"},
		"serialization.xsd":    {SpecSerializationSchema(), "853ae4de79352d8d1188f69615eea7b76cb071801fafc50edfcd90c715bf1bc3"},
		"workflowidentity.xsd": {SpecWorkflowIdentitySchema(), "c20545ad2a43b889a664250ef1be3ff5c49e41ba56a6c59353fbc640d68517b9"},
	} {
		s := sha256.Sum256(c.b)
		if got := hex.EncodeToString(s[:]); got != c.sum {
			t.Errorf("spec/%s: sha256 %s, want %s (the spec documents must stay exactly as the [MS-WFIM] text in testdata/MS-WFIM-section8.md)", name, got, c.sum)
		}
		parseDoc(t, c.b)
	}
}

// specText is the repository's verbatim copy of the spec's WSDL and XSD
// listings, under the headings 8.1–8.4.
const specText = "testdata/MS-WFIM-section8.md"

// TestSpecDocumentsEqualSpecText checks that each embedded document is, byte
// for byte, the xml block under its heading in the spec text.
func TestSpecDocumentsEqualSpecText(t *testing.T) {
	b, err := os.ReadFile(specText)
	if err != nil {
		t.Fatal(err)
	}
	notes := string(b)
	for heading, got := range map[string][]byte{
		"### 8.1 ": SpecWSDL(),
		"### 8.2 ": SpecWorkflowServicesSchema(),
		"### 8.3 ": SpecSerializationSchema(),
		"### 8.4 ": SpecWorkflowIdentitySchema(),
	} {
		i := strings.Index(notes, "\n"+heading)
		if i < 0 {
			t.Fatalf("%s has no heading %q", specText, heading)
		}
		rest := notes[i:]
		start := strings.Index(rest, "```xml\n")
		if start < 0 {
			t.Fatalf("%s: no xml block", heading)
		}
		rest = rest[start+len("```xml\n"):]
		end := strings.Index(rest, "\n```")
		if end < 0 {
			t.Fatalf("%s: unterminated xml block", heading)
		}
		want := rest[:end+1]
		if string(got) != want {
			t.Errorf("embedded document for %q differs from the spec text in %s", heading, specText)
		}
	}
}

func TestOperations(t *testing.T) {
	ops := Operations()
	var names []string
	for _, op := range ops {
		names = append(names, op.Name)
		base := NSWorkflowServices + "/IWorkflowInstanceManagement/" + op.Name
		if op.Action != base || op.ResponseAction != base+"Response" {
			t.Errorf("%s: actions %q %q", op.Name, op.Action, op.ResponseAction)
		}
	}
	if !slices.Equal(names, wantOps) {
		t.Errorf("operations %v, want %v", names, wantOps)
	}
}

// withoutAdded returns the canonical form of a WSDL's definitions element
// with wsdl:types, the SOAP 1.2 binding and the service removed: what must
// equal the spec's WSDL with its wsdl:types removed.
func withoutAdded(t *testing.T, b []byte) string {
	t.Helper()
	root := parseDoc(t, b).Root()
	for _, c := range root.ChildElements() {
		if c.NamespaceURI() != NSWSDL {
			t.Fatalf("unexpected top-level element %s", expanded(c))
		}
		switch {
		case c.Tag == "types", c.Tag == "service",
			c.Tag == "binding" && c.SelectAttrValue("name", "") == SOAP12Binding:
			root.RemoveChild(c)
		}
	}
	return canonical(t, root)
}

func TestPublishedWSDLKeepsSpecContract(t *testing.T) {
	spec := withoutAdded(t, SpecWSDL())
	specText := string(SpecWSDL())
	// The spec's messages, portType and SOAP 1.1 binding as one text span.
	from := strings.Index(specText, "  <wsdl:message ")
	to := strings.Index(specText, "</wsdl:binding>\n") + len("</wsdl:binding>\n")
	span := specText[from:to]
	for name, doc := range map[string][]byte{"wsdl": WSDL(testURL), "singleWsdl": SingleWSDL(testURL)} {
		if got := withoutAdded(t, doc); got != spec {
			t.Errorf("%s: messages/portType/SOAP 1.1 binding differ from the spec after canonicalisation\n--- got\n%s\n--- spec\n%s", name, got, spec)
		}
		if !bytes.Contains(doc, []byte(span)) {
			t.Errorf("%s: does not contain the spec's messages, portType and binding byte for byte", name)
		}
		root := parseDoc(t, doc).Root()
		specRoot := parseDoc(t, SpecWSDL()).Root()
		for _, part := range []struct{ local, name string }{{"portType", PortTypeName}, {"binding", SOAP11Binding}} {
			got, want := named(root, NSWSDL, part.local, part.name), named(specRoot, NSWSDL, part.local, part.name)
			if got == nil || want == nil {
				t.Fatalf("%s: %s %s missing", name, part.local, part.name)
			}
			if canonical(t, got) != canonical(t, want) {
				t.Errorf("%s: %s %s differs from the spec's", name, part.local, part.name)
			}
		}
	}
}

func TestSOAP12Binding(t *testing.T) {
	for name, doc := range map[string][]byte{"wsdl": WSDL(testURL), "singleWsdl": SingleWSDL(testURL)} {
		root := parseDoc(t, doc).Root()
		b := named(root, NSWSDL, "binding", SOAP12Binding)
		if b == nil {
			t.Fatalf("%s: no binding %s", name, SOAP12Binding)
		}
		if q, _ := resolveQName(b, b.SelectAttrValue("type", "")); q != "{"+NSWorkflowServices+"}"+PortTypeName {
			t.Errorf("%s: binding type %s", name, q)
		}
		sb := kids(b, NSSOAP12, "binding")
		if len(sb) != 1 || sb[0].SelectAttrValue("transport", "") != HTTPTransport {
			t.Errorf("%s: soap12:binding missing or wrong transport", name)
		}
		if len(kids(b, NSWSDLSOAP, "binding")) != 0 {
			t.Errorf("%s: SOAP 1.2 binding carries SOAP 1.1 extensions", name)
		}
		ops := map[string]*etree.Element{}
		for _, op := range kids(b, NSWSDL, "operation") {
			ops[op.SelectAttrValue("name", "")] = op
		}
		if len(ops) != 13 || len(kids(b, NSWSDL, "operation")) != 13 {
			t.Errorf("%s: SOAP 1.2 binding has %d operations, want 13", name, len(ops))
		}
		for _, want := range Operations() {
			op := ops[want.Name]
			if op == nil {
				t.Errorf("%s: SOAP 1.2 binding lacks %s", name, want.Name)
				continue
			}
			so := kids(op, NSSOAP12, "operation")
			if len(so) != 1 || so[0].SelectAttrValue("soapAction", "") != want.Action || so[0].SelectAttrValue("style", "") != "document" {
				t.Errorf("%s: %s: soap12:operation %v", name, want.Name, so)
			}
			for _, dir := range []string{"input", "output"} {
				io := kids(op, NSWSDL, dir)
				if len(io) != 1 {
					t.Errorf("%s: %s: %d %s elements", name, want.Name, len(io), dir)
					continue
				}
				body := kids(io[0], NSSOAP12, "body")
				if len(body) != 1 || body[0].SelectAttrValue("use", "") != "literal" || len(io[0].ChildElements()) != 1 {
					t.Errorf("%s: %s %s: want exactly soap12:body use=literal", name, want.Name, dir)
				}
			}
		}
	}
}

func TestService(t *testing.T) {
	const u = "http://wimp.example:9090/base/WorkflowControl"
	for name, doc := range map[string][]byte{"wsdl": WSDL(u), "singleWsdl": SingleWSDL(u)} {
		root := parseDoc(t, doc).Root()
		svcs := kids(root, NSWSDL, "service")
		if len(svcs) != 1 || svcs[0].SelectAttrValue("name", "") != ServiceName {
			t.Fatalf("%s: want one service %s", name, ServiceName)
		}
		ports := kids(svcs[0], NSWSDL, "port")
		want := map[string]struct{ binding, addrNS string }{
			SOAP11PortName: {SOAP11Binding, NSWSDLSOAP},
			SOAP12PortName: {SOAP12Binding, NSSOAP12},
		}
		if len(ports) != len(want) {
			t.Fatalf("%s: %d ports", name, len(ports))
		}
		for _, p := range ports {
			w, ok := want[p.SelectAttrValue("name", "")]
			if !ok {
				t.Errorf("%s: unexpected port %s", name, p.SelectAttrValue("name", ""))
				continue
			}
			q, err := resolveQName(p, p.SelectAttrValue("binding", ""))
			if err != nil || q != "{"+NSWorkflowServices+"}"+w.binding {
				t.Errorf("%s: port binding %s %v", name, q, err)
			}
			if named(root, NSWSDL, "binding", w.binding) == nil {
				t.Errorf("%s: port refers to missing binding %s", name, w.binding)
			}
			addr := kids(p, w.addrNS, "address")
			if len(addr) != 1 || addr[0].SelectAttrValue("location", "") != u {
				t.Errorf("%s: port %s address %v, want %s", name, p.SelectAttrValue("name", ""), addr, u)
			}
		}
	}
}

func TestServiceURLIsEscaped(t *testing.T) {
	const u = `http://h:1/p?a=1&b="x"<y>`
	for name, doc := range map[string][]byte{"wsdl": WSDL(u), "singleWsdl": SingleWSDL(u)} {
		root := parseDoc(t, doc).Root()
		for _, p := range kids(kids(root, NSWSDL, "service")[0], NSWSDL, "port") {
			if got := p.ChildElements()[0].SelectAttrValue("location", ""); got != u {
				t.Errorf("%s: location %q, want %q", name, got, u)
			}
		}
	}
	x0, _ := XSD("xsd0", u)
	for _, imp := range kids(parseDoc(t, x0).Root(), NSXSD, "import") {
		if !strings.HasPrefix(imp.SelectAttrValue("schemaLocation", ""), u+"?xsd=") {
			t.Errorf("xsd0 import location %q", imp.SelectAttrValue("schemaLocation", ""))
		}
	}
}

// serve starts a test server answering metadata the way wimp-server does:
// the service URL is derived from the request.
func serve(t *testing.T, extra http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/WorkflowControl" {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodPost && extra != nil {
			extra(w, r)
			return
		}
		ServeControlMetadata(w, r, "http://"+r.Host+r.URL.Path) // a test server: its own Host
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestSchemaSetResolvesMultiFile(t *testing.T) {
	srv := serve(t, nil)
	svc := srv.URL + "/WorkflowControl"
	code, _, w := get(t, svc+"?wsdl")
	if code != 200 {
		t.Fatalf("?wsdl: %d", code)
	}
	defs := parseDoc(t, w).Root()
	types := kids(defs, NSWSDL, "types")
	if len(types) != 1 {
		t.Fatal("want one wsdl:types")
	}
	var schemas []*etree.Element
	seen := map[string]bool{}
	var load func(sc *etree.Element)
	load = func(sc *etree.Element) {
		schemas = append(schemas, sc)
		for _, imp := range kids(sc, NSXSD, "import") {
			loc, ns := imp.SelectAttrValue("schemaLocation", ""), imp.SelectAttrValue("namespace", "")
			if !strings.HasPrefix(loc, svc+"?xsd=xsd") {
				t.Errorf("import of %s: schemaLocation %q is not %s?xsd=xsdN", ns, loc, svc)
				continue
			}
			if seen[loc] {
				continue
			}
			seen[loc] = true
			code, h, b := get(t, loc)
			if code != 200 || h.Get("Content-Type") != ContentType {
				t.Fatalf("GET %s: %d %s", loc, code, h.Get("Content-Type"))
			}
			x := parseDoc(t, b).Root()
			if got := x.SelectAttrValue("targetNamespace", ""); got != ns {
				t.Errorf("%s: targetNamespace %s, imported as %s", loc, got, ns)
			}
			load(x)
		}
	}
	for _, sc := range kids(types[0], NSXSD, "schema") {
		load(sc)
	}
	if len(seen) != 3 {
		t.Errorf("loaded %d schema documents, want 3 (%v)", len(seen), seen)
	}
	set := newSchemaSet(t, schemas)
	for _, ns := range []string{NSWorkflowServices, NSSerialization, NSActivities} {
		if !set.hasNamespace(ns) {
			t.Errorf("no schema for %s", ns)
		}
	}
	for _, p := range append(set.problems(t), set.partProblems(t, defs)...) {
		t.Error(p)
	}
	if !set.components["type {"+NSActivities+"}WorkflowIdentity"] || !set.components["type {"+NSSerialization+"}guid"] {
		t.Error("WorkflowIdentity or guid type not in the schema set")
	}
}

func TestSchemaSetResolvesSingleWSDL(t *testing.T) {
	defs := parseDoc(t, SingleWSDL(testURL)).Root()
	schemas := kids(kids(defs, NSWSDL, "types")[0], NSXSD, "schema")
	if len(schemas) != 3 {
		t.Fatalf("%d inline schemas, want 3", len(schemas))
	}
	for _, sc := range schemas {
		for _, imp := range kids(sc, NSXSD, "import") {
			if imp.SelectAttr("schemaLocation") != nil {
				t.Errorf("single WSDL import of %s has a schemaLocation", imp.SelectAttrValue("namespace", ""))
			}
		}
	}
	set := newSchemaSet(t, schemas)
	for _, p := range append(set.problems(t), set.partProblems(t, defs)...) {
		t.Error(p)
	}
	// The inlined schemas are the served ones without their locations, each after the
	// schemas it imports: Serialization (xsd1), System.Activities (xsd2), WorkflowServices (xsd0).
	for i, name := range []string{"xsd1", "xsd2", "xsd0"} {
		x, _ := XSD(name, testURL)
		want := parseDoc(t, x).Root()
		for _, imp := range kids(want, NSXSD, "import") {
			imp.RemoveAttr("schemaLocation")
		}
		if canonical(t, schemas[i]) != canonical(t, want) {
			t.Errorf("inline schema %d differs from ?xsd=%s", i, name)
		}
	}
	// A strict importer resolves an import without schemaLocation only to a schema it
	// has already read: every imported namespace must be inlined before its importer.
	seen := map[string]bool{}
	for i, sc := range schemas {
		for _, imp := range kids(sc, NSXSD, "import") {
			if ns := imp.SelectAttrValue("namespace", ""); !seen[ns] {
				t.Errorf("inline schema %d (%s) imports %s, which is not inlined before it",
					i, sc.SelectAttrValue("targetNamespace", ""), ns)
			}
		}
		seen[sc.SelectAttrValue("targetNamespace", "")] = true
	}
}

// The checker must catch what the spec's own schema set gets wrong.
func TestSchemaCheckerCatchesSpecMissingImport(t *testing.T) {
	var schemas []*etree.Element
	for _, b := range [][]byte{SpecWorkflowServicesSchema(), SpecSerializationSchema(), SpecWorkflowIdentitySchema()} {
		schemas = append(schemas, parseDoc(t, b).Root())
	}
	probs := newSchemaSet(t, schemas).problems(t)
	want := "schema " + NSWorkflowServices + " references {" + NSActivities + "}WorkflowIdentity without importing its namespace"
	if !slices.Contains(probs, want) || len(probs) != 2 { // Update and TransactedUpdate
		t.Errorf("problems %q, want twice %q", probs, want)
	}
}

func TestServedSchemas(t *testing.T) {
	// xsd0 = spec schema + locations + the System.Activities import; nothing else.
	x0, ok := XSD("xsd0", testURL)
	if !ok {
		t.Fatal("no xsd0")
	}
	got := parseDoc(t, x0).Root()
	spec := parseDoc(t, SpecWorkflowServicesSchema()).Root()
	imports := kids(got, NSXSD, "import")
	wantImp := map[string]string{NSSerialization: testURL + "?xsd=xsd1", NSActivities: testURL + "?xsd=xsd2"}
	if len(imports) != len(wantImp) {
		t.Errorf("xsd0 has %d imports", len(imports))
	}
	for _, imp := range imports {
		if loc := wantImp[imp.SelectAttrValue("namespace", "")]; loc == "" || imp.SelectAttrValue("schemaLocation", "") != loc {
			t.Errorf("xsd0 import %s at %s", imp.SelectAttrValue("namespace", ""), imp.SelectAttrValue("schemaLocation", ""))
		}
		got.RemoveChild(imp)
	}
	for _, imp := range kids(spec, NSXSD, "import") {
		spec.RemoveChild(imp)
	}
	if canonical(t, got) != canonical(t, spec) {
		t.Error("xsd0 differs from the spec's WorkflowServices schema beyond its imports")
	}
	for name, want := range map[string][]byte{"xsd1": SpecSerializationSchema(), "xsd2": SpecWorkflowIdentitySchema()} {
		if b, ok := XSD(name, testURL); !ok || !bytes.Equal(b, want) {
			t.Errorf("%s is not the spec document", name)
		}
	}
	for _, bad := range []string{"", "xsd3", "XSD0", "xsd", "../xsd0"} {
		if _, ok := XSD(bad, testURL); ok {
			t.Errorf("XSD(%q) found", bad)
		}
	}
}

func TestServeControlMetadata(t *testing.T) {
	x0, _ := XSD("xsd0", testURL)
	x1, _ := XSD("xsd1", testURL)
	x2, _ := XSD("xsd2", testURL)
	for _, c := range []struct {
		method, query string
		code          int
		body          []byte
	}{
		{"GET", "wsdl", 200, WSDL(testURL)},
		{"GET", "WSDL", 200, WSDL(testURL)},
		{"GET", "singleWsdl", 200, SingleWSDL(testURL)},
		{"GET", "singlewsdl", 200, SingleWSDL(testURL)},
		{"GET", "xsd=xsd0", 200, x0},
		{"GET", "xsd=xsd1", 200, x1},
		{"GET", "xsd=xsd2", 200, x2},
		{"GET", "XSD=xsd2", 200, x2},
		{"HEAD", "wsdl", 200, nil},
		{"GET", "xsd=xsd3", 404, nil},
		{"GET", "xsd=", 404, nil},
		{"GET", "xsd", 404, nil},
		{"GET", "xsd=wsdl", 404, nil},
		{"GET", "wsdl=wsdl0", 404, nil},
		{"GET", "", 404, nil},
		{"GET", "foo", 404, nil},
		{"POST", "wsdl", 405, nil},
		{"PUT", "xsd=xsd0", 405, nil},
	} {
		r := httptest.NewRequest(c.method, "/WorkflowControl?"+c.query, nil)
		w := httptest.NewRecorder()
		ServeControlMetadata(w, r, testURL)
		if w.Code != c.code {
			t.Errorf("%s ?%s: status %d, want %d", c.method, c.query, w.Code, c.code)
			continue
		}
		if c.code != 200 {
			continue
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/xml; charset=utf-8" {
			t.Errorf("%s ?%s: Content-Type %q", c.method, c.query, ct)
		}
		if c.method == "HEAD" {
			if w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(WSDL(testURL))) {
				t.Errorf("HEAD: body %d bytes, Content-Length %s", w.Body.Len(), w.Header().Get("Content-Length"))
			}
			continue
		}
		if !bytes.Equal(w.Body.Bytes(), c.body) {
			t.Errorf("%s ?%s: unexpected body", c.method, c.query)
		}
	}
}

func TestIsMetadataRequest(t *testing.T) {
	for _, c := range []struct {
		method, target string
		want           bool
	}{
		{"GET", "/WorkflowControl?wsdl", true},
		{"HEAD", "/WorkflowControl?singleWsdl", true},
		{"GET", "/WorkflowControl?xsd=xsd9", true}, // ours to answer (404)
		{"GET", "/WorkflowControl", false},
		{"GET", "/WorkflowControl?foo=bar", false},
		{"POST", "/WorkflowControl?wsdl", false},
	} {
		if got := IsMetadataRequest(httptest.NewRequest(c.method, c.target, nil)); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.target, got, c.want)
		}
	}
}
