package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wimp-project/wimp/server/servertest"
)

// parseTable reads a table wimpctl printed: the header's words, and each row's cells by the
// header's columns. It fails the test unless every cell of every row starts where its header
// does (the columns are aligned) and none is empty.
func parseTable(t *testing.T, out string) (header []string, rows []map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	head := []rune(lines[0])
	var starts []int
	for i, r := range head {
		if r != ' ' && (i == 0 || head[i-1] == ' ') {
			starts = append(starts, i)
			header = append(header, strings.Fields(string(head[i:]))[0])
		}
	}
	for _, l := range lines[1:] {
		line := []rune(l)
		m := map[string]string{}
		for c, s := range starts {
			if s >= len(line) || line[s] == ' ' || (s > 0 && line[s-1] != ' ') {
				t.Fatalf("column %s is not aligned in %q of\n%s", header[c], l, out)
			}
			end := len(line)
			if c+1 < len(starts) {
				end = starts[c+1]
			}
			m[header[c]] = strings.TrimRight(string(line[s:end]), " ")
		}
		rows = append(rows, m)
	}
	return header, rows
}

// byID indexes table rows by their ID column.
func byID(rows []map[string]string) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, r := range rows {
		m[r["ID"]] = r
	}
	return m
}

// tableTime reads a time cell, which must be RFC 3339 in UTC with milliseconds.
func tableTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	if err != nil {
		t.Fatalf("time cell %q: %v", s, err)
	}
	return tm
}

// sameMillisecond reports whether a table's time shows the time t.
func sameMillisecond(shown time.Time, t time.Time) bool {
	return shown.Equal(t.Truncate(time.Millisecond))
}

