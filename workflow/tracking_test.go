package workflow

import "testing"

func TestParseTrackingProfile(t *testing.T) {
	for _, c := range []struct {
		in   string
		want TrackingProfile
		ok   bool
	}{
		{"All", TrackingProfile{Activities: true, Bookmarks: true}, true},
		{"Instance", TrackingProfile{}, true},
		{"Instance,Bookmark", TrackingProfile{Bookmarks: true}, true},
		{"Instance, Activity", TrackingProfile{Activities: true}, true},
		{"Instance Activity Bookmark", TrackingProfile{Activities: true, Bookmarks: true}, true},
		{"", TrackingProfile{}, false},
		{"Activity", TrackingProfile{}, false},
		{"all", TrackingProfile{}, false},
		{"All,Instance", TrackingProfile{}, false},
		{"Instance,Everything", TrackingProfile{}, false},
	} {
		got, err := ParseTrackingProfile(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseTrackingProfile(%q) = %+v, %v; want %+v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	p := TrackingProfile{Bookmarks: true}
	if !p.Keeps("Instance") || p.Keeps("Activity") || !p.Keeps("Bookmark") {
		t.Errorf("Instance,Bookmark keeps Instance %v, Activity %v, Bookmark %v; want true, false, true",
			p.Keeps("Instance"), p.Keeps("Activity"), p.Keeps("Bookmark"))
	}
}

func FuzzParseTrackingProfile(f *testing.F) {
	for _, s := range []string{"All", "Instance", "Instance,Bookmark", "Instance Activity, Bookmark", "", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseTrackingProfile(s)
		if err != nil {
			return
		}
		// A profile that parses is All or names Instance; it keeps instance records.
		if !p.Keeps(InstanceRecord) {
			t.Fatalf("%q: a profile that drops instance records", s)
		}
	})
}
