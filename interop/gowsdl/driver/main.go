// Command driver calls MS-WFIM operations through the Go client that gowsdl v0.5.0
// generates from wimp-server's own ?wsdl, and reports what that client saw. It decides
// nothing: the Go test (../gowsdl_test.go) copies this module to a temporary directory,
// runs gowsdl there (which writes the package ./wfim, never committed), builds this
// driver against it, feeds it calls and judges the outcomes.
//
// Usage:
//
//	driver ENDPOINT < calls.jsonl > results.jsonl
//	driver -probe ENDPOINT
//
// Each input line is one call, as the interop package's other JSON drivers take it:
//
//	{"seq":1,"binding":"soap11","op":"Suspend","id":"...","reason":"..."|null,
//	 "identity":{"name":...,"package":...,"version":...}|null,"idNull":false}
//
// It goes through the generated IWorkflowInstanceManagement over gowsdl's soap.Client
// (SOAP 1.1 only, the WSDL's DefaultBinding_IWorkflowInstanceManagement port). The
// generated request types hold every element as a pointer with omitempty: a null reason
// or identity, and idNull, leave the element out (gowsdl cannot write xsi:nil); an
// identity's empty strings are sent as empty elements.
//
// One JSON line per call on stdout:
//
//	{"seq":1,"outcome":"ok","http":200}
//	{"seq":1,"outcome":"fault","http":500,"faultcode":"a:InstanceNotFound",
//	 "codeNs":...,"codeName":...,"reason":"<faultstring>"}
//	{"seq":1,"outcome":"error","http":...,"errorType":"*soap.HTTPError","error":...}
//
// faultcode and reason are soap.SOAPFault's Code and String as gowsdl decoded them;
// codeNs/codeName are that QName resolved against the namespace declarations in scope
// at the reply's faultcode element (gowsdl keeps Code as a plain string, see below).
//
// Two work-arounds for gowsdl v0.5.0, both confined to the HTTP client handed to
// soap.NewClient (soap.WithHTTPClient); the generated code is used unedited:
//
//  1. gowsdl's soap.Client returns *soap.HTTPError for every HTTP status >= 400 and never
//     decodes the body, although SOAP 1.1 (§6.2) sends every fault with HTTP 500: out of
//     the box a generated client cannot report any fault's code. The driver's HTTP client
//     passes a 500 reply to gowsdl as 200 (keeping the real status for the report), so
//     gowsdl's own envelope decoding turns it into the *soap.SOAPFault it returns.
//  2. soap.SOAPFault.Code is the faultcode's text ("a:InstanceNotFound") without the
//     namespace bindings of the reply, so its prefix cannot be resolved through gowsdl.
//     The driver keeps the reply body and resolves the prefix there, as a gowsdl user
//     would have to.
//
// -probe shows bug 1 and how the generated types write requests: one Run on an unknown
// id through a plain soap.NewClient (no work-around), then an Update and a Suspend with
// a null reason whose request bodies are printed, as one JSON object.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/wimp-project/wimp/interop/gowsdl/driver/wfim"
)

const soap11Env = "http://schemas.xmlsoap.org/soap/envelope/"

type identity struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Version string `json:"version"`
}

type call struct {
	Seq      int       `json:"seq"`
	Binding  string    `json:"binding"`
	Op       string    `json:"op"`
	ID       string    `json:"id"`
	Reason   *string   `json:"reason"`
	Identity *identity `json:"identity"`
	IDNull   bool      `json:"idNull"`
}

