package workflow

import (
	"fmt"
	"strconv"
	"strings"
)

// Identity is a workflow definition identity (WF4's WorkflowIdentity): name, package and a
// System.Version string. Version is kept as written; compare identities with Equal.
type Identity struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Version string `json:"version"`
}

// Equal reports whether two identities are equal as WorkflowIdentity.Equals decides: name and
// package compared ordinally, versions as System.Version values (so "1.0.0.0" equals
// "1.00.0.0" but not "1.0"). Two versions that do not parse are equal only as identical strings.
func (id Identity) Equal(o Identity) bool {
	if id.Name != o.Name || id.Package != o.Package {
		return false
	}
	if id.Version == o.Version {
		return true
	}
	a, errA := ParseVersion(id.Version)
	b, errB := ParseVersion(o.Version)
	return errA == nil && errB == nil && a == b
}

// Key is a comparable form of the identity in which Equal identities coincide (the version in
// its canonical System.Version text): the key of a map of identities.
func (id Identity) Key() Identity {
	if v, err := ParseVersion(id.Version); err == nil {
		id.Version = v.String()
	}
	return id
}

// String renders the identity as WorkflowIdentity.ToString does: "name; Version=v; Package=p",
// empty parts omitted.
func (id Identity) String() string {
	s := id.Name
	if id.Version != "" {
		s += "; Version=" + id.Version
	}
	if id.Package != "" {
		s += "; Package=" + id.Package
	}
	return s
}

// Version is a .NET System.Version: two to four components; Build and Revision are -1 when
// absent, so that 1.0 < 1.0.0 < 1.0.0.0, as in .NET.
type Version struct {
	Major, Minor, Build, Revision int32
}

// ParseVersion parses a version as System.Version.Parse does: 2 to 4 components separated by
// '.', each an Int32 in the invariant culture's integer style (optional white space around it,
// an optional sign) whose value is 0..2147483647.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return Version{}, fmt.Errorf("version %q must have 2 to 4 components", s)
	}
	c := [4]int32{-1, -1, -1, -1}
	for i, p := range parts {
		n, ok := parseComponent(p)
		if !ok {
			return Version{}, fmt.Errorf("version %q has an invalid component %q (want an integer 0..2147483647)", s, p)
		}
		c[i] = n
	}
	return Version{c[0], c[1], c[2], c[3]}, nil
}

// parseComponent is Int32.Parse with NumberStyles.Integer (white space is U+0009–U+000D and
// U+0020) followed by System.Version's check that the value is not negative.
func parseComponent(p string) (int32, bool) {
	p = strings.Trim(p, "\t\n\v\f\r ")
	if p == "" {
		return 0, false
	}
	neg := false
	switch p[0] {
	case '+':
		p = p[1:]
	case '-':
		neg, p = true, p[1:]
	}
	if p == "" || strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil || (neg && n != 0) {
		return 0, false
	}
	return int32(n), true
}

// String is the canonical text: the components that are present, without padding.
func (v Version) String() string {
	s := strconv.Itoa(int(v.Major)) + "." + strconv.Itoa(int(v.Minor))
	if v.Build >= 0 {
		s += "." + strconv.Itoa(int(v.Build))
		if v.Revision >= 0 {
			s += "." + strconv.Itoa(int(v.Revision))
		}
	}
	return s
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o (System.Version
// order: component by component, an absent component before any present one).
func (v Version) Compare(o Version) int {
	for _, d := range [4][2]int32{{v.Major, o.Major}, {v.Minor, o.Minor}, {v.Build, o.Build}, {v.Revision, o.Revision}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// CompareVersions orders two version strings as System.Version values. Strings that do not
// parse sort before every valid version, and among themselves as strings.
func CompareVersions(a, b string) int {
	va, errA := ParseVersion(a)
	vb, errB := ParseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}
