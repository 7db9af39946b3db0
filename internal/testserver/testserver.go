// Package testserver builds and runs the real wimp-server and wimpctl binaries for the
// process-level tests (e2e, interop): Build compiles them, Start runs the server on a free
// port and waits for its `msg=listening` log line, Ctl runs wimpctl against it.
package testserver

import (
	"bufio"
	"bytes"
	"context"
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

const (
	serverPkg = "github.com/wimp-project/wimp/cmd/wimp-server"
	ctlPkg    = "github.com/wimp-project/wimp/cmd/wimpctl"
)

// Build compiles ./cmd/wimp-server and ./cmd/wimpctl of this module into dir and returns
// their paths. With raceServer the server is built with -race; wimpctl never is (it is
// started for every command and a race-instrumented start-up is slow).
func Build(dir string, raceServer bool) (serverBin, ctlBin string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := func(race bool, pkgs ...string) error {
		args := []string{"build", "-o", dir + string(filepath.Separator)}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out.String())
		}
		return nil
	}
	if raceServer {
		if err = build(true, serverPkg); err == nil {
			err = build(false, ctlPkg)
		}
	} else {
		err = build(false, serverPkg, ctlPkg)
	}
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, "wimp-server"), filepath.Join(dir, "wimpctl"), nil
}

// RunWithBinaries is a TestMain: it builds wimp-server (with -race when the tests run with
// -race: a race it reports fails the test that ran it) and wimpctl into a temporary
// directory, sets *serverBin and *ctlBin, runs the tests, removes the binaries and exits.
func RunWithBinaries(m *testing.M, serverBin, ctlBin *string) {
	dir, err := os.MkdirTemp("", "wimp-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*serverBin, *ctlBin, err = Build(dir, Race)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// listeningRE matches the slog line announcing the listener, e.g.
// `time=2030-01-01T00:00:00.000Z level=INFO msg=listening url=http://127.0.0.1:41237 …`.
var listeningRE = regexp.MustCompile(`^time=(\S+) .*msg=listening url="?(https?://[^\s"]+)"?`)

// Process is one running wimp-server.
type Process struct {
	URL      string    // http://127.0.0.1:PORT
	Listened time.Time // the time= of its msg=listening log line (server clock)

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // set before done is closed

	mu  sync.Mutex
	log bytes.Buffer // stdout and stderr
}

// Start runs bin --listen 127.0.0.1:0 --db DIR/wimp.db extraFlags... in dir and waits (up to
// 30s) for its msg=listening log line. The error of a server that exits or does not listen
// in time carries its log.
func Start(bin, dir string, extraFlags ...string) (*Process, error) {
	p := &Process{done: make(chan struct{})}
	args := append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "wimp.db")}, extraFlags...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.log.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	type listening struct {
		url string
		at  time.Time
	}
	ready := make(chan listening, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); !found && m != nil {
				found = true
				at, _ := time.Parse(time.RFC3339Nano, m[1])
				ready <- listening{strings.TrimRight(m[2], "/"), at}
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // a line over the scanner's limit ends the scan
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case l := <-ready:
		p.URL, p.Listened = l.url, l.at
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("wimp-server exited before listening (%v); log:\n%s", p.waitErr, p.Log())
	case <-time.After(30 * time.Second):
		_ = p.Kill()
		return nil, fmt.Errorf("wimp-server did not report listening within 30s; log:\n%s", p.Log())
	}
}

// Stop ends the server gracefully (SIGTERM), or with SIGKILL after 10s, and waits for it.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Signal sends sig to the server.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills the server with SIGKILL (no shutdown code runs) and waits for it.
func (p *Process) Kill() error {
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	if errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	<-p.done
	return err
}

// Done is closed when the process has exited; Err then tells how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.waitErr
}

// Log returns what the server wrote so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// LogTail returns the last n lines of the log, for failure reports.
func (p *Process) LogTail(n int) string { return lastLines(p.Log(), n) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// CtlResult is one wimpctl run.
type CtlResult struct {
	Stdout, Stderr string
	Code           int // exit code; -1 when it did not exit normally
}

// Ctl runs ctlBin --endpoint url args... with a 60s limit. err is what exec reported: nil
// for exit 0, an *exec.ExitError for another exit, else a failure to run it.
func Ctl(ctlBin, url string, args ...string) (CtlResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, append([]string{"--endpoint", url}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := CtlResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		r.Code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.Code = ee.ExitCode()
		}
	}
	return r, err
}

// ZeepPython finds a Python interpreter that can import zeep — $WIMP_PYTHON, Debian's
// /usr/bin/python3 (python3-zeep), or python3 on PATH — and returns it with zeep's version.
func ZeepPython() (python, zeepVersion string, ok bool) {
	cands := []string{os.Getenv("WIMP_PYTHON"), "/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		out, err := exec.Command(c, "-c", "import zeep; print(zeep.__version__)").Output()
		if err == nil {
			return c, strings.TrimSpace(string(out)), true
		}
	}
	return "", "", false
}

// RequireInteropEnv is the environment variable that turns a missing third-party client
// or tool into a test failure instead of a skip (CI sets it to 1).
const RequireInteropEnv = "WIMP_REQUIRE_INTEROP"

// MissingClient ends a test whose third-party client or tool (what) is not installed:
// it skips with the install hint (the Debian packages to apt-get install), or fails
// when WIMP_REQUIRE_INTEROP=1, so that CI cannot pass by skipping.
func MissingClient(t testing.TB, what, aptPackages string) {
	t.Helper()
	msg := fmt.Sprintf("%s not available; install with: apt-get install -y %s", what, aptPackages)
	if os.Getenv(RequireInteropEnv) == "1" {
		t.Fatalf("%s (%s=1: a missing client is a failure)", msg, RequireInteropEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, RequireInteropEnv)
}

// RequireRootEnv is the environment variable that turns a test needing root (to mount a
// filesystem, to make a file immutable) into a failure instead of a skip when it cannot have
// it (CI runs as root and sets it to 1).
const RequireRootEnv = "WIMP_REQUIRE_ROOT"

// NeedsRoot ends a test that needs root privileges for what when it is not running as root,
// or when the privileged step failed (err): it skips, or fails when WIMP_REQUIRE_ROOT=1.
func NeedsRoot(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s needs root", what)
	if err != nil {
		msg = fmt.Sprintf("%s failed: %v", what, err)
	}
	if os.Getenv(RequireRootEnv) == "1" {
		t.Fatalf("%s (%s=1: this is a failure)", msg, RequireRootEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, RequireRootEnv)
}
