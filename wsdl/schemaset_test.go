package wsdl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

var xsdBuiltins = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`anyType anySimpleType string boolean decimal float double duration dateTime
		time date gYearMonth gYear gMonthDay gDay gMonth hexBinary base64Binary anyURI QName NOTATION
		normalizedString token language NMTOKEN NMTOKENS Name NCName ID IDREF IDREFS ENTITY ENTITIES
		integer nonPositiveInteger negativeInteger long int short byte nonNegativeInteger unsignedLong
		unsignedInt unsignedShort unsignedByte positiveInteger`) {
		xsdBuiltins[n] = true
	}
}

// schemaSet is a set of XML Schema documents as a schema processor would
// assemble them, with the global components they declare.
type schemaSet struct {
	schemas    []*etree.Element
	components map[string]bool // "element {ns}name", "type {ns}name", "attribute {ns}name"
}

func newSchemaSet(t *testing.T, schemas []*etree.Element) *schemaSet {
	t.Helper()
	s := &schemaSet{schemas: schemas, components: map[string]bool{}}
	for _, sc := range schemas {
		tns := sc.SelectAttrValue("targetNamespace", "")
		for _, c := range sc.ChildElements() {
			if c.NamespaceURI() != NSXSD {
				continue
			}
			name := c.SelectAttrValue("name", "")
			switch c.Tag {
			case "element":
				s.components["element {"+tns+"}"+name] = true
			case "complexType", "simpleType":
				s.components["type {"+tns+"}"+name] = true
			case "attribute":
				s.components["attribute {"+tns+"}"+name] = true
			}
		}
	}
	return s
}

// problems lists every QName reference in the schemas that a processor could
// not resolve: an undeclared component, or a component of a namespace the
// referencing schema document neither is nor imports (XSD 1.0 §4.2.3).
func (s *schemaSet) problems(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sc := range s.schemas {
		tns := sc.SelectAttrValue("targetNamespace", "")
		visible := map[string]bool{tns: true, NSXSD: true}
		for _, imp := range kids(sc, NSXSD, "import") {
			visible[imp.SelectAttrValue("namespace", "")] = true
		}
		var walk func(e *etree.Element)
		walk = func(e *etree.Element) {
			if e.NamespaceURI() != NSXSD || e.Tag == "annotation" {
				return
			}
			for _, a := range e.Attr {
				if a.Space != "" {
					continue
				}
				var kind string
				switch {
				case a.Key == "type" || a.Key == "base" || a.Key == "itemType":
					kind = "type"
				case a.Key == "ref" && e.Tag == "element":
					kind = "element"
				case a.Key == "ref" && e.Tag == "attribute":
					kind = "attribute"
				default:
					continue
				}
				q, err := resolveQName(e, a.Value)
				if err != nil {
					out = append(out, fmt.Sprintf("schema %s: %v", tns, err))
					continue
				}
				ns := q[1:strings.IndexByte(q, '}')]
				local := q[strings.IndexByte(q, '}')+1:]
				switch {
				case !visible[ns]:
					out = append(out, fmt.Sprintf("schema %s references %s without importing its namespace", tns, q))
				case ns == NSXSD:
					if kind != "type" || !xsdBuiltins[local] {
						out = append(out, fmt.Sprintf("schema %s references unknown XSD %s %s", tns, kind, q))
					}
				case !s.components[kind+" "+q]:
					out = append(out, fmt.Sprintf("schema %s references undeclared %s %s", tns, kind, q))
				}
			}
			for _, c := range e.ChildElements() {
				walk(c)
			}
		}
		for _, c := range sc.ChildElements() {
			walk(c)
		}
		for _, imp := range kids(sc, NSXSD, "import") {
			ns := imp.SelectAttrValue("namespace", "")
			if !s.hasNamespace(ns) {
				out = append(out, fmt.Sprintf("schema %s imports %s, which no schema in the set declares", tns, ns))
			}
		}
	}
	return out
}

func (s *schemaSet) hasNamespace(ns string) bool {
	for _, sc := range s.schemas {
		if sc.SelectAttrValue("targetNamespace", "") == ns {
			return true
		}
	}
	return false
}

// partProblems lists wsdl:part element references that the set does not declare.
func (s *schemaSet) partProblems(t *testing.T, defs *etree.Element) []string {
	t.Helper()
	var out []string
	for _, m := range kids(defs, NSWSDL, "message") {
		for _, p := range kids(m, NSWSDL, "part") {
			q, err := resolveQName(p, p.SelectAttrValue("element", ""))
			if err != nil {
				out = append(out, err.Error())
				continue
			}
			if !s.components["element "+q] {
				out = append(out, fmt.Sprintf("message %s part %s: element %s not declared", m.SelectAttrValue("name", ""), p.SelectAttrValue("name", ""), q))
			}
		}
	}
	return out
}
