package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"extra"},
	} {
		if err := run(append(args, "--db", filepath.Join(t.TempDir(), "x.db"), "--listen", "127.0.0.1:0")); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
	}
}
