package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/server/servertest"
)

func isUsageError(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// firstLine is s up to its first line feed.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestHelp: --help, -h and help print the usage on stdout and exit 0, for the tool and for
// every command; no command at all is a usage error.
func TestHelp(t *testing.T) {
	const toolLine = "usage: wimpctl [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]"
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"--endpoint", "http://127.0.0.1:1", "--help"}} {
		r := ctlIn("", args...)
		if r.code != 0 || r.stderr != "" || firstLine(r.stdout) != toolLine {
			t.Errorf("%v: exit %d, first line %q, stderr %q", args, r.code, firstLine(r.stdout), r.stderr)
		}
		for _, want := range []string{
			"\n  resume-bookmark ID NAME ", "\n  get ID ", "\n  track ID ", "\n  hash-password ", "\n  --endpoint URL ",
			"Exit status: 0 success; 1 transport or server error", "2 SOAP fault", "64 usage error",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: the usage lacks %q:\n%s", args, want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "\n  resume ID") {
			t.Errorf("%v: the deprecated resume is listed:\n%s", args, r.stdout)
		}
	}
	if r := ctlIn(""); r.code != 64 || r.stdout != "" || firstLine(r.stderr) != toolLine {
		t.Errorf("no command: %+v", r)
	}

	// Every command's --help, wherever the flag is, and without contacting the server.
	for _, tc := range []struct {
		args  []string
		first string
	}{
		{[]string{"get", "--help"}, "usage: wimpctl get ID [FLAGS]"},
		{[]string{"get", "-h"}, "usage: wimpctl get ID [FLAGS]"},
		{[]string{"get", testID, "--help"}, "usage: wimpctl get ID [FLAGS]"},
		{[]string{"help", "get"}, "usage: wimpctl get ID [FLAGS]"},
		{[]string{"run", "--help"}, "usage: wimpctl run ID [FLAGS]"},
		{[]string{"suspend", "--help"}, "usage: wimpctl suspend ID [FLAGS]"},
		{[]string{"unsuspend", "--help"}, "usage: wimpctl unsuspend ID [FLAGS]"},
		{[]string{"cancel", "--help"}, "usage: wimpctl cancel ID [FLAGS]"},
		{[]string{"terminate", "--help"}, "usage: wimpctl terminate ID [FLAGS]"},
		{[]string{"abandon", "--help"}, "usage: wimpctl abandon ID [FLAGS]"},
		{[]string{"update", "--help"}, "usage: wimpctl update ID [FLAGS]"},
		{[]string{"create", "--help"}, "usage: wimpctl create [FLAGS]"},
		{[]string{"resume-bookmark", "--help"}, "usage: wimpctl resume-bookmark ID NAME [FLAGS]"},
		{[]string{"list", "--help"}, "usage: wimpctl list [FLAGS]"},
		{[]string{"count", "--help"}, "usage: wimpctl count [FLAGS]"},
		{[]string{"definitions", "--help"}, "usage: wimpctl definitions [FLAGS]"},
		{[]string{"nodes", "--help"}, "usage: wimpctl nodes [FLAGS]"},
		{[]string{"track", "--help"}, "usage: wimpctl track ID [FLAGS]"},
		{[]string{"hash-password", "--help"}, "usage: wimpctl hash-password"},
		{[]string{"help", "--help"}, "usage: wimpctl help [COMMAND]"},
	} {
		r := ctlIn("", append([]string{"--endpoint", "http://127.0.0.1:1"}, tc.args...)...)
		if r.code != 0 || r.stderr != "" || firstLine(r.stdout) != tc.first || !strings.Contains(r.stdout, "  -h, --help ") {
			t.Errorf("%v: exit %d, first line %q (want %q), stderr %q", tc.args, r.code, firstLine(r.stdout), tc.first, r.stderr)
		}
	}
	for name := range commands {
		if r := ctlIn("", name, "--help"); r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "usage: wimpctl "+name) {
			t.Errorf("%s --help: %+v", name, r)
		}
	}
	if r := ctlIn("", "help", "frobnicate"); r.code != 64 || r.stdout != "" {
		t.Errorf("help frobnicate: %+v", r)
	}

	// A command's help lists the flags it takes, and only those.
	for _, tc := range []struct {
		cmd          string
		want, refuse []string
	}{
		{"suspend", []string{"--transacted ", "--reason REASON "}, []string{"--name"}},
		{"abandon", []string{"--reason REASON "}, []string{"--transacted"}},
		{"update", []string{"--transacted ", "--name NAME ", "--package PACKAGE ", "--version VERSION "}, []string{"--reason"}},
		{"get", []string{"-o, --output FORMAT ", "--json "}, []string{"--state"}},
		{"track", []string{"-o, --output FORMAT ", "--follow ", "--poll-interval duration "}, nil},
		{"create", []string{"--definition NAME ", "--version VERSION ", "--id GUID ", "--input KEY=VALUE ", "-o, --output FORMAT "}, nil},
		{"list", []string{"--state STATE ", "--completion HOW ", "--definition NAME ", "--version V ", "--package PACKAGE ",
			"--exception NAME ", "--reason-contains TEXT ", "--bookmark NAME ", "--created-after T ", "--created-before T ",
			"--updated-after T ", "--updated-before T ", "--version-min V ", "--version-max V ", "--limit N ", "--all "}, nil},
		{"count", []string{"--state STATE ", "--completion HOW ", "--definition NAME ", "--version V ", "--package PACKAGE ",
			"--exception NAME ", "--reason-contains TEXT ", "--bookmark NAME ", "--created-after T ", "--created-before T ",
			"--updated-after T ", "--updated-before T ", "--by KEY "}, []string{"--limit"}},
	} {
		r := ctlIn("", tc.cmd, "--help")
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, "\n  "+w) {
				t.Errorf("%s --help lacks %q:\n%s", tc.cmd, w, r.stdout)
			}
		}
		for _, w := range tc.refuse {
			if strings.Contains(r.stdout, w) {
				t.Errorf("%s --help has %q:\n%s", tc.cmd, w, r.stdout)
			}
		}
	}
}

