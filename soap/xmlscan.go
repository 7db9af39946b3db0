package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// NSXMLNS is the namespace of namespace declarations, bound to the reserved prefix xmlns.
const NSXMLNS = "http://www.w3.org/2000/xmlns/"

// ErrProcInst is returned for a processing instruction (other than the XML declaration), which
// SOAP forbids (SOAP 1.1 §3, SOAP 1.2 Part 1 §5).
var ErrProcInst = errors.New("soap: a SOAP message must not contain processing instructions")

// scanXML is the pre-pass over a UTF-8 document: one streaming read of its tokens
// (encoding/xml's RawToken, which checks syntax and characters but neither namespaces nor
// attribute uniqueness) that enforces, in time linear in the input and memory bounded by the
// limits, what the DOM parser does not:
//
//   - XML 1.0: one root element, no text outside it, end tags that match their start tags
//     (literally, §3 WFC Element Type Match), no two attributes of one name (§3.1 WFC Unique Att
//     Spec), character references to legal characters only (§4.1 WFC Legal Character), legal
//     characters and UTF-8 in comments too (§2.2), the XML declaration only at the very start
//     and with a version (§2.8), PI targets other than [Xx][Mm][Ll] (§2.6);
//   - Namespaces in XML 1.0: names are QNames (§3, §4), every prefix is declared (§5 NSC Prefix
//     Declared), no prefix is undeclared (xmlns:p=""), xml and xmlns are used only as reserved
//     (§3 Reserved Prefixes and Namespace Names), no two attributes of one expanded name (§6.3);
//   - SOAP: no DTD (ErrDTD), no processing instruction (ErrProcInst);
//   - the parser limits (lim), with a *LimitError.
func scanXML(b []byte, lim limits) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = xmlCharsetReader
	s := scanner{lim: lim, bindings: map[string][]string{}}
	for {
		start := d.InputOffset()
		if err := s.peekStartTag(b[start:]); err != nil {
			return err
		}
		t, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("XML is not well-formed: %w", err)
		}
		raw := b[start:d.InputOffset()]
		if err := s.token(t, raw, start); err != nil {
			return err
		}
	}
	switch {
	case len(s.open) > 0:
		return fmt.Errorf("XML is not well-formed: element <%s> is not closed", qname(s.open[len(s.open)-1].name))
	case !s.seenRoot:
		return errors.New("XML is not well-formed: no root element")
	}
	return nil
}

// frame is an open element: its name as written and where its declarations start in decls.
type frame struct {
	name  xml.Name
	decls int
}

type scanner struct {
	lim                    limits
	open                   []frame
	decls                  []string            // prefixes declared by the open elements, innermost last
	bindings               map[string][]string // prefix ("" = default) -> namespace names in scope, innermost last
	seenRoot               bool
	elements, nodes, attrs int
}

func (s *scanner) limit(name string, value int, what string) error {
	return &LimitError{Limit: name, Value: value, What: what}
}

func (s *scanner) node() error {
	s.nodes++
	if s.lim.nodes > 0 && s.nodes > s.lim.nodes {
		return s.limit("MaxNodes", s.lim.nodes, "nodes (elements, text segments, comments)")
	}
	return nil
}

func (s *scanner) token(t xml.Token, raw []byte, offset int64) error {
	switch t := t.(type) {
	case xml.StartElement:
		return s.start(t, raw)
	case xml.EndElement:
		return s.end(t)
	case xml.CharData:
		if err := s.node(); err != nil {
			return err
		}
		cdata := bytes.HasPrefix(raw, []byte("<![CDATA["))
		if len(s.open) == 0 && (cdata || !isXMLSpace(t)) {
			return errors.New("XML is not well-formed: text outside the root element")
		}
		if !cdata {
			return checkCharRefs(raw)
		}
	case xml.Comment:
		if err := s.node(); err != nil {
			return err
		}
		return checkChars("a comment", t)
	case xml.ProcInst:
		if strings.EqualFold(t.Target, "xml") {
			switch {
			case t.Target != "xml":
				return fmt.Errorf("XML is not well-formed: the processing instruction target %q is reserved", t.Target)
			case offset != 0:
				return errors.New("XML is not well-formed: the XML declaration may only appear at the very start of the document")
			case !xmlDecl.Match(t.Inst):
				return fmt.Errorf("XML is not well-formed: malformed XML declaration %.64q", t.Inst)
			}
			return nil
		}
		return ErrProcInst
	case xml.Directive:
		return ErrDTD
	}
	return nil
}

// xmlDecl is the rest of an XML declaration after "<?xml" and white space (XML 1.0 §2.8 [23]).
var xmlDecl = regexp.MustCompile(`^version[ \t\r\n]*=[ \t\r\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')` +
	`(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?` +
	`(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*$`)

