package interoptest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
)

// Server is a running wimp-server with the wimpctl that sets instances up and reads
// their state.
type Server struct {
	*testserver.Process
	CtlBin  string
	Control string // the MS-WFIM endpoint: URL + /WorkflowControl

	polled struct { // state checks that matched only after polling
		sync.Mutex
		n       int
		longest time.Duration
	}
}

// StartServer runs serverBin with its database in dir.
func StartServer(serverBin, ctlBin, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := testserver.Start(serverBin, dir)
	if err != nil {
		return nil, err
	}
	return &Server{Process: p, CtlBin: ctlBin, Control: p.URL + "/WorkflowControl"}, nil
}

// Launch builds wimp-server and wimpctl into dir and starts the server for t,
// stopping it when t ends.
func Launch(t testing.TB, dir string) *Server {
	t.Helper()
	serverBin, ctlBin, err := testserver.Build(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartServer(serverBin, ctlBin, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Ctl runs wimpctl --endpoint URL args... and returns its stdout.
func (s *Server) Ctl(args ...string) (string, error) {
	r, err := testserver.Ctl(s.CtlBin, s.URL, args...)
	if err != nil {
		return r.Stdout, fmt.Errorf("wimpctl %s: exit %d: %s %v", strings.Join(args, " "), r.Code, strings.TrimSpace(r.Stderr), err)
	}
	return r.Stdout, nil
}

// Info is the part of `wimpctl get --json` the tests read.
type Info struct {
	ID               string   `json:"id"`
	State            string   `json:"state"`
	Completion       string   `json:"completion"`
	SuspensionReason string   `json:"suspensionReason"`
	Definition       Identity `json:"definition"`
}

// Get is wimpctl get ID --json.
func (s *Server) Get(id string) (Info, error) {
	var info Info
	out, err := s.Ctl("get", id, "--json")
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return info, fmt.Errorf("wimpctl get %s --json: %v in %q", id, err, out)
	}
	return info, nil
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Create makes a new instance of a sample definition with a caller-chosen id and
// returns the id: ExpenseApproval (waits for a review, so it stays Active) or Hello
// (completes Closed at once). version "" lets the server choose the definition's
// version.
func (s *Server) Create(definition, version string) (string, error) {
	id := NewGUID()
	args := []string{"create", "--definition", definition, "--id", id}
	if version != "" {
		args = append(args, "--version", version)
	}
	if definition == "ExpenseApproval" {
		args = append(args, "--input", "amount=120", "--input", "submitter=interop")
	}
	out, err := s.Ctl(args...)
	if err != nil {
		return "", err
	}
	got := strings.TrimSpace(out)
	if !guidRE.MatchString(got) || !strings.EqualFold(got, id) {
		return "", fmt.Errorf("wimpctl create --definition %s --id %s printed %q", definition, id, out)
	}
	return id, nil
}

// Identity creates an instance of a sample definition (with version, or the server's
// choice) and reads its definition identity, the one Update must accept.
func (s *Server) Identity(definition, version string) (Identity, error) {
	id, err := s.Create(definition, version)
	if err != nil {
		return Identity{}, err
	}
	info, err := s.Get(id)
	if err != nil {
		return Identity{}, err
	}
	d := info.Definition
	if d.Name != definition || d.Version == "" || d.Package == "" || (version != "" && d.Version != version) {
		return d, fmt.Errorf("wimpctl create --definition %s --version %q made an instance with identity %+v", definition, version, d)
	}
	return d, nil
}

// Identities reads the identities BuildCases uses from the server.
func (s *Server) Identities(t testing.TB) Identities {
	t.Helper()
	var ids Identities
	var err error
	if ids.Expense, err = s.Identity("ExpenseApproval", ""); err == nil {
		if ids.Hello, err = s.Identity("Hello", ""); err == nil {
			ids.ExpenseV1, err = s.Identity("ExpenseApproval", "1.0.0.0")
		}
	}
	if err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.LogTail(40))
	}
	t.Logf("identities: ExpenseApproval %+v (default), %+v (--version 1.0.0.0); Hello %+v", ids.Expense, ids.ExpenseV1, ids.Hello)
	return ids
}

// Setup puts a fresh instance into c.Setup, sets c.ID and checks it got there.
func (s *Server) Setup(c *Case) error {
	if c.Setup == Unknown {
		c.ID = NewGUID()
		return nil
	}
	id, err := s.Create(c.Setup.Definition(), c.Version)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	c.ID = id
	switch c.Setup {
	case Suspended:
		_, err = s.Ctl("suspend", id, "--reason", SetupSuspendReason)
	case Canceled:
		_, err = s.Ctl("cancel", id)
	case Terminated:
		_, err = s.Ctl("terminate", id, "--reason", SetupTerminateReason)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	w := StateOf(c.Setup)
	w.Eventually = c.Setup == Canceled || c.Setup == Closed
	if msg := s.WaitState(id, w); msg != "" {
		return fmt.Errorf("%s: set-up state: %s", c.Name, msg)
	}
	return nil
}

// CheckState verifies the instance's state after c's call; "" means it matches.
func (s *Server) CheckState(c *Case) string {
	if c.Want.State == "" {
		// An unknown id must stay unknown: no operation creates an instance.
		if _, err := s.Get(c.ID); err == nil {
			return "instance " + c.ID + " exists after a call on an unknown id"
		}
		return ""
	}
	return s.WaitState(c.ID, c.Want)
}

// WaitState compares the instance with w, at once or, for w.Eventually, polling for
// up to 10 seconds. "" means it matches.
func (s *Server) WaitState(id string, w Want) string {
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for first := true; ; first = false {
		info, err := s.Get(id)
		var msg string
		switch {
		case err != nil:
			msg = err.Error()
		case info.State != w.State || info.Completion != w.Completion:
			msg = fmt.Sprintf("state %s/%q, want %s/%q", info.State, info.Completion, w.State, w.Completion)
		case w.State == "Suspended" && info.SuspensionReason != w.Reason:
			msg = fmt.Sprintf("suspensionReason %q, want %q", info.SuspensionReason, w.Reason)
		case w.Definition != nil && info.Definition != *w.Definition:
			msg = fmt.Sprintf("definition %+v, want %+v", info.Definition, *w.Definition)
		}
		if msg == "" && !first {
			s.polled.Lock()
			s.polled.n++
			s.polled.longest = max(s.polled.longest, time.Since(start))
			s.polled.Unlock()
		}
		if msg == "" || !w.Eventually || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// takePolled returns and resets the count of state checks that matched only after
// polling, and the longest such wait.
func (s *Server) takePolled() (int, time.Duration) {
	s.polled.Lock()
	defer s.polled.Unlock()
	n, longest := s.polled.n, s.polled.longest
	s.polled.n, s.polled.longest = 0, 0
	return n, longest
}

// NewGUID returns a random (version 4) GUID in lower case.
func NewGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
