package soap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

var (
	qInvalidAddr   = QName{WSA10, "InvalidAddressingHeader"}
	qInvalidMIH    = QName{WSA0408, "InvalidMessageInformationHeader"}
	qInternal      = QName{NSDispatcher, "InternalServiceFault"}
	qNotFound      = QName{nsWS, "InstanceNotFound"}
	ctxCoordCtx04  = `<wscoor:CoordinationContext s:mustUnderstand="1" xmlns:wscoor="` + NSWSCoor2004 + `"><wscoor:Identifier>urn:uuid:1</wscoor:Identifier></wscoor:CoordinationContext>`
	ctxCoordCtx06  = `<c:CoordinationContext s:mustUnderstand="true" xmlns:c="` + NSWSCoor2006 + `"/>`
	ctxOleTx       = `<o:OleTxTransaction s:mustUnderstand="1" xmlns:o="` + NSOleTx + `"><o:PropagationToken>AAAA</o:PropagationToken></o:OleTxTransaction>`
	replyToNonAnon = `<a:ReplyTo xmlns:a="` + WSA10 + `"><a:Address>http://client.example/reply</a:Address></a:ReplyTo>`
)

// TestFaults: every refusal docs/protocol.md (Faults) and the SOAP / WS-Addressing specs call for. The operation
// must never run for these.
func TestFaults(t *testing.T) {
	run := wrapper("Run")
	sa := func(op string) string { return `"` + actionNS + op + `"` }
	tests := []struct {
		name        string
		body        string
		hdr         []string
		ver         Version
		code        FaultCode
		subcodes    []QName
		reason      string // substring
		wsaAction   string // expected reply wsa:Action ("" = no WS-A headers)
		notUnderst  []QName
		wantRelates string
	}{
		{name: "DTD refused", body: `<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x "y">]>` + env11("", run),
			hdr: []string{"Content-Type", ct11, "SOAPAction", sa("Run")}, ver: V11, code: Sender, reason: "document type declaration"},
		{name: "DTD refused, 1.2 chosen from Content-Type", body: `<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><s:Envelope xmlns:s="` + NS12 + `"><s:Body>&lol2;</s:Body></s:Envelope>`,
			hdr: []string{"Content-Type", ct12}, ver: V12, code: Sender, reason: "document type declaration"},
		{name: "DTD inside the envelope", body: env11("", `<!DOCTYPE x>`+run), hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "document type declaration"},
		{name: "not well-formed 1.1", body: `<s:Envelope xmlns:s="` + NS11 + `"><s:Body>`, hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "not well-formed"},
		{name: "not well-formed 1.2", body: `<s:Envelope xmlns:s="` + NS12 + `"><s:Body></s:Bod></s:Envelope>`, hdr: []string{"Content-Type", ct12}, ver: V12, code: Sender, reason: "not well-formed"},
		{name: "empty body", body: ``, hdr: []string{"Content-Type", ct12}, ver: V12, code: Sender, reason: "no root element"},
		{name: "undeclared prefix", body: `<s:Envelope xmlns:s="` + NS11 + `"><s:Body><q:Run/></s:Body></s:Envelope>`, hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "undeclared namespace prefix"},
		{name: "two root elements", body: env11("", run) + env11("", run), hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "more than one root"},
		{name: "invalid UTF-8", body: env11("", "<Run xmlns=\""+nsWS+"\">\xff</Run>"), hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "UTF-8"},
		{name: "unsupported charset", body: env11("", run), hdr: []string{"Content-Type", "text/xml; charset=iso-8859-1"}, ver: V11, code: Sender, reason: "unsupported charset"},
		{name: "unsupported declared encoding", body: `<?xml version="1.0" encoding="windows-1252"?>` + env12("", run), hdr: []string{"Content-Type", "application/soap+xml"}, ver: V12, code: Sender, reason: "windows-1252"},
		{name: "odd-length UTF-16", body: "<\x00a", hdr: []string{"Content-Type", "text/xml; charset=utf-16le"}, ver: V11, code: Sender, reason: "odd number"},
		{name: "missing Body", body: `<s:Envelope xmlns:s="` + NS12 + `"><s:Header/></s:Envelope>`, hdr: []string{"Content-Type", ct12}, ver: V12, code: Sender, reason: "no Body"},
		{name: "Body in the wrong namespace", body: `<s:Envelope xmlns:s="` + NS11 + `"><Body>` + run + `</Body></s:Envelope>`, hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "no Body"},
		{name: "two Headers", body: `<s:Envelope xmlns:s="` + NS11 + `"><s:Header/><s:Header/><s:Body>` + run + `</s:Body></s:Envelope>`, hdr: []string{"Content-Type", ct11}, ver: V11, code: Sender, reason: "more than one Header"},

		// mustUnderstand (SOAP 1.1 §4.2.3, SOAP 1.2 Part 1 §2.4, §5.4.8)
		{name: "1.1 unknown header mustUnderstand=1", body: env11(`<x:Sec s:mustUnderstand="1" xmlns:x="urn:x"/>`, run), hdr: []string{"Content-Type", ct11, "SOAPAction", sa("Run")},
			ver: V11, code: MustUnderstand, reason: "{urn:x}Sec"},
		{name: "1.1 actor next is us", body: env11(`<x:Sec s:mustUnderstand="1" s:actor="`+ActorNext+`" xmlns:x="urn:x"/>`, run), hdr: []string{"Content-Type", ct11},
			ver: V11, code: MustUnderstand},
		{name: "1.1 CoordinationContext 2004/10", body: env11(ctxCoordCtx04, wrapper("TransactedRun")), hdr: []string{"Content-Type", ct11, "SOAPAction", sa("TransactedRun")},
			ver: V11, code: MustUnderstand, reason: "CoordinationContext"},
		{name: "1.2 CoordinationContext 2006/06 with WS-A", body: env12(wsa10(actionNS+"TransactedRun", "urn:uuid:m1")+ctxCoordCtx06, wrapper("TransactedRun")), hdr: []string{"Content-Type", ct12},
			ver: V12, code: MustUnderstand, notUnderst: []QName{{NSWSCoor2006, "CoordinationContext"}}, wsaAction: FaultActionSOAP10, wantRelates: "urn:uuid:m1"},
		{name: "1.2 OleTxTransaction", body: env12(ctxOleTx, wrapper("TransactedCancel")), hdr: []string{"Content-Type", ct12},
			ver: V12, code: MustUnderstand, notUnderst: []QName{{NSOleTx, "OleTxTransaction"}}},
		{name: "1.2 two headers, role ultimateReceiver and next", body: env12(`<x:A s:mustUnderstand="1" s:role="`+RoleUltimateReceiver+`" xmlns:x="urn:x"/><y:B s:mustUnderstand="true" s:role="`+RoleNext+`" xmlns:y="urn:y"/>`, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: MustUnderstand, notUnderst: []QName{{"urn:x", "A"}, {"urn:y", "B"}}},
		{name: "1.2 header of the other WS-A namespace", body: env12(wsa10(actionNS+"Run", "")+`<w:Action s:mustUnderstand="1" xmlns:w="`+WSA0408+`">x</w:Action>`, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: MustUnderstand, notUnderst: []QName{{WSA0408, "Action"}}, wsaAction: FaultActionSOAP10},
		{name: "1.2 unknown header in our WS-A namespace", body: env12(wsa10(actionNS+"Run", "")+`<a:Bogus s:mustUnderstand="1" xmlns:a="`+WSA10+`"/>`, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: MustUnderstand, notUnderst: []QName{{WSA10, "Bogus"}}, wsaAction: FaultActionSOAP10},
		{name: "mustUnderstand checked before the action", body: env11(`<x:Sec s:mustUnderstand="1" xmlns:x="urn:x"/>`, run), hdr: []string{"Content-Type", ct11, "SOAPAction", `"urn:unknown"`},
			ver: V11, code: MustUnderstand},

		// WS-Addressing (WS-A 1.0 SOAP Binding §6; 2004/08 §5)
		{name: "duplicate MessageID", body: env12(wsa10(actionNS+"Run", "urn:1")+`<a:MessageID xmlns:a="`+WSA10+`">urn:2</a:MessageID>`, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "InvalidCardinality"}}, wsaAction: FaultActionWSA10},
		{name: "duplicate Action", body: env12(wsa10(actionNS+"Run", "urn:1")+wsa10(actionNS+"Run", ""), run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "InvalidCardinality"}}, wsaAction: FaultActionWSA10, wantRelates: "urn:1"},
		{name: "duplicate To 2004/08", body: env11(`<w:To xmlns:w="`+WSA0408+`">a</w:To><w:To xmlns:w="`+WSA0408+`">b</w:To>`, run), hdr: []string{"Content-Type", ct11},
			ver: V11, code: Sender, subcodes: []QName{qInvalidMIH}, wsaAction: FaultAction0408},
		{name: "ReplyTo not anonymous", body: env12(wsa10(actionNS+"Run", "urn:1")+replyToNonAnon, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "OnlyAnonymousAddressSupported"}}, wsaAction: FaultActionWSA10, wantRelates: "urn:1"},
		{name: "ReplyTo none address", body: env12(wsa10(actionNS+"Run", "")+`<a:ReplyTo xmlns:a="`+WSA10+`"><a:Address>`+WSA10+`/none</a:Address></a:ReplyTo>`, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "OnlyAnonymousAddressSupported"}}, wsaAction: FaultActionWSA10},
		{name: "FaultTo not anonymous 2004/08", body: env11(`<w:FaultTo xmlns:w="`+WSA0408+`"><w:Address>http://x/</w:Address></w:FaultTo>`, run), hdr: []string{"Content-Type", ct11},
			ver: V11, code: Sender, subcodes: []QName{qInvalidMIH}, wsaAction: FaultAction0408},
		{name: "empty wsa:Action", body: env12(wsa10("  ", ""), run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr}, wsaAction: FaultActionWSA10},

		// Action resolution
		{name: "wsa:Action vs SOAPAction", body: env12(wsa10(actionNS+"Run", ""), run), hdr: []string{"Content-Type", ct12, "SOAPAction", sa("Cancel")},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "ActionMismatch"}}, wsaAction: FaultActionWSA10, reason: "SOAPAction"},
		{name: "wsa:Action vs content-type action", body: env12(wsa10(actionNS+"Run", ""), run), hdr: []string{"Content-Type", ct12 + `; action="` + actionNS + `Cancel"`},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "ActionMismatch"}}, wsaAction: FaultActionWSA10},
		{name: "content-type action vs SOAPAction, no WS-A", body: env12("", run), hdr: []string{"Content-Type", ct12 + `; action="` + actionNS + `Run"`, "SOAPAction", sa("Cancel")},
			ver: V12, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "ActionMismatch"}}},
		{name: "SOAPAction vs body wrapper of another operation", body: env11("", wrapper("Suspend")), hdr: []string{"Content-Type", ct11, "SOAPAction", sa("Run")},
			ver: V11, code: Sender, subcodes: []QName{qInvalidAddr, {WSA10, "ActionMismatch"}}},
		{name: "2004/08 action mismatch", body: env11(`<w:Action xmlns:w="`+WSA0408+`">`+actionNS+`Run</w:Action>`, run), hdr: []string{"Content-Type", ct11, "SOAPAction", sa("Cancel")},
			ver: V11, code: Sender, subcodes: []QName{qInvalidMIH}, wsaAction: FaultAction0408},
		{name: "unknown action, no WS-A", body: env11("", run), hdr: []string{"Content-Type", ct11, "SOAPAction", `"urn:nope"`},
			ver: V11, code: Sender, subcodes: []QName{{NSAddressingNone, "ActionNotSupported"}}, reason: "urn:nope"},
		{name: "unknown action, WS-A 1.0", body: env12(wsa10("urn:nope", "urn:9"), run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{{WSA10, "ActionNotSupported"}}, reason: "urn:nope", wsaAction: FaultActionWSA10, wantRelates: "urn:9"},
		{name: "unknown action, WS-A 2004/08", body: env12(`<w:Action xmlns:w="`+WSA0408+`">urn:nope</w:Action>`, run), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{{WSA0408, "ActionNotSupported"}}, reason: "urn:nope", wsaAction: FaultAction0408},
		{name: "no action and an unknown body", body: env11("", `<Foo xmlns="urn:x"/>`), hdr: []string{"Content-Type", ct11},
			ver: V11, code: Sender, subcodes: []QName{{NSAddressingNone, "ActionNotSupported"}}},
		{name: "no action and an empty body", body: env12("", ""), hdr: []string{"Content-Type", ct12},
			ver: V12, code: Sender, subcodes: []QName{{NSAddressingNone, "ActionNotSupported"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := parseReply(t, post(t, testEndpoint(rec, nil), tc.body, tc.hdr...))
			if _, n := rec.get(); n != 0 {
				t.Errorf("operation ran")
			}
			checkFault(t, r, tc.ver, tc.code, tc.subcodes, tc.reason)
			if !sameQNames(r.fault.NotUnderstood, tc.notUnderst) {
				t.Errorf("NotUnderstood %v, want %v", r.fault.NotUnderstood, tc.notUnderst)
			}
			if r.fault.Action != tc.wsaAction {
				t.Errorf("fault wsa:Action %q, want %q\n%s", r.fault.Action, tc.wsaAction, r.raw)
			}
			if tc.wsaAction == "" && child(r.env, r.ver.Namespace(), "Header") != nil && tc.notUnderst == nil {
				t.Errorf("unexpected Header:\n%s", r.raw)
			}
			if tc.wantRelates != "" {
				rel, ok := r.header(r.fault.Action[:strings.LastIndex(r.fault.Action, "/addressing")+len("/addressing")], "RelatesTo")
				if !ok || rel.Text() != tc.wantRelates {
					t.Errorf("RelatesTo missing or wrong:\n%s", r.raw)
				}
			}
		})
	}
}

