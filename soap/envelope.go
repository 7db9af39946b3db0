package soap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// NSXML is the namespace bound to the reserved prefix xml.
const NSXML = "http://www.w3.org/XML/1998/namespace"

// ErrVersionMismatch is returned by ParseEnvelope when the root element is not a SOAP 1.1 or
// SOAP 1.2 Envelope.
var ErrVersionMismatch = errors.New("soap: root element is not a SOAP 1.1 or SOAP 1.2 Envelope")

// ErrDTD is returned when a message contains a document type declaration, which SOAP forbids.
var ErrDTD = errors.New("soap: a SOAP message must not contain a document type declaration")

// ParseEnvelope reads a SOAP envelope from raw message bytes. contentType (may be "") supplies
// the charset. It returns the Envelope element and its version; errors name the problem
// (unsupported charset, ErrDTD, ErrProcInst, XML that is not well-formed or not
// namespace-well-formed, a *LimitError, ErrVersionMismatch, an envelope whose Header and Body
// break SOAP's structure rules). The request parser limits apply (see MaxElements).
func ParseEnvelope(data []byte, contentType string) (*etree.Element, Version, error) {
	return parseEnvelope(data, contentType, requestLimits)
}

func parseEnvelope(data []byte, contentType string, lim limits) (*etree.Element, Version, error) {
	charset := ""
	if contentType != "" {
		if _, params, err := parseContentType(contentType); err == nil {
			charset = params["charset"]
		}
	}
	utf8, err := toUTF8(data, charset)
	if err != nil {
		return nil, 0, err
	}
	root, err := parseXML(utf8, lim)
	if err != nil {
		return nil, 0, err
	}
	v, ok := envelopeVersion(root)
	if !ok {
		return root, 0, ErrVersionMismatch
	}
	if _, _, err := envelopeParts(v, root); err != nil {
		return root, v, err
	}
	return root, v, nil
}

// parseXML parses a UTF-8 document with one root element. The streaming pre-pass (scanXML)
// checks well-formedness, namespaces and the limits lim first, so the DOM is only built for
// documents that pass.
func parseXML(b []byte, lim limits) (*etree.Element, error) {
	if err := scanXML(b, lim); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{CharsetReader: xmlCharsetReader, MaxDepth: lim.depth}
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, fmt.Errorf("XML is not well-formed: %w", err)
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("XML is not well-formed: no root element")
	}
	return root, nil
}

// envelopeParts checks the structure of an Envelope of version v and returns its Header (nil
// if absent) and Body. SOAP 1.1 §4 and SOAP 1.2 Part 1 §5: at most one Header, which if present
// is the first child element; exactly one Body, which follows it. SOAP 1.2 allows nothing after
// the Body; SOAP 1.1 allows namespace-qualified elements there. Header blocks are
// namespace-qualified (SOAP 1.1 §4.2, SOAP 1.2 Part 1 §5.2.1). Envelope, Header and Body hold
// no character data other than white space (SOAP 1.2 Part 1 §5.1, §5.2, §5.3).
func envelopeParts(v Version, env *etree.Element) (hdr, body *etree.Element, err error) {
	ns := v.Namespace()
	var headers, bodies int
	elems := env.ChildElements()
	for _, c := range elems {
		switch {
		case is(c, ns, "Header"):
			headers++
		case is(c, ns, "Body"):
			bodies++
		}
	}
	switch {
	case headers > 1:
		return nil, nil, structural("The envelope has more than one Header.")
	case bodies == 0:
		return nil, nil, structural("The envelope has no Body.")
	case bodies > 1:
		return nil, nil, structural("The envelope has more than one Body.")
	}
	i := 0
	if is(elems[0], ns, "Header") {
		hdr, i = elems[0], 1
	}
	if !is(elems[i], ns, "Body") {
		if headers == 1 && hdr == nil {
			return nil, nil, structural("The envelope's Header is not its first child element: a Header must come first, and the Body follow it.")
		}
		return nil, nil, structural("The envelope's element %s comes before the Body: only a Header may precede the Body.", QName{nsOf(elems[i]), elems[i].Tag})
	}
	body = elems[i]
	for _, c := range elems[i+1:] {
		switch {
		case is(c, ns, "Header"):
			return nil, nil, structural("The envelope's Header comes after the Body: a Header must come first, and the Body follow it.")
		case v == V12:
			return nil, nil, structural("The envelope has the element %s after the Body: a SOAP 1.2 Envelope ends with its Body.", QName{nsOf(c), c.Tag})
		case nsOf(c) == "":
			return nil, nil, structural("The envelope has the unqualified element %s after the Body: elements after a SOAP 1.1 Body must be namespace-qualified.", c.Tag)
		}
	}
	for _, e := range []*etree.Element{env, hdr, body} {
		if e != nil && hasText(e) {
			return nil, nil, structural("The %s contains text: only white space may appear between its child elements.", e.Tag)
		}
	}
	if hdr != nil {
		for _, h := range hdr.ChildElements() {
			if nsOf(h) == "" {
				return nil, nil, structural("The header block %s is not namespace-qualified: every header block must be.", h.Tag)
			}
		}
	}
	return hdr, body, nil
}

