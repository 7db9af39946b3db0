package testserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LookTool returns the path of the program name on PATH. When it is missing the test
// ends as MissingClient says: what names it (with its Debian package) and aptPackages
// is the install hint.
func LookTool(t testing.TB, name, what, aptPackages string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		MissingClient(t, what, aptPackages)
	}
	return p
}

// RunTool runs name args... in dir with a time limit and returns its combined output.
// The error names the command.
func RunTool(dir string, limit time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out.String(), err
}

// GSOAPShare returns gSOAP's share directory, the one holding import/soap12.h and
// WS/typemap.dat: $WIMP_GSOAP_SHARE, /usr/share/gsoap or /usr/local/share/gsoap; "" when
// none has them.
func GSOAPShare() string {
	for _, dir := range []string{os.Getenv("WIMP_GSOAP_SHARE"), "/usr/share/gsoap", "/usr/local/share/gsoap"} {
		if dir == "" {
			continue
		}
		if FileExists(filepath.Join(dir, "import", "soap12.h")) && FileExists(filepath.Join(dir, "WS", "typemap.dat")) {
			return dir
		}
	}
	return ""
}

// FileExists reports whether p names an existing file or directory.
func FileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
