package interop

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMonoWCF drives every operation through Mono's WCF client over
// BasicHttpBinding, WSHttpBinding (security None), and CustomBindings with
// Soap12WSAddressing10 and Soap11WSAddressing10.
func TestMonoWCF(t *testing.T) { runClient(t, monoClient) }

// TestZeep drives every operation through zeep, from the server's own ?wsdl,
// over its SOAP 1.1 and SOAP 1.2 ports.
func TestZeep(t *testing.T) { runClient(t, zeepClient) }

func runClient(t *testing.T, c *client) {
	desc := c.prepare(t)
	s := sharedWimp(t)
	t.Logf("%s: %s; server %s", c.name, desc, s.base)

	ids := identities{
		expense:   currentIdentity(t, s, "ExpenseApproval", ""),
		hello:     currentIdentity(t, s, "Hello", ""),
		expenseV1: currentIdentity(t, s, "ExpenseApproval", "1.0.0.0"),
	}
	t.Logf("%s: identities: ExpenseApproval %+v (default), %+v (--version 1.0.0.0); Hello %+v", c.name, ids.expense, ids.expenseV1, ids.hello)
	var cases []*testCase
	for _, b := range c.bindings {
		cases = append(cases, buildCases(c.name, b, ids)...)
	}

	// Set up one instance per call, in the state the call needs.
	setupErrs := make([]error, len(cases))
	start := time.Now()
	parallel(len(cases), func(i int) { setupErrs[i] = setup(s, cases[i]) })
	if err := errors.Join(setupErrs...); err != nil {
		t.Fatalf("setting up instances with wimpctl failed (the server or wimpctl is broken, not the client):\n%s\nserver log:\n%s",
			firstLines(err.Error(), 20), s.LogTail(40))
	}
	t.Logf("%s: set up %d instances with wimpctl in %v", c.name, len(cases), time.Since(start).Round(time.Millisecond))

	calls := make([]Call, len(cases))
	for i, tc := range cases {
		call := tc.call
		call.Seq = i + 1
		call.ID = tc.id
		if call.IDNull {
			call.ID = ""
		} else if tc.idForm != nil {
			call.ID = tc.idForm(tc.id)
		}
		calls[i] = call
	}
	start = time.Now()
	results, stderr, err := c.run(s.control, calls)
	if err != nil {
		t.Fatalf("%s driver: %v\nstderr:\n%s\nserver log:\n%s", c.name, err, firstLines(stderr, 40), s.LogTail(40))
	}
	t.Logf("%s: %d calls in one driver process in %v", c.name, len(calls), time.Since(start).Round(time.Millisecond))

	// Check each outcome as the client reported it, then the instance's state.
	problems := make([]string, len(cases))
	parallel(len(cases), func(i int) {
		tc, r := cases[i], results[i]
		if r.Seq != calls[i].Seq {
			problems[i] = fmt.Sprintf("result for seq %d, want %d", r.Seq, calls[i].Seq)
			return
		}
		var p []string
		if msg := c.checkOutcome(tc.call.Binding, tc.want, r); msg != "" {
			p = append(p, msg)
		}
		if msg := checkState(s, tc); msg != "" {
			p = append(p, msg)
		}
		problems[i] = strings.Join(p, "; ")
	})

	type tally struct{ calls, ok, faults, failed int }
	perBinding := map[string]*tally{}
	failed := 0
	for i, tc := range cases {
		b := perBinding[tc.call.Binding]
		if b == nil {
			b = &tally{}
			perBinding[tc.call.Binding] = b
		}
		b.calls++
		if tc.want.fault == "" {
			b.ok++
		} else {
			b.faults++
		}
		if problems[i] != "" {
			b.failed++
			failed++
			t.Errorf("%s (id %s): %s", tc.name, calls[i].ID, problems[i])
		}
	}
	var parts []string
	var names []string
	for b := range perBinding {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		n := perBinding[b]
		parts = append(parts, fmt.Sprintf("%s %d (%d ok, %d faults, %d failed)", b, n.calls, n.ok, n.faults, n.failed))
	}
	t.Logf("SUMMARY %s: %d client calls checked (outcome as the client reports it + state via wimpctl get --json), %d failed; %s",
		c.name, len(cases), failed, strings.Join(parts, ", "))
	polled.Lock()
	if polled.n > 0 {
		t.Logf("%s: %d state checks (Cancel, set-up of completed instances) matched only after polling, longest %v",
			c.name, polled.n, polled.longest.Round(time.Millisecond))
	}
	polled.n, polled.longest = 0, 0
	polled.Unlock()
	if failed > 0 {
		t.Logf("server log (tail):\n%s", s.LogTail(60))
	}
}

