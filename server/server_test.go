package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/server/servertest"
)

func get(t *testing.T, method, url string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestRoutes(t *testing.T) {
	base := servertest.Start(t, "")
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/healthz", 200, "text/plain", "ok"},
		{"GET", "/WorkflowControl?wsdl", 200, "text/xml", `<wsdl:service name="WorkflowControlService">`},
		{"GET", "/WorkflowControl?wsdl", 200, "text/xml", `location="` + base + `/WorkflowControl"`},
		{"GET", "/WorkflowControl?singleWsdl", 200, "text/xml", "WorkflowIdentity"},
		{"GET", "/WorkflowControl?xsd=xsd0", 200, "text/xml", "<xs:schema"},
		{"GET", "/WorkflowControl?xsd=xsd9", 404, "", ""},
		{"GET", "/WorkflowControl", 200, "text/plain", base + "/WorkflowControl?wsdl"},
		{"PUT", "/WorkflowControl", 405, "", ""},
		{"GET", "/WorkflowHosting?wsdl", 200, "text/xml", `<wsdl:service name="WorkflowHostingService">`},
		{"GET", "/WorkflowHosting", 200, "text/plain", base + "/WorkflowHosting?wsdl"},
		{"DELETE", "/WorkflowHosting", 405, "", ""},
		{"GET", "/nowhere", 404, "", ""},
		{"GET", "/metrics", 200, "text/plain", `wimp_http_requests_total{endpoint="/WorkflowControl",code="200"}`},
		{"GET", "/metrics", 200, "text/plain", "wimp_instances_loaded 0"},
	} {
		status, ctype, body := get(t, tc.method, base+tc.path)
		if status != tc.status || !strings.HasPrefix(ctype, tc.ctype) || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q containing %q; body:\n%.300s", tc.method, tc.path, status, ctype,
				tc.status, tc.ctype, tc.body, body)
		}
	}
}

// A SOAP POST reaches the endpoint: a bad envelope gets a SOAP fault, not an HTTP error page.
func TestSOAPIsRouted(t *testing.T) {
	base := servertest.Start(t, "")
	for _, path := range []string{"/WorkflowControl", "/WorkflowHosting"} {
		resp, err := http.Post(base+path, "text/xml; charset=utf-8", strings.NewReader("<notsoap/>"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || !strings.Contains(string(b), "VersionMismatch") {
			t.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
		}
	}
}
