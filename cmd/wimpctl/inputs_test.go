package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
)

// typedDefinitions are two versions of a definition whose WriteLine shows each input's type
// (expr's type()) and value: version 1.0.0.0 takes one of each type, 2.0.0.0 takes n as a String.
var typedDefinitions = map[string]string{
	"typed1.xml": `<Workflow Name="Typed" Package="test" Version="1.0.0.0">
  <Arguments>
    <In Name="n" Type="Number"/>
    <In Name="b" Type="Boolean"/>
    <In Name="s" Type="String"/>
    <In Name="o" Type="Object"/>
  </Arguments>
  <WriteLine Id="show" Text="[type(n) + ':' + string(n) + ' ' + type(b) + ':' + string(b) + ' ' + type(s) + ':' + s + ' ' + type(o) + ':' + toJSON(o)]"/>
</Workflow>
`,
	"typed2.xml": `<Workflow Name="Typed" Package="test" Version="2.0.0.0">
  <Arguments>
    <In Name="n" Type="String" Required="true"/>
  </Arguments>
  <WriteLine Id="show" Text="[type(n) + ':' + n]"/>
</Workflow>
`,
}

// writeLines creates an instance with args and returns the texts of its WriteLine records.
func writeLines(t *testing.T, base string, args ...string) []string {
	t.Helper()
	r := ctl(base, append([]string{"create"}, args...)...)
	if r.code != 0 {
		t.Fatalf("create %v: %+v", args, r)
	}
	r = ctl(base, "track", strings.TrimSpace(r.stdout), "-o", "json")
	var recs []hosting.Record
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
		t.Fatalf("track: %v: %+v", err, r)
	}
	var texts []string
	for _, rec := range recs {
		if rec.Name == "WriteLine" {
			texts = append(texts, recordData(rec))
		}
	}
	return texts
}

// TestCreateInputs: --input KEY=VALUE is typed by the definition's declared argument type (the
// version the server would pick), KEY:=JSON is sent as it is; a value that does not convert,
// an unknown argument or a malformed flag is a usage error and creates nothing.
func TestCreateInputs(t *testing.T) {
	dir := t.TempDir()
	for name, text := range typedDefinitions {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := servertest.Start(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--version", "1.0.0.0", "--input", "n=5", "--input", "b=true", "--input", "s=12345", "--input", `o={"a":[1]}`},
			"float:5 bool:true string:12345 map:{\n  \"a\": [\n    1\n  ]\n}"},
		{[]string{"--version", "1.00.0.0", "--input", "n=-2.5", "--input", "b=false", "--input", "s=", "--input", "o=null"},
			"float:-2.5 bool:false string: nil:null"}, // the server's version rule: 1.00.0.0 is 1.0.0.0
		{[]string{"--version", "1.0.0.0", "--input", "n:=7", "--input", "b:=true", "--input", `s:="quoted"`, "--input", "o:= [1, 2] "},
			"float:7 bool:true string:quoted array:[\n  1,\n  2\n]"},
		{[]string{"--input", "n=5"}, "string:5"}, // the newest version takes n as a String
		{[]string{"--version", "2.0.0.0", "--input", "n=true"}, "string:true"},
		{[]string{"--input", "n:=\"x\""}, "string:x"},
	} {
		args := append([]string{"--definition", "Typed"}, tc.args...)
		if got := writeLines(t, base, args...); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%v: WriteLine %q, want %q", tc.args, got, tc.want)
		}
	}

	// No such version (1.0 is not 1.0.0.0), or no such definition: the values go as text and the
	// server says why it refuses.
	for _, args := range [][]string{{"--definition", "Typed", "--version", "1.0", "--input", "n=5"}, {"--definition", "Nope", "--input", "n=5"}} {
		if r := ctl(base, append([]string{"create"}, args...)...); r.code != 2 || !strings.Contains(r.stderr, "}DefinitionNotFound") {
			t.Errorf("%v: %+v", args, r)
		}
	}

	// The sample from the issue: a String argument that looks like a number.
	base2 := servertest.Start(t, "")
	got := writeLines(t, base2, "--definition", "ExpenseApproval", "--input", "amount=1500", "--input", "submitter=12345")
	if len(got) == 0 || got[0] != "Expense of 1500 submitted by 12345" {
		t.Errorf("ExpenseApproval with submitter=12345: %q", got)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--version", "1.0.0.0", "--input", "n=abc"}, `wimpctl: --input n=abc: input "n": "abc" is not a Number (arguments: n Number, b Boolean, s String, o Object) (see 'wimpctl create --help')`},
		{[]string{"--version", "1.0.0.0", "--input", "b=yes"}, `"yes" is not a Boolean (true or false)`},
		{[]string{"--version", "1.0.0.0", "--input", "o={bad"}, `input "o": "{bad" is not JSON`},
		{[]string{"--input", "m=1"}, `wimpctl: --input m=1: unknown input "m" for Typed; Version=2.0.0.0; Package=test (arguments: n String) (see 'wimpctl create --help')`},
		{[]string{"--input", "n=1", "--input", "n=2"}, "wimpctl: --input n is given twice (see 'wimpctl create --help')"},
		{[]string{"--input", "n=1", "--input", "n:=2"}, "--input n is given twice"},
		{[]string{"--input", "=1"}, `wimpctl: --input "=1" is neither KEY=VALUE nor KEY:=JSON (see 'wimpctl create --help')`},
		{[]string{"--input", ":=1"}, `--input ":=1" is neither KEY=VALUE nor KEY:=JSON`},
		{[]string{"--input", "n"}, `--input "n" is neither KEY=VALUE nor KEY:=JSON`},
		{[]string{"--input", "n:=notjson"}, "wimpctl: --input n:=notjson: the value is not JSON (see 'wimpctl create --help')"},
	} {
		r := ctl(base, append([]string{"create", "--definition", "Typed"}, tc.args...)...)
		if r.code != 64 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 64 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
	// Only the successful creations above made instances.
	if r := ctl(base, "count", "--definition", "Typed"); r.stdout != "6\n" {
		t.Errorf("instances of Typed: %+v", r)
	}

	// KEY:=JSON is not converted: a Number for a String argument is the server's to refuse.
	r := ctl(base, "create", "--definition", "Typed", "--input", "n:=12345")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "wimpctl: fault (Sender {urn:wimp:workflow-hosting:2026-11}InvalidInput): invalid input: ") {
		t.Errorf("n:=12345: %+v", r)
	}
	// A required argument left out is the server's to refuse too.
	if r := ctl(base, "create", "--definition", "Typed"); r.code != 2 || !strings.Contains(r.stderr, "}InvalidInput") {
		t.Errorf("no n: %+v", r)
	}
}
