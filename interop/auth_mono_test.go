package interop

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/interop/interoptest"
)

//go:embed mono/AuthDriver.cs
var monoAuthSource []byte

// monoAuthCall is one input line of AuthDriver.cs.
type monoAuthCall struct {
	Seq      int    `json:"seq"`
	Binding  string `json:"binding"`
	User     string `json:"user"`
	Password string `json:"password"`
	Op       string `json:"op"`
	ID       string `json:"id"`
	Reason   string `json:"reason"`
}

// monoHTTPStatus is how Mono's HttpRequestChannel reports an HTTP error status: a
// WebException without its response, whose message carries the status.
var monoHTTPStatus = regexp.MustCompile(`^System\.Net\.WebException: There was an error on processing web request: Status code (\d{3})\(`)

// monoOutcome is what WCF reported, as the checks compare it.
func monoOutcome(o interoptest.Outcome) authOutcome {
	a := authOutcome{Outcome: o, WCF: true, Said: "WCF " + o.Describe()}
	switch o.Outcome {
	case "ok", "fault":
		a.Kind = o.Outcome
	default:
		a.Kind = "error"
		if m := monoHTTPStatus.FindStringSubmatch(o.Error); m != nil && o.ErrorType == "System.Net.WebException" {
			a.Kind = "http"
			a.HTTPStatus, _ = strconv.Atoi(m[1])
		}
	}
	return a
}

// TestAuthMonoWCF calls Suspend and Terminate with credentials through Mono's WCF client
// (ChannelFactory over the contract as .NET declares it) over HTTPS, the server's certificate
// checked against the test CA by a ServerCertificateValidationCallback: HTTP Basic through
// BasicHttpsBinding and BasicHttpBinding with BasicHttpSecurityMode.Transport and
// HttpClientCredentialType.Basic (SOAP 1.1) and a CustomBinding with
// HttpsTransportBindingElement.AuthenticationScheme Basic (SOAP 1.2, WS-Addressing 1.0); a
// WS-Security UsernameToken added by an IClientMessageInspector, as .NET's
// TransportWithMessageCredential lays it out, over SOAP 1.1 and 1.2. Two Mono limitations are
// asserted so that a change is noticed: BasicHttpSecurityMode.TransportWithMessageCredential
// is not implemented (NotImplementedException before anything is sent), and
// WSHttpBinding(SecurityMode.Transport) ignores Transport.ClientCredentialType, so it sends
// no credentials (HTTP 401).
func TestAuthMonoWCF(t *testing.T) {
	mcs, err1 := exec.LookPath("mcs")
	mono, err2 := exec.LookPath("mono")
	if err1 != nil || err2 != nil {
		missingClient(t, "Mono (mcs and mono)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "AuthDriver.cs")
	if err := os.WriteFile(src, monoAuthSource, 0o644); err != nil {
		t.Fatal(err)
	}
	exe, missingServiceModel, err := interoptest.CompileCSharp(mcs, dir, "AuthDriver.exe", src)
	if err != nil {
		if missingServiceModel {
			missingClient(t, "Mono's System.ServiceModel ("+err.Error()+")")
		}
		t.Fatal(err)
	}
	// RSA: Mono's X509Chain, which the validation callback uses, cannot read ECDSA keys.
	s := startAuthServer(t, rsaTLS(t, "wimp Mono"))
	bad := rsaTLS(t, "another").CA

	var cases []*authCase
	for _, b := range []struct {
		name   string
		soap12 bool
		mech   string
	}{{"basichttps", false, "basic"}, {"basictransport", false, "basic"}, {"custom12", true, "basic"},
		{"token11", false, "wsse"}, {"token12", true, "wsse"}} {
		cases = append(cases, authCases("mono", b.name, b.soap12, b.mech, false)...)
	}
	none := &authCase{Binding: "anonymous", Mech: "none", Op: "Suspend", Want: authNoCredentials, Describe: "no credentials",
		Reason: "interop auth mono anonymous"}
	wshttps := &authCase{Binding: "wshttps", SOAP12: true, Mech: "basic", User: "operator", Password: authPassword("operator"),
		Op: "Suspend", Want: authNoCredentials, Reason: "interop auth mono wshttps",
		Describe: "Mono's WSHttpBinding(SecurityMode.Transport) ignores Transport.ClientCredentialType = Basic: no credentials are sent"}
	twmc := &authCase{Binding: "twmc", Mech: "wsse", User: "operator", Password: authPassword("operator"),
		Op: "Suspend", Want: authUnsupported, Reason: "interop auth mono twmc",
		Describe: "Mono's BasicHttpSecurityMode.TransportWithMessageCredential: TransportSecurityBindingElement is a MonoTODO"}
	cases = append(cases, none, wshttps, twmc, untrustedCase("mono", "basichttps", false, "basic"))

	what := "Suspend/Terminate by reader, operator and admin through Mono's WCF ChannelFactory over HTTPS (validation callback " +
		"checking the chain against the test CA): Basic via BasicHttpsBinding, BasicHttpBinding(Transport) and a SOAP 1.2 " +
		"CustomBinding (credentials sent after the 401 challenge), UsernameToken via an IClientMessageInspector header (SOAP 1.1 " +
		"and 1.2); TransportWithMessageCredential and WSHttpBinding Transport+Basic asserted broken in Mono"
	refused := func(c *authCase, o authOutcome) bool {
		if c.Want == authUnsupported {
			return o.ErrorType == "System.NotImplementedException"
		}
		return o.ErrorType == "System.Net.WebException" && strings.Contains(o.Error, "TrustFailure")
	}
	runAuth(t, s, "mono", what, cases, "", refused, func(cases []*authCase) ([]authOutcome, error) {
		return byTrust(cases, s.TLS.CA, bad, func(group []*authCase, ca string) ([]authOutcome, error) {
			calls := make([]monoAuthCall, len(group))
			for j, c := range group {
				calls[j] = monoAuthCall{Seq: c.Seq, Binding: c.Binding, User: c.User, Password: c.Password, Op: c.Op, ID: c.ID, Reason: c.Reason}
			}
			in, err := interoptest.JSONLines(calls)
			if err != nil {
				return nil, err
			}
			res, stderr, err := interoptest.RunDriver[interoptest.Outcome](exec.Command(mono, "--debug", exe, s.Control, ca), in, len(calls), 5*time.Minute)
			if err != nil {
				return nil, err
			}
			if ca == bad {
				t.Logf("mono with another CA: %s", interoptest.FirstLine(strings.TrimSpace(stderr)))
			}
			out := make([]authOutcome, len(group))
			for j, c := range group {
				out[j] = seqOutcome(c, res[j].Seq, res[j].Describe(), func() authOutcome { return monoOutcome(res[j]) })
			}
			return out, nil
		})
	})
}
