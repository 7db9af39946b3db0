package soap

// Ruby's soap4r on REXML (Debian package ruby-soap4r) reads Endpoint replies: the reason
// replies start with an XML declaration (XMLDeclaration). REXML 3.2's IOSource reads the
// first three bytes of a reply to look for a byte-order mark and keeps them pending;
// soap4r then sets the source's encoding to the Content-Type's charset, and because
// "utf-8" is compared with the detected "UTF-8" before it is upper-cased, REXML takes
// that for a change of encoding and replaces the pending bytes with its empty buffer.
// With a declaration the lost bytes are "<?x" and REXML reads the rest; without one they
// are the start of the root tag ("<s:") and the reply is lost
// (REXML::UndefinedNamespaceException: Undefined prefix s found).
//
//	apt-get install -y ruby-soap4r
//
// Without it this test skips, unless WIMP_REQUIRE_INTEROP=1 (CI).

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/internal/testserver"
)

// soap4rProgram calls Run twice over SOAP 1.1 as a document/literal operation, with a
// known and an unknown id, and prints what soap4r reports for each.
const soap4rProgram = `
require 'soap/rpc/driver'
url, ns, known = ARGV
drv = SOAP::RPC::Driver.new(url, ns)
drv.add_document_method("Run", ns + "/IWorkflowInstanceManagement/Run", XSD::QName.new(ns, "Run"), XSD::QName.new(ns, "RunResponse"))
[known, "3f2504e0-4f89-41d3-9a0c-0305e82c3301"].each do |id|
  req = SOAP::SOAPElement.new(XSD::QName.new(ns, "Run"))
  req.add(SOAP::SOAPElement.new(XSD::QName.new(ns, "instanceId"), id))
  begin
    drv.Run(req)
    puts "ok"
  rescue SOAP::FaultError => e
    puts "fault #{e.faultcode.data}"
  rescue Exception => e
    puts "error #{e.class}: #{e.message.lines.first.to_s.strip}"
  end
end
`

// withoutDeclaration strips XMLDeclaration from the replies of h.
func withoutDeclaration(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		b := bytes.TrimPrefix(rec.Body.Bytes(), []byte(XMLDeclaration))
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(b)
	})
}

func TestSoap4rReadsReplies(t *testing.T) {
	ruby := testserver.LookTool(t, "ruby", "ruby with soap4r (Debian package ruby-soap4r)", "ruby-soap4r")
	if out, err := testserver.RunTool(t.TempDir(), time.Minute, ruby, "-e", `require "soap/rpc/driver"`); err != nil {
		testserver.MissingClient(t, "soap4r (Debian package ruby-soap4r): "+strings.TrimSpace(out), "ruby-soap4r")
	}
	const ns = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	const known = "0c0f1f8e-2b8e-4c57-9d0e-6f5b6c1a2d3e"
	ep := &Endpoint{Operations: []Operation{{
		Action: ns + "/IWorkflowInstanceManagement/Run", ReplyAction: ns + "/IWorkflowInstanceManagement/RunResponse",
		Element: QName{Space: ns, Local: "Run"},
		Handle: func(ctx context.Context, req *Request) (*etree.Element, error) {
			if id := req.Body.SelectElement("instanceId"); id == nil || id.Text() != known {
				return nil, NewFault(Sender, "no such instance", QName{Space: ns, Local: "InstanceNotFound"})
			}
			r := etree.NewElement("RunResponse")
			r.CreateAttr("xmlns", ns)
			return r, nil
		},
	}}}
	dir := t.TempDir()
	script := filepath.Join(dir, "soap4r_run.rb")
	if err := os.WriteFile(script, []byte(soap4rProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	call := func(h http.Handler) []string {
		srv := httptest.NewServer(h)
		defer srv.Close()
		out, err := testserver.RunTool(dir, time.Minute, ruby, script, srv.URL, ns, known)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}

	got := call(ep)
	if len(got) != 2 || got[0] != "ok" || !strings.HasPrefix(got[1], "fault ") || !strings.HasSuffix(got[1], ":InstanceNotFound") {
		t.Errorf("soap4r reported %q, want ok and the InstanceNotFound fault", got)
	}
	// The reason for the declaration: the same replies without it are lost. Logged, not
	// asserted, so that a fixed soap4r or REXML shows up here without failing the test.
	t.Logf("soap4r with the declaration: %q; without it: %q", got, call(withoutDeclaration(ep)))
}
