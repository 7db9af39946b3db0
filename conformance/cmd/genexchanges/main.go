// Command genexchanges writes the conformance scenarios under testdata/exchanges from the
// protocol behaviour of docs/protocol.md, stated here independently of the server's code, and
// copies the real client captures (byte-exact, with their manifest) to <out>/captures:
//
//	go run ./conformance/cmd/genexchanges [--captures testdata/captures] [--out testdata]
//
// Run it from the repository root. With the defaults the captures are the repository's own copy
// and are left where they are. Generated files are reviewed like any golden file before they are
// committed; main_test.go fails when the committed files differ from what this program writes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	tns      = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	acts     = "http://schemas.datacontract.org/2004/07/System.Activities"
	xsi      = "http://www.w3.org/2001/XMLSchema-instance"
	env11    = "http://schemas.xmlsoap.org/soap/envelope/"
	env12    = "http://www.w3.org/2003/05/soap-envelope"
	wsa10    = "http://www.w3.org/2005/08/addressing"
	wsa0408  = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	disp     = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
	wsaNone  = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
	actionNS = tns + "/IWorkflowInstanceManagement/"

	id        = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
	unknownID = "deadbeef-dead-beef-dead-beefdeadbeef"
	msgID     = "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"
)

var (
	out      string // the testdata directory being written
	writeErr error  // the first error of write
)

func main() {
	captures := flag.String("captures", filepath.Join("testdata", "captures"), "directory of the client captures (with manifest.json)")
	outDir := flag.String("out", "testdata", "testdata directory to write to")
	flag.Parse()
	n, c, err := generate(*outDir, *captures)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genexchanges:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d scenarios (%d from captures)\n", n, c)
}

// generate rewrites outDir/exchanges and copies the captures to outDir/captures (unless they
// are already there). It returns the number of scenarios written, of which c from captures.
func generate(outDir, captures string) (n, c int, err error) {
	out, writeErr = outDir, nil
	if err := os.RemoveAll(filepath.Join(out, "exchanges")); err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(filepath.Join(out, "exchanges"), 0o755); err != nil {
		return 0, 0, err
	}
	n = matrix()
	n += updateRules()
	n += validation()
	n += wire()
	n += specExample()
	if c, err = fromCaptures(captures); err != nil {
		return 0, 0, err
	}
	if writeErr != nil {
		return 0, 0, writeErr
	}
	return n + c, c, nil
}

// op describes one MS-WFIM operation as docs/protocol.md (Operations) and the spec's XSD have it.
type op struct {
	name  string
	kind  string // Run, Suspend, Unsuspend, Cancel, Terminate, Abandon, Update
	param string // "", "reason", "identity"
}

var ops = []op{
	{"Run", "Run", ""}, {"TransactedRun", "Run", ""},
	{"Suspend", "Suspend", "reason"}, {"TransactedSuspend", "Suspend", "reason"},
	{"Unsuspend", "Unsuspend", ""}, {"TransactedUnsuspend", "Unsuspend", ""},
	{"Cancel", "Cancel", ""}, {"TransactedCancel", "Cancel", ""},
	{"Terminate", "Terminate", "reason"}, {"TransactedTerminate", "Terminate", "reason"},
	{"Abandon", "Abandon", "reason"},
	{"Update", "Update", "identity"}, {"TransactedUpdate", "Update", "identity"},
}

// binding is how a request is framed.
type binding struct {
	name string
	v12  bool
	wsa  string // "", wsa10 or wsa0408
}

var (
	soap11      = binding{"soap11", false, ""}
	soap12wsa10 = binding{"soap12wsa10", true, wsa10}
	soap11wsa04 = binding{"soap11wsa0408", false, wsa0408}
	soap12      = binding{"soap12", true, ""}
)

// outcome is what docs/protocol.md prescribes: a fault subcode (or none) and the state after.
type outcome struct {
	fault      string // "" for success; a WorkflowServices subcode otherwise
	after      string // STATE [completion=..] [reason=..] [version=..]
	faultNS    string // subcode namespace when not WorkflowServices
	code       string // Sender unless set
	noSubcode  bool
	addressing bool // an addressing fault (WS-A fault action)
}

