package workflow

import "testing"

// Cases from System.Version.Parse's documented behaviour: 2–4 components, each parsed as an
// Int32 with NumberStyles.Integer (leading/trailing white space U+0009–U+000D and U+0020, one
// leading sign) and rejected when negative.
func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // canonical text; "" means the parse must fail
	}{
		{"1.0", "1.0"},
		{"1.0.0", "1.0.0"},
		{"1.0.0.0", "1.0.0.0"},
		{"2147483647.0.0.2147483647", "2147483647.0.0.2147483647"},
		{"01.002.0003.00004", "1.2.3.4"},
		{" 1 . 2 ", "1.2"},
		{"\t1.2\r\n", "1.2"},
		{"\v1.\f2", "1.2"},
		{"+1.+2", "1.2"},
		{"1.-0", "1.0"}, // Int32.Parse("-0") is 0, which is not negative
		{"1", ""},
		{"1.2.3.4.5", ""},
		{"", ""},
		{".", ""},
		{"1..2", ""},
		{"1.2.", ""},
		{"1.-1", ""},
		{"1.2147483648", ""},
		{"1.99999999999", ""},
		{"1.2a", ""},
		{"1.0x1", ""},
		{"1. 2 3", ""},
		{"1.+-2", ""},
		{"1.+", ""},
		{"1.2\u00a0", ""},     // NO-BREAK SPACE is not white space for NumberStyles
		{"\uff11.\uff12", ""}, // fullwidth digits are not invariant-culture digits
		{"1,2", ""},
	} {
		v, err := ParseVersion(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("ParseVersion(%q) = %v, want an error", c.in, v)
		case c.want != "" && err != nil:
			t.Errorf("ParseVersion(%q): %v, want %s", c.in, err, c.want)
		case c.want != "" && v.String() != c.want:
			t.Errorf("ParseVersion(%q) = %s, want %s", c.in, v, c.want)
		}
	}
}

func TestVersionComponents(t *testing.T) {
	v, err := ParseVersion("4.5")
	if err != nil {
		t.Fatal(err)
	}
	if v != (Version{Major: 4, Minor: 5, Build: -1, Revision: -1}) {
		t.Fatalf("4.5 parses as %+v, want Build and Revision -1", v)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0.0.0", "1.0.0.0", 0},
		{"1.0.0.0", "01.00.0.0", 0},
		{" 1.0", "1.0 ", 0},
		{"9.1.0.0", "10.0.0.0", -1}, // numerically, not as text
		{"1.10", "1.9", 1},
		{"1.0", "1.0.0", -1}, // an absent component comes before 0
		{"1.0.0", "1.0.0.0", -1},
		{"2.0", "1.9.9.9", 1},
		{"bad", "1.0", -1}, // invalid before valid
		{"1.0", "bad", 1},
		{"a", "b", -1}, // invalid among themselves as text
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestIdentityEqualAndKey(t *testing.T) {
	a := Identity{Name: "Expense", Package: "p", Version: "1.0.0.0"}
	for _, c := range []struct {
		b    Identity
		want bool
	}{
		{Identity{Name: "Expense", Package: "p", Version: "1.0.0.0"}, true},
		{Identity{Name: "Expense", Package: "p", Version: "1.00.0.0"}, true},
		{Identity{Name: "Expense", Package: "p", Version: " 1.0.0.0 "}, true},
		{Identity{Name: "Expense", Package: "p", Version: "1.0"}, false},
		{Identity{Name: "Expense", Package: "p", Version: "1.0.0.1"}, false},
		{Identity{Name: "expense", Package: "p", Version: "1.0.0.0"}, false}, // ordinal, case-sensitive
		{Identity{Name: "Expense", Package: "P", Version: "1.0.0.0"}, false},
		{Identity{Name: "Expense", Version: "1.0.0.0"}, false},
	} {
		if got := a.Equal(c.b); got != c.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", a, c.b, got, c.want)
		}
		if got := a.Key() == c.b.Key(); got != c.want {
			t.Errorf("keys of %v and %v equal = %v, want %v", a, c.b, got, c.want)
		}
	}
	bad := Identity{Name: "X", Version: "not a version"}
	if !bad.Equal(bad) || bad.Equal(Identity{Name: "X", Version: "not a  version"}) {
		t.Error("unparsable versions must be equal exactly when the strings are")
	}
}

func TestIdentityString(t *testing.T) {
	for _, c := range []struct {
		id   Identity
		want string
	}{
		{Identity{Name: "Expense", Package: "wimp.samples", Version: "1.0.0.0"}, "Expense; Version=1.0.0.0; Package=wimp.samples"},
		{Identity{Name: "Expense", Version: "1.0"}, "Expense; Version=1.0"},
		{Identity{Name: "Expense"}, "Expense"},
	} {
		if got := c.id.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.id, got, c.want)
		}
	}
}

// Whatever ParseVersion accepts has components in range and a canonical text that parses back
// to the same version and compares equal to the input.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", " 1 . 2 ", "2147483647.0.0.2147483647", "1.-0", "+1.+2", "1..2", "1.2.3.4.5", "\t1.2\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.Major < 0 || v.Minor < 0 || v.Build < -1 || v.Revision < -1 || (v.Build == -1 && v.Revision != -1) {
			t.Fatalf("ParseVersion(%q) = %+v: a component out of range", s, v)
		}
		back, err := ParseVersion(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseVersion(%q) = %v, whose text parses as %v, %v", s, v, back, err)
		}
		if CompareVersions(s, v.String()) != 0 {
			t.Fatalf("%q and its canonical text %q do not compare equal", s, v)
		}
	})
}
