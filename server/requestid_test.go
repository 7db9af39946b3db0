package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/internal/testlog"
	"github.com/wimp-project/wimp/server/servertest"
)

// Every reply carries X-Request-Id: the client's when it is a plain token, a new one
// otherwise; the access log has one line per request with it, and the tracking record of the
// management operation it caused names it.
func TestRequestIDs(t *testing.T) {
	log := &testlog.Buffer{}
	srv := servertest.Run(t, servertest.Options{Log: log})
	hostingC, _ := clients(srv.URL, http.DefaultClient)
	id := createExpense(t, hostingC, 10, "unit")
	send := func(requestID string) string {
		body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Suspend xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices">` +
			`<instanceId>` + id.String() + `</instanceId><reason>r</reason></Suspend></s:Body></s:Envelope>`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/WorkflowControl", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/Suspend"`)
		if requestID != "" {
			req.Header.Set("X-Request-Id", requestID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("Suspend: HTTP %d", resp.StatusCode)
		}
		return resp.Header.Get("X-Request-Id")
	}
	if got := send("trace-0af7651916cd43dd8448eb211c80319c"); got != "trace-0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("a client's X-Request-Id came back as %q", got)
	}
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, bad := range []string{"", "a b", strings.Repeat("x", 129), "x\"y"} {
		if got := send(bad); !generated.MatchString(got) {
			t.Errorf("X-Request-Id %q: reply carries %q, want 32 new hex digits", bad, got)
		}
	}
	recs, err := hostingC.TrackingRecords(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var first struct{ Operation, Request string }
	for _, r := range recs {
		if r.Name == "Suspended" {
			if err := json.Unmarshal([]byte(r.Data), &first); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if first.Operation != "Suspend" || first.Request != "trace-0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("the first Suspend's record data %+v, want operation Suspend, request trace-0af7651916cd43dd8448eb211c80319c", first)
	}
	if !regexp.MustCompile(`msg=request id=trace-0af7651916cd43dd8448eb211c80319c method=POST path=/WorkflowControl operation=Suspend status=200 `).MatchString(log.String()) {
		t.Errorf("no access line for the request:\n%s", log.String())
	}
}
