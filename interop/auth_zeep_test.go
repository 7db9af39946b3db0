package interop

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/interop/interoptest"
)

//go:embed zeep/auth_zeep.py
var zeepAuthSource []byte

// zeepAuthCall is one input line of auth_zeep.py.
type zeepAuthCall struct {
	Seq      int    `json:"seq"`
	Binding  string `json:"binding"`
	Auth     string `json:"auth"`
	User     string `json:"user"`
	Password string `json:"password"`
	Op       string `json:"op"`
	ID       string `json:"id"`
	Reason   string `json:"reason"`
}

// zeepAuthResult is one output line of auth_zeep.py.
type zeepAuthResult struct {
	Result
	StatusCode      *int    `json:"statusCode"`
	HTTPStatus      *int    `json:"httpStatus"`
	WWWAuthenticate *string `json:"wwwAuthenticate"`
}

// outcome is what zeep reported, as the checks compare it: a Fault with its code resolved
// and its one subcode; a TransportError with its status_code (the WWW-Authenticate header
// from the session's response hook); anything else an error.
func (r zeepAuthResult) outcome(raw string) authOutcome {
	o := authOutcome{Outcome: r.Outcome, Said: "zeep " + raw}
	switch r.Outcome.Outcome {
	case "ok":
		o.Kind = "ok"
	case "fault":
		o.Kind = "fault"
		if len(r.Subcodes) > 1 {
			o.Kind = "error"
			o.Said = "nested subcodes: " + o.Said
		}
		if len(r.Subcodes) == 1 {
			o.SubcodeNs, o.SubcodeName = r.Subcodes[0].NS, r.Subcodes[0].Name
		}
	default:
		o.Kind = "error"
		if r.ErrorType == "zeep.exceptions.TransportError" && r.StatusCode != nil {
			o.Kind, o.HTTPStatus = "http", *r.StatusCode
			if r.WWWAuthenticate != nil {
				o.Challenge = *r.WWWAuthenticate
			}
		}
	}
	return o
}

// TestAuthZeep calls Suspend and Terminate with credentials through zeep, from the server's
// own ?wsdl, over HTTPS verified with the test CA (a requests Session with verify=CA_FILE),
// through the SOAP 1.1 and SOAP 1.2 ports: HTTP Basic (session.auth = HTTPBasicAuth with
// zeep.transports.Transport(session=...)) and zeep.wsse.username.UsernameToken.
func TestAuthZeep(t *testing.T) {
	py, version := zeepAuthPython(t)
	s := startAuthServer(t, ecdsaTLS(t, "wimp zeep"))
	dir := t.TempDir()
	script := filepath.Join(dir, "auth_zeep.py")
	if err := os.WriteFile(script, zeepAuthSource, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := portCases("zeep")
	bad := otherCA(t)
	what := fmt.Sprintf("Suspend/Terminate by reader, operator and admin through zeep %s (%s) from ?wsdl, SOAP 1.1 and 1.2 ports, "+
		"over HTTPS (requests Session verify=CA): HTTP Basic via session.auth=HTTPBasicAuth, zeep.wsse.username.UsernameToken", version, py)
	runAuth(t, s, "zeep", what, cases, `Basic realm="wimp"`, func(_ *authCase, o authOutcome) bool {
		return o.ErrorType == "requests.exceptions.SSLError" && strings.Contains(o.Error, "CERTIFICATE_VERIFY_FAILED")
	}, func(cases []*authCase) ([]authOutcome, error) {
		return byTrust(cases, s.TLS.CA, bad, func(group []*authCase, ca string) ([]authOutcome, error) {
			calls := make([]zeepAuthCall, len(group))
			for j, c := range group {
				calls[j] = zeepAuthCall{Seq: c.Seq, Binding: c.Binding, Auth: c.Mech, User: c.User, Password: c.Password,
					Op: c.Op, ID: c.ID, Reason: c.Reason}
			}
			in, err := interoptest.JSONLines(calls)
			if err != nil {
				return nil, err
			}
			res, _, err := interoptest.RunDriver[zeepAuthResult](exec.Command(py, script, s.Control, ca), in, len(calls), 2*time.Minute)
			if err != nil {
				return nil, err
			}
			out := make([]authOutcome, len(group))
			for j, c := range group {
				raw, _ := interoptest.JSONLines([]zeepAuthResult{res[j]})
				said := strings.TrimSpace(string(raw))
				out[j] = seqOutcome(c, res[j].Seq, said, func() authOutcome { return res[j].outcome(said) })
			}
			return out, nil
		})
	})
}

// zeepAuthPython finds a Python with zeep and requests (python3-zeep depends on
// python3-requests); a missing one skips the test, or fails it under WIMP_REQUIRE_INTEROP=1.
func zeepAuthPython(t *testing.T) (python, version string) {
	t.Helper()
	py, zv, found := testserver.ZeepPython()
	if !found {
		missingClient(t, "python3 with zeep")
	}
	if err := exec.Command(py, "-c", "import requests, zeep.wsse.username, zeep.transports").Run(); err != nil {
		missingClient(t, fmt.Sprintf("%s with requests and zeep.wsse (%v)", py, err))
	}
	return py, zv
}
