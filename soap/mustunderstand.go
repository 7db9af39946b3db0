package soap

import (
	"strings"

	"github.com/beevik/etree"
)

// Roles and actors that address a header block to this node (the ultimate receiver): SOAP 1.2
// Part 1 §2.2 (the role URIs are in the envelope namespace's "role/" path) and SOAP 1.1 §4.2.2.
const (
	RoleNext             = NS12 + "/role/next"
	RoleUltimateReceiver = NS12 + "/role/ultimateReceiver"
	ActorNext            = "http://schemas.xmlsoap.org/soap/actor/next"
)

// Transaction-flow header namespaces (wimp never joins a flowed transaction).
const (
	NSWSCoor2004 = "http://schemas.xmlsoap.org/ws/2004/10/wscoor"
	NSWSCoor2006 = "http://docs.oasis-open.org/ws-tx/wscoor/2006/06"
	NSOleTx      = "http://schemas.microsoft.com/ws/2006/02/tx/oletx"
)

// targeted reports whether header block h is addressed to this node.
func targeted(v Version, h *etree.Element) bool {
	if v == V12 {
		role, ok := attrValue(h, NS12, "role")
		role = strings.TrimSpace(role)
		return !ok || role == "" || role == RoleNext || role == RoleUltimateReceiver
	}
	actor, ok := attrValue(h, NS11, "actor")
	actor = strings.TrimSpace(actor)
	return !ok || actor == ActorNext
}

// mustUnderstand reports whether h carries mustUnderstand="1" or "true" in the envelope
// namespace. ok is false when the attribute is present but not a boolean (xs:boolean: 0, 1,
// false, true, surrounded by white space or not).
func mustUnderstand(v Version, h *etree.Element) (mu, ok bool) {
	s, present := attrValue(h, v.Namespace(), "mustUnderstand")
	switch strings.Trim(s, " \t\r\n") {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, !present
}

// checkMustUnderstand returns a MustUnderstand fault naming every header block addressed to us,
// marked mustUnderstand, that understood does not accept; a Sender fault for a mustUnderstand
// attribute that is not a boolean; nil if there is neither.
func checkMustUnderstand(v Version, hdr *etree.Element, understood func(*etree.Element) bool) *Fault {
	if hdr == nil {
		return nil
	}
	var missed []QName
	for _, h := range hdr.ChildElements() {
		if !targeted(v, h) {
			continue
		}
		mu, ok := mustUnderstand(v, h)
		if !ok {
			return NewFault(Sender, "The header "+QName{nsOf(h), h.Tag}.String()+
				" has a mustUnderstand attribute that is not a boolean (0, 1, false or true).")
		}
		if mu && !understood(h) {
			missed = append(missed, QName{nsOf(h), h.Tag})
		}
	}
	if len(missed) == 0 {
		return nil
	}
	names := make([]string, len(missed))
	for i, q := range missed {
		names[i] = q.String()
	}
	f := NewFault(MustUnderstand, "The header(s) "+strings.Join(names, ", ")+
		" marked mustUnderstand were not understood by this endpoint.")
	f.NotUnderstood = missed
	return f
}