// peekStartTag counts the attributes of the start tag that rest begins with, if it begins with
// one, before the decoder reads it: encoding/xml collects every attribute of a tag before
// returning it, at a cost that grows faster than the tag, so a tag with too many is refused
// unread. In a start tag every attribute has exactly one "=" outside quotes. The scan stops at
// the tag's end or at any "<" (never part of a start tag), so it reads no byte the decoder
// will not read next.
func (s *scanner) peekStartTag(rest []byte) error {
	if s.lim.attrsPerElement <= 0 || len(rest) < 2 || rest[0] != '<' {
		return nil
	}
	switch rest[1] {
	case '/', '?', '!':
		return nil
	}
	var quote byte
	n := 0
	for _, c := range rest[1:] {
		switch {
		case c == '<':
			return nil
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			if n++; n > s.lim.attrsPerElement {
				return s.limit("MaxAttributesPerElement", s.lim.attrsPerElement, "attributes on one element")
			}
		case c == '>':
			return nil
		}
	}
	return nil
}

func (s *scanner) start(t xml.StartElement, raw []byte) error {
	if len(s.open) == 0 {
		if s.seenRoot {
			return errors.New("XML is not well-formed: more than one root element")
		}
		s.seenRoot = true
	}
	if s.lim.depth > 0 && len(s.open) >= s.lim.depth {
		return s.limit("MaxDepth", s.lim.depth, "levels of element nesting")
	}
	s.elements++
	if s.lim.elements > 0 && s.elements > s.lim.elements {
		return s.limit("MaxElements", s.lim.elements, "elements")
	}
	if err := s.node(); err != nil {
		return err
	}
	if s.lim.attrsPerElement > 0 && len(t.Attr) > s.lim.attrsPerElement {
		return s.limit("MaxAttributesPerElement", s.lim.attrsPerElement, "attributes on one element")
	}
	s.attrs += len(t.Attr)
	if s.lim.attrs > 0 && s.attrs > s.lim.attrs {
		return s.limit("MaxAttributes", s.lim.attrs, "attributes in the message")
	}
	if err := s.checkName(t.Name, "element"); err != nil {
		return err
	}
	if t.Name.Space == "xmlns" {
		return fmt.Errorf("XML is not well-formed: element <%s> has the reserved prefix xmlns", qname(t.Name))
	}
	s.open = append(s.open, frame{name: t.Name, decls: len(s.decls)})

	// Namespace declarations first: they apply to the element's own name and attributes.
	for _, a := range t.Attr {
		if err := s.checkName(a.Name, "attribute"); err != nil {
			return err
		}
		if s.lim.attrValueBytes > 0 && len(a.Value) > s.lim.attrValueBytes {
			return s.limit("MaxAttributeValueBytes", s.lim.attrValueBytes, "bytes in one attribute value")
		}
		prefix, ok := declared(a.Name)
		if !ok {
			continue
		}
		if err := checkDecl(prefix, a.Value, t.Name); err != nil {
			return err
		}
		s.decls = append(s.decls, prefix)
		s.bindings[prefix] = append(s.bindings[prefix], a.Value)
	}
	if _, err := s.resolve(t.Name.Space, t.Name, "element"); err != nil {
		return err
	}
	// Expanded names of the attributes, unique per element (Namespaces §6.3; this also covers
	// XML's Unique Att Spec, a repeated name having one expansion).
	type expanded struct{ ns, local string }
	var small [16]expanded
	seen := small[:0]
	var seenMap map[expanded]bool
	if len(t.Attr) > len(small) {
		seenMap = make(map[expanded]bool, len(t.Attr))
	}
	for _, a := range t.Attr {
		var x expanded
		if prefix, ok := declared(a.Name); ok {
			x = expanded{NSXMLNS, prefix}
		} else {
			ns := ""
			if a.Name.Space != "" {
				var err error
				if ns, err = s.resolve(a.Name.Space, t.Name, "attribute "+qname(a.Name)+" of"); err != nil {
					return err
				}
			}
			x = expanded{ns, a.Name.Local}
		}
		dup := false
		if seenMap != nil {
			dup = seenMap[x]
			seenMap[x] = true
		} else {
			dup = slicesContains(seen, x)
			seen = append(seen, x)
		}
		if dup {
			return fmt.Errorf("XML is not well-formed: element <%s> has the attribute %s twice (the same name, or two prefixes of one namespace with the same local name)",
				qname(t.Name), qname(a.Name))
		}
	}
	return checkCharRefs(raw)
}

func slicesContains[T comparable](s []T, x T) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func (s *scanner) end(t xml.EndElement) error {
	if len(s.open) == 0 {
		return fmt.Errorf("XML is not well-formed: unexpected end tag </%s>", qname(t.Name))
	}
	top := s.open[len(s.open)-1]
	if top.name != t.Name {
		return fmt.Errorf("XML is not well-formed: element <%s> is closed by </%s>", qname(top.name), qname(t.Name))
	}
	for _, p := range s.decls[top.decls:] {
		v := s.bindings[p]
		s.bindings[p] = v[:len(v)-1]
	}
	s.decls = s.decls[:top.decls]
	s.open = s.open[:len(s.open)-1]
	return nil
}

