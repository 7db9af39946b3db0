package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a running wimp-server process.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	control string // base + /WorkflowControl
	dir     string
	done    chan struct{}
	waitErr error

	mu  sync.Mutex
	log bytes.Buffer // the server's stderr
}

var (
	sharedOnce   sync.Once
	sharedServer *server
	sharedErr    error
	sharedDir    string
)

// listeningURL matches the slog line announcing the listener, e.g.
// `time=… level=INFO msg=listening url=http://127.0.0.1:41237`.
var listeningURL = regexp.MustCompile(`url="?(http://[^\s"]+)"?`)

// startServer starts wimp-server on a free port with a database in dir and
// waits for its `msg=listening` log line.
func startServer(dir string) (*server, error) {
	s := &server{dir: dir, done: make(chan struct{})}
	s.cmd = exec.Command(serverBin, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "wimp.db"))
	s.cmd.Dir = dir
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout = &lockedWriter{mu: &s.mu, w: &s.log}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if !found && strings.Contains(line, "msg=listening") {
				if m := listeningURL.FindStringSubmatch(line); m != nil {
					found = true
					urlc <- strings.TrimRight(m[1], "/")
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case u := <-urlc:
		s.base = u
		s.control = u + "/WorkflowControl"
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("wimp-server exited before listening (%v); log:\n%s", s.waitErr, s.Log())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("wimp-server did not log msg=listening within 30s; log:\n%s", s.Log())
	}
}

// sharedWimp returns the package's server, started on first use.
func sharedWimp(t *testing.T) *server {
	t.Helper()
	requireBuilt(t)
	sharedOnce.Do(func() {
		sharedDir = filepath.Join(binDir, "server")
		if sharedErr = os.MkdirAll(sharedDir, 0o755); sharedErr != nil {
			return
		}
		sharedServer, sharedErr = startServer(sharedDir)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	select {
	case <-sharedServer.done:
		t.Fatalf("wimp-server has exited (%v); log:\n%s", sharedServer.waitErr, sharedServer.Log())
	default:
	}
	return sharedServer
}

func stopSharedServer() {
	if sharedServer != nil {
		sharedServer.stop()
	}
}

// stop asks the server to shut down (SIGTERM) and kills it after 10s.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// logTail returns the last n lines of the server log, for failure reports.
func (s *server) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(s.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ctlError is a failed wimpctl run.
type ctlError struct {
	args   []string
	code   int
	stderr string
}

func (e *ctlError) Error() string {
	return fmt.Sprintf("wimpctl %s: exit %d: %s", strings.Join(e.args, " "), e.code, strings.TrimSpace(e.stderr))
}

// ctl runs wimpctl --endpoint BASE args... and returns its stdout.
func (s *server) ctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, append([]string{"--endpoint", s.base}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return stdout.String(), &ctlError{args: args, code: code, stderr: stderr.String() + err.Error()}
	}
	return stdout.String(), nil
}

// Identity is a workflow definition identity.
type Identity struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Version string `json:"version"`
}

// instanceInfo is the part of `wimpctl get --json` the tests read.
type instanceInfo struct {
	ID               string   `json:"id"`
	State            string   `json:"state"`
	Completion       string   `json:"completion"`
	SuspensionReason string   `json:"suspensionReason"`
	Definition       Identity `json:"definition"`
}

func (s *server) get(id string) (instanceInfo, error) {
	out, err := s.ctl("get", id, "--json")
	if err != nil {
		return instanceInfo{}, err
	}
	var info instanceInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return info, fmt.Errorf("wimpctl get %s --json: %v in %q", id, err, out)
	}
	return info, nil
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// create makes a new instance of a sample definition with a caller-chosen
// id: ExpenseApproval (waits for a review, so it stays Active) or Hello
// (completes Closed at once).
// version "" lets the server choose the definition's version.
func (s *server) create(definition, version string) (string, error) {
	id := newGUID()
	args := []string{"create", "--definition", definition, "--id", id}
	if version != "" {
		args = append(args, "--version", version)
	}
	if definition == "ExpenseApproval" {
		args = append(args, "--input", "amount=120", "--input", "submitter=interop")
	}
	out, err := s.ctl(args...)
	if err != nil {
		return "", err
	}
	got := strings.TrimSpace(out)
	if !guidRE.MatchString(got) || !strings.EqualFold(got, id) {
		return "", fmt.Errorf("wimpctl create --definition %s --id %s printed %q", definition, id, out)
	}
	return id, nil
}

// newGUID returns a random (version 4) GUID in lower case.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
