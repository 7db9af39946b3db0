package interop

import (
	"fmt"
	"os"
	"testing"

	"github.com/wimp-project/wimp/internal/testserver"
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
	stopSharedServer()
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireBuilt(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// missingClient skips the test with an install hint, or fails it when
// WIMP_REQUIRE_INTEROP=1 so that CI cannot skip silently.
func missingClient(t *testing.T, what string) {
	t.Helper()
	testserver.MissingClient(t, what, aptPackages)
}