// currentIdentity creates an instance of a sample definition and reads its
// definition identity, the one Update must accept.
func currentIdentity(t *testing.T, s *server, definition, version string) Identity {
	t.Helper()
	id, err := s.create(definition, version)
	if err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.LogTail(40))
	}
	info, err := s.get(id)
	if err != nil {
		t.Fatal(err)
	}
	d := info.Definition
	if d.Name != definition || d.Version == "" || (version != "" && d.Version != version) {
		t.Fatalf("wimpctl create --definition %s --version %q made an instance with identity %+v", definition, version, d)
	}
	return d
}

// setup puts a fresh instance into tc.setup and checks it got there.
func setup(s *server, tc *testCase) error {
	if tc.setup == stUnknown {
		tc.id = newGUID()
		return nil
	}
	id, err := s.create(tc.setup.definition(), tc.version)
	if err != nil {
		return fmt.Errorf("%s: %w", tc.name, err)
	}
	tc.id = id
	switch tc.setup {
	case stSuspended:
		_, err = s.ctl("suspend", id, "--reason", setupSuspendReason)
	case stCanceled:
		_, err = s.ctl("cancel", id)
	case stTerminated:
		_, err = s.ctl("terminate", id, "--reason", setupTerminateReason)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", tc.name, err)
	}
	w := stateOf(tc.setup)
	w.eventually = tc.setup == stCanceled || tc.setup == stClosed
	if msg := waitState(s, id, w); msg != "" {
		return fmt.Errorf("%s: set-up state: %s", tc.name, msg)
	}
	return nil
}

// checkState verifies the instance's state after the call.
func checkState(s *server, tc *testCase) string {
	if tc.want.state == "" {
		// An unknown id must stay unknown: no operation creates an instance.
		if _, err := s.get(tc.id); err == nil {
			return "instance " + tc.id + " exists after a call on an unknown id"
		}
		return ""
	}
	return waitState(s, tc.id, tc.want)
}

// polled counts state checks that did not match at once but did after
// polling (only allowed where want.eventually), and the longest such wait.
var polled struct {
	sync.Mutex
	n       int
	longest time.Duration
}

// waitState compares the instance with w, at once or, for w.eventually,
// polling for up to 10 seconds. "" means it matches.
func waitState(s *server, id string, w want) string {
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for first := true; ; first = false {
		info, err := s.get(id)
		var msg string
		switch {
		case err != nil:
			msg = err.Error()
		case info.State != w.state || info.Completion != w.completion:
			msg = fmt.Sprintf("state %s/%q, want %s/%q", info.State, info.Completion, w.state, w.completion)
		case w.state == "Suspended" && info.SuspensionReason != w.reason:
			msg = fmt.Sprintf("suspensionReason %q, want %q", info.SuspensionReason, w.reason)
		case w.definition != nil && info.Definition != *w.definition:
			msg = fmt.Sprintf("definition %+v, want %+v", info.Definition, *w.definition)
		}
		if msg == "" && !first {
			polled.Lock()
			polled.n++
			polled.longest = max(polled.longest, time.Since(start))
			polled.Unlock()
		}
		if msg == "" || !w.eventually || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// The expectation table is DESIGN §3's; pin the parts the interop
// assertions rely on so a change to it is deliberate.
func TestExpectationTable(t *testing.T) {
	for _, c := range []struct {
		op    string
		s     setupState
		fault string
		state string
	}{
		{"Run", stActive, "", "Active"},
		{"TransactedRun", stSuspended, "InstanceSuspended", "Suspended"},
		{"Suspend", stSuspended, "", "Suspended"},
		{"Unsuspend", stSuspended, "", "Active"},
		{"Cancel", stSuspended, "", "Completed"},
		{"TransactedTerminate", stActive, "", "Completed"},
		{"Abandon", stSuspended, "", "Suspended"},
		{"Update", stSuspended, "", "Suspended"},
		{"Unsuspend", stCanceled, "InstanceCompleted", "Completed"},
		{"Run", stClosed, "InstanceCompleted", "Completed"},
		{"Update", stTerminated, "InstanceTerminated", "Completed"},
		{"Abandon", stUnknown, "InstanceNotFound", ""},
	} {
		w := expect(c.op, c.s, "r")
		if w.fault != c.fault || w.state != c.state {
			t.Errorf("%s on %s: %+v", c.op, c.s, w)
		}
	}
	ids := identities{
		expense:   Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"},
		hello:     Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0.0.0"},
		expenseV1: Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"},
	}
	for _, c := range []*client{monoClient, zeepClient} {
		n := 0
		ops := map[string]bool{}
		for _, b := range c.bindings {
			cs := buildCases(c.name, b, ids)
			n += len(cs)
			seen := map[string]bool{}
			for _, tc := range cs {
				ops[tc.call.Op] = true
				if seen[tc.name] {
					t.Errorf("duplicate case %s", tc.name)
				}
				seen[tc.name] = true
			}
		}
		if len(ops) != 13 {
			t.Errorf("%s: %d operations covered", c.name, len(ops))
		}
		if n < 13*len(allStates)*len(c.bindings) {
			t.Errorf("%s: only %d cases", c.name, n)
		}
	}
}
