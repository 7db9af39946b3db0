package wsdl

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// qnameAttrs are the WSDL/XSD attributes whose values are QNames: the
// canonical form compares their resolved {namespace}local, not the prefix.
var qnameAttrs = map[string]bool{
	"type": true, "element": true, "message": true, "binding": true,
	"base": true, "ref": true, "itemType": true,
}

func parseDoc(t *testing.T, b []byte) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, b)
	}
	if d.Root() == nil {
		t.Fatalf("no root element:\n%s", b)
	}
	return d
}

// lookupPrefix resolves a namespace prefix in scope at e ("" = default).
func lookupPrefix(e *etree.Element, prefix string) (string, bool) {
	want := "xmlns"
	if prefix != "" {
		want = "xmlns:" + prefix
	}
	for ; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.FullKey() == want {
				return a.Value, true
			}
		}
	}
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	return "", prefix == ""
}

// resolveQName turns "p:local" in the scope of e into "{ns}local".
func resolveQName(e *etree.Element, v string) (string, error) {
	prefix, local := "", v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	ns, ok := lookupPrefix(e, prefix)
	if !ok {
		return "", fmt.Errorf("prefix %q of %q not declared", prefix, v)
	}
	return "{" + ns + "}" + local, nil
}

func expanded(e *etree.Element) string { return "{" + e.NamespaceURI() + "}" + e.Tag }

// canonical renders e as a prefix-independent string: expanded names,
// namespace declarations dropped, attributes sorted, QName-valued attributes
// resolved, whitespace-only text dropped, other text trimmed.
func canonical(t *testing.T, e *etree.Element) string {
	t.Helper()
	var b strings.Builder
	var walk func(e *etree.Element, depth int)
	walk = func(e *etree.Element, depth int) {
		var attrs []string
		for _, a := range e.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				continue
			}
			v := a.Value
			if a.Space == "" && qnameAttrs[a.Key] {
				r, err := resolveQName(e, v)
				if err != nil {
					t.Fatalf("%s: %v", expanded(e), err)
				}
				v = r
			}
			name := a.Key
			if a.Space != "" {
				name = "{" + a.NamespaceURI() + "}" + a.Key
			}
			attrs = append(attrs, name+"="+fmt.Sprintf("%q", v))
		}
		sort.Strings(attrs)
		fmt.Fprintf(&b, "%s%s %s\n", strings.Repeat(" ", depth), expanded(e), strings.Join(attrs, " "))
		for _, tok := range e.Child {
			switch c := tok.(type) {
			case *etree.Element:
				walk(c, depth+1)
			case *etree.CharData:
				if s := strings.TrimSpace(c.Data); s != "" {
					fmt.Fprintf(&b, "%s%q\n", strings.Repeat(" ", depth+1), s)
				}
			}
		}
	}
	walk(e, 0)
	return b.String()
}

func kids(e *etree.Element, ns, local string) []*etree.Element { return children(e, ns, local) }

func named(e *etree.Element, ns, local, name string) *etree.Element {
	return findNamed(e, ns, local, name)
}
