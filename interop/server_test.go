package interop

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

	"github.com/wimp-project/wimp/internal/testserver"
)

// server is a running wimp-server process.
type server struct {
	*testserver.Process
	base    string // http://127.0.0.1:PORT
	control string // base + /WorkflowControl
}

var (
	sharedOnce   sync.Once
	sharedServer *server
	sharedErr    error
)

// sharedWimp returns the package's server, started on first use.
func sharedWimp(t *testing.T) *server {
	t.Helper()
	requireBuilt(t)
	sharedOnce.Do(func() {
		dir := filepath.Join(binDir, "server")
		if sharedErr = os.MkdirAll(dir, 0o755); sharedErr != nil {
			return
		}
		var p *testserver.Process
		if p, sharedErr = testserver.Start(serverBin, dir); sharedErr == nil {
			sharedServer = &server{Process: p, base: p.URL, control: p.URL + "/WorkflowControl"}
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	select {
	case <-sharedServer.Done():
		t.Fatalf("wimp-server has exited (%v); log:\n%s", sharedServer.Err(), sharedServer.Log())
	default:
	}
	return sharedServer
}

func stopSharedServer() {
	if sharedServer != nil {
		sharedServer.Stop()
	}
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
	r, err := testserver.Ctl(ctlBin, s.base, args...)
	if err != nil {
		return r.Stdout, &ctlError{args: args, code: r.Code, stderr: r.Stderr + err.Error()}
	}
	return r.Stdout, nil
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
