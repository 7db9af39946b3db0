package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/interop/interoptest"
)

const aptPackages = "mono-mcs mono-runtime libmono-system-servicemodel4.0a-cil python3-zeep"

// Built once for all tests by TestMain.
var (
	binDir    string // wimp-server, wimpctl
	serverBin string
	ctlBin    string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wimp-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	serverBin, ctlBin, buildErr = testserver.Build(dir, false)
	code := m.Run()
	if sharedServer != nil {
		sharedServer.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// missingClient skips the test with an install hint, or fails it when
// WIMP_REQUIRE_INTEROP=1 so that CI cannot skip silently.
func missingClient(t *testing.T, what string) {
	t.Helper()
	testserver.MissingClient(t, what, aptPackages)
}

var (
	sharedOnce   sync.Once
	sharedServer *interoptest.Server
	sharedErr    error
)

// sharedWimp returns the package's server, started on first use.
func sharedWimp(t *testing.T) *interoptest.Server {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	sharedOnce.Do(func() {
		sharedServer, sharedErr = interoptest.StartServer(serverBin, ctlBin, filepath.Join(binDir, "server"))
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