func checkFault(t *testing.T, r reply, ver Version, code FaultCode, subcodes []QName, reason string) {
	t.Helper()
	if r.status != 500 {
		t.Errorf("HTTP status %d, want 500", r.status)
	}
	if r.fault == nil {
		t.Fatalf("not a fault:\n%s", r.raw)
	}
	if r.ver != ver || r.ct != ver.ContentType() {
		t.Errorf("reply version %v / Content-Type %q, want %v", r.ver, r.ct, ver)
	}
	if r.fault.Code != code {
		t.Errorf("code %v, want %v\n%s", r.fault.Code, code, r.raw)
	}
	want := subcodes
	if ver == V11 && len(want) > 1 {
		want = want[:1] // SOAP 1.1 carries only the first subcode (as faultcode)
	}
	if !sameQNames(r.fault.Subcodes, want) {
		t.Errorf("subcodes %v, want %v\n%s", r.fault.Subcodes, want, r.raw)
	}
	if !strings.Contains(r.fault.Reason, reason) {
		t.Errorf("reason %q does not mention %q", r.fault.Reason, reason)
	}
}

// TestNotUnderstoodWire checks the SOAP 1.2 NotUnderstood header form (Part 1 §5.4.8).
func TestNotUnderstoodWire(t *testing.T) {
	r := parseReply(t, post(t, testEndpoint(nil, nil), env12(ctxOleTx, wrapper("TransactedRun")), "Content-Type", ct12))
	nu, ok := r.header(NS12, "NotUnderstood")
	if !ok {
		t.Fatalf("no NotUnderstood header:\n%s", r.raw)
	}
	if nu.SelectAttrValue("qname", "") != "p:OleTxTransaction" || nu.SelectAttrValue("xmlns:p", "") != NSOleTx {
		t.Errorf("NotUnderstood attributes wrong: %s", r.raw)
	}
	if !strings.Contains(r.raw, `<s:Value>s:MustUnderstand</s:Value>`) {
		t.Errorf("Code is not s:MustUnderstand:\n%s", r.raw)
	}
	r11 := parseReply(t, post(t, testEndpoint(nil, nil), env11(ctxOleTx, wrapper("TransactedRun")), "Content-Type", ct11))
	if !strings.Contains(r11.raw, `<faultcode>s:MustUnderstand</faultcode>`) {
		t.Errorf("SOAP 1.1 faultcode is not s:MustUnderstand:\n%s", r11.raw)
	}
}

