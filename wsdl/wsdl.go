// Package wsdl holds the metadata of the MS-WFIM control endpoint: the
// protocol's WSDL and XML schemas exactly as published in [MS-WFIM] §6
// (embedded under spec/), and the documents wimp serves from them at
// GET /WorkflowControl?wsdl, ?singleWsdl and ?xsd=xsdN.
//
// The served WSDL is the spec's WSDL with
//   - its messages, portType and SOAP 1.1 binding unchanged (byte for byte),
//   - a wsdl:types section that imports the three schema documents with
//     schemaLocation="{serviceURL}?xsd=xsdN", as WCF does (?singleWsdl inlines
//     them instead, each after the schemas it imports: see SingleWSDL),
//   - a SOAP 1.2 binding of the same portType (Soap12Binding_IWorkflowInstanceManagement),
//   - a wsdl:service "WorkflowControlService" with one port per binding whose
//     address is the service URL the caller passes in.
//
// The spec's WorkflowServices schema imports only the Serialization namespace
// although Update's updatedDefinitionIdentity is a
// {http://schemas.datacontract.org/2004/07/System.Activities}WorkflowIdentity;
// the served copy also imports that namespace so that schema processors can
// resolve the reference.
package wsdl

import (
	_ "embed"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Namespaces used by the MS-WFIM metadata.
const (
	// NSWorkflowServices is the target namespace of the WSDL and of the
	// operation elements (xsd0).
	NSWorkflowServices = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	// NSSerialization is the DataContract serialization namespace (xsd1).
	NSSerialization = "http://schemas.microsoft.com/2003/10/Serialization/"
	// NSActivities is the namespace of WorkflowIdentity (xsd2).
	NSActivities = "http://schemas.datacontract.org/2004/07/System.Activities"

	NSWSDL     = "http://schemas.xmlsoap.org/wsdl/"
	NSWSDLSOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
	NSSOAP12   = "http://schemas.xmlsoap.org/wsdl/soap12/"
	NSWSAW     = "http://www.w3.org/2006/05/addressing/wsdl"
	NSXSD      = "http://www.w3.org/2001/XMLSchema"

	// HTTPTransport is the transport URI of both SOAP bindings.
	HTTPTransport = "http://schemas.xmlsoap.org/soap/http"
)

// Names of the WSDL components wimp publishes.
const (
	PortTypeName     = "IWorkflowInstanceManagement"
	SOAP11Binding    = "DefaultBinding_IWorkflowInstanceManagement" // the spec's binding
	SOAP12Binding    = "Soap12Binding_IWorkflowInstanceManagement"  // added by wimp
	ServiceName      = "WorkflowControlService"
	SOAP11PortName   = SOAP11Binding
	SOAP12PortName   = SOAP12Binding
	ContentType      = "text/xml; charset=utf-8"
	importsNamespace = NSWorkflowServices + "/Imports"
)

var (
	//go:embed spec/wsdl.xml
	specWSDL []byte
	//go:embed spec/workflowservices.xsd
	specWorkflowServicesXSD []byte
	//go:embed spec/serialization.xsd
	specSerializationXSD []byte
	//go:embed spec/workflowidentity.xsd
	specWorkflowIdentityXSD []byte
)

// SpecWSDL returns the WSDL of [MS-WFIM] §6.1, exactly as published.
func SpecWSDL() []byte { return clone(specWSDL) }

// SpecWorkflowServicesSchema returns the first schema of [MS-WFIM] §6.2
// (target namespace NSWorkflowServices), exactly as published.
func SpecWorkflowServicesSchema() []byte { return clone(specWorkflowServicesXSD) }

// SpecSerializationSchema returns the second schema of [MS-WFIM] §6.2
// (target namespace NSSerialization), exactly as published.
func SpecSerializationSchema() []byte { return clone(specSerializationXSD) }

// SpecWorkflowIdentitySchema returns the schema of [MS-WFIM] §6.3 (target
// namespace NSActivities), exactly as published.
func SpecWorkflowIdentitySchema() []byte { return clone(specWorkflowIdentityXSD) }

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Operation is one operation of the IWorkflowInstanceManagement portType.
type Operation struct {
	Name           string // e.g. "Suspend"
	Action         string // input wsaw:Action = SOAP 1.1 soapAction
	ResponseAction string // output wsaw:Action
}

// Operations returns the 13 operations of the spec's portType, in portType
// order, with their actions as the spec's WSDL declares them.
func Operations() []Operation {
	return append([]Operation(nil), mustParts().ops...)
}

// Schema names accepted by ?xsd=, in the order the WSDL imports them.
var schemaNames = []string{"xsd0", "xsd1", "xsd2"}

// SchemaNames returns the names served at ?xsd=NAME: xsd0 (WorkflowServices),
// xsd1 (Serialization), xsd2 (System.Activities / WorkflowIdentity).
func SchemaNames() []string { return append([]string(nil), schemaNames...) }

// parts is the spec WSDL cut where the served documents differ from it.
type parts struct {
	head      string // from the start up to (excluding) <wsdl:types>
	body      string // from after </wsdl:types> up to (excluding) </wsdl:definitions>
	tail      string // "</wsdl:definitions>" and what follows
	soap12    string // the SOAP 1.2 binding, indented like the spec's
	ops       []Operation
	schemaNS  map[string]string // xsd name → target namespace
	xsd0Head  string            // spec xsd0 up to (excluding) its Serialization import
	xsd0Tail  string            // spec xsd0 after that import
	xsd1      string
	xsd2      string
	xsd0Inner string // xsd0 without the XML declaration, single-WSDL imports
	xsd1Inner string
	xsd2Inner string
}

const (
	typesOpen    = "  <wsdl:types>"
	typesClose   = "</wsdl:types>\n"
	defsClose    = "</wsdl:definitions>"
	xsd0SerImprt = `  <xs:import namespace="http://schemas.microsoft.com/2003/10/Serialization/" />` + "\n"
)

var mustParts = sync.OnceValue(func() *parts {
	p, err := split()
	if err != nil {
		// The inputs are embedded constants checked by the tests: this
		// cannot happen in a built binary unless spec/ was edited wrongly.
		panic("wsdl: embedded spec documents: " + err.Error())
	}
	return p
})

func split() (*parts, error) {
	s := string(specWSDL)
	i := strings.Index(s, typesOpen)
	j := strings.Index(s, typesClose)
	k := strings.LastIndex(s, defsClose)
	if i < 0 || j < i || k < j {
		return nil, fmt.Errorf("spec WSDL lacks %q…%q…%q", typesOpen, typesClose, defsClose)
	}
	p := &parts{head: s[:i], body: s[j+len(typesClose) : k], tail: s[k:]}

	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(specWSDL); err != nil {
		return nil, err
	}
	root := doc.Root()
	pt := findNamed(root, NSWSDL, "portType", PortTypeName)
	b11 := findNamed(root, NSWSDL, "binding", SOAP11Binding)
	if pt == nil || b11 == nil {
		return nil, fmt.Errorf("spec WSDL lacks portType %s or binding %s", PortTypeName, SOAP11Binding)
	}
	for _, op := range children(pt, NSWSDL, "operation") {
		in, out := firstChild(op, NSWSDL, "input"), firstChild(op, NSWSDL, "output")
		if in == nil || out == nil {
			return nil, fmt.Errorf("portType operation %s lacks input or output", op.SelectAttrValue("name", ""))
		}
		p.ops = append(p.ops, Operation{
			Name:           op.SelectAttrValue("name", ""),
			Action:         attrNS(in, NSWSAW, "Action"),
			ResponseAction: attrNS(out, NSWSAW, "Action"),
		})
	}
	if len(p.ops) != 13 {
		return nil, fmt.Errorf("spec portType has %d operations, want 13", len(p.ops))
	}

	// The SOAP 1.2 binding mirrors the spec's SOAP 1.1 binding operation by
	// operation (same order, same soapAction, document/literal).
	var sb strings.Builder
	fmt.Fprintf(&sb, "  <wsdl:binding name=\"%s\" type=\"tns:%s\">\n", SOAP12Binding, PortTypeName)
	fmt.Fprintf(&sb, "    <soap12:binding transport=\"%s\" />\n", HTTPTransport)
	for _, op := range children(b11, NSWSDL, "operation") {
		so := firstChild(op, NSWSDLSOAP, "operation")
		if so == nil {
			return nil, fmt.Errorf("binding operation %s lacks soap:operation", op.SelectAttrValue("name", ""))
		}
		fmt.Fprintf(&sb, "    <wsdl:operation name=\"%s\">\n", escapeAttr(op.SelectAttrValue("name", "")))
		fmt.Fprintf(&sb, "      <soap12:operation soapAction=\"%s\" style=\"document\" />\n", escapeAttr(so.SelectAttrValue("soapAction", "")))
		sb.WriteString("      <wsdl:input>\n        <soap12:body use=\"literal\" />\n      </wsdl:input>\n")
		sb.WriteString("      <wsdl:output>\n        <soap12:body use=\"literal\" />\n      </wsdl:output>\n")
		sb.WriteString("    </wsdl:operation>\n")
	}
	sb.WriteString("  </wsdl:binding>\n")
	p.soap12 = sb.String()

	// Schemas.
	x0 := string(specWorkflowServicesXSD)
	n := strings.Index(x0, xsd0SerImprt)
	if n < 0 {
		return nil, fmt.Errorf("spec WorkflowServices schema lacks %q", xsd0SerImprt)
	}
	p.xsd0Head, p.xsd0Tail = x0[:n], x0[n+len(xsd0SerImprt):]
	p.xsd1, p.xsd2 = string(specSerializationXSD), string(specWorkflowIdentityXSD)
	p.schemaNS = map[string]string{}
	for name, src := range map[string][]byte{"xsd0": specWorkflowServicesXSD, "xsd1": specSerializationXSD, "xsd2": specWorkflowIdentityXSD} {
		d := etree.NewDocument()
		if err := d.ReadFromBytes(src); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.schemaNS[name] = d.Root().SelectAttrValue("targetNamespace", "")
	}
	if p.schemaNS["xsd0"] != NSWorkflowServices || p.schemaNS["xsd1"] != NSSerialization || p.schemaNS["xsd2"] != NSActivities {
		return nil, fmt.Errorf("unexpected schema target namespaces %v", p.schemaNS)
	}
	p.xsd0Inner = indent(stripDecl(p.xsd0Head+xsd0Imports("")+p.xsd0Tail), "    ")
	p.xsd1Inner = indent(stripDecl(p.xsd1), "    ")
	p.xsd2Inner = indent(stripDecl(p.xsd2), "    ")
	return p, nil
}

// xsd0Imports are the imports of the served WorkflowServices schema. With an
// empty serviceURL (single WSDL) they carry no schemaLocation.
func xsd0Imports(serviceURL string) string {
	if serviceURL == "" {
		return `  <xs:import namespace="` + NSSerialization + `" />` + "\n" +
			`  <xs:import namespace="` + NSActivities + `" />` + "\n"
	}
	return `  <xs:import schemaLocation="` + escapeAttr(xsdLocation(serviceURL, "xsd1")) + `" namespace="` + NSSerialization + `" />` + "\n" +
		`  <xs:import schemaLocation="` + escapeAttr(xsdLocation(serviceURL, "xsd2")) + `" namespace="` + NSActivities + `" />` + "\n"
}

func xsdLocation(serviceURL, name string) string { return serviceURL + "?xsd=" + name }

func stripDecl(s string) string {
	if strings.HasPrefix(s, "<?xml") {
		if i := strings.Index(s, "?>"); i >= 0 {
			s = strings.TrimLeft(s[i+2:], "\r\n")
		}
	}
	return s
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" && l != "\n" {
			b.WriteString(by)
		}
		b.WriteString(l)
	}
	out := b.String()
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