// TestVersion: --version prints the main module's version (or "(devel)", with the VCS revision
// when the build recorded one) and the Go version, one line on stdout, and exits 0.
func TestVersion(t *testing.T) {
	re := regexp.MustCompile(`^wimpctl (v[0-9]\S*|\(devel\)( revision [0-9a-f]+( modified)?)?) go[0-9]\S*\n$`)
	for _, args := range [][]string{{"--version"}, {"--version", "get", testID}, {"--endpoint", "http://127.0.0.1:1", "--version"}} {
		r := ctlIn("", args...)
		if r.code != 0 || r.stderr != "" || !re.MatchString(r.stdout) {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// TestGlobalFlagsAnywhere: a global flag after the command works as before it; the last one
// given wins.
func TestGlobalFlagsAnywhere(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	for _, args := range [][]string{
		{"get", id, "--endpoint", base},
		{"get", "--endpoint", base, id},
		{"--soap", "1.2", "get", id, "--endpoint", base},
		{"get", id, "--endpoint", base, "--soap", "1.2", "--timeout", "10s"},
		{"--endpoint", "http://127.0.0.1:1", "get", id, "--endpoint", base},
		{"get", id, "--endpoint=" + base, "-o", "wide"},
	} {
		if r := ctlIn("", args...); r.code != 0 || !strings.Contains(r.stdout, id) || r.stderr != "" {
			t.Errorf("%v: %+v", args, r)
		}
	}
	// list's and count's --version is the definition version, not the tool's.
	if r := ctlIn("", "count", "--endpoint", base, "--version", "1.0.0.0"); r.code != 0 || r.stdout != "1\n" {
		t.Errorf("count --version 1.0.0.0: %+v", r)
	}
	if r := ctlIn("", "count", "--endpoint", base, "--version", "2.0.0.0"); r.code != 0 || r.stdout != "0\n" {
		t.Errorf("count --version 2.0.0.0: %+v", r)
	}
}

// TestExitCodes: 0 success, 1 transport or server error, 2 SOAP fault, 64 usage error; every
// error one line on stderr.
func TestExitCodes(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	for _, tc := range []struct {
		args   []string
		code   int
		prefix string
	}{
		{[]string{"--endpoint", base, "get", id}, 0, ""},
		{[]string{"--endpoint", "http://127.0.0.1:1", "get", id}, 1, "wimpctl: Post \"http://127.0.0.1:1/WorkflowHosting\": "},
		{[]string{"--endpoint", base + "/nowhere", "get", id}, 1, "wimpctl: soap: HTTP 404 "},
		{[]string{"--endpoint", base, "get", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}, 2,
			"wimpctl: fault (Sender {http://schemas.datacontract.org/2008/10/WorkflowServices}InstanceNotFound): There is no workflow instance"},
		{[]string{"--endpoint", base, "get"}, 64, "wimpctl: get takes ID (see 'wimpctl get --help')"},
		{[]string{"--endpoint", base, "get", id, "--frobnicate"}, 64, "wimpctl: get: flag provided but not defined: -frobnicate (see 'wimpctl get --help')"},
		{[]string{"--frobnicate", "get", id}, 64, "wimpctl: flag provided but not defined: -frobnicate (see 'wimpctl --help')"},
		{[]string{"frobnicate"}, 64, `wimpctl: unknown command "frobnicate" (see 'wimpctl --help')`},
		{[]string{"--endpoint", base, "get", "not-a-guid"}, 64, `wimpctl: "not-a-guid" is not a GUID (see 'wimpctl get --help')`},
	} {
		r := ctlIn("", tc.args...)
		if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.prefix) || (tc.code != 0 && strings.Count(r.stderr, "\n") != 1) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want a line starting %q)", tc.args, r.code, tc.code, r.stderr, tc.prefix)
		}
	}
}