// table is docs/protocol.md's State table for the instance conditions the suite sets up.
func table(o op, state string) outcome {
	completed := map[string]string{
		"Closed": "Completed completion=Closed", "Canceled": "Completed completion=Canceled",
		"Terminated": "Completed completion=Terminated"}
	switch state {
	case "Unknown":
		return outcome{fault: "InstanceNotFound", after: "Unknown"}
	case "Closed", "Canceled":
		return outcome{fault: "InstanceCompleted", after: completed[state]}
	case "Terminated":
		return outcome{fault: "InstanceTerminated", after: completed[state]}
	}
	reason := `reason="` + reasonFor(o) + `"`
	switch o.kind {
	case "Run":
		if state == "Suspended" {
			return outcome{fault: "InstanceSuspended", after: "Suspended"}
		}
		return outcome{after: "Active"}
	case "Suspend":
		return outcome{after: "Suspended " + reason}
	case "Unsuspend":
		return outcome{after: "Active"}
	case "Cancel":
		return outcome{after: "Completed completion=Canceled"}
	case "Terminate":
		return outcome{after: "Completed completion=Terminated " + reason}
	case "Abandon":
		return outcome{after: state}
	case "Update": // the matrix asks for the registered update 2.0.0.0 → 2.1.0.0
		return outcome{after: state + " version=2.1.0.0"}
	}
	panic(o.kind)
}

func reasonFor(o op) string { return o.name + " requested by the conformance suite" }

// matrix writes every operation × condition × (SOAP 1.1, SOAP 1.2 + WS-A 1.0), plus every
// operation over SOAP 1.1 + WS-A 2004/08 on an Active instance and on an unknown id.
func matrix() int {
	n := 0
	for _, o := range ops {
		for _, state := range []string{"Active", "Suspended", "Closed", "Canceled", "Terminated", "Unknown"} {
			for _, b := range []binding{soap11, soap12wsa10} {
				write(fmt.Sprintf("matrix-%s-%s-%s", o.name, state, b.name),
					fmt.Sprintf("%s on a%s instance over %s: docs/protocol.md, State table.", o.name, article(state), b.name),
					setupFor(state), request(b, o, body(o, idFor(state), reasonFor(o), updateTarget)), reply(b, o, table(o, state)), afterFor(state, table(o, state)))
				n++
			}
		}
		for _, state := range []string{"Active", "Unknown"} {
			write(fmt.Sprintf("wsa0408-%s-%s", o.name, state),
				fmt.Sprintf("%s on a%s instance over SOAP 1.1 with WS-Addressing 2004/08: reply headers in that namespace.", o.name, article(state)),
				setupFor(state), request(soap11wsa04, o, body(o, idFor(state), reasonFor(o), updateTarget)), reply(soap11wsa04, o, table(o, state)), afterFor(state, table(o, state)))
			n++
		}
	}
	return n
}

func article(state string) string {
	if state == "Unknown" {
		return "n unknown"
	}
	if state == "Active" {
		return "n Active"
	}
	return " " + state
}

func idFor(state string) string {
	if state == "Unknown" {
		return unknownID
	}
	return id
}

func setupFor(state string) string {
	if state == "Unknown" {
		return ""
	}
	return id + " " + state
}

func afterFor(state string, oc outcome) string {
	if state == "Unknown" {
		return unknownID + " Unknown"
	}
	return id + " " + oc.after
}

// identity renders an updatedDefinitionIdentity element ("" = absent, "nil" = xsi:nil).
type identity struct{ name, pkg, version string }

var (
	updateTarget = &identity{"OrderProcessing", "Contoso.Workflows", "2.1.0.0"}
	currentIdent = &identity{"OrderProcessing", "Contoso.Workflows", "2.0.0.0"}
)

func body(o op, instanceID, reason string, ident *identity) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<%s xmlns="%s"><instanceId>%s</instanceId>`, o.name, tns, instanceID)
	switch o.param {
	case "reason":
		fmt.Fprintf(&b, "<reason>%s</reason>", reason)
	case "identity":
		if ident == nil {
			fmt.Fprintf(&b, `<updatedDefinitionIdentity i:nil="true" xmlns:i="%s"/>`, xsi)
		} else {
			fmt.Fprintf(&b, `<updatedDefinitionIdentity xmlns:a="%s"><a:name>%s</a:name><a:package>%s</a:package><a:version>%s</a:version></updatedDefinitionIdentity>`,
				acts, ident.name, ident.pkg, ident.version)
		}
	}
	fmt.Fprintf(&b, "</%s>", o.name)
	return b.String()
}

// request frames a body as an HTTP request of the binding.
func request(b binding, o op, bodyXML string) string {
	return requestWith(b, actionNS+o.name, "", bodyXML)
}

func requestWith(b binding, action, extraHeaders, bodyXML string) string {
	envNS, ctype := env11, "text/xml; charset=utf-8"
	if b.v12 {
		envNS, ctype = env12, "application/soap+xml; charset=utf-8"
	}
	var hdr strings.Builder
	if b.wsa != "" {
		anon := wsa10 + "/anonymous"
		if b.wsa == wsa0408 {
			anon = wsa0408 + "/role/anonymous"
		}
		fmt.Fprintf(&hdr, `<a:Action s:mustUnderstand="1">%s</a:Action><a:MessageID>%s</a:MessageID><a:ReplyTo><a:Address>%s</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">http://localhost/WorkflowControl</a:To>`,
			action, msgID, anon)
	}
	hdr.WriteString(extraHeaders)
	env := fmt.Sprintf(`<s:Envelope xmlns:s="%s"`, envNS)
	if b.wsa != "" {
		env += fmt.Sprintf(` xmlns:a="%s"`, b.wsa)
	}
	env += ">"
	if hdr.Len() > 0 {
		env += "<s:Header>" + hdr.String() + "</s:Header>"
	}
	env += "<s:Body>" + bodyXML + "</s:Body></s:Envelope>"
	h := "POST /WorkflowControl HTTP/1.1\nHost: localhost\nContent-Type: " + ctype
	if !b.v12 && action != "" {
		h += "\nSOAPAction: \"" + action + "\""
	}
	if b.v12 && b.wsa == "" && action != "" {
		h += "; action=\"" + action + "\""
	}
	return fmt.Sprintf("%s\nContent-Length: %d\n\n%s\n", h, len(env), env)
}

