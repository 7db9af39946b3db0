package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The server refuses to start on an invalid definition, naming the file, the line and the problem.
func TestRefusesToStartOnInvalidDefinition(t *testing.T) {
	dir := t.TempDir()
	bad := `<Workflow Name="Broken" Version="1.0.0.0">
  <Sequence Id="main">
    <Assign Id="set" To="missing" Value="1"/>
  </Sequence>
</Workflow>
`
	if err := os.WriteFile(filepath.Join(dir, "broken.xml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "wimp.db"), "--definitions", dir})
	if err == nil {
		t.Fatal("the server started with an invalid definition")
	}
	msg := err.Error()
	if !strings.Contains(msg, "broken.xml:3:") || !strings.Contains(msg, "missing") {
		t.Fatalf("the error should name broken.xml, line 3 and the unknown variable: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "wimp.db")); statErr == nil {
		t.Error("the database was created although the server refused to start")
	}
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--max-body", "0"},
		{"--unload-after", "-1s"},
		{"--unhandled-exception", "Ignore"},
		{"--log-level", "loud"},
		{"--log-format", "xml"},
		{"--write-timeout", "0s"},
		{"--read-header-timeout", "-1s"},
		{"--max-connections", "0"},
		{"--max-header-bytes", "-5"},
		{"--completed-retention", "-1h"},
		{"--completed-retention", "soon"},
		{"--completed-retention", ""},
		{"--tracking-retention", "-1s"},
		{"--tracking", "Activity"},
		{"--tracking", "none"},
		{"extra"},
	} {
		if err := run(append(args, "--db", filepath.Join(t.TempDir(), "x.db"), "--listen", "127.0.0.1:0")); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
	}
}

// Flags fall back to WIMP_* variables named after them; a variable that does not parse is an
// error naming it.
func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("WIMP_MAX_CONNECTIONS", "7")
	t.Setenv("WIMP_SHUTDOWN_TIMEOUT", "3s")
	c, err := parseFlags([]string{"--read-timeout", "30s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.http.maxConnections != 7 || c.http.shutdownTimeout != 3*time.Second || c.http.readTimeout != 30*time.Second ||
		c.http.writeTimeout != time.Minute || c.http.maxHeaderBytes != 65536 || c.commitTimeout != 5*time.Second {
		t.Fatalf("limits %+v, commit timeout %v", c.http, c.commitTimeout)
	}
	t.Setenv("WIMP_IDLE_TIMEOUT", "forever")
	if _, err := parseFlags(nil); err == nil || !strings.Contains(err.Error(), "WIMP_IDLE_TIMEOUT") {
		t.Fatalf("an unparsable WIMP_IDLE_TIMEOUT: %v", err)
	}
}

// Only a loopback listener may run without TLS and a users file; beyond it the server refuses
// to start, saying what to add, unless --insecure is given (then it warns at every start).
func TestNonLoopbackNeedsTLSAndUsers(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:1": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.1:8080": false, "wimp.example:443": false,
	} {
		if got := isLoopback(listen); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
	db := filepath.Join(t.TempDir(), "wimp.db")
	err := run([]string{"--listen", "0.0.0.0:0", "--db", db})
	if err == nil {
		t.Fatal("the server started on 0.0.0.0 without TLS and a users file")
	}
	for _, s := range []string{"0.0.0.0:0", "not a loopback address", "--tls-cert", "--tls-key", "--users", "--insecure"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal %q does not mention %q", err, s)
		}
	}
	if _, statErr := os.Stat(db); statErr == nil {
		t.Error("the database was created although the server refused to start")
	}
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("ada:-:admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := setUpSecurity("0.0.0.0:8443", securityConfig{users: users}, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Error("a users file without TLS was accepted beyond loopback")
	}
	var log bytes.Buffer
	if _, err := setUpSecurity("0.0.0.0:8080", securityConfig{insecure: true}, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
		t.Fatalf("--insecure: %v", err)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "--insecure") {
		t.Errorf("--insecure logged no warning: %q", log.String())
	}
}

// Security flags that cannot work together, and files that do not load, stop the start with
// a message naming them.
func TestBadSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	badUsers := filepath.Join(dir, "users")
	if err := os.WriteFile(badUsers, []byte("# ok\nada:$2a$10$tooshort:admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", filepath.Join(dir, "c.pem")}, "--tls-cert and --tls-key go together"},
		{[]string{"--client-ca", filepath.Join(dir, "ca.pem")}, "--client-ca needs TLS"},
		{[]string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, "c.pem"},
		{[]string{"--users", badUsers}, badUsers + ":2: user \"ada\": the password hash is not a valid bcrypt hash"},
		{[]string{"--users", filepath.Join(dir, "missing")}, "--users: open"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, "--trusted-proxies"},
		{[]string{"--public-url", "ftp://x"}, "--public-url"},
	} {
		err := run(append(c.args, "--db", filepath.Join(t.TempDir(), "x.db"), "--listen", "127.0.0.1:0"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%v): %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// --version prints the version on stdout, one line, and starts nothing; WIMP_VERSION is not its
// environment variable.
func TestVersion(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wimp.db")
	out, err := runCapturingStdout(t, "--version", "--db", db, "--listen", "127.0.0.1:0")
	if re := regexp.MustCompile(`^wimp-server (v[0-9]\S*|\(devel\)( revision [0-9a-f]+( modified)?)?) go[0-9]\S*\n$`); err != nil || !re.Match(out) {
		t.Errorf("--version: %v, printed %q", err, out)
	}
	if _, statErr := os.Stat(db); statErr == nil {
		t.Error("--version created the database")
	}
	t.Setenv("WIMP_VERSION", "true")
	if c, err := parseFlags(nil); err != nil || c.version {
		t.Errorf("WIMP_VERSION=true: version %v, %v", c.version, err)
	}
}

// -h and --help print the usage on stdout and start nothing (main exits 0 on flag.ErrHelp).
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		db := filepath.Join(t.TempDir(), "wimp.db")
		out, err := runCapturingStdout(t, arg, "--db", db)
		if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(string(out), "usage: wimp-server [FLAGS]") ||
			!strings.Contains(string(out), "-completed-retention") {
			t.Errorf("%s: %v, printed %q", arg, err, out)
		}
		if _, statErr := os.Stat(db); statErr == nil {
			t.Errorf("%s created the database", arg)
		}
	}
}

// --completed-retention is keep by default, and 0 means at completion, not keep.
func TestRetentionFlags(t *testing.T) {
	c, err := parseFlags(nil)
	if err != nil || c.retention.completed != "keep" || c.retention.tracking != 0 {
		t.Fatalf("defaults: %+v, %v; want keep and 0", c.retention, err)
	}
	c, err = parseFlags([]string{"--completed-retention", "0", "--tracking-retention", "720h"})
	if err != nil || c.retention.completed != "0" || c.retention.completedAfter != 0 || c.retention.tracking != 720*time.Hour {
		t.Fatalf("0 and 720h: %+v, %v", c.retention, err)
	}
	c, err = parseFlags([]string{"--completed-retention", "168h"})
	if err != nil || c.retention.completedAfter != 168*time.Hour {
		t.Fatalf("168h: %+v, %v", c.retention, err)
	}
}

// runCapturingStdout runs the server's command line and returns what it printed on stdout.
func runCapturingStdout(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = run(args)
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return out, err
}

// --http-allow (and WIMP_HTTP_ALLOW) is parsed at start; none by default; a bad entry stops
// the start naming it.
func TestHTTPAllowFlag(t *testing.T) {
	c, err := parseFlags(nil)
	if err != nil || len(c.httpAllow) != 0 {
		t.Fatalf("default: %v %v", c.httpAllow, err)
	}
	c, err = parseFlags([]string{"--http-allow", "api.example.com:443,127.0.0.1"})
	if err != nil || c.httpAllow.String() != "api.example.com:443,127.0.0.1" {
		t.Fatalf("%v %v", c.httpAllow, err)
	}
	t.Setenv("WIMP_HTTP_ALLOW", "[::1]:8080")
	if c, err = parseFlags(nil); err != nil || c.httpAllow.String() != "[::1]:8080" {
		t.Fatalf("from the environment: %v %v", c.httpAllow, err)
	}
	if _, err := parseFlags([]string{"--http-allow", "api.example.com:99999"}); err == nil || !strings.Contains(err.Error(), `"api.example.com:99999"`) {
		t.Fatalf("bad entry: %v", err)
	}
}
