package main

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wimp-project/wimp/server/servertest"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain reason", "plain reason"},
		{"caf\u00e9 \u65e5\u672c \U0001F600", "caf\u00e9 \u65e5\u672c \U0001F600"},
		{"ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory", `ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory`},
		{"a\r\nb", `a\r\nb`},
		{"nul\x00bel\x07esc\x1b[2Jdel\x7f", `nul\x00bel\x07esc\x1b[2Jdel\x7f`},
		{"ff\x0cvt\x0b", `ff\x0cvt\x0b`},
		{"nel\u0085csi\u009bx", `nel\u0085csi\u009bx`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`},
		{"rlo\u202eevil\u202c lri\u2066x\u2069 lrm\u200e alm\u061c", `rlo\u202eevil\u202c lri\u2066x\u2069 lrm\u200e alm\u061c`},
		{`back\slash \n typed`, `back\\slash \\n typed`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{"\u00a0nbsp \u00a9 \u00ff", "\u00a0nbsp \u00a9 \u00ff"}, // U+00A0 and up are not C1
	} {
		got := printable(tc.in)
		if got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, "\n\r\t\x00\x1b\u0085\u2028\u2029") {
			t.Errorf("printable(%q) = %q still holds a control character", tc.in, got)
		}
	}
}

// TestTrackEscapesReason: a reason that holds a line feed and tabs prints as one line of the
// record it belongs to, not as a forged row (against the real server).
func TestTrackEscapesReason(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	const evil = "ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory"
	if r := ctl(base, "suspend", id, "--reason", evil); r.code != 0 {
		t.Fatalf("suspend: %+v", r)
	}
	r := ctl(base, "track", id)
	if r.code != 0 {
		t.Fatalf("track: %+v", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var hits []string
	for _, l := range lines {
		if strings.Contains(l, "mallory") {
			hits = append(hits, l)
		}
		if strings.HasPrefix(l, "2026-01-01") {
			t.Errorf("a forged row: %q", l)
		}
	}
	if len(hits) != 1 || !strings.Contains(hits[0], `ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory`) ||
		!strings.Contains(hits[0], "Suspended") {
		t.Errorf("the reason should print escaped on the Suspended row, once:\n%s", r.stdout)
	}
	// The JSON output keeps the value as it is.
	r = ctl(base, "track", id, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"reason": "ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory"`) {
		t.Errorf("track --json: %+v", r)
	}
	r = ctl(base, "get", id)
	if r.code != 0 || strings.Count(r.stdout, "mallory") != 1 ||
		!strings.Contains(r.stdout, `ok\n2026-01-01T00:00:00Z\tInstance\tTerminated\tmallory`) {
		t.Errorf("get: %+v", r)
	}
}

// TestHashPassword: one hash (bcrypt at cost 12 is slow under -race); the line rules are
// TestReadSecretLine's.
func TestHashPassword(t *testing.T) {
	t.Setenv("WIMP_USER", "someone") // no password: hash-password needs none
	t.Setenv("WIMP_PASSWORD", "")
	const stdin, password = "s3cr\u00e9t: with spaces \r\nsecond line ignored\n", "s3cr\u00e9t: with spaces "
	r := ctlIn(stdin, "--endpoint", "http://127.0.0.1:1", "hash-password")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	hash, ok := strings.CutSuffix(r.stdout, "\n")
	if !ok || strings.Contains(hash, "\n") {
		t.Fatalf("output %q is not one line", r.stdout)
	}
	if !strings.HasPrefix(hash, "$2a$12$") {
		t.Errorf("hash %q does not start with $2a$12$", hash)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		t.Errorf("hash %q does not verify %q: %v", hash, password, err)
	}
}

func TestReadSecretLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"\n", ""},
		{"pw", "pw"},
		{"pw\n", "pw"},
		{"pw\r\n", "pw"},
		{"pw\r\r\n", "pw\r"}, // one line ending only
		{" pw \nsecond\n", " pw "},
		{strings.Repeat("x", 4096) + "\r\n", strings.Repeat("x", 4096)},
	} {
		got, err := readSecretLine(strings.NewReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("readSecretLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := readSecretLine(strings.NewReader(strings.Repeat("x", 4097))); err == nil {
		t.Error("a 4097-byte line accepted")
	}
}

func TestHashPasswordRefused(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"", nil, 1, "empty"},
		{"\n", nil, 1, "empty"},
		{"\r\n", nil, 1, "empty"},
		{"\nsecond", nil, 1, "empty"},
		{"a\x01b\n", nil, 1, "control character"},
		{"tab\there\n", nil, 1, "control character"},
		{strings.Repeat("x", 73) + "\n", nil, 1, "72 bytes"},
		{strings.Repeat("x", 5000), nil, 1, "longer than"},
		{"pw\n", []string{"extra"}, 64, "no arguments"},
	} {
		r := ctlIn(tc.stdin, append([]string{"hash-password"}, tc.args...)...)
		if r.code != tc.code || r.stdout != "" || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%q %v: exit %d, stdout %q, stderr %q; want %d and a message with %q", tc.stdin, tc.args, r.code, r.stdout, r.stderr, tc.code, tc.msg)
		}
	}
}
