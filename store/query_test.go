package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

func TestPageToken(t *testing.T) {
	k := PageKey{Created: time.Date(2030, 1, 2, 3, 4, 5, 678e6, time.UTC), ID: uuid.MustParse("3f2504e0-4f89-41d3-9a0c-0305e82c3301")}
	const want = "AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAQ"
	if got := EncodePageToken(k); got != want {
		t.Fatalf("EncodePageToken = %q, want %q", got, want)
	}
	got, err := DecodePageToken(want)
	if err != nil || got != k {
		t.Fatalf("DecodePageToken = %+v, %v; want %+v", got, err, k)
	}
	for _, bad := range []string{"", "AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAQ==", "AQAAAbjglJsuPyUE4E+JQdOaDAMF6CwzAQ",
		"AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAR", "AgAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAQ", "AQAAAbjglJsuPyUE4E-JQdOaDAMF6Cwz\nAQ",
		"AQAAAbjglJsuAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := DecodePageToken(bad); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("DecodePageToken(%q): %v, want ErrInvalidQuery", bad, err)
		}
	}
}

// FuzzDecodePageToken: any text either is refused with ErrInvalidQuery, or is a token whose key
// encodes back to exactly that text (one spelling per position).
func FuzzDecodePageToken(f *testing.F) {
	f.Add("AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAQ")
	f.Add("AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAR")
	f.Add("AQAAAbjglJsuPyUE4E+JQdOaDAMF6CwzAQ")
	f.Add("AQAAAbjglJsuPyUE4E-JQdOaDAMF6Cwz\nAQ")
	f.Add("////////////////////////////////////")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := DecodePageToken(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("DecodePageToken(%q): %v is not ErrInvalidQuery", s, err)
			}
			return
		}
		if k.ID == uuid.Nil || k.Created.Location() != time.UTC {
			t.Fatalf("DecodePageToken(%q) = %+v", s, k)
		}
		if back := EncodePageToken(k); back != s {
			t.Fatalf("DecodePageToken(%q) = %+v, which encodes as %q", s, k, back)
		}
	})
}

func TestVersionKey(t *testing.T) {
	for v, want := range map[string]string{
		"1.2":              "00000002000000030000000000000000",
		"1.02.0":           "00000002000000030000000100000000",
		"1.0.0.0":          "00000002000000010000000100000001",
		"2147483647.0.0.0": "80000000000000010000000100000001",
		"1":                "",
		"x.y":              "",
		"":                 "",
	} {
		if got := VersionKey(v); got != want {
			t.Errorf("VersionKey(%q) = %q, want %q", v, got, want)
		}
	}
	// In System.Version order, which is not the strings' order.
	order := []string{"1.0", "1.0.0", "1.0.0.0", "1.0.0.1", "1.1", "2.0", "9.0", "10.0", "10.0.0.0", "2147483647.2147483647"}
	for i := 1; i < len(order); i++ {
		if !(VersionKey(order[i-1]) < VersionKey(order[i])) {
			t.Errorf("VersionKey(%s) >= VersionKey(%s)", order[i-1], order[i])
		}
	}
}

// FuzzVersionKey: for versions that parse, comparing keys is comparing versions
// (workflow.CompareVersions); equal versions have equal keys.
func FuzzVersionKey(f *testing.F) {
	f.Add("1.0", "1.0.0")
	f.Add("10.0", "9.0")
	f.Add("1.00.0.0", "1.0.0.0")
	f.Add(" +1.2", "1.2")
	f.Add("2147483647.0", "0.2147483647")
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := VersionKey(a), VersionKey(b)
		_, ea := workflow.ParseVersion(a)
		_, eb := workflow.ParseVersion(b)
		if (ea == nil) != (ka != "") || (eb == nil) != (kb != "") {
			t.Fatalf("VersionKey(%q) = %q, VersionKey(%q) = %q: a key for each version that parses, only", a, ka, b, kb)
		}
		if ea != nil || eb != nil {
			return
		}
		cmp := 0
		switch {
		case ka < kb:
			cmp = -1
		case ka > kb:
			cmp = 1
		}
		if want := workflow.CompareVersions(a, b); cmp != want {
			t.Fatalf("keys of %q and %q compare %d, the versions %d", a, b, cmp, want)
		}
	})
}

func TestPageSize(t *testing.T) {
	for size, want := range map[int]int{0: 100, 1: 1, 100: 100, 1000: 1000, 1001: 1000, 1 << 40: 1000} {
		if got, err := PageSize(size); err != nil || got != want {
			t.Errorf("PageSize(%d) = %d, %v; want %d", size, got, err, want)
		}
	}
	if _, err := PageSize(-1); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("PageSize(-1): %v", err)
	}
}

func TestFilterValidate(t *testing.T) {
	for _, f := range []Filter{{}, {State: workflow.Completed, Completion: workflow.Faulted}, {Version: "1.0", VersionMin: "0.9", VersionMax: "2.0.0.1"}} {
		if err := f.Validate(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	for _, f := range []Filter{{State: "completed"}, {Completion: "Failed"}, {Version: "1"}, {VersionMin: "-1.0"}, {VersionMax: "1.2.3.4.5"}} {
		if err := f.Validate(); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%+v: %v, want ErrInvalidQuery", f, err)
		}
	}
}

func TestFilterParent(t *testing.T) {
	p := uuid.MustParse("9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d")
	other := uuid.MustParse("1f2e3d4c-5b6a-4978-8a9b-c0d1e2f3a4b5")
	orphan := &Instance{State: workflow.Active}
	child := &Instance{State: workflow.Active, Parent: p}
	for _, c := range []struct {
		f             Filter
		orphan, child bool
	}{
		{Filter{}, true, true},
		{Filter{Parent: p}, false, true},
		{Filter{Parent: other}, false, false},
		{Filter{HasParent: true}, false, true},
		{Filter{Parent: p, HasParent: true}, false, true},
		{Filter{HasParent: true, State: workflow.Suspended}, false, false},
	} {
		if got := c.f.Matches(orphan); got != c.orphan {
			t.Errorf("%+v matches an instance without a parent: %v, want %v", c.f, got, c.orphan)
		}
		if got := c.f.Matches(child); got != c.child {
			t.Errorf("%+v matches a child: %v, want %v", c.f, got, c.child)
		}
		if c.f.Validate() != nil {
			t.Errorf("%+v does not validate", c.f)
		}
		// Counts kept per group know nothing of parents.
		if want := c.f.Parent == uuid.Nil && !c.f.HasParent; c.f.Summarizable() != want {
			t.Errorf("%+v: Summarizable %v, want %v", c.f, c.f.Summarizable(), want)
		}
	}
}
