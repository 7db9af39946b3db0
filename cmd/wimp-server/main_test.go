package main

import (
	"os"
	"path/filepath"
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
		{"--write-timeout", "0s"},
		{"--read-header-timeout", "-1s"},
		{"--max-connections", "0"},
		{"--max-header-bytes", "-5"},
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