// hasText reports whether e has character data children other than white space.
func hasText(e *etree.Element) bool {
	for _, t := range e.Child {
		if c, ok := t.(*etree.CharData); ok && !isXMLSpace(c.Data) {
			return true
		}
	}
	return false
}

// lookupPrefix resolves a namespace prefix ("" = default namespace) in the scope of e.
func lookupPrefix(e *etree.Element, prefix string) (string, bool) {
	if prefix == "xml" {
		return NSXML, true
	}
	for ; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (prefix != "" && a.Space == "xmlns" && a.Key == prefix) {
				return a.Value, true
			}
		}
	}
	return "", prefix == ""
}

// nsOf is the namespace URI of an element.
func nsOf(e *etree.Element) string {
	ns, _ := lookupPrefix(e, e.Space)
	return ns
}

// attrNS is the namespace URI of an attribute ("" for unprefixed attributes).
func attrNS(e *etree.Element, a etree.Attr) string {
	if a.Space == "" {
		return ""
	}
	ns, _ := lookupPrefix(e, a.Space)
	return ns
}

// attrValue returns the value of the attribute {ns}local on e.
func attrValue(e *etree.Element, ns, local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Key == local && a.Space != "xmlns" && !(a.Space == "" && a.Key == "xmlns") && attrNS(e, a) == ns {
			return a.Value, true
		}
	}
	return "", false
}

// resolveQName resolves a prefixed QName written in the text or an attribute of e.
func resolveQName(e *etree.Element, s string) (QName, bool) {
	s = strings.TrimSpace(s)
	prefix, local, found := strings.Cut(s, ":")
	if !found {
		prefix, local = "", s
	}
	ns, ok := lookupPrefix(e, prefix)
	return QName{ns, local}, ok && local != ""
}

// is reports whether e is the element {ns}local.
func is(e *etree.Element, ns, local string) bool {
	return e != nil && e.Tag == local && nsOf(e) == ns
}

// children returns the child elements of e named {ns}local.
func children(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

func child(e *etree.Element, ns, local string) *etree.Element {
	if cs := children(e, ns, local); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

// envelopeVersion tells the SOAP version from the root element.
func envelopeVersion(root *etree.Element) (Version, bool) {
	if root.Tag != "Envelope" {
		return 0, false
	}
	switch nsOf(root) {
	case NS11:
		return V11, true
	case NS12:
		return V12, true
	}
	return 0, false
}

// Namespace is the envelope namespace of v.
func (v Version) Namespace() string {
	if v == V12 {
		return NS12
	}
	return NS11
}

// ContentType is the Content-Type of a UTF-8 message of version v (without an action parameter).
func (v Version) ContentType() string {
	if v == V12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

func (v Version) String() string {
	switch v {
	case V11:
		return "SOAP 1.1"
	case V12:
		return "SOAP 1.2"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// structureError is a refusal of the envelope's structure; its text is the Sender fault's
// reason, a sentence.
type structureError string

func (e structureError) Error() string { return string(e) }

func structural(format string, args ...any) error {
	return structureError(fmt.Sprintf(format, args...))
}
