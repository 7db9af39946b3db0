package main

import (
	"fmt"
	"strings"
)

// updateRules covers Update's identity rules (docs/protocol.md, Update) beyond the matrix's
// registered update.
func updateRules() int {
	n := 0
	unregistered := &identity{"OrderProcessing", "Contoso.Workflows", "9.9.0.0"}
	sameOther := &identity{"OrderProcessing", "Contoso.Workflows", "2.0"} // System.Version 2.0 ≠ 2.0.0.0
	for _, o := range []op{opNamed("Update"), opNamed("TransactedUpdate")} {
		for _, state := range []string{"Active", "Suspended"} {
			for _, c := range []struct {
				name, why string
				ident     *identity
				oc        outcome
			}{
				{"equal", "the instance's own identity: OK, like Run (an Active instance runs; a suspended one does not)", currentIdent, outcome{after: state + " version=2.0.0.0"}},
				{"unregistered", "an identity no registered definition has: UpdateFailed, nothing changes", unregistered, outcome{fault: "UpdateFailed", after: state + " version=2.0.0.0"}},
				{"nil", "a nil identity never equals an instance's identity: UpdateFailed", nil, outcome{fault: "UpdateFailed", after: state + " version=2.0.0.0"}},
				{"version-2.0", "version 2.0 is not 2.0.0.0 (System.Version compares build/revision): UpdateFailed", sameOther, outcome{fault: "UpdateFailed", after: state + " version=2.0.0.0"}},
			} {
				for _, b := range []binding{soap11, soap12wsa10} {
					write(fmt.Sprintf("update-%s-%s-%s-%s", o.name, c.name, state, b.name),
						fmt.Sprintf("%s of a%s instance with %s.", o.name, article(state), c.why),
						id+" "+state, request(b, o, body(o, id, "", c.ident)), reply(b, o, c.oc), id+" "+c.oc.after)
					n++
				}
			}
		}
		// Absent identity: same as nil.
		b := strings.Replace(body(o, id, "", nil), fmt.Sprintf(`<updatedDefinitionIdentity i:nil="true" xmlns:i="%s"/>`, xsi), "", 1)
		write("update-"+o.name+"-absent-Active-soap11", o.name+" without updatedDefinitionIdentity: UpdateFailed.",
			id+" Active", request(soap11, o, b), reply(soap11, o, outcome{fault: "UpdateFailed"}), id+" Active version=2.0.0.0")
		n++
	}
	return n
}

