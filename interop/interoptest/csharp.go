package interoptest

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
)

//go:embed DriverSupport.cs
var driverSupport []byte

// CompileCSharp compiles a Mono driver: the given sources (paths) together with
// DriverSupport.cs, which it writes into dir, into dir/exe with mcs and the
// System.ServiceModel references. missingServiceModel tells that the error is Mono's
// System.ServiceModel not being installed.
func CompileCSharp(mcs, dir, exe string, sources ...string) (path string, missingServiceModel bool, err error) {
	support := filepath.Join(dir, "DriverSupport.cs")
	if err := os.WriteFile(support, driverSupport, 0o644); err != nil {
		return "", false, err
	}
	path = filepath.Join(dir, exe)
	args := append([]string{"-nologo", "-warnaserror", "-out:" + path, "-r:System.ServiceModel", "-r:System.Runtime.Serialization", support}, sources...)
	out, err := testserver.RunTool(dir, 2*time.Minute, mcs, args...)
	if err != nil {
		return "", strings.Contains(out, "System.ServiceModel"), fmt.Errorf("%v\n%s", err, out)
	}
	return path, false, nil
}
