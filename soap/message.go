package soap

import (
	"bytes"

	"github.com/beevik/etree"
)

// Message describes an outgoing envelope: a server reply or a client request.
// Marshal writes it with the envelope prefix s and, with WS-Addressing, the prefix a.
type Message struct {
	Version    Version
	Addressing string           // "" (no WS-A headers are written), WSA10 or WSA0408
	Action     string           // wsa:Action, written with mustUnderstand="1"
	MessageID  string           // wsa:MessageID
	RelatesTo  string           // wsa:RelatesTo
	ReplyTo    string           // wsa:ReplyTo/wsa:Address
	To         string           // wsa:To, written with mustUnderstand="1"
	Headers    []*etree.Element // further header blocks, after the WS-A ones (copied)
	Body       *etree.Element   // the body's child (copied); nil for an empty body
}

// Element builds the Envelope element. Elements taken from Headers and Body are copied, with
// the namespace declarations they inherit from their former ancestors.
func (m *Message) Element() *etree.Element {
	env := etree.NewElement("s:Envelope")
	env.CreateAttr("xmlns:s", m.Version.Namespace())
	var hdrs []*etree.Element
	if m.Addressing != "" {
		env.CreateAttr("xmlns:a", m.Addressing)
		add := func(local, value string, mu bool) *etree.Element {
			h := etree.NewElement("a:" + local)
			if mu {
				h.CreateAttr("s:mustUnderstand", "1")
			}
			h.SetText(value)
			hdrs = append(hdrs, h)
			return h
		}
		if m.Action != "" {
			add("Action", m.Action, true)
		}
		if m.MessageID != "" {
			add("MessageID", m.MessageID, false)
		}
		if m.RelatesTo != "" {
			add("RelatesTo", m.RelatesTo, false)
		}
		if m.ReplyTo != "" {
			add("ReplyTo", "", false).CreateElement("a:Address").SetText(m.ReplyTo)
		}
		if m.To != "" {
			add("To", m.To, true)
		}
	}
	for _, h := range m.Headers {
		if h != nil {
			hdrs = append(hdrs, detach(h))
		}
	}
	if len(hdrs) > 0 {
		hdr := env.CreateElement("s:Header")
		for _, h := range hdrs {
			hdr.AddChild(h)
		}
	}
	body := env.CreateElement("s:Body")
	if m.Body != nil {
		body.AddChild(detach(m.Body))
	}
	return env
}

// XMLDeclaration begins every envelope Marshal writes. WCF writes none and no client
// needs it absent, but soap4r on REXML (Ruby) drops the first three bytes of a reply
// whose Content-Type names a charset: without a declaration those are the start of the
// root tag and the reply cannot be read (DESIGN-NOTES.md, Wire decisions).
const XMLDeclaration = `<?xml version="1.0" encoding="utf-8"?>`

// Marshal writes the envelope in UTF-8, after XMLDeclaration.
func (m *Message) Marshal() []byte {
	doc := etree.NewDocument()
	doc.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	doc.SetRoot(m.Element())
	var b bytes.Buffer
	b.WriteString(XMLDeclaration)
	_, _ = doc.WriteTo(&b) // writing to a buffer cannot fail
	return b.Bytes()
}

// detach returns a parentless copy of e that still means the same: namespace declarations
// e inherits from its ancestors are copied onto it (nearest first, never overriding its own).
func detach(e *etree.Element) *etree.Element {
	c := e.Copy()
	for p := e.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			isDecl := a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")
			if isDecl && !hasAttr(c, a.Space, a.Key) {
				c.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	return c
}

func hasAttr(e *etree.Element, space, key string) bool {
	for _, a := range e.Attr {
		if a.Space == space && a.Key == key {
			return true
		}
	}
	return false
}
