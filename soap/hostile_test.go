package soap

import (
	"context"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// The tests in this file derive their expectations from the specifications, and spell every URI
// out literally (never through this package's constants), so a wrong constant cannot make a wrong
// expectation.
const (
	litEnv11  = "http://schemas.xmlsoap.org/soap/envelope/"
	litEnv12  = "http://www.w3.org/2003/05/soap-envelope"
	litWS     = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	litAction = "http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/"
	litID     = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)

// lit11 and lit12 are SOAP 1.1 and 1.2 envelopes (prefix s) with literal namespaces; header
// "" means no Header element.
func lit11(header, body string) string {
	h := ""
	if header != "" {
		h = "<s:Header>" + header + "</s:Header>"
	}
	return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
}

func lit12(header, body string) string {
	h := ""
	if header != "" {
		h = "<s:Header>" + header + "</s:Header>"
	}
	return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
}

func litOp(op string) string {
	return `<` + op + ` xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` + litID + `</instanceId></` + op + `>`
}

// TestConstantsLiteral: the URIs this package compares against are those of the specifications.
func TestConstantsLiteral(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{NS11, "http://schemas.xmlsoap.org/soap/envelope/"},             // SOAP 1.1 §4.1.2
		{NS12, "http://www.w3.org/2003/05/soap-envelope"},               // SOAP 1.2 Part 1 §5
		{RoleNext, "http://www.w3.org/2003/05/soap-envelope/role/next"}, // SOAP 1.2 Part 1 §2.2
		{RoleUltimateReceiver, "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"},
		{ActorNext, "http://schemas.xmlsoap.org/soap/actor/next"}, // SOAP 1.1 §4.2.2
		{NSXML, "http://www.w3.org/XML/1998/namespace"},           // Namespaces in XML 1.0 §3
		{WSA10, "http://www.w3.org/2005/08/addressing"},
		{WSA0408, "http://schemas.xmlsoap.org/ws/2004/08/addressing"},
	} {
		if c.got != c.want {
			t.Errorf("constant %q, want %q", c.got, c.want)
		}
	}
}