// TestVersionMismatch: SOAP 1.2 Part 1 §5.4.7 and Appendix A; SOAP 1.1 §4.4.1.
func TestVersionMismatch(t *testing.T) {
	for _, tc := range []struct{ name, body, ct string }{
		{"foreign envelope namespace", `<s:Envelope xmlns:s="urn:soap-99"><s:Body/></s:Envelope>`, ct11},
		{"foreign namespace over soap+xml", `<s:Envelope xmlns:s="urn:soap-99"><s:Body/></s:Envelope>`, ct12},
		{"no namespace", `<Envelope><Body/></Envelope>`, ct11},
		{"not an Envelope", `<s:Body xmlns:s="` + NS12 + `"/>`, ct12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := parseReply(t, post(t, testEndpoint(rec, nil), tc.body, "Content-Type", tc.ct))
			checkFault(t, r, V11, VersionMismatch, nil, "")
			if !strings.Contains(r.raw, "<faultcode>s:VersionMismatch</faultcode>") {
				t.Errorf("faultcode:\n%s", r.raw)
			}
			up, ok := r.header(NS12, "Upgrade")
			if !ok {
				t.Fatalf("no Upgrade header:\n%s", r.raw)
			}
			var got []QName
			for _, se := range children(up, NS12, "SupportedEnvelope") {
				q, _ := resolveQName(se, se.SelectAttrValue("qname", ""))
				got = append(got, q)
			}
			if want := []QName{{NS12, "Envelope"}, {NS11, "Envelope"}}; !sameQNames(got, want) {
				t.Errorf("SupportedEnvelope %v, want %v", got, want)
			}
		})
	}
}

