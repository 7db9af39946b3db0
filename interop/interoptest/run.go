package interoptest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Driver makes the calls of cases, whose IDs are set, through a client and returns,
// per case, what is wrong with the outcome the client reported ("" when it matches
// the case's Want). An error means the client could not be run at all.
type Driver func(cases []*Case) (problems []string, err error)

// Run is one client's whole test against s: it checks the cases' coverage, sets up
// one instance per case with wimpctl, has drive make the calls, checks each
// outcome and then the instance's state (wimpctl get --json), and logs the line
//
//	SUMMARY client: N client calls checked (what; outcome as the client reports it + state via wimpctl get --json), F failed; per binding
func Run(t *testing.T, s *Server, client, what string, cases []*Case, drive Driver) {
	t.Helper()
	if err := CheckCoverage(cases); err != nil {
		t.Fatal(err)
	}
	setupErrs := make([]error, len(cases))
	start := time.Now()
	Parallel(len(cases), func(i int) { setupErrs[i] = s.Setup(cases[i]) })
	if err := errors.Join(setupErrs...); err != nil {
		t.Fatalf("setting up instances with wimpctl failed (the server or wimpctl is broken, not the client):\n%s\nserver log:\n%s",
			FirstLines(err.Error(), 20), s.LogTail(40))
	}
	t.Logf("%s: set up %d instances with wimpctl in %v", client, len(cases), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	outcomes, err := drive(cases)
	if err == nil && len(outcomes) != len(cases) {
		err = fmt.Errorf("driver checked %d of %d calls", len(outcomes), len(cases))
	}
	if err != nil {
		t.Fatalf("%s driver: %v\nserver log:\n%s", client, err, s.LogTail(40))
	}
	t.Logf("%s: %d calls in %v", client, len(cases), time.Since(start).Round(time.Millisecond))

	problems := make([]string, len(cases))
	Parallel(len(cases), func(i int) {
		p := []string{}
		if outcomes[i] != "" {
			p = append(p, outcomes[i])
		}
		if msg := s.CheckState(cases[i]); msg != "" {
			p = append(p, "after the call: "+msg)
		}
		problems[i] = strings.Join(p, "; ")
	})

	type tally struct{ calls, ok, faults, failed int }
	perBinding := map[string]*tally{}
	failed := 0
	for i, c := range cases {
		b := perBinding[c.Binding]
		if b == nil {
			b = &tally{}
			perBinding[c.Binding] = b
		}
		b.calls++
		if c.Want.Fault == "" {
			b.ok++
		} else {
			b.faults++
		}
		if problems[i] != "" {
			b.failed++
			failed++
			t.Errorf("%s (id %q): %s", c.Name, c.SentID(), problems[i])
		}
	}
	var names, parts []string
	for b := range perBinding {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		n := perBinding[b]
		parts = append(parts, fmt.Sprintf("%s %d (%d ok, %d faults, %d failed)", b, n.calls, n.ok, n.faults, n.failed))
	}
	t.Logf("SUMMARY %s: %d client calls checked (%s; outcome as the client reports it + state via wimpctl get --json), %d failed; %s",
		client, len(cases), what, failed, strings.Join(parts, ", "))
	if n, longest := s.takePolled(); n > 0 {
		t.Logf("%s: %d state checks (Cancel, set-up of completed instances) matched only after polling, longest %v",
			client, n, longest.Round(time.Millisecond))
	}
	if failed > 0 {
		t.Logf("server log (tail):\n%s", s.LogTail(60))
	}
}

// Parallel runs f(i) for i in [0,n) on up to 8 goroutines.
func Parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// JSONLines encodes items as one JSON line each (HTML characters unescaped).
func JSONLines[T any](items []T) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// RunDriver runs a driver process with input on stdin, within limit, and decodes one
// JSON line of its stdout per call; it must print exactly calls lines. The stderr it
// returns is for failure reports.
func RunDriver[R any](cmd *exec.Cmd, input []byte, calls int, limit time.Duration) ([]R, string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(input), &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, stderr.String(), fmt.Errorf("%s: %v\nstderr:\n%s", cmd.Path, err, FirstLines(stderr.String(), 40))
		}
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return nil, stderr.String(), fmt.Errorf("%s: timed out after %v\nstderr:\n%s", cmd.Path, limit, FirstLines(stderr.String(), 40))
	}
	var res []R
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r R
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, stderr.String(), fmt.Errorf("driver output %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != calls {
		return res, stderr.String(), fmt.Errorf("driver answered %d of %d calls\nstderr:\n%s", len(res), calls, FirstLines(stderr.String(), 40))
	}
	return res, stderr.String(), nil
}

// SeqMismatch reports a result whose seq is not the call's.
func SeqMismatch(got, want int) string {
	if got != want {
		return fmt.Sprintf("result for seq %d, want %d", got, want)
	}
	return ""
}
