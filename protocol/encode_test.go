package protocol

import (
	"testing"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/workflow"
)

// Encode is Decode's inverse for every operation and every parameter form.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	reason := "R&D <urgent> Grüße ✓"
	empty := ""
	for _, op := range Ops {
		for _, c := range []Command{
			{Op: op, InstanceID: testID},
			{Op: op, InstanceID: testID, Reason: &reason},
			{Op: op, InstanceID: testID, Reason: &empty},
			{Op: op, InstanceID: testID, Identity: &v2},
			{Op: op, InstanceID: testID, Identity: &workflow.Identity{Name: "OnlyName"}},
		} {
			// Through text, as on the wire.
			doc := etree.NewDocument()
			doc.SetRoot(Encode(c))
			s, err := doc.WriteToString()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(op, wrapper(t, s))
			if op.Kind == Suspend && (c.Reason == nil || *c.Reason == "") {
				if err == nil {
					t.Errorf("%s without a reason decoded: %s", op.Name, s)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v\n%s", op.Name, err, s)
			}
			if back.InstanceID != c.InstanceID {
				t.Errorf("%s: id %s", op.Name, back.InstanceID)
			}
			if op.Param == ReasonParam && show(back.Reason) != show(c.Reason) {
				t.Errorf("%s: reason %s, want %s", op.Name, show(back.Reason), show(c.Reason))
			}
			if op.Param == IdentityParam && (back.Identity == nil) != (c.Identity == nil) ||
				back.Identity != nil && *back.Identity != *c.Identity {
				t.Errorf("%s: identity %v, want %v", op.Name, back.Identity, c.Identity)
			}
		}
	}
}