// TestHandlerErrors: *Fault values are sent as they are; anything else becomes WCF's
// InternalServiceFault without revealing the error; a panic too.
func TestHandlerErrors(t *testing.T) {
	secret := "database password is hunter2"
	handlers := map[string]func(context.Context, *Request) (*etree.Element, error){
		"Run": func(context.Context, *Request) (*etree.Element, error) {
			return nil, NewFault(Sender, "no such instance", qNotFound)
		},
		"Cancel": func(context.Context, *Request) (*etree.Element, error) {
			return nil, fmt.Errorf("wrapped: %w", NewFault(Sender, "no such instance", qNotFound))
		},
		"Suspend":   func(context.Context, *Request) (*etree.Element, error) { return nil, errors.New(secret) },
		"Terminate": func(context.Context, *Request) (*etree.Element, error) { panic(secret) },
		"Abandon":   func(context.Context, *Request) (*etree.Element, error) { var f *Fault; return nil, f },
		"Unsuspend": func(context.Context, *Request) (*etree.Element, error) { return nil, NewFault(Receiver, "busy") },
	}
	ep := testEndpoint(nil, handlers)
	for _, tc := range []struct {
		op       string
		code     FaultCode
		subcodes []QName
		reason   string
	}{
		{"Run", Sender, []QName{qNotFound}, "no such instance"},
		{"Cancel", Sender, []QName{qNotFound}, "no such instance"},
		{"Suspend", Receiver, []QName{qInternal}, InternalServiceFaultReason},
		{"Terminate", Receiver, []QName{qInternal}, InternalServiceFaultReason},
		{"Abandon", Receiver, []QName{qInternal}, InternalServiceFaultReason},
		{"Unsuspend", Receiver, nil, "busy"},
	} {
		for _, v := range []Version{V11, V12} {
			t.Run(tc.op+"/"+v.String(), func(t *testing.T) {
				body := env11("", wrapper(tc.op))
				if v == V12 {
					body = env12("", wrapper(tc.op))
				}
				r := parseReply(t, post(t, ep, body, "Content-Type", v.ContentType()))
				checkFault(t, r, v, tc.code, tc.subcodes, tc.reason)
				if strings.Contains(r.raw, "hunter2") {
					t.Errorf("internal error leaked:\n%s", r.raw)
				}
				if v == V11 && tc.code == Receiver && tc.subcodes == nil && !strings.Contains(r.raw, "<faultcode>s:Server</faultcode>") {
					t.Errorf("SOAP 1.1 Receiver without subcode must be s:Server:\n%s", r.raw)
				}
			})
		}
	}
}