// checkName: a QName (Namespaces §3, §4: no colon in a local name or a prefix), within MaxNameBytes.
func (s *scanner) checkName(n xml.Name, kind string) error {
	size := len(n.Local)
	if n.Space != "" {
		size += len(n.Space) + 1
	}
	if s.lim.nameBytes > 0 && size > s.lim.nameBytes {
		return s.limit("MaxNameBytes", s.lim.nameBytes, "bytes in an "+kind+" name")
	}
	if strings.Contains(n.Local, ":") || n.Local == "" {
		return fmt.Errorf("XML is not well-formed: the %s name %q is not a qualified name", kind, qname(n))
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// declared reports whether an attribute is a namespace declaration, and for which prefix
// ("" for the default namespace).
func declared(n xml.Name) (string, bool) {
	switch {
	case n.Space == "xmlns":
		return n.Local, true
	case n.Space == "" && n.Local == "xmlns":
		return "", true
	}
	return "", false
}

// checkDecl applies Namespaces in XML 1.0 §3 to one declaration on element el.
func checkDecl(prefix, uri string, el xml.Name) error {
	bad := func(why string) error {
		return fmt.Errorf("XML is not namespace-well-formed: on element <%s>, %s", qname(el), why)
	}
	switch {
	case prefix == "xmlns":
		return bad("the prefix xmlns must not be declared")
	case prefix == "xml" && uri != NSXML:
		return bad(fmt.Sprintf("the prefix xml can only be bound to %s, not %q", NSXML, uri))
	case prefix != "xml" && uri == NSXML:
		return bad(fmt.Sprintf("only the prefix xml can be bound to %s", NSXML))
	case uri == NSXMLNS:
		return bad(fmt.Sprintf("no prefix can be bound to %s", NSXMLNS))
	case prefix != "" && uri == "":
		return bad(fmt.Sprintf("xmlns:%s=\"\" undeclares a prefix, which Namespaces in XML 1.0 does not allow", prefix))
	}
	return nil
}

// resolve returns the namespace bound to prefix in the current scope.
func (s *scanner) resolve(prefix string, el xml.Name, what string) (string, error) {
	if prefix == "xml" {
		return NSXML, nil
	}
	if v := s.bindings[prefix]; len(v) > 0 {
		return v[len(v)-1], nil
	}
	if prefix == "" {
		return "", nil
	}
	return "", fmt.Errorf("XML is not well-formed: undeclared namespace prefix %q on %s element %q", prefix, what, qname(el))
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// isXMLSpace reports whether b is only XML white space (XML 1.0 §2.3 [3] S).
func isXMLSpace[T ~string | ~[]byte](b T) bool {
	for i := range len(b) {
		if c := b[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// isXMLChar reports whether r is a legal XML character (XML 1.0 §2.2 [2] Char).
func isXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// checkChars verifies that b is UTF-8 of legal XML characters (encoding/xml checks text and
// attribute values itself, but not comments).
func checkChars(where string, b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < utf8.RuneSelf || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Errorf("XML is not well-formed: invalid UTF-8 in %s", where)
		}
		if !isXMLChar(r) {
			return fmt.Errorf("XML is not well-formed: illegal character code %U in %s", r, where)
		}
		i += n
	}
	return nil
}

// checkCharRefs verifies that every character reference in raw (the source of one start tag or
// one run of text, where "&#" can only begin a reference the decoder has already read) names a
// legal character. encoding/xml replaces a reference to a surrogate by U+FFFD instead of refusing it.
func checkCharRefs(raw []byte) error {
	for {
		i := bytes.Index(raw, []byte("&#"))
		if i < 0 {
			return nil
		}
		ref := raw[i:]
		raw = raw[i+2:]
		hex := len(raw) > 0 && raw[0] == 'x'
		if hex {
			raw = raw[1:]
		}
		var n rune
		j := 0
		for ; j < len(raw) && raw[j] != ';'; j++ {
			c := raw[j]
			var v rune
			switch {
			case '0' <= c && c <= '9':
				v = rune(c - '0')
			case hex && 'a' <= c && c <= 'f':
				v = rune(c-'a') + 10
			case hex && 'A' <= c && c <= 'F':
				v = rune(c-'A') + 10
			default:
				return fmt.Errorf("XML is not well-formed: malformed character reference %.16q", ref)
			}
			if hex {
				n = n*16 + v
			} else {
				n = n*10 + v
			}
			if n > 0x10FFFF {
				n = 0x110000 // stays illegal, never overflows
			}
		}
		if j == len(raw) || j == 0 {
			return fmt.Errorf("XML is not well-formed: malformed character reference %.16q", ref)
		}
		if !isXMLChar(n) {
			end := 2 + j + 1 + boolInt(hex)
			return fmt.Errorf("XML is not well-formed: the character reference %s names U+%04X, which is not a legal XML character", ref[:end], n)
		}
		raw = raw[j+1:]
	}
}
