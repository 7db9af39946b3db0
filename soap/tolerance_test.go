package soap

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16Bytes(s string, bigEndian, bom bool) string {
	u := utf16.Encode([]rune(s))
	if bom {
		u = append([]uint16{0xFEFF}, u...)
	}
	b := make([]byte, 2*len(u))
	for i, x := range u {
		if bigEndian {
			binary.BigEndian.PutUint16(b[2*i:], x)
		} else {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
	}
	return string(b)
}

// TestTolerance: docs/protocol.md, Tolerance (be liberal in what you accept) and Actions (the
// resolution order).
// Every case must be answered 200 by the operation named in want.
func TestTolerance(t *testing.T) {
	run := wrapper("Run")
	escaped := `<Suspend xmlns="` + nsWS + `"><instanceId>x</instanceId><reason>Grüße ✓ &amp; &lt;b&gt;</reason></Suspend>`
	sa := func(op string) string { return `"` + actionNS + op + `"` }
	tests := []struct {
		name    string
		body    string
		hdr     []string
		want    string
		wantVer Version
		wantWSA string
	}{
		{"plain 1.1 SOAPAction quoted", env11("", run), []string{"Content-Type", ct11, "SOAPAction", sa("Run")}, "Run", V11, ""},
		{"SOAPAction unquoted", env11("", run), []string{"Content-Type", ct11, "SOAPAction", actionNS + "Run"}, "Run", V11, ""},
		{"soapaction lower-case header name", env11("", run), []string{"Content-Type", ct11, "soapaction", sa("Run")}, "Run", V11, ""},
		{"empty SOAPAction falls back to the body", env11("", run), []string{"Content-Type", ct11, "SOAPAction", `""`}, "Run", V11, ""},
		{"no action anywhere: body wrapper", env11("", run), []string{"Content-Type", ct11}, "Run", V11, ""},
		{"SOAP 1.2 content-type action", env12("", run), []string{"Content-Type", ct12 + `; action="` + actionNS + `Run"`}, "Run", V12, ""},
		{"SOAP 1.2 action unquoted, charset after", env12("", run), []string{"Content-Type", `application/soap+xml;action=` + actionNS + `Run;charset=UTF-8`}, "Run", V12, ""},
		{"SOAP 1.2 body only", env12("", run), []string{"Content-Type", ct12}, "Run", V12, ""},
		{"application/xml", env11("", run), []string{"Content-Type", "application/xml"}, "Run", V11, ""},
		{"no charset", env11("", run), []string{"Content-Type", "text/xml"}, "Run", V11, ""},
		{"UTF-8 BOM, declaration, comments, whitespace",
			"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- before -->\n<soapenv:Envelope xmlns:soapenv=\"" + NS11 + "\">\n  <!-- c --><soapenv:Header>\n<!-- none --> </soapenv:Header>\n  <soapenv:Body>\n <!-- c -->\n" + run + "\n  </soapenv:Body>\n</soapenv:Envelope>\n<!-- after -->\n",
			[]string{"Content-Type", ct11, "SOAPAction", sa("Run")}, "Run", V11, ""},
		{"default-namespace envelope",
			`<Envelope xmlns="` + NS11 + `"><Body><Run xmlns="` + nsWS + `"><instanceId>x</instanceId></Run></Body></Envelope>`,
			[]string{"Content-Type", ct11}, "Run", V11, ""},
		{"odd prefixes, unused declarations, xsi:type, encodingStyle",
			`<E:Envelope xmlns:E="` + NS11 + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:unused="urn:x" E:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><E:Body><ns9:Run xmlns:ns9="` + nsWS + `" xsi:type="ns9:Run"><ns9:instanceId xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">x</ns9:instanceId></ns9:Run></E:Body></E:Envelope>`,
			[]string{"Content-Type", ct11, "SOAPAction", sa("Run")}, "Run", V11, ""},
		{"CDATA and escaping", env11("", escaped), []string{"Content-Type", ct11, "SOAPAction", sa("Suspend")}, "Suspend", V11, ""},
		{"UTF-16LE with BOM, charset=utf-16", utf16Bytes(`<?xml version="1.0" encoding="utf-16"?>`+env11("", escaped), false, true),
			[]string{"Content-Type", "text/xml; charset=utf-16", "SOAPAction", sa("Suspend")}, "Suspend", V11, ""},
		{"UTF-16BE with BOM, no charset", utf16Bytes(env12("", escaped), true, true),
			[]string{"Content-Type", "application/soap+xml"}, "Suspend", V12, ""},
		{"UTF-16LE without BOM, charset=utf-16le", utf16Bytes(env11("", escaped), false, false),
			[]string{"Content-Type", `text/xml; charset="UTF-16LE"`}, "Suspend", V11, ""},
		{"UTF-16BE without BOM, charset=utf-16be", utf16Bytes(env11("", escaped), true, false),
			[]string{"Content-Type", "text/xml; charset=utf-16be"}, "Suspend", V11, ""},
		{"UTF-16 without BOM sniffed little-endian", utf16Bytes(env11("", escaped), false, false),
			[]string{"Content-Type", "text/xml; charset=utf-16"}, "Suspend", V11, ""},
		{"UTF-16 without BOM big-endian by default", utf16Bytes(env11("", escaped), true, false),
			[]string{"Content-Type", "text/xml; charset=utf-16"}, "Suspend", V11, ""},
		{"WS-A 1.0 action wins; SOAPAction agrees", env12(wsa10(actionNS+"Cancel", "urn:uuid:1"), wrapper("Cancel")),
			[]string{"Content-Type", ct12, "SOAPAction", sa("Cancel")}, "Cancel", V12, WSA10},
		{"wsa:Action surrounded by white space", env12(wsa10("\n  "+actionNS+"Cancel  \n", ""), wrapper("Cancel")),
			[]string{"Content-Type", ct12}, "Cancel", V12, WSA10},
		{"WS-A 2004/08", env11(`<w:Action xmlns:w="`+WSA0408+`">`+actionNS+`Abandon</w:Action><w:ReplyTo xmlns:w="`+WSA0408+`"><w:Address>`+AnonymousWSA0408+`</w:Address></w:ReplyTo>`, wrapper("Abandon")),
			[]string{"Content-Type", ct11}, "Abandon", V11, WSA0408},
		{"WS-A without Action: SOAPAction decides", env11(`<MessageID xmlns="`+WSA10+`">urn:uuid:2</MessageID><To s:mustUnderstand="1" xmlns="`+WSA10+`">http://elsewhere:1/x</To>`, run),
			[]string{"Content-Type", ct11, "SOAPAction", sa("Run")}, "Run", V11, WSA10},
		{"ReplyTo/FaultTo anonymous of the other version", env12(wsa10(actionNS+"Run", "")+`<a:ReplyTo xmlns:a="`+WSA10+`"><a:Address>`+AnonymousWSA0408+`</a:Address></a:ReplyTo><a:FaultTo xmlns:a="`+WSA10+`"><a:Address> `+AnonymousWSA10+` </a:Address></a:FaultTo>`, run),
			[]string{"Content-Type", ct12}, "Run", V12, WSA10},
		{"wsa:From and several RelatesTo are understood", env12(wsa10(actionNS+"Run", "")+`<a:From s:mustUnderstand="1" xmlns:a="`+WSA10+`"><a:Address>urn:me</a:Address></a:From><a:RelatesTo s:mustUnderstand="true" xmlns:a="`+WSA10+`">urn:1</a:RelatesTo><a:RelatesTo xmlns:a="`+WSA10+`">urn:2</a:RelatesTo>`, run),
			[]string{"Content-Type", ct12}, "Run", V12, WSA10},
		{"second WS-A namespace is an ignorable unknown header", env12(wsa10(actionNS+"Run", "")+`<w:Action xmlns:w="`+WSA0408+`">`+actionNS+`Cancel</w:Action>`, run),
			[]string{"Content-Type", ct12}, "Run", V12, WSA10},
		{"unknown header without mustUnderstand", env11(`<x:Trace xmlns:x="urn:x">1</x:Trace>`, run), []string{"Content-Type", ct11}, "Run", V11, ""},
		{"mustUnderstand=0/false", env12(`<x:A s:mustUnderstand="0" xmlns:x="urn:x"/><x:B s:mustUnderstand="false" xmlns:x="urn:x"/>`, run), []string{"Content-Type", ct12}, "Run", V12, ""},
		{"1.2 role none is not for us", env12(`<x:A s:mustUnderstand="1" s:role="`+NS12+`role/none" xmlns:x="urn:x"/>`, run), []string{"Content-Type", ct12}, "Run", V12, ""},
		{"1.2 other role is not for us", env12(`<x:A s:mustUnderstand="true" s:role="urn:some-intermediary" xmlns:x="urn:x"/>`, run), []string{"Content-Type", ct12}, "Run", V12, ""},
		{"1.1 other actor is not for us", env11(`<x:A s:mustUnderstand="1" s:actor="urn:someone" xmlns:x="urn:x"/>`, run), []string{"Content-Type", ct11}, "Run", V11, ""},
		{"mustUnderstand in no namespace is not the SOAP attribute", env11(`<x:A mustUnderstand="1" xmlns:x="urn:x"/>`, run), []string{"Content-Type", ct11}, "Run", V11, ""},
		{"transaction header without mustUnderstand", env12(`<c:CoordinationContext xmlns:c="`+NSWSCoor2004+`"/>`, wrapper("TransactedRun")), []string{"Content-Type", ct12}, "TransactedRun", V12, ""},
		{"SOAP 1.2 envelope sent as text/xml", env12("", run), []string{"Content-Type", ct11}, "Run", V12, ""},
		{"unknown children of the operation element", env11("", `<Run xmlns="`+nsWS+`"><zzz/><instanceId>x</instanceId></Run>`), []string{"Content-Type", ct11}, "Run", V11, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := parseReply(t, post(t, testEndpoint(rec, nil), tc.body, tc.hdr...))
			if r.status != 200 || r.fault != nil {
				t.Fatalf("status %d fault %+v\n%s", r.status, r.fault, r.raw)
			}
			got, _ := rec.get()
			if got.Action != actionNS+tc.want || got.Version != tc.wantVer || r.ver != tc.wantVer || got.Addressing != tc.wantWSA {
				t.Errorf("got action %q version %v (reply %v) addressing %q; want %q %v %q",
					got.Action, got.Version, r.ver, got.Addressing, tc.want, tc.wantVer, tc.wantWSA)
			}
			if r.body == nil || r.body.Tag != tc.want+"Response" {
				t.Errorf("reply body %v", r.body)
			}
			if want := tc.wantVer.ContentType(); r.ct != want {
				t.Errorf("Content-Type %q, want %q", r.ct, want)
			}
			if tc.want == "Suspend" {
				if reason := got.Body.FindElement("reason"); reason == nil || reason.Text() != "Grüße ✓ & <b>" {
					t.Errorf("reason decoded wrongly: %v", reason)
				}
			}
			if strings.Contains(tc.name, "mustUnderstand") && got.Header == nil {
				t.Errorf("Request.Header not set")
			}
		})
	}
}