// TestRoles: SOAP 1.2 Part 1 §2.2 and §5.2.2: a header block whose role is next or
// ultimateReceiver is targeted at the ultimate receiver; with mustUnderstand="true" it must be
// understood (§2.4) or the message faults with env:MustUnderstand (§5.4.8), and nothing else of
// the message is processed. Role none is never processed. SOAP 1.1 §4.2.2: the actor
// http://schemas.xmlsoap.org/soap/actor/next addresses the first receiver.
func TestRoles(t *testing.T) {
	const coord = "http://schemas.xmlsoap.org/ws/2004/10/wscoor"
	for _, tc := range []struct {
		name, body, ct string
		op             string // operation that must run; "" means a MustUnderstand fault
		notUnderstood  []QName
	}{
		{"1.2 role next", lit12(`<x:A s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:x="urn:x"/>`, litOp("Run")),
			"application/soap+xml", "", []QName{{"urn:x", "A"}}},
		{"1.2 role ultimateReceiver", lit12(`<x:A s:mustUnderstand="1" s:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver" xmlns:x="urn:x"/>`, litOp("Run")),
			"application/soap+xml", "", []QName{{"urn:x", "A"}}},
		{"1.2 role next with surrounding white space", lit12(`<x:A s:mustUnderstand="true" s:role=" http://www.w3.org/2003/05/soap-envelope/role/next " xmlns:x="urn:x"/>`, litOp("Run")),
			"application/soap+xml", "", []QName{{"urn:x", "A"}}},
		{"1.2 WS-AT CoordinationContext role next on TransactedTerminate",
			lit12(`<c:CoordinationContext s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:c="http://schemas.xmlsoap.org/ws/2004/10/wscoor"><c:Identifier>urn:uuid:1</c:Identifier></c:CoordinationContext>`,
				`<TransactedTerminate xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>r</reason></TransactedTerminate>`),
			"application/soap+xml", "", []QName{{coord, "CoordinationContext"}}},
		{"1.2 role next, envelope prefix env", `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header><x:A env:mustUnderstand="true" env:role="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:x="urn:x"/></env:Header><env:Body>` + litOp("Run") + `</env:Body></env:Envelope>`,
			"application/soap+xml", "", []QName{{"urn:x", "A"}}},
		{"1.2 role none is not processed", lit12(`<x:A s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/none" xmlns:x="urn:x"/>`, litOp("Run")),
			"application/soap+xml", "Run", nil},
		{"1.2 the misspelt role …soap-enveloperole/next is some other role", lit12(`<x:A s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-enveloperole/next" xmlns:x="urn:x"/>`, litOp("Run")),
			"application/soap+xml", "Run", nil},
		{"1.1 actor next", lit11(`<x:A s:mustUnderstand="1" s:actor="http://schemas.xmlsoap.org/soap/actor/next" xmlns:x="urn:x"/>`, litOp("Run")),
			"text/xml", "", []QName{{"urn:x", "A"}}},
		{"1.1 CoordinationContext actor next on TransactedTerminate",
			lit11(`<c:CoordinationContext s:mustUnderstand="1" s:actor="http://schemas.xmlsoap.org/soap/actor/next" xmlns:c="http://schemas.xmlsoap.org/ws/2004/10/wscoor"/>`,
				`<TransactedTerminate xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId></TransactedTerminate>`),
			"text/xml", "", nil},
		{"1.1 a SOAP 1.2 role URI as actor is another actor", lit11(`<x:A s:mustUnderstand="1" s:actor="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:x="urn:x"/>`, litOp("Run")),
			"text/xml", "Run", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := parseReply(t, post(t, testEndpoint(rec, nil), tc.body, "Content-Type", tc.ct))
			got, n := rec.get()
			if tc.op != "" {
				if r.status != 200 || n != 1 || got.Action != litAction+tc.op {
					t.Fatalf("want %s to run: status %d, ran %d\n%s", tc.op, r.status, n, r.raw)
				}
				return
			}
			if n != 0 {
				t.Errorf("the operation ran")
			}
			if r.status != 500 || r.fault == nil || r.fault.Code != MustUnderstand {
				t.Fatalf("want a MustUnderstand fault, got %d\n%s", r.status, r.raw)
			}
			if strings.Contains(tc.ct, "soap+xml") && !sameQNames(r.fault.NotUnderstood, tc.notUnderstood) {
				t.Errorf("NotUnderstood %v, want %v", r.fault.NotUnderstood, tc.notUnderstood)
			}
		})
	}
}

