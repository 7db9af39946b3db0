// Package buildinfo says which build of wimp is running, for the binaries' --version.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// VersionLine is what --version prints: the program's name and the main module's version as
// the build recorded it (a release or pseudo-version, or "(devel)" with the VCS revision, and
// "modified" for a build from a work tree with changes), then the Go version.
func VersionLine(program string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " (devel), no build information"
	}
	parts := []string{program}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		parts = append(parts, v)
	} else {
		parts = append(parts, "(devel)")
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			parts = append(parts, "revision "+rev)
			if settings["vcs.modified"] == "true" {
				parts = append(parts, "modified")
			}
		}
	}
	return strings.Join(append(parts, bi.GoVersion), " ")
}
