package hosting

import (
	"testing"

	"github.com/beevik/etree"
)

// FuzzRequest feeds arbitrary body wrappers through the argument decoding every operation
// uses: it must return values or errors, never panic.
func FuzzRequest(f *testing.F) {
	f.Add("Create", `<Create xmlns="`+NS+`"><definition>Hello</definition><inputs><input><name>n</name><value>"x"</value></input></inputs></Create>`)
	f.Add("ResumeBookmark", `<ResumeBookmark xmlns="`+NS+`"><instanceId>{3f2504e0-4f89-41d3-9a0c-0305e82c3301}</instanceId><bookmark>B</bookmark><payload>{"a":[1,2]}</payload></ResumeBookmark>`)
	f.Fuzz(func(t *testing.T, op, body string) {
		doc := etree.NewDocument()
		if doc.ReadFromString(body) != nil || doc.Root() == nil {
			return
		}
		a, err := readArgs(op, doc.Root())
		if err != nil {
			return
		}
		_, _ = a.instanceID()
		for name := range a.elems {
			if v, err := decodeJSON(a.text(name)); err == nil {
				_ = normalizeNumbers(v)
			}
		}
	})
}