// malformed lists requests that must be refused with a Sender fault (HTTP 500) in the given
// version, the operation never running. Each names the rule it breaks.
var malformed = []struct {
	name, body, ct string
	ver            Version
	reason         string // substring of the fault reason
}{
	// XML 1.0 §3.1 WFC: Unique Att Spec.
	{"duplicate attribute", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" a="1" a="2"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "attribute"},
	{"duplicate attribute on a header block", lit12(`<x:A xmlns:x="urn:x" s:mustUnderstand="false" s:mustUnderstand="true"/>`, litOp("Run")), "application/soap+xml", V12, "attribute"},
	// Namespaces in XML 1.0 §6.3: no two attributes with the same expanded name.
	{"two prefixes bound to one namespace, same local name", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "attribute"},
	{"mustUnderstand twice through two envelope prefixes", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:t="http://www.w3.org/2003/05/soap-envelope"><s:Header><x:A xmlns:x="urn:x" s:mustUnderstand="false" t:mustUnderstand="true"/></s:Header><s:Body>` + litOp("Run") + `</s:Body></s:Envelope>`, "application/soap+xml", V12, "attribute"},
	// A namespace declaration is an attribute: declaring a prefix twice repeats it.
	{"prefix declared twice on one element", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:s="urn:other"><s:Body>` + litOp("Run") + `</s:Body></s:Envelope>`, "text/xml", V11, "attribute"},
	{"default namespace declared twice on one element", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns="urn:x"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "attribute"},
	// Namespaces in XML 1.0 §3 (NSC: No Prefix Undeclaring in 1.0; Reserved Prefixes and Namespace Names).
	{"undeclaring a prefix", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:p=""><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "xmlns:p"},
	{"xml bound to another namespace", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:xml="urn:x"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "xml"},
	{"another prefix bound to the xml namespace", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:x="http://www.w3.org/XML/1998/namespace"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "http://www.w3.org/XML/1998/namespace"},
	{"default namespace bound to the xml namespace", lit11("", `<Run xmlns="http://www.w3.org/XML/1998/namespace"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "http://www.w3.org/XML/1998/namespace"},
	{"xmlns declared as a prefix", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:xmlns="urn:x"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "xmlns"},
	{"a prefix bound to the xmlns namespace", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:x="http://www.w3.org/2000/xmlns/"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "http://www.w3.org/2000/xmlns/"},
	{"xmlns as an element prefix", lit11("", `<xmlns:Run><instanceId>`+litID+`</instanceId></xmlns:Run>`), "text/xml", V11, "xmlns"},
	{"element name that is not a QName", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><a:<instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "not well-formed"},
	{"attribute name that is not a QName", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" :a="1"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "name"},
	{"undeclared attribute prefix", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" q:a="1"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "undeclared"},
	{"prefix used outside its declaration's scope", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><p:x xmlns:p="urn:p"/><p:instanceId>`+litID+`</p:instanceId></Run>`), "text/xml", V11, "undeclared"},
	// XML 1.0 §4.1 WFC: Legal Character, and §2.2 (Char).
	{"reference to a surrogate", lit11("", `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>a&#xD800;b</reason></Suspend>`), "text/xml", V11, "&#xD800;"},
	{"reference to a low surrogate, decimal", lit11("", `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>a&#57343;b</reason></Suspend>`), "text/xml", V11, "&#57343;"},
	{"reference to U+0000", lit11("", `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>a&#0;b</reason></Suspend>`), "text/xml", V11, "U+0000"},
	{"reference to U+0001", lit11("", `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>a&#x1;b</reason></Suspend>`), "text/xml", V11, "U+0001"},
	{"reference to U+FFFE", lit12("", `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>a&#xFFFE;b</reason></Suspend>`), "application/soap+xml", V12, "U+FFFE"},
	{"reference to U+FFFF", lit12("", `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>`+litID+`</instanceId><reason>a&#xffff;b</reason></Suspend>`), "application/soap+xml", V12, "U+FFFF"},
	{"reference to a surrogate in an attribute", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" a="&#xDC00;"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", V11, "&#xDC00;"},
	{"literal U+0001", lit11("", "<Suspend xmlns=\"http://schemas.datacontract.org/2008/10/WorkflowServices\"><instanceId>"+litID+"</instanceId><reason>a\x01b</reason></Suspend>"), "text/xml", V11, "U+0001"},
	{"literal U+0001 in a comment", lit11("", "<!-- \x01 -->"+litOp("Run")), "text/xml", V11, "U+0001"},
	{"literal U+FFFE in an attribute", lit11("", "<Run xmlns=\"http://schemas.datacontract.org/2008/10/WorkflowServices\" a=\"\uFFFE\"><instanceId>"+litID+"</instanceId></Run>"), "text/xml", V11, "U+FFFE"},
	{"invalid UTF-8 in a comment", lit11("", "<!-- \xff -->"+litOp("Run")), "text/xml", V11, "UTF-8"},
	{"UTF-16 unpaired high surrogate", utf16Bytes(lit11("", litOp("Run")), false, true)[:40] + "\x00\xd8A\x00" + utf16Bytes(lit11("", litOp("Run")), false, true)[40:], "text/xml; charset=utf-16", V11, "surrogate"},
	{"UTF-16 lone low surrogate", utf16Bytes(lit11("", litOp("Run")), true, true)[:40] + "\xdc\x00" + utf16Bytes(lit11("", litOp("Run")), true, true)[40:], "text/xml; charset=utf-16", V11, "surrogate"},
	{"UTF-16 literal U+0001", utf16Bytes(lit11("", "<Suspend xmlns=\"http://schemas.datacontract.org/2008/10/WorkflowServices\"><instanceId>"+litID+"</instanceId><reason>\x01</reason></Suspend>"), false, true), "text/xml; charset=utf-16", V11, "U+0001"},
	// XML 1.0 §2.8 and §2.6: the XML declaration only at the very start; PI targets matching
	// [Xx][Mm][Ll] are reserved. SOAP 1.1 §3 and SOAP 1.2 Part 1 §5: no processing instructions.
	{"XML declaration after white space", "\n<?xml version=\"1.0\"?>" + lit11("", litOp("Run")), "text/xml", V11, "XML declaration"},
	{"XML declaration inside the envelope", lit11("", `<?xml version="1.0"?>`+litOp("Run")), "text/xml", V11, "XML declaration"},
	{"XML declaration without version", `<?xml encoding="utf-8"?>` + lit11("", litOp("Run")), "text/xml", V11, "XML declaration"},
	{"processing instruction in the body", lit12("", `<?app data?>`+litOp("Run")), "application/soap+xml", V12, "processing instruction"},
	{"processing instruction before the envelope", `<?app data?>` + lit11("", litOp("Run")), "text/xml", V11, "processing instruction"},
	// SOAP 1.1 §4 and SOAP 1.2 Part 1 §5: Header, if present, is the first child; Body follows.
	{"1.1 Header after Body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + litOp("Run") + `</s:Body><s:Header/></s:Envelope>`, "text/xml", V11, "Header"},
	{"1.2 Header after Body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + litOp("Run") + `</s:Body><s:Header><a:Action xmlns:a="http://www.w3.org/2005/08/addressing">` + litAction + `Run</a:Action></s:Header></s:Envelope>`, "application/soap+xml", V12, "Header"},
	{"1.1 element before the Body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><x:X xmlns:x="urn:x"/><s:Body>` + litOp("Run") + `</s:Body></s:Envelope>`, "text/xml", V11, "Body"},
	{"1.2 element between Header and Body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><x:X xmlns:x="urn:x"/><s:Body>` + litOp("Run") + `</s:Body></s:Envelope>`, "application/soap+xml", V12, "Body"},
	{"1.2 element after the Body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + litOp("Run") + `</s:Body><x:X xmlns:x="urn:x"/></s:Envelope>`, "application/soap+xml", V12, "after the Body"},
	{"1.1 unqualified element after the Body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + litOp("Run") + `</s:Body><X/></s:Envelope>`, "text/xml", V11, "after the Body"},
	// SOAP 1.1 §4.2 and SOAP 1.2 Part 1 §5.2.1: header blocks are namespace-qualified.
	{"unqualified header block", lit12(`<Trace>1</Trace>`, litOp("Run")), "application/soap+xml", V12, "namespace"},
	// SOAP 1.2 Part 1 §5.1, §5.2, §5.3: only white space as character children.
	{"text in the Envelope", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">x<s:Body>` + litOp("Run") + `</s:Body></s:Envelope>`, "application/soap+xml", V12, "text"},
	{"text in the Header", lit11(`x<a:To xmlns:a="http://www.w3.org/2005/08/addressing">urn:x</a:To>`, litOp("Run")), "text/xml", V11, "text"},
	{"text in the Body", lit12("", litOp("Run")+"trailing"), "application/soap+xml", V12, "text"},
	{"CDATA text in the Body", lit11("", "<![CDATA[x]]>"+litOp("Run")), "text/xml", V11, "text"},
	// A request Body of these contracts holds exactly one element, the operation's.
	{"two operation elements", lit11("", litOp("Run")+litOp("Run")), "text/xml", V11, "more than one"},
	{"operation element and another element", lit12("", litOp("Run")+`<x:X xmlns:x="urn:x"/>`), "application/soap+xml", V12, "more than one"},
	// SOAP 1.2 Part 1 §5.2.3, SOAP 1.1 §4.2.3: mustUnderstand is a boolean.
	{"1.2 mustUnderstand not a boolean", lit12(`<x:A s:mustUnderstand="yes" xmlns:x="urn:x"/>`, litOp("Run")), "application/soap+xml", V12, "mustUnderstand"},
	{"1.1 mustUnderstand not a boolean", lit11(`<x:A s:mustUnderstand="2" xmlns:x="urn:x"/>`, litOp("Run")), "text/xml", V11, "mustUnderstand"},
	// XML 1.0 §2.1: one root element, end tags match.
	{"mismatched end tag", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + litOp("Run") + `</s:Envelope></s:Body>`, "text/xml", V11, "not well-formed"},
	{"end tag with another prefix for the same namespace", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + litOp("Run") + `</t:Body></s:Envelope>`, "text/xml", V11, "not well-formed"},
	{"CDATA after the root element", lit11("", litOp("Run")) + "<![CDATA[ ]]>", "text/xml", V11, "outside the root"},
	{"text before the root element", "x" + lit11("", litOp("Run")), "text/xml", V11, "outside the root"},
}

// endpointRules are the malformed cases that break a rule of request processing rather than of
// the envelope's syntax or structure: ParseEnvelope accepts them, the endpoint refuses them.
var endpointRules = map[string]bool{
	"two operation elements":                true,
	"operation element and another element": true,
	"1.2 mustUnderstand not a boolean":      true,
	"1.1 mustUnderstand not a boolean":      true,
}

// TestMalformedRefused: requests that are not well-formed XML, not namespace-well-formed, or not
// SOAP envelopes get a Sender fault in the request's version and the operation never runs.
func TestMalformedRefused(t *testing.T) {
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			ep := testEndpoint(rec, nil)
			r := parseReply(t, post(t, ep, tc.body, "Content-Type", tc.ct))
			if _, n := rec.get(); n != 0 {
				t.Errorf("the operation ran")
			}
			if r.status != 500 || r.fault == nil {
				t.Fatalf("want a fault, got HTTP %d\n%s", r.status, r.raw)
			}
			if r.fault.Code != Sender || len(r.fault.Subcodes) != 0 || r.ver != tc.ver {
				t.Errorf("want a %v Sender fault without subcode, got %v %v %v", tc.ver, r.ver, r.fault.Code, r.fault.Subcodes)
			}
			if !strings.Contains(r.fault.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", r.fault.Reason, tc.reason)
			}
			if _, _, err := ParseEnvelope([]byte(tc.body), tc.ct); err == nil && !endpointRules[tc.name] {
				t.Errorf("ParseEnvelope accepted it")
			}
		})
	}
}

// TestStillTolerated: what XML, Namespaces and SOAP allow stays accepted (docs/protocol.md,
// Tolerance), next to the refusals above.
func TestStillTolerated(t *testing.T) {
	reason := func(r string) string {
		return `<Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` + litID + `</instanceId><reason>` + r + `</reason></Suspend>`
	}
	for _, tc := range []struct {
		name, body, ct string
		wantReason     string // for Suspend: the decoded reason
	}{
		{"xml prefix declared with its own namespace", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", ""},
		{"xml:lang without declaration", lit12("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xml:lang="de" xml:space="preserve"><instanceId>`+litID+`</instanceId></Run>`), "application/soap+xml", ""},
		{"default namespace undeclared with xmlns=\"\"", lit11("", `<w:Run xmlns:w="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns="urn:d"><instanceId xmlns="">`+litID+`</instanceId></w:Run>`), "text/xml", ""},
		{"same local name in two namespaces", lit11("", `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" xmlns:p="urn:p" xmlns:q="urn:q" a="0" p:a="1" q:a="2"><instanceId>`+litID+`</instanceId></Run>`), "text/xml", ""},
		{"prefix redeclared on a child", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:one"><s:Body><p:Run xmlns:p="http://schemas.datacontract.org/2008/10/WorkflowServices"><p:instanceId>` + litID + `</p:instanceId></p:Run></s:Body></s:Envelope>`, "text/xml", ""},
		{"one prefix reused for two namespaces in sibling scopes", lit11(`<p:A xmlns:p="urn:a"/><p:B xmlns:p="urn:b"/>`, `<p:Run xmlns:p="http://schemas.datacontract.org/2008/10/WorkflowServices"><p:instanceId>`+litID+`</p:instanceId></p:Run>`), "text/xml", ""},
		{"legal character references", lit11("", reason(`&#x41;&#66;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#9;&#xA;&#xD;&#x20;`)), "text/xml", "AB\uD7FF\uE000\uFFFD\U00010000\U0010FFFF\t\n\r "},
		{"surrogate reference spelt inside CDATA is text", lit11("", reason(`<![CDATA[&#xD800;]]>`)), "text/xml", "&#xD800;"},
		{"surrogate reference spelt inside a comment", lit11("", `<!-- &#xD800; -->`+litOp("Run")), "text/xml", ""},
		{"astral characters in UTF-16", utf16Bytes(lit11("", reason("\U0001F600 ok")), true, true), "text/xml; charset=utf-16", "\U0001F600 ok"},
		{"XML declaration with encoding and standalone", `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>` + lit12("", litOp("Run")), "application/soap+xml", ""},
		{"comments and white space between Envelope, Header and Body", "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">\r\n\t<!-- h --> <s:Header> <!-- x -->\n</s:Header>\n<!-- b -->\n<s:Body>\n" + litOp("Run") + "\n<!-- after -->\n</s:Body>\n<!-- end -->\n</s:Envelope>", "application/soap+xml", ""},
		{"white space CDATA in the Body", lit11("", "<![CDATA[ \n ]]>"+litOp("Run")), "text/xml", ""},
		{"1.1 qualified element after the Body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + litOp("Run") + `</s:Body><x:Trailer xmlns:x="urn:x"/></s:Envelope>`, "text/xml", ""},
		{"Header with attributes of other namespaces", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header xmlns:x="urn:x" x:a="1"/><s:Body x:b="2" xmlns:x="urn:x">` + litOp("Run") + `</s:Body></s:Envelope>`, "application/soap+xml", ""},
		{"header block with the 1.2 relay attribute and role next, not marked", lit12(`<x:A s:relay="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:x="urn:x"/>`, litOp("Run")), "application/soap+xml", ""},
		{"mustUnderstand with white space", lit12(`<x:A s:mustUnderstand=" false " xmlns:x="urn:x"/><x:B s:mustUnderstand="0" xmlns:x="urn:x"/>`, litOp("Run")), "application/soap+xml", ""},
		{"end tag with white space", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ><s:Body >` + litOp("Run") + `</s:Body ></s:Envelope >`, "text/xml", ""},
		{"an empty Body is decoded, not refused by the parser", lit11("", ""), "text/xml", "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			sa := litAction + "Run"
			if tc.wantReason != "" {
				sa = litAction + "Suspend"
			}
			r := parseReply(t, post(t, testEndpoint(rec, nil), tc.body, "Content-Type", tc.ct, "SOAPAction", `"`+sa+`"`))
			if r.status != 200 || r.fault != nil {
				t.Fatalf("status %d fault %+v\n%s", r.status, r.fault, r.raw)
			}
			got, n := rec.get()
			if n != 1 || got.Action != sa {
				t.Fatalf("ran %d times, action %v", n, got)
			}
			if tc.wantReason != "" && tc.wantReason != "-" {
				txt, err := TextContent(got.Body.FindElement("reason"))
				if err != nil || txt != tc.wantReason {
					t.Errorf("reason %q (%v), want %q", txt, err, tc.wantReason)
				}
			}
			if _, _, err := ParseEnvelope([]byte(tc.body), tc.ct); err != nil {
				t.Errorf("ParseEnvelope: %v", err)
			}
		})
	}
}

// TestParserLimits: each limit accepts a message exactly at it and refuses one past it with a
// Sender fault naming the limit, before any operation runs.
func TestParserLimits(t *testing.T) {
	for _, c := range []struct {
		name       string
		got, value int
	}{
		{"MaxDepth", MaxDepth, 64},
		{"MaxElements", MaxElements, 8192},
		{"MaxNodes", MaxNodes, 32768},
		{"MaxAttributesPerElement", MaxAttributesPerElement, 256},
		{"MaxAttributes", MaxAttributes, 16384},
		{"MaxNameBytes", MaxNameBytes, 1024},
		{"MaxAttributeValueBytes", MaxAttributeValueBytes, 65536},
	} {
		if c.got != c.value {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.value)
		}
	}
	run := func(inner string) string { // the Run element with inner content
		return `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` + litID + `</instanceId>` + inner + `</Run>`
	}
	nested := func(levels int) string { // levels elements inside Run (Envelope 1, Body 2, Run 3)
		return strings.Repeat("<x>", levels) + strings.Repeat("</x>", levels)
	}
	blocks := func(n int) string { // n header blocks in the default namespace urn:h
		return strings.Repeat("<b/>", n)
	}
	attrs := func(n int, prefix string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(" " + prefix + "a" + itoa(i) + `="v"`)
		}
		return b.String()
	}
	hdr := func(inner string) string { // a 1.1 envelope with Header xmlns="urn:h" and the Run body
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header xmlns="urn:h">` + inner + `</s:Header><s:Body>` + run("") + `</s:Body></s:Envelope>`
	}
	// Elements outside the header blocks: Envelope, Header, Body, Run, instanceId.
	const fixed = 5
	for _, tc := range []struct {
		limit    string
		at, past string
	}{
		{"MaxDepth", lit11("", run(nested(64-3))), lit11("", run(nested(64-3+1)))},
		{"MaxElements", hdr(blocks(8192 - fixed)), hdr(blocks(8192 - fixed + 1))},
		{"MaxNodes", hdr(blocks(8192-fixed) + strings.Repeat("<!---->", 32768-8192-1)), hdr(blocks(8192-fixed) + strings.Repeat("<!---->", 32768-8192))},
		{"MaxAttributesPerElement", lit11("", run("<x"+attrs(256, "")+"/>")), lit11("", run("<x"+attrs(257, "")+"/>"))},
		{"MaxAttributes", hdr(strings.Repeat("<b"+attrs(256, "")+"/>", 16384/256-1) + "<b" + attrs(256-3, "") + "/>"), hdr(strings.Repeat("<b"+attrs(256, "")+"/>", 16384/256-1) + "<b" + attrs(256-2, "") + "/>")},
		{"MaxNameBytes", lit11("", run("<"+strings.Repeat("n", 1024)+"/>")), lit11("", run("<"+strings.Repeat("n", 1025)+"/>"))},
		{"MaxNameBytes", lit11("", run(`<x p:`+strings.Repeat("n", 1024-2)+`="1" xmlns:p="urn:p"/>`)), lit11("", run(`<x p:`+strings.Repeat("n", 1024-1)+`="1" xmlns:p="urn:p"/>`))},
		{"MaxAttributeValueBytes", lit11("", run(`<x a="`+strings.Repeat("v", 65536)+`"/>`)), lit11("", run(`<x a="`+strings.Repeat("v", 65537)+`"/>`))},
		{"MaxAttributeValueBytes", lit11("", run(`<x a="`+strings.Repeat("&amp;", 65536)+`"/>`)), lit11("", run(`<x a="`+strings.Repeat("&amp;", 65537)+`"/>`))},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			for _, past := range []bool{false, true} {
				body := tc.at
				if past {
					body = tc.past
				}
				rec := &recorder{}
				ep := testEndpoint(rec, nil)
				ep.MaxBodyBytes = 4 << 20
				r := parseReply(t, post(t, ep, body, "Content-Type", "text/xml", "SOAPAction", `"`+litAction+`Run"`))
				_, n := rec.get()
				if !past {
					if r.status != 200 || n != 1 {
						t.Fatalf("at the limit: HTTP %d, ran %d\n%.300s", r.status, n, r.raw)
					}
					continue
				}
				if n != 0 || r.status != 500 || r.fault == nil || r.fault.Code != Sender || !strings.Contains(r.fault.Reason, tc.limit) {
					t.Fatalf("past the limit: HTTP %d, ran %d, fault %+v", r.status, n, r.fault)
				}
			}
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// TestUnderstoodSet: many understood WS-A headers (RelatesTo may repeat) are checked in linear
// time and all understood.
func TestUnderstoodSet(t *testing.T) {
	var h strings.Builder
	h.WriteString(`<a:Action s:mustUnderstand="1" xmlns:a="http://www.w3.org/2005/08/addressing">` + litAction + `Run</a:Action>`)
	for range 4000 {
		h.WriteString(`<a:RelatesTo s:mustUnderstand="1" xmlns:a="http://www.w3.org/2005/08/addressing">urn:x</a:RelatesTo>`)
	}
	rec := &recorder{}
	ep := testEndpoint(rec, map[string]func(context.Context, *Request) (*etree.Element, error){})
	ep.MaxBodyBytes = 4 << 20
	r := parseReply(t, post(t, ep, lit12(h.String(), litOp("Run")), "Content-Type", "application/soap+xml"))
	if r.status != 200 {
		t.Fatalf("HTTP %d\n%.500s", r.status, r.raw)
	}
}
