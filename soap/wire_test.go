package soap

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// TestFaultWire compares fault envelopes byte for byte with MS-WFIM §7.3 (xml:lang "en", no
// whitespace between elements, since wimp does not indent), after the XML declaration.
func TestFaultWire(t *testing.T) {
	f := NewFault(Sender, "(implementation text)", qNotFound)
	got12 := string(FaultMessage(V12, WSA10, "urn:uuid:8afb36d3-9a6e-47df-9313-f005242ea3ed", f).Marshal())
	want12 := `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">` +
		`<s:Header>` +
		`<a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/soap/fault</a:Action>` +
		`<a:RelatesTo>urn:uuid:8afb36d3-9a6e-47df-9313-f005242ea3ed</a:RelatesTo>` +
		`</s:Header>` +
		`<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value>` +
		`<s:Subcode><s:Value xmlns:a="http://schemas.datacontract.org/2008/10/WorkflowServices">a:InstanceNotFound</s:Value></s:Subcode>` +
		`</s:Code><s:Reason><s:Text xml:lang="en">(implementation text)</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`
	if got12 != want12 {
		t.Errorf("SOAP 1.2 fault:\n got %s\nwant %s", got12, want12)
	}
	got11 := string(FaultMessage(V11, "", "", f).Marshal())
	want11 := `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>` +
		`<faultcode xmlns:a="http://schemas.datacontract.org/2008/10/WorkflowServices">a:InstanceNotFound</faultcode>` +
		`<faultstring xml:lang="en">(implementation text)</faultstring>` +
		`</s:Fault></s:Body></s:Envelope>`
	if got11 != want11 {
		t.Errorf("SOAP 1.1 fault:\n got %s\nwant %s", got11, want11)
	}
}

// TestFaultCodes: SOAP 1.2 Value names and SOAP 1.1 faultcodes of the four top-level codes,
// with nested subcodes in 1.2 and only the first in 1.1.
func TestFaultCodes(t *testing.T) {
	sub := []QName{{"urn:a", "One"}, {"urn:b", "Two"}}
	for _, tc := range []struct {
		code       FaultCode
		v12, v11   string
		subcodes   []QName
		want11Code string
	}{
		{Sender, "s:Sender", "s:Client", nil, ""},
		{Receiver, "s:Receiver", "s:Server", nil, ""},
		{MustUnderstand, "s:MustUnderstand", "s:MustUnderstand", nil, ""},
		{VersionMismatch, "s:VersionMismatch", "s:VersionMismatch", nil, ""},
		{Sender, "s:Sender", "", sub, `<faultcode xmlns:a="urn:a">a:One</faultcode>`},
	} {
		f := NewFault(tc.code, "r <&> \"q\"", tc.subcodes...)
		m12 := string(FaultMessage(V12, "", "", f).Marshal())
		if !strings.Contains(m12, "<s:Code><s:Value>"+tc.v12+"</s:Value>") {
			t.Errorf("%v 1.2: %s", tc.code, m12)
		}
		if tc.subcodes != nil && !strings.Contains(m12, `<s:Subcode><s:Value xmlns:a="urn:a">a:One</s:Value><s:Subcode><s:Value xmlns:a="urn:b">a:Two</s:Value></s:Subcode></s:Subcode>`) {
			t.Errorf("nested subcodes: %s", m12)
		}
		m11 := string(FaultMessage(V11, "", "", f).Marshal())
		want := "<faultcode>" + tc.v11 + "</faultcode>"
		if tc.want11Code != "" {
			want = tc.want11Code
		}
		if !strings.Contains(m11, want) {
			t.Errorf("%v 1.1: %s", tc.code, m11)
		}
		for _, m := range []string{m11, m12} {
			env, v, err := ParseEnvelope([]byte(m), "")
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseFault(env)
			if err != nil {
				t.Fatal(err)
			}
			wantSub := tc.subcodes
			if v == V11 && len(wantSub) > 1 {
				wantSub = wantSub[:1]
			}
			if back.Code != tc.code || back.Reason != f.Reason || !sameQNames(back.Subcodes, wantSub) {
				t.Errorf("%v round trip: %+v", v, back)
			}
		}
	}
}

