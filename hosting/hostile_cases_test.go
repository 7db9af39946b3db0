package hosting

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf16"
)

// HostileCase is a request the hosting endpoint must refuse without touching the host.
type HostileCase struct {
	Name        string
	ContentType string
	SOAPAction  string // without quotes; "" for none
	Body        string
	// Subcode is the fault's expected first subcode local name: "" for a Sender fault without
	// subcode, "MustUnderstand" for that fault code, otherwise a subcode in NS.
	Subcode string
	// Reason, if set, is a substring of the fault reason.
	Reason string
}

// HostileRequests lists one request of every malformed class (XML 1.0 well-formedness,
// Namespaces in XML 1.0, SOAP 1.1/1.2 envelope structure, the parser limits, mustUnderstand,
// and arguments that hold an element instead of text, or a value of the wrong type). id is an
// existing instance's id, which ResumeBookmark requests name. Every URI is spelt out literally.
func HostileRequests(id string) []HostileCase {
	const (
		ns   = "urn:wimp:workflow-hosting:2026-11"
		act  = "urn:wimp:workflow-hosting:2026-11/IWorkflowHosting/"
		ct11 = "text/xml; charset=utf-8"
		ct12 = "application/soap+xml; charset=utf-8"
	)
	env11 := func(header, body string) string {
		h := ""
		if header != "" {
			h = "<s:Header>" + header + "</s:Header>"
		}
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
	}
	env12 := func(header, body string) string {
		h := ""
		if header != "" {
			h = "<s:Header>" + header + "</s:Header>"
		}
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` + h + `<s:Body>` + body + `</s:Body></s:Envelope>`
	}
	create := func(attrs, inner string) string {
		return `<Create xmlns="` + ns + `"` + attrs + `><definition>Hello</definition>` + inner + `</Create>`
	}
	resume := func(attrs, bookmark, payload string) string {
		return `<ResumeBookmark xmlns="` + ns + `"` + attrs + `><instanceId>` + id + `</instanceId><bookmark>` + bookmark +
			`</bookmark><payload>` + payload + `</payload></ResumeBookmark>`
	}
	okResume := resume("", "Review", `{"approved": true, "reviewer": "x"}`)
	// The bulk operations select the waiting instance (unless they have a filter of their own);
	// Purge's would delete every completed instance.
	bulk := func(inner string) string {
		if !strings.Contains(inner, "<filter>") {
			inner += `<filter><bookmark>Review</bookmark></filter>`
		}
		return `<StartBulkOperation xmlns="` + ns + `">` + inner + `</StartBulkOperation>`
	}
	purge := func(inner string) string { return `<Purge xmlns="` + ns + `">` + inner + `</Purge>` }
	utf16le := func(s string) string {
		u := append([]uint16{0xFEFF}, utf16.Encode([]rune(s))...)
		b := make([]byte, 2*len(u))
		for i, x := range u {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
		return string(b)
	}
	lone := utf16le(env11("", okResume))
	lone = lone[:60] + "\x00\xd8" + lone[60:] // a high surrogate followed by no low one
	cases := []HostileCase{
		{"duplicate attribute", ct11, act + "Create", env11("", create(` a="1" a="2"`, "")), "", ""},
		{"two prefixes of one namespace, same local name", ct11, act + "ResumeBookmark", env11("", resume(` xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"`, "Review", `{"approved": true}`)), "", ""},
		{"prefix declared twice", ct11, act + "Create", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + create("", "") + `</s:Body></s:Envelope>`, "", ""},
		{"Header after Body", ct11, act + "Create", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + create("", "") + `</s:Body><s:Header/></s:Envelope>`, "", ""},
		{"two Creates in one Body", ct11, act + "Create", env11("", create("", "")+create("", "")), "", ""},
		{"two ResumeBookmarks in one Body", ct12, act + "ResumeBookmark", env12("", okResume+okResume), "", ""},
		{"reference to a surrogate", ct11, act + "Create", env11("", create("", `<inputs><input><name>name</name><value>"&#xD800;"</value></input></inputs>`)), "", ""},
		{"reference to U+0000", ct11, act + "ResumeBookmark", env11("", resume("", "Review", `{"reviewer": "&#0;"}`)), "", ""},
		{"reference to U+0001", ct11, act + "ResumeBookmark", env11("", resume("", "Review&#x1;", `{}`)), "", ""},
		{"reference to U+FFFE", ct12, act + "ResumeBookmark", env12("", resume("", "Review", `{"reviewer": "&#xFFFE;"}`)), "", ""},
		{"literal U+0001", ct11, act + "ResumeBookmark", env11("", resume("", "Review", "{\"reviewer\": \"\x01\"}")), "", ""},
		{"UTF-16 unpaired surrogate", "text/xml; charset=utf-16", act + "ResumeBookmark", lone, "", ""},
		{"text in the Envelope", ct12, act + "Create", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">text<s:Body>` + create("", "") + `</s:Body></s:Envelope>`, "", ""},
		{"text in the Body", ct11, act + "ResumeBookmark", env11("", okResume+"text"), "", ""},
		{"undeclaring a prefix", ct11, act + "Create", env11("", create(` xmlns:p=""`, "")), "", ""},
		{"xml bound to another namespace", ct11, act + "Create", env11("", create(` xmlns:xml="urn:x"`, "")), "", ""},
		{"xmlns declared as a prefix", ct11, act + "Create", env11("", create(` xmlns:xmlns="urn:x"`, "")), "", ""},
		{"another prefix bound to the xml namespace", ct11, act + "Create", env11("", create(` xmlns:x="http://www.w3.org/XML/1998/namespace"`, "")), "", ""},
		{"processing instruction", ct11, act + "Create", env11("", `<?pi x?>`+create("", "")), "", ""},
		{"unqualified header block", ct12, act + "Create", env12(`<Trace>1</Trace>`, create("", "")), "", ""},
		{"nesting past MaxDepth", ct11, act + "Create", env11("", create("", strings.Repeat("<x>", 62)+strings.Repeat("</x>", 62))), "", ""},
		{"elements past MaxElements", ct11, act + "Create", env11(`<h xmlns="urn:h">`+strings.Repeat("<b/>", 8192)+`</h>`, create("", "")), "", ""},
		{"attributes past MaxAttributesPerElement", ct11, act + "Create", env11("", create(attrs(257), "")), "", ""},
		{"mustUnderstand header for role next", ct12, act + "Create", env12(`<x:Tx s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:x="urn:x"/>`, create("", "")), "MustUnderstand", ""},
		{"mustUnderstand header for role ultimateReceiver", ct12, act + "ResumeBookmark", env12(`<x:Tx s:mustUnderstand="1" s:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver" xmlns:x="urn:x"/>`, okResume), "MustUnderstand", ""},
		{"bookmark holding an element", ct11, act + "ResumeBookmark", env11("", resume("", "<b>Review</b>", `{}`)), "InvalidArgument", "must be text"},
		{"payload holding an element", ct11, act + "ResumeBookmark", env11("", resume("", "Review", `<p>{"approved": true}</p>`)), "InvalidArgument", "must be text"},
		{"instanceId holding an element", ct11, act + "ResumeBookmark", env11("", `<ResumeBookmark xmlns="`+ns+`"><instanceId><i>`+id+`</i></instanceId><bookmark>Review</bookmark></ResumeBookmark>`), "InvalidArgument", "must be text"},
		{"definition holding an element", ct11, act + "Create", env11("", `<Create xmlns="`+ns+`"><definition><d>Hello</d></definition></Create>`), "InvalidArgument", "must be text"},
		{"version holding an element", ct11, act + "Create", env11("", `<Create xmlns="`+ns+`"><definition>Hello</definition><version><v/>1.0.0.0</version></Create>`), "InvalidArgument", "must be text"},
		{"input name holding an element", ct11, act + "Create", env11("", create("", `<inputs><input><name><n>name</n></name><value>"x"</value></input></inputs>`)), "InvalidArgument", "must be text"},
		{"input value holding an element", ct11, act + "Create", env11("", create("", `<inputs><input><name>name</name><value><v>"x"</v></value></input></inputs>`)), "InvalidArgument", "must be text"},
		{"input with two values", ct11, act + "Create", env11("", create("", `<inputs><input><name>name</name><value>"x"</value><value>"y"</value></input></inputs>`)), "InvalidArgument", "more than once"},
		{"ListInstances state holding an element", ct11, act + "ListInstances", env11("", `<ListInstances xmlns="`+ns+`"><state><s/>Active</state></ListInstances>`), "InvalidArgument", "must be text"},
		{"ListInstances limit holding an element", ct11, act + "ListInstances", env11("", `<ListInstances xmlns="`+ns+`"><limit><l/></limit></ListInstances>`), "InvalidArgument", "must be text"},
		{"GetTrackingRecords after holding an element", ct11, act + "GetTrackingRecords", env11("", `<GetTrackingRecords xmlns="`+ns+`"><instanceId>`+id+`</instanceId><after><a/>1</after></GetTrackingRecords>`), "InvalidArgument", "must be text"},
		{"the same input twice", ct11, act + "Create", env11("", create("", `<inputs><input><name>name</name><value>"x"</value></input><input><name>name</name><value>"y"</value></input></inputs>`)), "InvalidArgument", "more than once"},
		{"two Purges in one Body", ct11, act + "Purge", env11("", purge(`<dryRun>true</dryRun>`)+purge(`<dryRun>true</dryRun>`)), "", ""},
		{"two StartBulkOperations in one Body", ct12, act + "StartBulkOperation", env12("", bulk(`<operation>Terminate</operation>`)+bulk(`<operation>Terminate</operation>`)), "", ""},
		{"StartBulkOperation without an operation", ct11, act + "StartBulkOperation", env11("", bulk(`<reason>r</reason>`)), "InvalidArgument", "operation is required"},
		{"StartBulkOperation with two operations", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><operation>Suspend</operation>`)), "InvalidArgument", "more than once"},
		{"StartBulkOperation operation holding an element", ct11, act + "StartBulkOperation", env11("", bulk(`<operation><o/>Terminate</operation>`)), "InvalidArgument", "must be text"},
		{"StartBulkOperation reason holding an element", ct12, act + "StartBulkOperation", env12("", bulk(`<operation>Terminate</operation><reason><r/></reason>`)), "InvalidArgument", "must be text"},
		{"StartBulkOperation filter state holding an element", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><filter><state><s/>Active</state></filter>`)), "InvalidArgument", "must be text"},
		{"StartBulkOperation filter with an unknown state", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><filter><state>Sleeping</state></filter>`)), "InvalidArgument", "filter/state"},
		{"StartBulkOperation filter version not a System.Version", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><filter><version>1</version></filter>`)), "InvalidArgument", "filter/version"},
		{"StartBulkOperation dryRun not a boolean", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><dryRun>yes</dryRun>`)), "InvalidArgument", "dryRun"},
		{"StartBulkOperation ratePerSecond not a number", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><ratePerSecond>fast</ratePerSecond>`)), "InvalidArgument", "ratePerSecond"},
		{"StartBulkOperation ratePerSecond INF", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><ratePerSecond>INF</ratePerSecond>`)), "InvalidArgument", "ratePerSecond"},
		{"StartBulkOperation ratePerSecond NaN", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><ratePerSecond>NaN</ratePerSecond>`)), "InvalidArgument", "ratePerSecond"},
		{"StartBulkOperation ratePerSecond negative", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><ratePerSecond>-1</ratePerSecond>`)), "InvalidArgument", "ratePerSecond"},
		{"StartBulkOperation ratePerSecond hexadecimal", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><ratePerSecond>0x1p4</ratePerSecond>`)), "InvalidArgument", "ratePerSecond"},
		{"StartBulkOperation maxInstances negative", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><maxInstances>-5</maxInstances>`)), "InvalidArgument", "maxInstances"},
		{"StartBulkOperation maxInstances a fraction", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Terminate</operation><maxInstances>1.5</maxInstances>`)), "InvalidArgument", "maxInstances"},
		{"StartBulkOperation identity name holding an element", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Update</operation><identity><name><n/>ExpenseApproval</name><package>wimp.samples</package><version>2.0.0.0</version></identity>`)), "InvalidArgument", "must be text"},
		{"StartBulkOperation identity with two versions", ct11, act + "StartBulkOperation", env11("", bulk(`<operation>Update</operation><identity><name>ExpenseApproval</name><package>wimp.samples</package><version>2.0.0.0</version><version>1.0.0.0</version></identity>`)), "InvalidArgument", "more than once"},
		{"GetBulkOperation jobId not a GUID", ct11, act + "GetBulkOperation", env11("", `<GetBulkOperation xmlns="`+ns+`"><jobId>job-1</jobId></GetBulkOperation>`), "InvalidArgument", "is not a GUID"},
		{"GetBulkOperation itemsLimit negative", ct11, act + "GetBulkOperation", env11("", `<GetBulkOperation xmlns="`+ns+`"><jobId>`+id+`</jobId><itemsLimit>-1</itemsLimit></GetBulkOperation>`), "InvalidArgument", "itemsLimit"},
		{"GetBulkOperation itemsAfter not an integer", ct12, act + "GetBulkOperation", env12("", `<GetBulkOperation xmlns="`+ns+`"><jobId>`+id+`</jobId><itemsAfter>first</itemsAfter></GetBulkOperation>`), "InvalidArgument", "itemsAfter"},
		{"CancelBulkOperation jobId holding an element", ct11, act + "CancelBulkOperation", env11("", `<CancelBulkOperation xmlns="`+ns+`"><jobId><j>`+id+`</j></jobId></CancelBulkOperation>`), "InvalidArgument", "must be text"},
		{"CancelBulkOperation without a jobId", ct11, act + "CancelBulkOperation", env11("", `<CancelBulkOperation xmlns="`+ns+`"/>`), "InvalidArgument", "is not a GUID"},
		{"Purge filter with an unknown completion", ct11, act + "Purge", env11("", purge(`<filter><completion>Done</completion></filter>`)), "InvalidArgument", "filter/completion"},
		{"Purge filter given twice", ct11, act + "Purge", env11("", purge(`<filter><definition>Hello</definition></filter><filter/>`)), "InvalidArgument", "more than once"},
		{"Purge filter createdBefore not a dateTime", ct11, act + "Purge", env11("", purge(`<filter><createdBefore>yesterday</createdBefore></filter>`)), "InvalidArgument", "filter/createdBefore"},
		{"Purge dryRun not a boolean", ct12, act + "Purge", env12("", purge(`<dryRun>maybe</dryRun>`)), "InvalidArgument", "dryRun"},
		{"Purge dryRun holding an element", ct11, act + "Purge", env11("", purge(`<dryRun><d/>true</dryRun>`)), "InvalidArgument", "must be text"},
	}
	return cases
}

// attrs is n distinct attributes b0="v" b1="v" ...
func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" b" + strconv.Itoa(i) + `="v"`)
	}
	return b.String()
}
