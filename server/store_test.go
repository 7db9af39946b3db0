package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store/sqlite/sqlitetest"
)

var bg = context.Background()

// basicAuth sends HTTP Basic credentials with every request.
type basicAuth struct{ user, password string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return http.DefaultTransport.RoundTrip(r)
}

func clients(base string, hc *http.Client) (*hosting.Client, *soap.Client) {
	return &hosting.Client{SOAP: &soap.Client{HTTP: hc, URL: base + "/WorkflowHosting", Version: soap.V11}},
		&soap.Client{HTTP: hc, URL: base + "/WorkflowControl", Version: soap.V12, Addressing: soap.WSA10}
}

// createExpense creates an ExpenseApproval instance through h (above an amount of 1000 it waits
// for two reviews) and returns its id.
func createExpense(t *testing.T, h *hosting.Client, amount int, submitter string) uuid.UUID {
	t.Helper()
	id, err := h.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": amount, "submitter": submitter}})
	if err != nil {
		t.Fatalf("creating an instance as %s: %v", submitter, err)
	}
	return id
}

// condition is what a refused request must leave as it was: the instance's state and how many
// tracking records it has.
func condition(t *testing.T, h *hosting.Client, id uuid.UUID) string {
	t.Helper()
	inst, err := h.GetInstance(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := h.TrackingRecords(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s with %d tracking records", inst.State, len(recs))
}

func control(t *testing.T, c *soap.Client, op string, id uuid.UUID, reason string) error {
	t.Helper()
	o, ok := protocol.OpByName(op)
	if !ok {
		t.Fatalf("no operation %s", op)
	}
	cmd := protocol.Command{Op: o, InstanceID: id}
	if reason != "" {
		cmd.Reason = &reason
	}
	_, err := c.Call(bg, o.Action(), protocol.Encode(cmd))
	return err
}

// Credentials nobody verifies are never taken for who asked: on a server without a users file a
// request with HTTP Basic "mallory" (whose password nothing could check) is refused with 401 and
// changes nothing, and a request without credentials is recorded as anonymous, with its address.
func TestUnverifiedCredentialsAreNotThePrincipal(t *testing.T) {
	srv := servertest.Run(t, servertest.Options{})
	hostingC, controlC := clients(srv.URL, http.DefaultClient)
	id := createExpense(t, hostingC, 10, "unit")
	_, malloryC := clients(srv.URL, &http.Client{Transport: basicAuth{"mallory", "x"}})
	err := control(t, malloryC, "Terminate", id, "forged")
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("Terminate with unverifiable Basic credentials: %v, want HTTP 401", err)
	}
	if err := control(t, controlC, "Suspend", id, "audit"); err != nil {
		t.Fatal(err)
	}
	recs, err := hostingC.TrackingRecords(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range recs {
		if r.Name == "Terminated" || strings.Contains(r.Principal+r.Reason, "mallory") || r.Reason == "forged" {
			t.Errorf("the refused Terminate left a record: %+v", r)
		}
		if r.Name != "Created" && r.Name != "Suspended" {
			continue
		}
		checked++
		if !strings.HasPrefix(r.Principal, "anonymous@127.0.0.1:") {
			t.Errorf("%s record principal %q, want anonymous@127.0.0.1:PORT", r.Name, r.Principal)
		}
	}
	if checked != 2 {
		t.Fatalf("found %d of the Created and Suspended records in %+v", checked, recs)
	}
}

// While the database cannot be written, an operation gets a Receiver fault within the write
// timeout and changes nothing, and /healthz answers 503 saying why; both recover with it.
func TestUnwritableStore(t *testing.T) {
	srv := servertest.Run(t, servertest.Options{WriteTimeout: 200 * time.Millisecond})
	hostingC, controlC := clients(srv.URL, http.DefaultClient)
	id := createExpense(t, hostingC, 1500, "unit")
	unlock := sqlitetest.HoldWriteLock(t, srv.DB)

	err := control(t, controlC, "Suspend", id, "while locked")
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != soap.Receiver || len(f.Subcodes) != 0 ||
		!strings.Contains(f.Reason, "write timed out") || !strings.Contains(f.Reason, "nothing was changed") {
		t.Fatalf("Suspend while the database is locked: %v, want a Receiver fault saying nothing was changed", err)
	}
	healthz := func() (int, string) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := healthz()
		if code == http.StatusServiceUnavailable && strings.Contains(body, "timed out") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz while the database is locked: %d %q, want 503 saying the write timed out", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	unlock()
	for {
		code, body := healthz()
		if code == http.StatusOK && strings.TrimSpace(body) == "ok" {
			break
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("/healthz after the lock was released: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^wimp_store_errors_total\{kind="timeout"\} [1-9]`).Match(metrics) {
		t.Errorf("/metrics does not count the timed-out writes:\n%s", metrics)
	}
	inst, err := hostingC.GetInstance(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	if inst.State != "Active" || inst.SuspensionReason != "" {
		t.Fatalf("after the refused Suspend: %s %q, want Active and no reason", inst.State, inst.SuspensionReason)
	}
}

func mustParse(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
