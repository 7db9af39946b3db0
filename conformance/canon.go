package conformance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/beevik/etree"
)

// Placeholders usable as text in expected envelopes.
const (
	anyText   = "{{any}}"
	messageID = "{{messageID}}"
)

// qnameText lists elements whose text is a QName (fault codes), compared as {ns}local.
var qnameText = map[string]bool{"faultcode": true, "Value": true}

// qnameAttr lists attributes whose value is a QName.
var qnameAttr = map[string]bool{"qname": true}

// compareXML reports the first difference between the expected and actual documents, or "".
// Namespace prefixes, declarations and whitespace-only text do not matter.
func compareXML(expected, actual []byte, msgID string) string {
	ed, ad := etree.NewDocument(), etree.NewDocument()
	if err := ed.ReadFromBytes(expected); err != nil {
		return fmt.Sprintf("expected envelope is not XML: %v", err)
	}
	if err := ad.ReadFromBytes(actual); err != nil {
		return fmt.Sprintf("reply is not XML: %v", err)
	}
	if ed.Root() == nil || ad.Root() == nil {
		return "missing root element"
	}
	return compareElem(ed.Root(), ad.Root(), msgID, "/")
}

func compareElem(e, a *etree.Element, msgID, path string) string {
	path += e.Tag
	if e.Tag != a.Tag || e.NamespaceURI() != a.NamespaceURI() {
		return fmt.Sprintf("%s: expected element {%s}%s, got {%s}%s", path, e.NamespaceURI(), e.Tag, a.NamespaceURI(), a.Tag)
	}
	if ea, aa := attrs(e), attrs(a); ea != aa {
		return fmt.Sprintf("%s: expected attributes [%s], got [%s]", path, ea, aa)
	}
	ec, ac := e.ChildElements(), a.ChildElements()
	if len(ec) == 0 && len(ac) == 0 {
		et, at := strings.TrimSpace(e.Text()), strings.TrimSpace(a.Text())
		switch {
		case et == anyText:
			if at == "" {
				return fmt.Sprintf("%s: expected some text, got none", path)
			}
		case et == messageID:
			if at != msgID {
				return fmt.Sprintf("%s: expected the request's MessageID %q, got %q", path, msgID, at)
			}
		case qnameText[e.Tag] && strings.Contains(et, ":"):
			if qe, qa := resolve(e, et), resolve(a, at); qe != qa {
				return fmt.Sprintf("%s: expected QName %s, got %s", path, qe, qa)
			}
		case et != at:
			return fmt.Sprintf("%s: expected text %q, got %q", path, et, at)
		}
		return ""
	}
	if e.Tag == "Header" {
		// Header blocks are independent of each other: their order carries no meaning.
		ec, ac = sortedByName(ec), sortedByName(ac)
	}
	if len(ec) != len(ac) {
		return fmt.Sprintf("%s: expected %d child elements (%s), got %d (%s)", path, len(ec), tags(ec), len(ac), tags(ac))
	}
	for i := range ec {
		if d := compareElem(ec[i], ac[i], msgID, path+"/"); d != "" {
			return d
		}
	}
	return ""
}

// attrs renders the non-declaration attributes as a sorted {ns}local=value list.
func attrs(e *etree.Element) string {
	var out []string
	for _, at := range e.Attr {
		if at.Space == "xmlns" || (at.Space == "" && at.Key == "xmlns") {
			continue
		}
		ns := ""
		if at.Space != "" {
			ns = lookup(e, at.Space)
			if at.Space == "xml" {
				ns = "http://www.w3.org/XML/1998/namespace"
			}
		}
		v := at.Value
		if qnameAttr[at.Key] {
			v = resolve(e, v)
		}
		out = append(out, fmt.Sprintf("{%s}%s=%s", ns, at.Key, v))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// resolve turns "p:local" into "{ns}local" using the namespaces in scope at e.
func resolve(e *etree.Element, q string) string {
	p, local, ok := strings.Cut(strings.TrimSpace(q), ":")
	if !ok {
		return "{" + lookup(e, "") + "}" + q
	}
	return "{" + lookup(e, p) + "}" + local
}

func lookup(e *etree.Element, prefix string) string {
	for ; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (a.Space == "xmlns" && a.Key == prefix) {
				return a.Value
			}
		}
	}
	return ""
}

func tags(es []*etree.Element) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Tag)
	}
	return strings.Join(s, ",")
}

func sortedByName(es []*etree.Element) []*etree.Element {
	out := append([]*etree.Element(nil), es...)
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].NamespaceURI()+" "+out[i].Tag < out[j].NamespaceURI()+" "+out[j].Tag
	})
	return out
}