func service(serviceURL string) string {
	u := escapeAttr(serviceURL)
	return "  <wsdl:service name=\"" + ServiceName + "\">\n" +
		"    <wsdl:port name=\"" + SOAP11PortName + "\" binding=\"tns:" + SOAP11Binding + "\">\n" +
		"      <soap:address location=\"" + u + "\" />\n" +
		"    </wsdl:port>\n" +
		"    <wsdl:port name=\"" + SOAP12PortName + "\" binding=\"tns:" + SOAP12Binding + "\">\n" +
		"      <soap12:address location=\"" + u + "\" />\n" +
		"    </wsdl:port>\n" +
		"  </wsdl:service>\n"
}

// WSDL returns the control endpoint's WSDL as served at {serviceURL}?wsdl.
// serviceURL is the absolute URL of the endpoint without a query, e.g.
// "http://127.0.0.1:8080/WorkflowControl"; it becomes both ports' address and
// the base of the schemaLocation of each imported schema ({serviceURL}?xsd=xsdN).
func WSDL(serviceURL string) []byte {
	p := mustParts()
	var b strings.Builder
	b.WriteString(p.head)
	b.WriteString(typesOpen + "\n")
	b.WriteString("    <xsd:schema targetNamespace=\"" + importsNamespace + "\">\n")
	for _, name := range schemaNames {
		fmt.Fprintf(&b, "      <xsd:import schemaLocation=\"%s\" namespace=\"%s\" />\n",
			escapeAttr(xsdLocation(serviceURL, name)), p.schemaNS[name])
	}
	b.WriteString("    </xsd:schema>\n")
	b.WriteString("  " + typesClose)
	b.WriteString(p.body)
	b.WriteString(p.soap12)
	b.WriteString(service(serviceURL))
	b.WriteString(p.tail)
	return []byte(b.String())
}