// TestParseFaultForeign reads faults written by other stacks (other prefixes, dotted 1.1 codes).
func TestParseFaultForeign(t *testing.T) {
	for _, tc := range []struct {
		name, xml string
		code      FaultCode
		subcodes  []QName
		reason    string
	}{
		{"1.1 dotted Client", `<e:Envelope xmlns:e="` + NS11 + `"><e:Body><e:Fault><faultcode>e:Client.Authentication</faultcode><faultstring>no</faultstring><detail/></e:Fault></e:Body></e:Envelope>`,
			Sender, nil, "no"},
		{"1.1 WCF InternalServiceFault", `<s:Envelope xmlns:s="` + NS11 + `"><s:Body><s:Fault><faultcode xmlns:a="` + NSDispatcher + `">a:InternalServiceFault</faultcode><faultstring xml:lang="en-US">x</faultstring></s:Fault></s:Body></s:Envelope>`,
			Receiver, []QName{qInternal}, "x"},
		{"1.2 subcode prefix declared on an ancestor", `<env:Envelope xmlns:env="` + NS12 + `" xmlns:w="` + nsWS + `"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>w:InstanceNotFound</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en-US">gone</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
			Sender, []QName{qNotFound}, "gone"},
	} {
		env, _, err := ParseEnvelope([]byte(tc.xml), "")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFault(env)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f.Code != tc.code || !sameQNames(f.Subcodes, tc.subcodes) || f.Reason != tc.reason {
			t.Errorf("%s: %+v", tc.name, f)
		}
	}
	env, _, _ := ParseEnvelope([]byte(env11("", wrapper("Run"))), "")
	if _, err := ParseFault(env); err == nil {
		t.Errorf("ParseFault of a non-fault succeeded")
	}
}

// TestReplyAddressing: docs/protocol.md, WS-Addressing: reply headers in the request's WS-A namespace.
func TestReplyAddressing(t *testing.T) {
	for _, tc := range []struct {
		name, body, ct string
		ns             string
		relates        string
	}{
		{"1.0 with MessageID", env12(wsa10(actionNS+"Suspend", "urn:uuid:42"), wrapper("Suspend")), ct12, WSA10, "urn:uuid:42"},
		{"1.0 without MessageID", env12(wsa10(actionNS+"Suspend", ""), wrapper("Suspend")), ct12, WSA10, ""},
		{"2004/08 over 1.1", env11(`<w:Action xmlns:w="`+WSA0408+`">`+actionNS+`Suspend</w:Action><w:MessageID xmlns:w="`+WSA0408+`">uuid:7</w:MessageID>`, wrapper("Suspend")), ct11, WSA0408, "uuid:7"},
		{"only wsa:To present", env11(`<w:To xmlns:w="`+WSA10+`">http://x</w:To>`, wrapper("Suspend")), ct11, WSA10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parseReply(t, post(t, testEndpoint(nil, nil), tc.body, "Content-Type", tc.ct))
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			act, ok := r.header(tc.ns, "Action")
			if !ok || act.Text() != actionNS+"SuspendResponse" {
				t.Fatalf("Action:\n%s", r.raw)
			}
			if mu, _ := attrValue(act, r.ver.Namespace(), "mustUnderstand"); mu != "1" {
				t.Errorf("Action lacks mustUnderstand=\"1\"")
			}
			rel, ok := r.header(tc.ns, "RelatesTo")
			if tc.relates == "" && ok || tc.relates != "" && (!ok || rel.Text() != tc.relates) {
				t.Errorf("RelatesTo:\n%s", r.raw)
			}
			for _, other := range []string{WSA10, WSA0408} {
				if other != tc.ns {
					if _, ok := r.header(other, "Action"); ok {
						t.Errorf("reply has headers of the other WS-A version")
					}
				}
			}
		})
	}
}

// TestMessageDetach: Message copies its Body with the namespace declarations it inherited.
func TestMessageDetach(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<r xmlns="urn:d" xmlns:p="urn:p"><p:x><y/></p:x></r>`); err != nil {
		t.Fatal(err)
	}
	x := doc.Root().ChildElements()[0]
	b := (&Message{Version: V11, Body: x}).Marshal()
	env, _, err := ParseEnvelope(b, "")
	if err != nil {
		t.Fatal(err)
	}
	got := env.FindElement("//x")
	if got == nil || nsOf(got) != "urn:p" || nsOf(got.ChildElements()[0]) != "urn:d" {
		t.Errorf("namespaces lost: %s", b)
	}
	if x.Parent() != doc.Root() {
		t.Errorf("Marshal moved the caller's element")
	}
}

// TestMarshalDeclaration: every envelope starts with XMLDeclaration, once, directly followed
// by the Envelope, and Go's encoding/xml (gowsdl's parser) and ParseEnvelope read it.
func TestMarshalDeclaration(t *testing.T) {
	for _, v := range []Version{V11, V12} {
		b := FaultMessage(v, WSA10, "urn:uuid:1", NewFault(Sender, "r")).Marshal()
		if !strings.HasPrefix(string(b), `<?xml version="1.0" encoding="utf-8"?><s:Envelope `) || strings.Count(string(b), "<?xml") != 1 {
			t.Errorf("SOAP %d: %s", v, b)
		}
		var env struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(b, &env); err != nil || env.XMLName.Space != v.Namespace() || env.XMLName.Local != "Envelope" {
			t.Errorf("SOAP %d: encoding/xml read %v, %v", v, env.XMLName, err)
		}
		if _, got, err := ParseEnvelope(b, ""); err != nil || got != v {
			t.Errorf("SOAP %d: ParseEnvelope: version %d, %v", v, got, err)
		}
	}
}