type result struct {
	Seq       int    `json:"seq"`
	Outcome   string `json:"outcome"`
	HTTP      int    `json:"http"`
	Faultcode string `json:"faultcode,omitempty"`
	CodeNs    string `json:"codeNs,omitempty"`
	CodeName  string `json:"codeName,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

// recorder is the http client handed to gowsdl: it keeps the last request and reply
// and, with faultsAs200, passes a SOAP fault's HTTP 500 to gowsdl as 200 (work-around 1).
type recorder struct {
	client      *http.Client
	faultsAs200 bool

	request, reply []byte
	status         int
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.request, r.reply, r.status = nil, nil, 0
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		r.request = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	res, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	r.reply, r.status = body, res.StatusCode
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); r.faultsAs200 &&
		res.StatusCode == http.StatusInternalServerError && mt == "text/xml" {
		res.StatusCode, res.Status = http.StatusOK, "200 OK"
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-probe" {
		if err := probe(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: driver ENDPOINT < calls.jsonl | driver -probe ENDPOINT")
		os.Exit(2)
	}
	rec := &recorder{client: &http.Client{Timeout: 30 * time.Second}, faultsAs200: true}
	svc := wfim.NewIWorkflowInstanceManagement(soap.NewClient(os.Args[1], soap.WithHTTPClient(rec)))

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	for in.Scan() {
		var c call
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Fprintf(os.Stderr, "input %q: %v\n", in.Text(), err)
			os.Exit(1)
		}
		res := result{Seq: c.Seq}
		switch {
		case c.Binding != "soap11":
			res.Outcome, res.ErrorType, res.Error = "error", "driver", "gowsdl's client speaks SOAP 1.1 only, not "+c.Binding
		default:
			err := invoke(svc, c)
			res.HTTP = rec.status
			report(&res, err, rec.reply)
		}
		if err := out.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// report fills res from what the generated method returned.
func report(res *result, err error, reply []byte) {
	var fault *soap.SOAPFault
	switch {
	case err == nil:
		res.Outcome = "ok"
	case errors.As(err, &fault):
		res.Outcome, res.Faultcode, res.Reason = "fault", fault.Code, fault.String
		text, ns, local, rerr := resolveFaultcode(reply)
		switch {
		case rerr != nil:
			res.Outcome, res.ErrorType, res.Error = "error", "driver", "resolving the faultcode: "+rerr.Error()
		case text != strings.TrimSpace(fault.Code):
			res.Outcome, res.ErrorType, res.Error = "error", "driver",
				fmt.Sprintf("gowsdl's SOAPFault.Code %q is not the reply's faultcode %q", fault.Code, text)
		default:
			res.CodeNs, res.CodeName = ns, local
		}
	default: // *soap.HTTPError for another status, a decoding or network error
		res.Outcome, res.ErrorType, res.Error = "error", fmt.Sprintf("%T", err), err.Error()
	}
}

// invoke makes c's call through the generated client.
func invoke(svc wfim.IWorkflowInstanceManagement, c call) error {
	var id *wfim.Guid
	if !c.IDNull {
		g := wfim.Guid(c.ID)
		id = &g
	}
	var ident *wfim.WorkflowIdentity
	if c.Identity != nil {
		n, p, v := c.Identity.Name, c.Identity.Package, c.Identity.Version
		ident = &wfim.WorkflowIdentity{Name: &n, Package_: &p, Version: &v}
	}
	reason := c.Reason
	var err error
	switch c.Op {
	case "Run":
		_, err = svc.Run(&wfim.Run{InstanceId: id})
	case "TransactedRun":
		_, err = svc.TransactedRun(&wfim.TransactedRun{InstanceId: id})
	case "Suspend":
		_, err = svc.Suspend(&wfim.Suspend{InstanceId: id, Reason: reason})
	case "TransactedSuspend":
		_, err = svc.TransactedSuspend(&wfim.TransactedSuspend{InstanceId: id, Reason: reason})
	case "Unsuspend":
		_, err = svc.Unsuspend(&wfim.Unsuspend{InstanceId: id})
	case "TransactedUnsuspend":
		_, err = svc.TransactedUnsuspend(&wfim.TransactedUnsuspend{InstanceId: id})
	case "Cancel":
		_, err = svc.Cancel(&wfim.Cancel{InstanceId: id})
	case "TransactedCancel":
		_, err = svc.TransactedCancel(&wfim.TransactedCancel{InstanceId: id})
	case "Terminate":
		_, err = svc.Terminate(&wfim.Terminate{InstanceId: id, Reason: reason})
	case "TransactedTerminate":
		_, err = svc.TransactedTerminate(&wfim.TransactedTerminate{InstanceId: id, Reason: reason})
	case "Abandon":
		_, err = svc.Abandon(&wfim.Abandon{InstanceId: id, Reason: reason})
	case "Update":
		_, err = svc.Update(&wfim.Update{InstanceId: id, UpdatedDefinitionIdentity: ident})
	case "TransactedUpdate":
		_, err = svc.TransactedUpdate(&wfim.TransactedUpdate{InstanceId: id, UpdatedDefinitionIdentity: ident})
	default:
		err = fmt.Errorf("unknown operation %q", c.Op)
	}
	return err
}

// resolveFaultcode finds the SOAP 1.1 faultcode of the reply's Fault and resolves its
// QName against the namespace declarations in scope there (work-around 2). An
// unprefixed QName is in the default namespace.
func resolveFaultcode(reply []byte) (text, ns, local string, err error) {
	dec := xml.NewDecoder(bytes.NewReader(reply))
	var scopes []map[string]string
	lookup := func(prefix string) (string, bool) {
		for i := len(scopes) - 1; i >= 0; i-- {
			if uri, ok := scopes[i][prefix]; ok {
				return uri, true
			}
		}
		return "", prefix == ""
	}
	var path []string // resolved {ns}local of the open elements
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return "", "", "", errors.New("no faultcode in the reply")
		}
		if err != nil {
			return "", "", "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			scope := map[string]string{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					scope[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					scope[""] = a.Value
				}
			}
			scopes = append(scopes, scope)
			elemNS, _ := lookup(t.Name.Space)
			path = append(path, "{"+elemNS+"}"+t.Name.Local)
			n := len(path)
			if t.Name.Local != "faultcode" || n < 2 || path[n-2] != "{"+soap11Env+"}Fault" {
				continue
			}
			var sb strings.Builder
			for {
				tok, err := dec.RawToken()
				if err != nil {
					return "", "", "", fmt.Errorf("reading faultcode: %v", err)
				}
				if cd, ok := tok.(xml.CharData); ok {
					sb.Write(cd)
					continue
				}
				if _, ok := tok.(xml.EndElement); ok {
					break
				}
				return "", "", "", errors.New("faultcode holds markup")
			}
			text = strings.TrimSpace(sb.String())
			prefix, name, found := strings.Cut(text, ":")
			if !found {
				prefix, name = "", text
			}
			uri, ok := lookup(prefix)
			if !ok {
				return "", "", "", fmt.Errorf("faultcode %q: prefix %q is not declared", text, prefix)
			}
			return text, uri, name, nil
		case xml.EndElement:
			scopes, path = scopes[:len(scopes)-1], path[:len(path)-1]
		}
	}
}

// probe reports, as one JSON object, what an unaided generated client makes of a fault
// and what the generated types put on the wire for an identity and a null reason.
func probe(endpoint string) error {
	var p struct {
		UnaidedErrorType string `json:"unaidedErrorType"`
		UnaidedStatus    int    `json:"unaidedStatus"`
		UnaidedError     string `json:"unaidedError"`
		UpdateRequest    string `json:"updateRequest"`
		NullReasonReq    string `json:"nullReasonRequest"`
	}
	unknown := wfim.Guid(newGUID())
	plain := wfim.NewIWorkflowInstanceManagement(soap.NewClient(endpoint))
	_, err := plain.Run(&wfim.Run{InstanceId: &unknown})
	if err == nil {
		return errors.New("the probe's Run on an unknown id succeeded")
	}
	p.UnaidedErrorType, p.UnaidedError = fmt.Sprintf("%T", err), err.Error()
	var httpErr *soap.HTTPError
	if errors.As(err, &httpErr) {
		p.UnaidedStatus = httpErr.StatusCode
	}

	rec := &recorder{client: &http.Client{Timeout: 30 * time.Second}, faultsAs200: true}
	svc := wfim.NewIWorkflowInstanceManagement(soap.NewClient(endpoint, soap.WithHTTPClient(rec)))
	name, pkg, version := "ExpenseApproval", "wimp.samples", "1.0.0.0"
	_, _ = svc.Update(&wfim.Update{InstanceId: &unknown,
		UpdatedDefinitionIdentity: &wfim.WorkflowIdentity{Name: &name, Package_: &pkg, Version: &version}})
	p.UpdateRequest = string(rec.request)
	_, _ = svc.Suspend(&wfim.Suspend{InstanceId: &unknown})
	p.NullReasonReq = string(rec.request)

	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(p)
}

func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
