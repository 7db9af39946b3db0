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
	// One MS-WFIM operation, so /metrics has an operation to count.
	run := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run></s:Body></s:Envelope>`
	resp, err := http.Post(base+"/WorkflowControl", "text/xml", strings.NewReader(run))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
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
		{"GET", "/metrics", 200, "text/plain", `wimp_http_requests_total{code="200",endpoint="/WorkflowControl"}`},
		{"GET", "/metrics", 200, "text/plain", `wimp_http_requests_total{code="500",endpoint="/WorkflowControl"} 1`},
		{"GET", "/metrics", 200, "text/plain", "wimp_instances_loaded 0"},
		{"GET", "/metrics", 200, "text/plain", `wimp_operations_total{code="Sender",operation="Run",outcome="InstanceNotFound"} 1`},
		{"GET", "/metrics", 200, "text/plain", `wimp_http_request_duration_seconds_count{endpoint="/WorkflowControl",operation="Run"} 1`},
		{"GET", "/metrics", 200, "text/plain", "# TYPE wimp_http_request_duration_seconds histogram"},
		{"GET", "/metrics", 200, "text/plain", "# TYPE wimp_operations_total counter"},
		{"GET", "/metrics", 200, "text/plain", "# TYPE go_gc_heap_live_bytes gauge"},
		{"GET", "/metrics", 200, "text/plain", "# TYPE go_gc_cycles_total counter"},
		{"GET", "/metrics", 200, "text/plain", "# TYPE go_goroutines gauge"},
		{"GET", "/metrics", 200, "text/plain", "# TYPE process_start_time_seconds gauge"},
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
