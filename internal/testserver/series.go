package testserver

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Series is a sequence of wimp-server processes over one database (Dir/wimp.db): a test
// starts, kills and restarts them. When the test ends, the last one is stopped and the test
// fails if any process's log reports a data race, a panic or a fatal error; a failed test
// gets the end of the log.
type Series struct {
	Dir string
	DB  string // Dir/wimp.db

	// URL and Listened are the current (last started) process's.
	URL      string
	Listened time.Time

	t     testing.TB
	bin   string
	flags func() []string
	proc  *Process // nil while stopped
	past  []*Process
}

var reportRE = regexp.MustCompile(`WARNING: DATA RACE|panic:|fatal error:`)

// NewSeries starts bin over dir/wimp.db with the flags flags returns (called at every start,
// so restarts may vary them; nil: none).
func NewSeries(t testing.TB, bin, dir string, flags func() []string) *Series {
	t.Helper()
	if flags == nil {
		flags = func() []string { return nil }
	}
	s := &Series{Dir: dir, DB: filepath.Join(dir, "wimp.db"), t: t, bin: bin, flags: flags}
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		log := s.Log()
		if m := reportRE.FindString(log); m != "" {
			t.Errorf("server reported %q; its log:\n%s", m, lastLines(log, 400))
		} else if t.Failed() {
			t.Logf("server log (last lines):\n%s", lastLines(log, 150))
		}
	})
	return s
}

// Start starts a new process on the series' database.
func (s *Series) Start() {
	s.t.Helper()
	p, err := Start(s.bin, s.Dir, s.flags()...)
	if err != nil {
		s.t.Fatalf("%v\nearlier processes' log:\n%s", err, lastLines(s.Log(), 200))
	}
	s.proc, s.URL, s.Listened = p, p.URL, p.Listened
	s.past = append(s.past, p)
}

// Current is the running process, nil while stopped.
func (s *Series) Current() *Process { return s.proc }

// Kill9 kills the current process with SIGKILL (no shutdown code runs) and waits until it is
// gone.
func (s *Series) Kill9() {
	s.t.Helper()
	if s.proc == nil {
		return
	}
	if err := s.proc.Kill(); err != nil {
		s.t.Fatalf("kill -9: %v", err)
	}
	s.proc = nil
}

// Stop ends the current process gracefully (Process.Stop); a process that has already exited
// is only forgotten.
func (s *Series) Stop() {
	if s.proc != nil {
		s.proc.Stop()
		s.proc = nil
	}
}

// Log is the output of every process started so far.
func (s *Series) Log() string {
	var b strings.Builder
	for i, p := range s.past {
		if len(s.past) > 1 {
			fmt.Fprintf(&b, "--- process %d\n", i+1)
		}
		b.WriteString(p.Log())
	}
	return b.String()
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