// reply renders the expected reply of an operation outcome.
func reply(b binding, o op, oc outcome) string {
	if oc.fault == "" && !oc.noSubcode && oc.code == "" {
		return envelope(b, 200, actionNS+o.name+"Response", fmt.Sprintf(`<%sResponse xmlns="%s"/>`, o.name, tns), "")
	}
	return faultReply(b, oc)
}

func faultReply(b binding, oc outcome) string {
	code := oc.code
	if code == "" {
		code = "Sender"
	}
	var subs [][2]string
	if !oc.noSubcode {
		ns := oc.faultNS
		if ns == "" {
			ns = tns
		}
		for _, s := range strings.Split(oc.fault, "/") {
			subs = append(subs, [2]string{ns, s})
		}
	}
	action := ""
	switch {
	case b.wsa == wsa10 && oc.addressing:
		action = wsa10 + "/fault"
	case b.wsa == wsa10:
		action = wsa10 + "/soap/fault"
	case b.wsa == wsa0408:
		action = wsa0408 + "/fault"
	}
	var f string
	if b.v12 {
		f = `<s:Fault><s:Code><s:Value>s:` + code + `</s:Value>`
		for _, s := range subs {
			f += fmt.Sprintf(`<s:Subcode><s:Value xmlns:q="%s">q:%s</s:Value>`, s[0], s[1])
		}
		f += strings.Repeat("</s:Subcode>", len(subs))
		f += `</s:Code><s:Reason><s:Text xml:lang="en">{{any}}</s:Text></s:Reason></s:Fault>`
	} else {
		fc := `<faultcode>s:` + map[string]string{"Sender": "Client", "Receiver": "Server"}[code] + `</faultcode>`
		if code != "Sender" && code != "Receiver" {
			fc = `<faultcode>s:` + code + `</faultcode>`
		}
		if len(subs) > 0 {
			fc = fmt.Sprintf(`<faultcode xmlns:q="%s">q:%s</faultcode>`, subs[0][0], subs[0][1])
		}
		f = `<s:Fault>` + fc + `<faultstring xml:lang="en">{{any}}</faultstring></s:Fault>`
	}
	return envelope(b, 500, action, f, "")
}

// envelope renders an expected reply envelope with the binding's WS-A reply headers.
func envelope(b binding, status int, action, bodyXML, extraHeaders string) string {
	envNS, ctype := env11, "text/xml; charset=utf-8"
	if b.v12 {
		envNS, ctype = env12, "application/soap+xml; charset=utf-8"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "HTTP %d\nContent-Type: %s\n\n", status, ctype)
	fmt.Fprintf(&sb, "<s:Envelope xmlns:s=\"%s\">\n", envNS)
	if b.wsa != "" || extraHeaders != "" {
		sb.WriteString("  <s:Header>\n")
		sb.WriteString(extraHeaders)
		if b.wsa != "" {
			fmt.Fprintf(&sb, "    <a:Action xmlns:a=\"%s\" s:mustUnderstand=\"1\">%s</a:Action>\n", b.wsa, action)
			fmt.Fprintf(&sb, "    <a:RelatesTo xmlns:a=\"%s\">{{messageID}}</a:RelatesTo>\n", b.wsa)
		}
		sb.WriteString("  </s:Header>\n")
	}
	fmt.Fprintf(&sb, "  <s:Body>\n    %s\n  </s:Body>\n</s:Envelope>\n", bodyXML)
	return sb.String()
}

