package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/wimp-project/wimp/store"
)

// ParseVersion parses a System.Version string: 2 to 4 dot-separated non-negative 32-bit
// integers (surrounding white space allowed per component, as Int32.Parse does).
// Missing build/revision components are -1, as in .NET.
func ParseVersion(s string) ([4]int64, error) {
	v := [4]int64{-1, -1, -1, -1}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return v, fmt.Errorf("version %q must have 2 to 4 components", s)
	}
	for i, p := range parts {
		p = strings.TrimFunc(p, unicode.IsSpace)
		p = strings.TrimPrefix(p, "+")
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 || p == "" || strings.ContainsAny(p, "+-") {
			return v, fmt.Errorf("version %q has an invalid component %q", s, parts[i])
		}
		v[i] = n
	}
	return v, nil
}

// SameIdentity reports whether two definition identities are equal as WF4's
// WorkflowIdentity.Equals decides: name and package compared ordinally, versions as System.Version.
func SameIdentity(a, b store.Identity) bool {
	if a.Name != b.Name || a.Package != b.Package {
		return false
	}
	if a.Version == b.Version {
		return true
	}
	va, errA := ParseVersion(a.Version)
	vb, errB := ParseVersion(b.Version)
	return errA == nil && errB == nil && va == vb
}

// FormatIdentity renders an identity as WF4 does: "name; Version=v; Package=p" (empty parts omitted).
func FormatIdentity(id store.Identity) string {
	s := id.Name
	if id.Version != "" {
		s += "; Version=" + id.Version
	}
	if id.Package != "" {
		s += "; Package=" + id.Package
	}
	return s
}