// singleWSDLOrder is the order of the inlined schemas in ?singleWsdl: each one after
// the schemas it imports. Their imports carry no schemaLocation, and a strict importer
// (JAX-WS's wsimport) resolves such an import only to a schema it has already read:
// with WorkflowServices first it warns src-resolve for q1:guid and q2:WorkflowIdentity.
var singleWSDLOrder = []string{"xsd1", "xsd2", "xsd0"}

// SingleWSDL returns the control endpoint's WSDL as served at
// {serviceURL}?singleWsdl: like WSDL, but with the three schemas inlined in
// wsdl:types instead of imported by location, Serialization and System.Activities
// before WorkflowServices, which imports both.
func SingleWSDL(serviceURL string) []byte {
	p := mustParts()
	inner := map[string]string{"xsd0": p.xsd0Inner, "xsd1": p.xsd1Inner, "xsd2": p.xsd2Inner}
	var b strings.Builder
	b.WriteString(p.head)
	b.WriteString(typesOpen + "\n")
	for _, name := range singleWSDLOrder {
		b.WriteString(inner[name])
	}
	b.WriteString("  " + typesClose)
	b.WriteString(p.body)
	b.WriteString(p.soap12)
	b.WriteString(service(serviceURL))
	b.WriteString(p.tail)
	return []byte(b.String())
}