// validation covers docs/protocol.md, Validation order: instanceId, then Suspend's reason.
func validation() int {
	n := 0
	deser := outcome{fault: "DeserializationFailed", faultNS: disp}
	idCases := []struct{ name, elem string }{
		{"missing", ""},
		{"empty", "<instanceId/>"},
		{"blank", "<instanceId>   </instanceId>"},
		{"not-a-guid", "<instanceId>not-a-guid</instanceId>"},
		{"too-short", "<instanceId>6f9619ff-8b86-d011-b42d-00c04fc964f</instanceId>"},
		{"nil", `<instanceId i:nil="true" xmlns:i="` + xsi + `"/>`},
		{"child-element", "<instanceId><x>6f9619ff-8b86-d011-b42d-00c04fc964ff</x></instanceId>"},
	}
	for _, o := range ops {
		for _, c := range idCases {
			for _, b := range []binding{soap11, soap12wsa10} {
				bodyXML := strings.Replace(body(o, id, reasonFor(o), updateTarget), "<instanceId>"+id+"</instanceId>", c.elem, 1)
				write(fmt.Sprintf("invalid-id-%s-%s-%s", c.name, o.name, b.name),
					fmt.Sprintf("%s with instanceId %s: Sender fault, subcode dispatcher DeserializationFailed; the instance is untouched.", o.name, c.name),
					id+" Active", request(b, o, bodyXML), reply(b, o, deser), id+" Active")
				n++
			}
		}
	}
	// The all-zero GUID is never an instance.
	for _, o := range ops {
		write("zero-guid-"+o.name, o.name+" on the all-zero GUID: InstanceNotFound.", "",
			request(soap11, o, body(o, "00000000-0000-0000-0000-000000000000", reasonFor(o), updateTarget)),
			reply(soap11, o, outcome{fault: "InstanceNotFound"}), "")
		n++
	}
	// Every Guid.Parse form is accepted.
	forms := map[string]string{
		"upper":  strings.ToUpper(id),
		"N":      strings.ReplaceAll(id, "-", ""),
		"B":      "{" + id + "}",
		"P":      "(" + id + ")",
		"X":      "{0x6f9619ff,0x8b86,0xd011,{0xb4,0x2d,0x00,0xc0,0x4f,0xc9,0x64,0xff}}",
		"spaced": "\n   " + id + "  \t",
	}
	for name, form := range forms {
		o := opNamed("Suspend")
		bodyXML := strings.Replace(body(o, id, "guid form "+name, nil), "<instanceId>"+id+"</instanceId>", "<instanceId>"+form+"</instanceId>", 1)
		write("guid-form-"+name, "Suspend with the instance id in .NET Guid.Parse form "+name+": accepted.",
			id+" Active", request(soap11, o, bodyXML), reply(soap11, o, outcome{}), id+` Suspended reason="guid form `+name+`"`)
		n++
	}
	// Suspend needs a reason: missing, nil, empty or blank → Sender fault without subcode.
	for _, o := range []op{opNamed("Suspend"), opNamed("TransactedSuspend")} {
		for name, r := range map[string]string{
			"missing": "", "nil": `<reason i:nil="true" xmlns:i="` + xsi + `"/>`, "empty": "<reason/>", "blank": "<reason> \n\t </reason>",
		} {
			for _, b := range []binding{soap11, soap12wsa10} {
				bodyXML := strings.Replace(body(o, id, "x", nil), "<reason>x</reason>", r, 1)
				write(fmt.Sprintf("reason-%s-%s-%s", name, o.name, b.name),
					fmt.Sprintf("%s with a %s reason: Sender fault without subcode (SOAP 1.1 faultcode Client); the state is unchanged.", o.name, name),
					id+" Active", request(b, o, bodyXML), reply(b, o, outcome{noSubcode: true}), id+" Active")
				n++
			}
		}
		// A bad instanceId is reported before the missing reason.
		bodyXML := fmt.Sprintf(`<%s xmlns="%s"><instanceId>nope</instanceId></%s>`, o.name, tns, o.name)
		write("reason-after-id-"+o.name, o.name+" with a bad instanceId and no reason: the instanceId is validated first.",
			id+" Active", request(soap11, o, bodyXML), reply(soap11, o, deser), id+" Active")
		n++
		// The reason is validated before the instance lookup: an unknown id with no reason
		// gets the reason fault.
		bodyXML = fmt.Sprintf(`<%s xmlns="%s"><instanceId>%s</instanceId></%s>`, o.name, tns, unknownID, o.name)
		write("reason-before-lookup-"+o.name, o.name+" with no reason on an unknown id: the reason is validated before the lookup.",
			"", request(soap11, o, bodyXML), reply(soap11, o, outcome{noSubcode: true}), "")
		n++
	}
	// Other reasons may be nil or empty.
	for _, o := range []op{opNamed("Terminate"), opNamed("Abandon")} {
		bodyXML := strings.Replace(body(o, id, "x", nil), "<reason>x</reason>", `<reason i:nil="true" xmlns:i="`+xsi+`"/>`, 1)
		after := "Active"
		if o.kind == "Terminate" {
			after = `Completed completion=Terminated reason=""`
		}
		write("reason-nil-"+o.name, o.name+" with a nil reason: accepted (only Suspend requires one).",
			id+" Active", request(soap11, o, bodyXML), reply(soap11, o, outcome{}), id+" "+after)
		n++
	}
	return n
}