// TestResumeBookmark: resume-bookmark resumes; resume still does, with a deprecation note.
func TestResumeBookmark(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	r := ctl(base, "resume-bookmark", id, "Review", "--payload", `{"approved": true, "reviewer": "bob"}`)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("resume-bookmark: %+v", r)
	}
	r = ctl(base, "resume", id, "Review", "--payload", `{"approved": true, "reviewer": "carol"}`)
	if r.code != 0 || r.stdout != "" || r.stderr != "wimpctl: resume is deprecated; use resume-bookmark\n" {
		t.Fatalf("resume: %+v", r)
	}
	if r := ctl(base, "get", id, "--json"); !strings.Contains(r.stdout, `"status": "Approved"`) {
		t.Errorf("after two approvals: %+v", r)
	}
	if r := ctl(base, "resume-bookmark", id, "Nope"); r.code != 2 || !strings.Contains(r.stderr, "}InstanceCompleted") {
		t.Errorf("resume-bookmark of a completed instance: %+v", r)
	}
}

// TestFaultReason: a fault prints as one line, without the message the server repeats.
func TestFaultReason(t *testing.T) {
	base := servertest.Start(t, "")
	r := ctl(base, "create", "--definition", "Nope")
	if r.code != 2 || r.stderr != "wimpctl: fault (Sender {urn:wimp:workflow-hosting:2026-11}DefinitionNotFound): definition not found: Nope\n" {
		t.Errorf("create --definition Nope: %+v", r)
	}
	for in, want := range map[string]string{
		"definition not found: engine: definition not found: Nope":            "definition not found: Nope",
		"definition not found: engine: definition not found: X version 1":     "definition not found: X version 1",
		`invalid input: instance 1: engine: invalid input: argument "a": bad`: `invalid input: instance 1: argument "a": bad`,
		"There is no workflow instance with id 'x'.":                          "There is no workflow instance with id 'x'.",
		"a: b c: a":               "a: b c: a", // a repetition without a package name is left
		"engine: invalid input":   "engine: invalid input",
		"x: Engine: x":            "x: Engine: x",
		"x: engine2: x: y":        "x: y",
		"":                        "",
		"malformed page token: 1": "malformed page token: 1",
	} {
		if got := tidyReason(in); got != want {
			t.Errorf("tidyReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCorrelationKey: create --key, then get and resume-bookmark name the instance key:KEY.
func TestCorrelationKey(t *testing.T) {
	base := servertest.Start(t, "")
	r := ctl(base, "create", "--definition", "ExpenseApproval", "--version", "1.0.0.0", "--key", "expense/7",
		"--input", "amount=1500", "--input", "submitter=ann")
	if r.code != 0 {
		t.Fatalf("create --key: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	if r := ctl(base, "get", "key:expense/7", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"id": "`+id+`"`) ||
		!strings.Contains(r.stdout, `"correlationKey": "expense/7"`) {
		t.Fatalf("get key:expense/7: %+v", r)
	}
	if r := ctl(base, "resume-bookmark", "key:expense/7", "Review", "--payload", `{"approved": true, "reviewer": "bob"}`); r.code != 0 {
		t.Fatalf("resume-bookmark key:expense/7: %+v", r)
	}
	if r := ctl(base, "get", "key:expense/7"); r.code != 0 || !strings.Contains(r.stdout, "expense/7") {
		t.Fatalf("get key:expense/7 (table): %+v", r)
	}
	// The key is taken: InstanceExists; an unknown key: InstanceNotFound; key: alone is a usage error.
	r = ctl(base, "create", "--definition", "ExpenseApproval", "--key", "expense/7", "--input", "amount=1", "--input", "submitter=ann")
	if r.code != 2 || !strings.Contains(r.stderr, "}InstanceExists") {
		t.Errorf("create with a taken key: %+v", r)
	}
	if r := ctl(base, "get", "key:expense/8"); r.code != 2 || !strings.Contains(r.stderr, "}InstanceNotFound") {
		t.Errorf("get of an unknown key: %+v", r)
	}
	if r := ctl(base, "get", "key:"); r.code != 64 {
		t.Errorf("get key: (no key): %+v", r)
	}
	if r := ctl(base, "create", "--definition", "ExpenseApproval", "--key", "k", "--id", id); r.code != 64 {
		t.Errorf("create --key with --id: %+v", r)
	}
}

// get --wait answers once the instance completes (here: approved twice while it waits); a wait
// that is not whole seconds up to 30s, or not shorter than --timeout, is a usage error.
func TestGetWait(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	done := make(chan result, 1)
	go func() { done <- ctl(base, "get", id, "--wait", "30s", "--timeout", "40s", "--json") }()
	for _, who := range []string{"bob", "carol"} {
		if r := ctl(base, "resume-bookmark", id, "Review", "--payload", `{"approved": true, "reviewer": "`+who+`"}`); r.code != 0 {
			t.Fatalf("resume-bookmark: %+v", r)
		}
	}
	if r := <-done; r.code != 0 || !strings.Contains(r.stdout, `"state": "Completed"`) || !strings.Contains(r.stdout, `"status": "Approved"`) {
		t.Fatalf("get --wait 30s: %+v", r)
	}
	for _, args := range [][]string{{"--wait", "31s"}, {"--wait", "1500ms"}, {"--wait", "-1s"}, {"--wait", "30s", "--timeout", "30s"}} {
		if r := ctl(base, append([]string{"get", id}, args...)...); r.code != 64 || !strings.Contains(r.stderr, "--wait") {
			t.Errorf("get %v: %+v, want a usage error about --wait", args, r)
		}
	}
}
