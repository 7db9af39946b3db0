package host_test

import (
	"testing"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// A definition's Tracking attribute, else the host's profile, selects the records written:
// instance records always, activity and bookmark records only when the profile names them.
func TestTrackingProfile(t *testing.T) {
	def := func(name, attr string) string {
		return `<Workflow Name="` + name + `" Package="test" Version="1.0.0.0" ` + attr + `>
  <Variables><Variable Name="i" Type="Number"/></Variables>
  <Sequence>
    <While Condition="[i &lt; 3]"><Assign To="i" Value="[i + 1]"/></While>
    <WriteLine Text="looped"/>
    <Receive Bookmark="go"/>
  </Sequence>
</Workflow>`
	}
	instanceOnly := workflow.TrackingProfile{}
	h := startHost(t, host.Config{Tracking: &instanceOnly, Definitions: registry(t,
		def("Quiet", ""), def("Loud", `Tracking="All"`), def("Marks", `Tracking="Instance,Bookmark"`))})
	kinds := func(name string) map[workflow.RecordKind]int {
		t.Helper()
		id, err := h.Create(bg, host.CreateRequest{Definition: "test." + name})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.ResumeBookmark(bg, id, "go", nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, name+" completes", func() bool { in, _ := get(t, h, id); return in.State == workflow.Completed })
		recs := records(t, h, id)
		n := map[workflow.RecordKind]int{}
		for _, r := range recs {
			n[r.Kind]++
		}
		if countKind(recs, workflow.InstanceRecord, "Created") != 1 || countKind(recs, workflow.InstanceRecord, "Completed") != 1 {
			t.Errorf("%s: instance records missing: %+v", name, recs)
		}
		return n
	}
	if n := kinds("Quiet"); n[workflow.ActivityRecord] != 0 || n[workflow.BookmarkRecord] != 0 || n[workflow.InstanceRecord] == 0 {
		t.Errorf("the host's Instance profile: %v; want instance records only", n)
	}
	if n := kinds("Loud"); n[workflow.ActivityRecord] == 0 || n[workflow.BookmarkRecord] != 1 {
		t.Errorf("Tracking=All: %v; want activity records and one bookmark record", n)
	}
	if n := kinds("Marks"); n[workflow.ActivityRecord] != 0 || n[workflow.BookmarkRecord] != 1 {
		t.Errorf("Tracking=Instance,Bookmark: %v; want no activity record and one bookmark record", n)
	}
}
