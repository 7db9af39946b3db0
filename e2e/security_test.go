package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth/authtest"
	"github.com/wimp-project/wimp/hosting"
)

// waitLog waits until the server's log holds want n times.
func (s *server) waitLog(want string, n int, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for strings.Count(s.Log(), want) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("the server did not log %q (%d times) within %v; log:\n%s", want, n, within, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A server started with TLS, a users file and a client CA, driven by wimpctl and Go clients:
// roles apply, bad credentials get 401, and SIGHUP reloads the users file (a bad one keeps the
// one in use) and the certificate.
func TestSecureServer(t *testing.T) {
	dir := t.TempDir()
	ca := authtest.NewCA(t, "wimp e2e CA")
	pair := ca.Server(t, "wimp e2e server")
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	writeFile(t, certFile, string(pair.CertPEM))
	writeFile(t, keyFile, string(pair.KeyPEM))
	users := filepath.Join(dir, "users")
	firstUsers := authtest.UsersText(t,
		authtest.User{Name: "ada", Password: "ada-pw", Roles: "admin"},
		authtest.User{Name: "rita", Password: "rita-pw", Roles: "reader"},
		authtest.User{Name: "carol", Roles: "admin"})
	writeFile(t, users, firstUsers)
	s := startServer(t, "--tls-cert", certFile, "--tls-key", keyFile, "--users", users, "--client-ca", ca.File)
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("the server announced %s, want https://127.0.0.1:PORT", s.URL)
	}
	pw := func(p string) string {
		f := filepath.Join(t.TempDir(), "pw")
		writeFile(t, f, p+"\n")
		return f
	}
	ctl := func(user, password string, args ...string) (code int, stdout, stderr string) {
		a := []string{"--ca", ca.File}
		if user != "" {
			a = append(a, "--user", user, "--password-file", pw(password))
		}
		r := s.wimpctl(append(a, args...)...)
		return r.Code, r.Stdout, r.Stderr
	}
	code, out, errOut := ctl("ada", "ada-pw", "create", "--definition", "ExpenseApproval", "--input", "amount=1500", "--input", "submitter=e2e")
	if code != 0 {
		t.Fatalf("ada create: exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	if code, _, errOut := ctl("rita", "rita-pw", "terminate", id, "--reason", "no"); code != 2 || !strings.Contains(errOut, "}AccessDenied") {
		t.Errorf("rita terminate: exit %d, %s; want exit 2 with AccessDenied", code, errOut)
	}
	if code, _, errOut := ctl("rita", "wrong", "get", id); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("rita with a wrong password: exit %d, %s; want exit 1 with HTTP 401", code, errOut)
	}
	if code, _, errOut := ctl("", "", "get", id); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("no credentials: exit %d, %s; want exit 1 with HTTP 401", code, errOut)
	}
	// --auth is a global flag, before the command.
	if r := s.wimpctl("--ca", ca.File, "--user", "ada", "--password-file", pw("ada-pw"), "--auth", "wsse", "suspend", id, "--reason", "by token"); r.Code != 0 {
		t.Errorf("ada suspend over WS-Security: exit %d %s", r.Code, r.Stderr)
	}

	// A client certificate: carol is certificate-only.
	cert := ca.Client(t, "carol")
	tc := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }}
	hc := hosting.NewClient(s.URL + "/WorkflowHosting")
	hc.SOAP.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	recs, err := hc.TrackingRecords(context.Background(), uuid.MustParse(id), 0)
	if err != nil {
		t.Fatalf("carol's certificate: %v", err)
	}
	found := false
	for _, r := range recs {
		if r.Name == "Suspended" && r.Reason == "by token" {
			found = true
			if !strings.HasPrefix(r.Principal, "ada@127.0.0.1:") {
				t.Errorf("the Suspended record names %q, want ada@127.0.0.1:PORT", r.Principal)
			}
		}
	}
	if !found {
		t.Errorf("no Suspended record with reason \"by token\" in %+v", recs)
	}

	// SIGHUP: a new users file replaces the old one.
	secondUsers := authtest.UsersText(t, authtest.User{Name: "bob", Password: "bob-pw", Roles: "admin"})
	writeFile(t, users, secondUsers)
	if err := s.Current().Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog("SIGHUP: users reloaded", 1, 10*time.Second)
	if code, _, errOut := ctl("ada", "ada-pw", "get", id); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("ada after the reload removed her: exit %d, %s; want 401", code, errOut)
	}
	if code, _, errOut := ctl("bob", "bob-pw", "unsuspend", id); code != 0 {
		t.Errorf("bob after the reload: exit %d, %s", code, errOut)
	}
	// A file that does not load leaves the one in use.
	writeFile(t, users, "bob:not-a-hash:admin\n")
	if err := s.Current().Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog("SIGHUP: the users file did not load", 1, 10*time.Second)
	if code, _, errOut := ctl("bob", "bob-pw", "get", id); code != 0 {
		t.Errorf("bob after a bad users file: exit %d, %s", code, errOut)
	}

	// SIGHUP: a new certificate, from another CA, is served to new connections.
	ca2 := authtest.NewCA(t, "wimp e2e CA 2")
	pair2 := ca2.Server(t, "wimp e2e server 2")
	writeFile(t, certFile, string(pair2.CertPEM))
	writeFile(t, keyFile, string(pair2.KeyPEM))
	// Every SIGHUP reloads the certificate too (each logs the reload once): this is the third.
	if err := s.Current().Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog("SIGHUP: TLS certificate reloaded", 3, 10*time.Second)
	get := func(roots *x509.CertPool) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
		resp, err := c.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(ca2.Pool()); err != nil {
		t.Errorf("a client trusting the new CA: %v", err)
	}
	if err := get(ca.Pool()); err == nil {
		t.Errorf("a client trusting only the old CA still connected after the certificate was replaced")
	}
	secrets := []string{"ada-pw", "bob-pw", "rita-pw"}
	for _, line := range strings.Split(firstUsers+secondUsers, "\n") {
		if f := strings.Split(line, ":"); len(f) == 3 && f[1] != "-" {
			secrets = append(secrets, f[1])
		}
	}
	for _, secret := range secrets {
		if strings.Contains(s.Log(), secret) {
			t.Errorf("the log holds the secret %q:\n%s", secret, s.Log())
		}
	}
}