func TestOutputFormats(t *testing.T) {
	base := servertest.Start(t, "")
	active := createExpense(t, base)
	suspended := createExpense(t, base)
	if r := ctl(base, "suspend", suspended, "--reason", "audit"); r.code != 0 {
		t.Fatalf("suspend: %+v", r)
	}
	r := ctl(base, "create", "--definition", "Hello", "-o", "json")
	var created struct{ ID string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil || created.ID == "" {
		t.Fatalf("create -o json: %+v", r)
	}
	hello := created.ID
	if r := ctl(base, "create", "--definition", "Hello", "-o", "wide"); r.code != 0 || len(strings.TrimSpace(r.stdout)) != 36 {
		t.Errorf("create -o wide prints the id: %+v", r)
	}

	// -o json, --output json and --json print the same.
	for _, args := range [][]string{{"get", active}, {"list"}, {"count", "--by", "state"}, {"definitions"}, {"nodes"}, {"track", active}} {
		want := ctl(base, append(args, "--json")...)
		for _, o := range [][]string{{"-o", "json"}, {"--output", "json"}, {"--output=json"}} {
			if got := ctl(base, append(args, o...)...); got.code != 0 || got.stdout != want.stdout || !json.Valid([]byte(got.stdout)) {
				t.Errorf("%v %v differs from --json:\n%s\nwant\n%s", args, o, got.stdout, want.stdout)
			}
		}
	}
	var inst struct {
		Created, Updated, PendingTimer time.Time
	}
	if r := ctl(base, "get", active, "--json"); json.Unmarshal([]byte(r.stdout), &inst) != nil || inst.PendingTimer.IsZero() {
		t.Fatalf("get --json: %+v", r)
	}

	// get: one field a line, times included; wide adds the execution status.
	r = ctl(base, "get", active)
	keys := func(out string) []string {
		var ks []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			k, _, _ := strings.Cut(l, "  ")
			ks = append(ks, k)
		}
		return ks
	}
	if got := keys(r.stdout); r.code != 0 || !slices.Equal(got, []string{"id", "state", "definition", "bookmarks", "next timer", "variables", "created", "updated"}) {
		t.Errorf("get: fields %q:\n%s", got, r.stdout)
	}
	if !strings.Contains(r.stdout, "\nnext timer  "+inst.PendingTimer.UTC().Format("2006-01-02T15:04:05.000Z")+"\n") ||
		!strings.Contains(r.stdout, "\ncreated     "+inst.Created.UTC().Format("2006-01-02T15:04:05.000Z")+"\n") {
		t.Errorf("get: times\n%s", r.stdout)
	}
	r = ctl(base, "get", active, "-o", "wide")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "\nexecution   Idle\n") {
		t.Errorf("get -o wide:\n%s", r.stdout)
	}
	if r := ctl(base, "get", suspended); !strings.Contains(r.stdout, "\nsuspended   audit\n") {
		t.Errorf("get of a suspended instance:\n%s", r.stdout)
	}
	if r := ctl(base, "get", hello); !strings.Contains(r.stdout, "\ncompletion  Closed\n") {
		t.Errorf("get of a completed instance:\n%s", r.stdout)
	}

	// list: aligned columns with the creation time; wide adds package, update time, next
	// timer, exception and reason.
	r = ctl(base, "list")
	header, rows := parseTable(t, r.stdout)
	if r.code != 0 || !slices.Equal(header, []string{"ID", "STATE", "COMPLETION", "DEFINITION", "VERSION", "BOOKMARKS", "CREATED"}) || len(rows) != 4 {
		t.Fatalf("list: header %q\n%s", header, r.stdout)
	}
	if row := byID(rows)[active]; row["STATE"] != "Active" || row["COMPLETION"] != "-" || row["DEFINITION"] != "ExpenseApproval" ||
		row["VERSION"] != "1.0.0.0" || row["BOOKMARKS"] != "Review" || !sameMillisecond(tableTime(t, row["CREATED"]), inst.Created) {
		t.Errorf("list: row %v", row)
	}
	r = ctl(base, "list", "-o", "wide")
	header, rows = parseTable(t, r.stdout)
	if r.code != 0 || !slices.Equal(header, []string{"ID", "STATE", "COMPLETION", "DEFINITION", "VERSION", "BOOKMARKS", "CREATED",
		"PACKAGE", "UPDATED", "TIMER", "EXCEPTION", "REASON"}) || len(rows) != 4 {
		t.Fatalf("list -o wide: header %q\n%s", header, r.stdout)
	}
	wide := byID(rows)
	if row := wide[active]; row["PACKAGE"] != "wimp.samples" || !sameMillisecond(tableTime(t, row["TIMER"]), inst.PendingTimer) ||
		!sameMillisecond(tableTime(t, row["UPDATED"]), inst.Updated) || row["EXCEPTION"] != "-" || row["REASON"] != "-" {
		t.Errorf("list -o wide: row %v", row)
	}
	if row := wide[suspended]; row["STATE"] != "Suspended" || row["REASON"] != "audit" || row["TIMER"] == "-" {
		t.Errorf("list -o wide: the suspended row %v", row)
	}
	if row := wide[hello]; row["COMPLETION"] != "Closed" || row["BOOKMARKS"] != "-" || row["TIMER"] != "-" {
		t.Errorf("list -o wide: the completed row %v", row)
	}

	// count has nothing to add: wide is the table.
	if table, wide := ctl(base, "count", "--by", "state"), ctl(base, "count", "--by", "state", "-o", "wide"); wide.code != 0 || wide.stdout != table.stdout {
		t.Errorf("count -o wide:\n%s\nwant\n%s", wide.stdout, table.stdout)
	}

	for _, args := range [][]string{{"get", active, "-o", "yaml"}, {"list", "--output", ""}, {"track", active, "-o", "JSON"}, {"create", "--definition", "Hello", "-o", "x"}} {
		if r := ctl(base, args...); r.code != 64 || !strings.Contains(r.stderr, "is not table, json or wide") {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 60, "short"},
		{"exactly5", 8, "exactly5"},
		{"abcdefghij", 5, "abcd…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"ab\xffcdef", 4, "ab\xff…"}, // a byte that is not UTF-8 stays, for printable to show
	} {
		got := clip(tc.in, tc.n)
		if got != tc.want || (got != tc.in && utf8.RuneCountInString(got) != tc.n) {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