func write(name, description, setup, req, rep, after string) {
	if !strings.HasPrefix(req, "file: ") {
		req = withContentLength(req)
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(description) + "\n")
	if setup != "" {
		b.WriteString("-- setup --\n" + setup + "\n")
	}
	b.WriteString("-- request --\n" + req)
	if !strings.HasSuffix(req, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("-- reply --\n" + rep)
	if after != "" {
		b.WriteString("-- after --\n" + after + "\n")
	}
	if err := os.WriteFile(filepath.Join(out, "exchanges", name+".txt"), []byte(b.String()), 0o644); err != nil && writeErr == nil {
		writeErr = err
	}
}

// manifestEntry is one case of the captures' manifest.json.
type manifestEntry struct {
	Client, Binding, Case, Op, InstanceID string
	RequestFile                           string  `json:"request_file"`
	SOAPVersion                           string  `json:"soap_version"`
	WSANS                                 *string `json:"wsa_ns"`
	Arg                                   any     `json:"arg"`
}

// fromCaptures copies each capture to out/captures (unless dir is that directory) and writes a
// scenario with the instance in the state the case needs and the reply docs/protocol.md
// prescribes.
func fromCaptures(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return 0, err
	}
	var cases []manifestEntry
	if err := json.Unmarshal(data, &cases); err != nil {
		return 0, err
	}
	dstDir := filepath.Join(out, "captures")
	inPlace := sameDir(dir, dstDir)
	copyFile := func(rel string) error {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil || inPlace {
			return err
		}
		dst := filepath.Join(dstDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}
	for _, f := range []string{"manifest.json", "README.md"} {
		if err := copyFile(f); err != nil {
			return 0, err
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].RequestFile < cases[j].RequestFile })
	for _, c := range cases {
		if err := copyFile(c.RequestFile); err != nil {
			return 0, err
		}
		o := opNamed(c.Op)
		b := binding{name: c.Binding, v12: c.SOAPVersion == "1.2"}
		if c.WSANS != nil {
			b.wsa = *c.WSANS
		}
		state, setupExtra := "Active", ""
		var oc outcome
		switch {
		case strings.HasSuffix(c.Case, ".fault"):
			state = "Unknown"
			oc = table(o, state)
		case strings.HasSuffix(c.Case, ".nullreason") && o.kind == "Suspend":
			oc = outcome{noSubcode: true, after: "Active"}
		case strings.HasSuffix(c.Case, ".nullidentity"):
			setupExtra = " definition=OrderProcessing@2.0.0.0"
			oc = outcome{fault: "UpdateFailed", after: "Active version=2.0.0.0"}
		case o.kind == "Update":
			setupExtra = " definition=OrderProcessing@2.0.0.0"
			oc = outcome{after: "Active version=2.1.0.0"}
		case o.kind == "Unsuspend":
			state = "Suspended"
			oc = table(o, state)
		default:
			oc = table(o, state)
			if arg, ok := c.Arg.(string); ok && (o.kind == "Suspend" || o.kind == "Terminate") {
				oc.after = strings.Split(oc.after, " reason=")[0] + " reason=" + quote(arg)
			} else if o.kind == "Terminate" {
				oc.after = "Completed completion=Terminated"
			}
		}
		setup, after := "", ""
		if state == "Unknown" {
			after = c.InstanceID + " Unknown"
		} else {
			setup = c.InstanceID + " " + state + setupExtra
			after = c.InstanceID + " " + oc.after
		}
		name := fmt.Sprintf("capture-%s-%s-%s", c.Client, c.Binding, c.Case)
		desc := fmt.Sprintf("The %s client's %s request over %s (%s), replayed byte for byte.", c.Client, c.Case, c.Binding, c.RequestFile)
		write(name, desc, setup, "file: ../captures/"+c.RequestFile+"\n", reply(b, o, oc), after)
	}
	return len(cases), nil
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func opNamed(name string) op {
	for _, o := range ops {
		if o.name == name {
			return o
		}
	}
	panic(name)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// withContentLength sets an inline request's Content-Length to its body's length (cases edit
// the body after framing it). The body runs to the final newline, which is not part of it.
func withContentLength(req string) string {
	head, body, _ := strings.Cut(req, "\n\n")
	body = strings.TrimSuffix(body, "\n")
	var lines []string
	for _, l := range strings.Split(head, "\n") {
		if !strings.HasPrefix(strings.ToLower(l), "content-length:") {
			lines = append(lines, l)
		}
	}
	lines = append(lines, fmt.Sprintf("Content-Length: %d", len(body)))
	return strings.Join(lines, "\n") + "\n\n" + body + "\n"
}