// wire covers the envelope rules of docs/protocol.md: Wire, Actions, WS-Addressing,
// mustUnderstand and Tolerance.
func wire() int {
	n := 0
	run := opNamed("Run")
	suspend := opNamed("Suspend")
	runBody := body(run, id, "", nil)
	addr := func(sub string) outcome {
		return outcome{fault: "InvalidAddressingHeader/" + sub, faultNS: wsa10, addressing: true}
	}
	type wc struct {
		name, why, setup, req, rep, after string
	}
	cases := []wc{
		{"soap12-content-type-action", "SOAP 1.2 without WS-Addressing: the action comes from the Content-Type action parameter; no reply headers.",
			id + " Active", requestWith(soap12, actionNS+"Run", "", runBody), reply(soap12, run, outcome{}), id + " Active"},
		{"soap11-action-from-body", "SOAP 1.1 with no SOAPAction header: the body wrapper's QName names the operation.",
			id + " Active", requestWith(soap11, "", "", body(suspend, id, "by wrapper", nil)), reply(soap11, suspend, outcome{}), id + ` Suspended reason="by wrapper"`},
		{"soapaction-unquoted", "An unquoted SOAPAction is accepted.",
			id + " Active", strings.Replace(request(soap11, run, runBody), `SOAPAction: "`+actionNS+`Run"`, "SOAPAction: "+actionNS+"Run", 1), reply(soap11, run, outcome{}), id + " Active"},
		{"soapaction-lowercase-header", "Header names are case-insensitive.",
			id + " Active", strings.Replace(request(soap11, run, runBody), "SOAPAction:", "soapaction:", 1), reply(soap11, run, outcome{}), id + " Active"},
		{"action-not-supported-soap11", "An unknown SOAPAction: Sender fault ActionNotSupported in WCF's no-addressing namespace.",
			id + " Active", requestWith(soap11, actionNS+"Pause", "", strings.ReplaceAll(runBody, "Run", "Pause")),
			faultReply(soap11, outcome{fault: "ActionNotSupported", faultNS: wsaNone}), id + " Active"},
		{"action-not-supported-wsa10", "An unknown wsa:Action: Sender fault wsa:ActionNotSupported with the WS-A fault action.",
			id + " Active", requestWith(soap12wsa10, actionNS+"Pause", "", strings.ReplaceAll(runBody, "Run", "Pause")),
			faultReply(soap12wsa10, outcome{fault: "ActionNotSupported", faultNS: wsa10, addressing: true}), id + " Active"},
		{"action-mismatch", "SOAPAction says Suspend, the body is Run: the sources disagree, Sender fault ActionMismatch; nothing changes.",
			id + " Active", requestWith(soap11, actionNS+"Suspend", "", runBody), faultReply(soap11, addr("ActionMismatch")), id + " Active"},
		{"action-mismatch-wsa-vs-soapaction", "wsa:Action says Run, SOAPAction says Suspend: ActionMismatch.",
			id + " Active", strings.Replace(requestWith(binding{"soap11wsa10", false, wsa10}, actionNS+"Run", "", runBody), `SOAPAction: "`+actionNS+`Run"`, `SOAPAction: "`+actionNS+`Suspend"`, 1),
			faultReply(binding{"soap11wsa10", false, wsa10}, addr("ActionMismatch")), id + " Active"},
		{"replyto-not-anonymous", "A ReplyTo that is not anonymous: Sender fault (only anonymous replies are supported); nothing changes.",
			id + " Active", strings.Replace(request(soap12wsa10, suspend, body(suspend, id, "r", nil)), wsa10+"/anonymous", "http://client.example/replies", 1),
			faultReply(soap12wsa10, addr("OnlyAnonymousAddressSupported")), id + " Active"},
		{"replyto-2004-anonymous-in-wsa10", "A ReplyTo with the 2004/08 anonymous URI is accepted in a WS-A 1.0 message.",
			id + " Active", strings.Replace(request(soap12wsa10, run, runBody), wsa10+"/anonymous", wsa0408+"/role/anonymous", 1), reply(soap12wsa10, run, outcome{}), id + " Active"},
		{"must-understand-unknown-soap11", "A mustUnderstand header we do not process: MustUnderstand fault; nothing changes.",
			id + " Active", requestWith(soap11, actionNS+"Suspend", `<x:Audit xmlns:x="urn:example" s:mustUnderstand="1">x</x:Audit>`, body(suspend, id, "r", nil)),
			faultReply(soap11, outcome{code: "MustUnderstand", noSubcode: true}), id + " Active"},
		{"must-understand-true-soap12", "mustUnderstand=\"true\" counts: MustUnderstand fault with a NotUnderstood header.",
			id + " Active", requestWith(soap12wsa10, actionNS+"Suspend", `<x:Audit xmlns:x="urn:example" s:mustUnderstand="true">x</x:Audit>`, body(suspend, id, "r", nil)),
			mustUnderstandReply(soap12wsa10, "urn:example", "Audit"), id + " Active"},
		{"must-understand-other-role", "A mustUnderstand header addressed to another role is not ours to process.",
			id + " Active", requestWith(soap12wsa10, actionNS+"Run", `<x:Audit xmlns:x="urn:example" s:mustUnderstand="1" s:role="urn:someone-else">x</x:Audit>`, runBody),
			reply(soap12wsa10, run, outcome{}), id + " Active"},
		{"must-understand-no-flag", "An unknown header without mustUnderstand is ignored.",
			id + " Active", requestWith(soap11, actionNS+"Run", `<x:Audit xmlns:x="urn:example">x</x:Audit>`, runBody), reply(soap11, run, outcome{}), id + " Active"},
		{"wsat-coordination-context", "A flowed WS-AtomicTransaction CoordinationContext: wimp does not join distributed transactions, MustUnderstand fault; nothing changes.",
			id + " Active", requestWith(soap12wsa10, actionNS+"TransactedSuspend", `<c:CoordinationContext xmlns:c="http://schemas.xmlsoap.org/ws/2004/10/wscoor" s:mustUnderstand="1"><c:Identifier>urn:uuid:1</c:Identifier></c:CoordinationContext>`, body(opNamed("TransactedSuspend"), id, "r", nil)),
			mustUnderstandReply(soap12wsa10, "http://schemas.xmlsoap.org/ws/2004/10/wscoor", "CoordinationContext"), id + " Active"},
		{"oletx-transaction", "A flowed OleTxTransaction header: MustUnderstand fault; nothing changes.",
			id + " Active", requestWith(soap11, actionNS+"TransactedTerminate", `<o:OleTxTransaction xmlns:o="http://schemas.microsoft.com/ws/2006/02/tx/oletx" s:mustUnderstand="1"><o:PropagationToken>AA==</o:PropagationToken></o:OleTxTransaction>`, body(opNamed("TransactedTerminate"), id, "r", nil)),
			faultReply(soap11, outcome{code: "MustUnderstand", noSubcode: true}), id + " Active"},
		{"version-mismatch", "An envelope in an unknown namespace: VersionMismatch, as a SOAP 1.1 fault carrying the SOAP 1.2 Upgrade header.",
			"", strings.Replace(request(soap11, run, runBody), env11, "urn:not-soap", 1), versionMismatchReply(), ""},
		{"dtd-refused", "A DTD in the request: refused with a Sender fault, nothing processed.",
			id + " Active", strings.Replace(request(soap11, suspend, body(suspend, id, "r", nil)), "<s:Envelope", `<!DOCTYPE s:Envelope [<!ENTITY x "y">]><s:Envelope`, 1),
			faultReply(soap11, outcome{noSubcode: true}), id + " Active"},
		{"not-well-formed", "A body that is not well-formed XML: Sender fault.",
			id + " Active", strings.Replace(request(soap11, suspend, body(suspend, id, "r", nil)), "</s:Body>", "</s:Bod>", 1),
			faultReply(soap11, outcome{noSubcode: true}), id + " Active"},
		{"tolerance", "Liberal acceptance: BOM, XML declaration, comments, odd prefixes, xsi:type and encodingStyle, unused namespaces, children out of order, unknown children.",
			id + " Active", tolerantRequest(), reply(soap11, suspend, outcome{}), id + ` Suspended reason="tolerated"`},
	}
	for _, c := range cases {
		write("wire-"+c.name, c.why, c.setup, c.req, c.rep, c.after)
		n++
	}
	return n
}

