package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/server/servertest"
)

// TestTrackTable: the records' dates, WriteLine texts and payloads are in the table; -o wide
// shows the data whole.
func TestTrackTable(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	if r := ctl(base, "resume-bookmark", id, "Review", "--payload", `{"approved": true, "reviewer": "bob"}`); r.code != 0 {
		t.Fatalf("resume-bookmark: %+v", r)
	}
	var recs []hosting.Record
	if r := ctl(base, "track", id, "--json"); json.Unmarshal([]byte(r.stdout), &recs) != nil || len(recs) == 0 {
		t.Fatalf("track --json: %+v", r)
	}
	r := ctl(base, "track", id)
	header, rows := parseTable(t, r.stdout)
	if r.code != 0 || !slices.Equal(header, []string{"SEQ", "TIME", "KIND", "NAME", "ACTIVITY", "REASON", "PRINCIPAL", "DATA"}) || len(rows) != len(recs) {
		t.Fatalf("track: header %q, %d rows for %d records\n%s", header, len(rows), len(recs), r.stdout)
	}
	find := func(rows []map[string]string, kind, name string) map[string]string {
		t.Helper()
		for _, row := range rows {
			if row["KIND"] == kind && row["NAME"] == name {
				return row
			}
		}
		t.Fatalf("no %s %s row", kind, name)
		return nil
	}
	for i, row := range rows {
		if row["SEQ"] != strconv.FormatInt(recs[i].Seq, 10) || !sameMillisecond(tableTime(t, row["TIME"]), recs[i].Time) {
			t.Errorf("row %v for record %+v", row, recs[i])
		}
	}
	if row := find(rows, "Activity", "WriteLine"); row["ACTIVITY"] != "announce" || row["DATA"] != "Expense of 1500 submitted by ann" {
		t.Errorf("the first WriteLine row: %v", row)
	}
	if row := find(rows, "Bookmark", "Review"); row["DATA"] != `{"approved":true,"reviewer":"bob"}` || !strings.HasPrefix(row["PRINCIPAL"], "anonymous@127.0.0.1:") {
		t.Errorf("the bookmark row: %v", row)
	}
	const createdData = `{"definition":"ExpenseApproval; Version=1.0.0.0; Package=wimp.samples"}`
	if row := find(rows, "Instance", "Created"); row["DATA"] != createdData[:59]+"…" {
		t.Errorf("the Created row, in a table: %v", row)
	}
	r = ctl(base, "track", id, "-o", "wide")
	_, rows = parseTable(t, r.stdout)
	if row := find(rows, "Instance", "Created"); r.code != 0 || row["DATA"] != createdData {
		t.Errorf("the Created row, wide: %v", row)
	}
}

// TestTrackUnknown: track of an unknown id is the InstanceNotFound fault, as get's.
func TestTrackUnknown(t *testing.T) {
	base := servertest.Start(t, "")
	for _, args := range [][]string{{"get", testID}, {"track", testID}, {"track", testID, "--follow"}, {"track", testID, "-o", "json"}} {
		r := ctl(base, args...)
		if r.code != 2 || r.stdout != "" ||
			r.stderr != "wimpctl: fault (Sender {http://schemas.datacontract.org/2008/10/WorkflowServices}InstanceNotFound): There is no workflow instance with id '"+testID+"'.\n" {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// syncBuffer is a bytes.Buffer a test reads while wimpctl writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTrackFollow: --follow prints the records written while it runs, and stops by itself once
// the instance has completed.
func TestTrackFollow(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--endpoint", base, "track", id, "--follow", "--poll-interval", "20ms"}, strings.NewReader(""), &out, &errOut)
	}()
	// Wait for the records so far (the instance idles, waiting on Review), then end it.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "Instance  Persisted") {
		if time.Now().After(deadline) {
			t.Fatalf("no records printed:\n%s\nstderr: %s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := ctl(base, "terminate", id, "--reason", "enough"); r.code != 0 {
		t.Fatalf("terminate: %+v", r)
	}
	select {
	case code := <-done:
		if code != 0 || errOut.String() != "" {
			t.Fatalf("track --follow: exit %d, stderr %q", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("track --follow did not stop after the instance completed:\n%s", out.String())
	}
	// Each batch widens the columns it needs for the rows after it, so read the cells by words
	// (the reasons and activities here have no spaces).
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if !slices.Equal(strings.Fields(lines[0]), []string{"SEQ", "TIME", "KIND", "NAME", "ACTIVITY", "REASON", "PRINCIPAL", "DATA"}) {
		t.Fatalf("track --follow: header %q", lines[0])
	}
	var seqs []int
	terminated := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		n, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 8 {
			t.Fatalf("row %q", l)
		}
		tableTime(t, f[1])
		seqs = append(seqs, n)
		terminated = terminated || (f[3] == "Terminated" && f[5] == "enough")
	}
	if !terminated || !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) || strings.Count(out.String(), "SEQ") != 1 {
		t.Errorf("track --follow: one header, each record once, the Terminated one included:\n%s", out.String())
	}
	// The same records as track prints once the instance has completed.
	_, all := parseTable(t, ctl(base, "track", id).stdout)
	if len(all) != len(seqs) || all[len(all)-1]["SEQ"] != strconv.Itoa(seqs[len(seqs)-1]) {
		t.Errorf("track after the follow has %d records, the follow printed %d:\n%s", len(all), len(seqs), out.String())
	}

	// A completed instance: its records, then the end; -o json is one record a line.
	r := ctl(base, "track", id, "--follow", "--poll-interval", "20ms", "-o", "json")
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	n, last := 0, hosting.Record{}
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		n++
	}
	if r.code != 0 || n != len(seqs) || last.Seq != int64(seqs[len(seqs)-1]) {
		t.Errorf("track --follow -o json of a completed instance: %d lines, last %+v: %+v", n, last, r)
	}
}

func TestRecordData(t *testing.T) {
	for _, tc := range []struct {
		rec  hosting.Record
		want string
	}{
		{hosting.Record{Kind: "Activity", Name: "WriteLine", Data: `{"text":"Hello, \"world\"\n"}`}, "Hello, \"world\"\n"},
		{hosting.Record{Kind: "Activity", Name: "WriteLine", Data: `{"text":""}`}, ""},
		{hosting.Record{Kind: "Activity", Name: "WriteLine", Data: `not json`}, "not json"},
		{hosting.Record{Kind: "Activity", Name: "WriteLine", Data: `{"other":1}`}, `{"other":1}`},
		{hosting.Record{Kind: "Bookmark", Name: "WriteLine", Data: `{"text":"a payload"}`}, `{"text":"a payload"}`},
		{hosting.Record{Kind: "Activity", Name: "Executing", Data: `{"type":"WriteLine"}`}, `{"type":"WriteLine"}`},
	} {
		if got := recordData(tc.rec); got != tc.want {
			t.Errorf("recordData(%+v) = %q, want %q", tc.rec, got, tc.want)
		}
	}
}
