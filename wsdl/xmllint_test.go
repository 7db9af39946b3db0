package wsdl

// Compiles the published schemas with libxml2's XML Schema processor (xmllint --schema,
// Debian package libxml2-utils) and validates sample elements with them:
//
//	apt-get install -y libxml2-utils
//
// Without it these tests skip, unless WIMP_REQUIRE_INTEROP=1 (CI).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/internal/testserver"
)

const xmllintPackage = "libxml2-utils"

// Sample elements each schema must validate, by target namespace.
var schemaSamples = map[string]string{
	NSSerialization: `<guid xmlns="` + NSSerialization + `">3f2504e0-4f89-41d3-9a0c-0305e82c3301</guid>`,
	NSActivities: `<WorkflowIdentity xmlns="` + NSActivities + `"><name>ExpenseApproval</name>` +
		`<package>wimp.samples</package><version>1.0.0.0</version></WorkflowIdentity>`,
	NSWorkflowServices: `<Update xmlns="` + NSWorkflowServices + `"><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId>` +
		`<updatedDefinitionIdentity><name xmlns="` + NSActivities + `">ExpenseApproval</name>` +
		`<package xmlns="` + NSActivities + `">wimp.samples</package><version xmlns="` + NSActivities + `">1.0.0.0</version>` +
		`</updatedDefinitionIdentity></Update>`,
}

// xmllint validates the sample for targetNS against schema (a path or URL) in dir and
// returns what xmllint printed besides "sample.xml validates": "" when the schema
// compiled without a warning or error and the sample is valid.
func xmllint(t *testing.T, bin, dir, schema, targetNS string) string {
	t.Helper()
	sample := filepath.Join(dir, "sample.xml")
	if err := os.WriteFile(sample, []byte(schemaSamples[targetNS]), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testserver.RunTool(dir, time.Minute, bin, "--noout", "--schema", schema, "sample.xml")
	rest := strings.TrimSpace(strings.Replace(out, "sample.xml validates", "", 1))
	if err != nil && rest == "" {
		rest = err.Error()
	}
	return rest
}

// TestXmllintWSDLSchemas: the ?xsd=xsdN documents ?wsdl links, fetched by xmllint
// over HTTP with their schemaLocation imports, compile and validate.
func TestXmllintWSDLSchemas(t *testing.T) {
	bin := testserver.LookTool(t, "xmllint", "xmllint (Debian package libxml2-utils)", xmllintPackage)
	srv := serve(t, nil)
	svc := srv.URL + "/WorkflowControl"
	wsdlDoc := parseDoc(t, WSDL(svc)).Root()
	var locations []string
	for _, sc := range kids(kids(wsdlDoc, NSWSDL, "types")[0], NSXSD, "schema") {
		for _, imp := range kids(sc, NSXSD, "import") {
			locations = append(locations, imp.SelectAttrValue("schemaLocation", ""))
		}
	}
	if len(locations) != 3 {
		t.Fatalf("?wsdl imports %d schemas, want 3: %v", len(locations), locations)
	}
	dir := t.TempDir()
	for _, loc := range locations {
		name := strings.TrimPrefix(loc, svc+"?xsd=")
		x, ok := XSD(name, svc)
		if !ok {
			t.Fatalf("?wsdl imports %s, which is not served", loc)
		}
		ns := parseDoc(t, x).Root().SelectAttrValue("targetNamespace", "")
		if msg := xmllint(t, bin, dir, loc, ns); msg != "" {
			t.Errorf("xmllint --schema %s:\n%s", loc, msg)
		} else {
			t.Logf("xmllint --schema %s: compiles without warnings, validates a {%s} element", loc, ns)
		}
	}
}

// strictSet writes schemas, in this order, to files in dir the way a strict importer
// reads inlined schemas: a schema's import (which has no schemaLocation) is given the
// file of the schema of that namespace only if that schema comes before it; an import
// of a later one keeps no location, so libxml2 cannot resolve what it references
// (src-resolve, as JAX-WS's wsimport reports it). It returns the file names and target
// namespaces.
func strictSet(t *testing.T, dir string, schemas []*etree.Element) (files, namespaces []string) {
	t.Helper()
	read := map[string]string{} // namespace → file of a schema already read
	for i, sc := range schemas {
		c := sc.Copy()
		for p := sc.Parent(); p != nil; p = p.Parent() { // namespace declarations in scope
			for _, a := range p.Attr {
				if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && c.SelectAttr(a.FullKey()) == nil {
					c.CreateAttr(a.FullKey(), a.Value)
				}
			}
		}
		for _, imp := range kids(c, NSXSD, "import") {
			if f, ok := read[imp.SelectAttrValue("namespace", "")]; ok {
				imp.CreateAttr("schemaLocation", f)
			}
		}
		doc := etree.NewDocument()
		doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
		doc.SetRoot(c)
		name := fmt.Sprintf("schema%d.xsd", i)
		if err := doc.WriteToFile(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		ns := c.SelectAttrValue("targetNamespace", "")
		read[ns] = name
		files, namespaces = append(files, name), append(namespaces, ns)
	}
	return files, namespaces
}

// TestXmllintSingleWSDLSchemas: the schemas inlined in ?singleWsdl compile and validate
// in document order, each seeing only the schemas before it; and the check catches the
// order wsimport warned about (WorkflowServices before the two it imports).
func TestXmllintSingleWSDLSchemas(t *testing.T) {
	bin := testserver.LookTool(t, "xmllint", "xmllint (Debian package libxml2-utils)", xmllintPackage)
	defs := parseDoc(t, SingleWSDL(testURL)).Root()
	schemas := kids(kids(defs, NSWSDL, "types")[0], NSXSD, "schema")
	if len(schemas) != 3 {
		t.Fatalf("%d inline schemas, want 3", len(schemas))
	}
	dir := t.TempDir()
	files, namespaces := strictSet(t, dir, schemas)
	for i, f := range files {
		if msg := xmllint(t, bin, dir, f, namespaces[i]); msg != "" {
			t.Errorf("inline schema %d ({%s}), with only the schemas before it: xmllint --schema:\n%s", i, namespaces[i], msg)
		} else {
			t.Logf("inline schema %d {%s}: compiles without warnings with only the schemas before it, validates a sample", i, namespaces[i])
		}
	}

	// WorkflowServices first: its references to guid and WorkflowIdentity cannot resolve.
	var wsFirst []*etree.Element
	for _, sc := range schemas {
		if sc.SelectAttrValue("targetNamespace", "") == NSWorkflowServices {
			wsFirst = append([]*etree.Element{sc}, wsFirst...)
		} else {
			wsFirst = append(wsFirst, sc)
		}
	}
	bad := t.TempDir()
	files, namespaces = strictSet(t, bad, wsFirst)
	msg := xmllint(t, bin, bad, files[0], namespaces[0])
	for _, want := range []string{"{" + NSSerialization + "}guid' does not resolve", "{" + NSActivities + "}WorkflowIdentity' does not resolve"} {
		if !strings.Contains(msg, want) {
			t.Errorf("with WorkflowServices inlined first, xmllint does not report %q:\n%s", want, msg)
		}
	}
}