func mustUnderstandReply(b binding, ns, local string) string {
	r := faultReply(b, outcome{code: "MustUnderstand", noSubcode: true})
	nu := fmt.Sprintf("    <s:NotUnderstood xmlns:p=\"%s\" qname=\"p:%s\"/>\n", ns, local)
	return strings.Replace(r, "  <s:Header>\n", "  <s:Header>\n"+nu, 1)
}

func versionMismatchReply() string {
	return `HTTP 500
Content-Type: text/xml; charset=utf-8

<s:Envelope xmlns:s="` + env11 + `">
  <s:Header>
    <u:Upgrade xmlns:u="` + env12 + `">
      <u:SupportedEnvelope xmlns:e="` + env12 + `" qname="e:Envelope"/>
      <u:SupportedEnvelope xmlns:e="` + env11 + `" qname="e:Envelope"/>
    </u:Upgrade>
  </s:Header>
  <s:Body>
    <s:Fault><faultcode>s:VersionMismatch</faultcode><faultstring xml:lang="en">{{any}}</faultstring></s:Fault>
  </s:Body>
</s:Envelope>
`
}

func tolerantRequest() string {
	env := "\ufeff" + `<?xml version="1.0" encoding="utf-8"?>
<!-- a comment before the envelope -->
<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + env11 + `" xmlns:unused="urn:unused" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
  <SOAP-ENV:Body>
    <!-- operation -->
    <w:Suspend xmlns:w="` + tns + `" xmlns:xsi="` + xsi + `">
      <w:unknownChild>ignored</w:unknownChild>
      <w:reason xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">tolerated</w:reason>
      <w:instanceId>` + id + `</w:instanceId>
    </w:Suspend>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`
	return fmt.Sprintf("POST /WorkflowControl HTTP/1.1\nHost: localhost\nContent-Type: text/xml; charset=utf-8\nSOAPAction: \"%sSuspend\"\nContent-Length: %d\n\n%s\n", actionNS, len(env), env)
}

// specExample is [MS-WFIM] section 4's Suspend exchange (SOAP 1.2, WS-Addressing 1.0). The
// spec's reply relates to another message id; a WS-A server echoes the request's MessageID.
func specExample() int {
	env := `<s:Envelope xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:s="http://www.w3.org/2003/05/soap-envelope">
  <s:Header>
    <a:Action s:mustUnderstand="1">http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/Suspend</a:Action>
    <a:MessageID>urn:uuid:8afb36d3-9a6e-47df-9313-f005242ea3ed</a:MessageID>
    <a:ReplyTo>
      <a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address>
    </a:ReplyTo>
    <a:To s:mustUnderstand="1">net.pipe://localhost/workflowControlServiceEndpoint/2308/c50fb3bb-6c52-43b3-af57-8acb43a487b7</a:To>
  </s:Header>
  <s:Body>
    <Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices">
      <instanceId>349be129-fb36-49e5-abb8-76b9831fc7b6</instanceId>
      <reason>
              Suspend the instance
      </reason>
    </Suspend>
  </s:Body>
</s:Envelope>`
	req := fmt.Sprintf("POST /WorkflowControl HTTP/1.1\nHost: localhost\nContent-Type: application/soap+xml; charset=utf-8\nContent-Length: %d\n\n%s\n", len(env), env)
	rep := `HTTP 200
Content-Type: application/soap+xml; charset=utf-8

<s:Envelope xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:s="http://www.w3.org/2003/05/soap-envelope">
  <s:Header>
    <a:Action s:mustUnderstand="1">http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/SuspendResponse</a:Action>
    <a:RelatesTo>urn:uuid:8afb36d3-9a6e-47df-9313-f005242ea3ed</a:RelatesTo>
  </s:Header>
  <s:Body>
    <SuspendResponse xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices" />
  </s:Body>
</s:Envelope>
`
	write("spec-section4-suspend", `[MS-WFIM] section 4: the spec's own Suspend example, byte for byte (SOAP 1.2, WS-Addressing 1.0,
a net.pipe To that is not compared with our address, a reason with surrounding white space).
The spec's reply shows RelatesTo urn:uuid:89a7d122-…, a different message's id (two captures
mixed); WS-Addressing requires the request's MessageID, which is what is expected here.`,
		"349be129-fb36-49e5-abb8-76b9831fc7b6 Active", req, rep,
		`349be129-fb36-49e5-abb8-76b9831fc7b6 Suspended reason="\n              Suspend the instance\n      "`)
	return 1
}