// XSD returns the schema document served at {serviceURL}?xsd=name, and
// false if there is no schema of that name. xsd0 is the spec's
// WorkflowServices schema whose imports carry schemaLocation attributes and
// include the System.Activities namespace; xsd1 and xsd2 are the spec's
// Serialization and WorkflowIdentity schemas unchanged.
func XSD(name, serviceURL string) ([]byte, bool) {
	p := mustParts()
	switch name {
	case "xsd0":
		return []byte(p.xsd0Head + xsd0Imports(serviceURL) + p.xsd0Tail), true
	case "xsd1":
		return []byte(p.xsd1), true
	case "xsd2":
		return []byte(p.xsd2), true
	}
	return nil, false
}

// MetadataKind is what a GET on the control endpoint asks for.
type MetadataKind int

const (
	NotMetadata    MetadataKind = iota // no metadata query: not for this package
	KindWSDL                           // ?wsdl
	KindSingleWSDL                     // ?singleWsdl
	KindXSD                            // ?xsd=NAME
)

// Classify tells which metadata document a request's query asks for, and for
// KindXSD the schema name. Query keys match case-insensitively, as WCF's do
// (?wsdl, ?WSDL, ?singleWsdl, ?xsd=xsd0).
func Classify(r *http.Request) (MetadataKind, string) {
	var kind MetadataKind
	var name string
	for k, v := range r.URL.Query() {
		switch {
		case strings.EqualFold(k, "xsd"):
			return KindXSD, first(v)
		case strings.EqualFold(k, "singleWsdl"):
			kind = KindSingleWSDL
		case strings.EqualFold(k, "wsdl") && kind == NotMetadata:
			kind, name = KindWSDL, first(v)
		}
	}
	return kind, name
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// IsMetadataRequest reports whether r is a GET or HEAD whose query asks for
// ?wsdl, ?singleWsdl or ?xsd=…, i.e. one ServeControlMetadata answers.
func IsMetadataRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	k, _ := Classify(r)
	return k != NotMetadata
}

// ServeControlMetadata answers GET/HEAD {serviceURL}?wsdl, ?singleWsdl and
// ?xsd=xsd0|xsd1|xsd2 with Content-Type "text/xml; charset=utf-8". Unknown
// schema names, ?wsdl=anything and requests without a metadata query get 404;
// other methods 405. serviceURL is the endpoint's own absolute URL (the
// server's public base URL and the endpoint's path; never taken from the
// request's Host header), written into port addresses and schema locations.
func ServeControlMetadata(w http.ResponseWriter, r *http.Request, serviceURL string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var doc []byte
	switch kind, name := Classify(r); kind {
	case KindWSDL:
		if name != "" {
			http.NotFound(w, r)
			return
		}
		doc = WSDL(serviceURL)
	case KindSingleWSDL:
		doc = SingleWSDL(serviceURL)
	case KindXSD:
		var ok bool
		if doc, ok = XSD(name, serviceURL); !ok {
			http.NotFound(w, r)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc)
	}
}

var attrEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;",
	"\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;",
)

func escapeAttr(s string) string { return attrEscaper.Replace(s) }

// etree helpers resolving namespace prefixes.

func findNamed(parent *etree.Element, ns, local, name string) *etree.Element {
	for _, c := range children(parent, ns, local) {
		if c.SelectAttrValue("name", "") == name {
			return c
		}
	}
	return nil
}

func children(parent *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range parent.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func firstChild(parent *etree.Element, ns, local string) *etree.Element {
	if c := children(parent, ns, local); len(c) > 0 {
		return c[0]
	}
	return nil
}

func attrNS(e *etree.Element, ns, local string) string {
	for _, a := range e.Attr {
		if a.Key == local && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}
