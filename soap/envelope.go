package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// NSXML is the namespace bound to the reserved prefix xml.
const NSXML = "http://www.w3.org/XML/1998/namespace"

// maxDepth bounds the element nesting of a parsed message.
const maxDepth = 256

// ErrVersionMismatch is returned by ParseEnvelope when the root element is not a SOAP 1.1 or
// SOAP 1.2 Envelope.
var ErrVersionMismatch = errors.New("soap: root element is not a SOAP 1.1 or SOAP 1.2 Envelope")

// ErrDTD is returned when a message contains a document type declaration, which SOAP forbids.
var ErrDTD = errors.New("soap: a SOAP message must not contain a document type declaration")

// ParseEnvelope reads a SOAP envelope from raw message bytes. contentType (may be "") supplies
// the charset. It returns the Envelope element and its version; errors name the problem
// (unsupported charset, ErrDTD, XML syntax, ErrVersionMismatch).
func ParseEnvelope(data []byte, contentType string) (*etree.Element, Version, error) {
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
	root, err := parseXML(utf8)
	if err != nil {
		return nil, 0, err
	}
	v, ok := envelopeVersion(root)
	if !ok {
		return root, 0, ErrVersionMismatch
	}
	return root, v, nil
}

// parseXML parses a UTF-8 document with one root element, refusing DTDs and undeclared prefixes.
func parseXML(b []byte) (*etree.Element, error) {
	if err := checkProlog(b); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{CharsetReader: xmlCharsetReader, MaxDepth: maxDepth}
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, fmt.Errorf("XML is not well-formed: %w", err)
	}
	var root *etree.Element
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			if root != nil {
				return nil, errors.New("XML is not well-formed: more than one root element")
			}
			root = t
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, errors.New("XML is not well-formed: text outside the root element")
			}
		case *etree.Directive:
			return nil, ErrDTD
		}
	}
	if root == nil {
		return nil, errors.New("XML is not well-formed: no root element")
	}
	if err := checkTree(root); err != nil {
		return nil, err
	}
	return root, nil
}

// checkProlog reads the tokens before the root element and refuses a DTD before anything else
// of the document is looked at.
func checkProlog(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = xmlCharsetReader
	for {
		t, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("XML is not well-formed: %w", err)
		}
		switch t.(type) {
		case xml.Directive:
			return ErrDTD
		case xml.StartElement:
			return nil
		}
	}
}

// checkTree verifies namespace well-formedness (every prefix declared) and the absence of
// markup declarations inside elements.
func checkTree(e *etree.Element) error {
	if e.Space != "" {
		if _, ok := lookupPrefix(e, e.Space); !ok {
			return fmt.Errorf("XML is not well-formed: undeclared namespace prefix %q on element %q", e.Space, e.FullTag())
		}
	}
	for _, a := range e.Attr {
		if a.Space != "" && a.Space != "xmlns" {
			if _, ok := lookupPrefix(e, a.Space); !ok {
				return fmt.Errorf("XML is not well-formed: undeclared namespace prefix %q on attribute %q", a.Space, a.FullKey())
			}
		}
	}
	for _, c := range e.Child {
		switch c := c.(type) {
		case *etree.Element:
			if err := checkTree(c); err != nil {
				return err
			}
		case *etree.Directive:
			return ErrDTD
		}
	}
	return nil
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
