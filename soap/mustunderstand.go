package soap

import (
	"strings"

	"github.com/beevik/etree"
)

// Roles and actors that address a header block to this node (the ultimate receiver).
const (
	RoleNext             = NS12 + "role/next"
	RoleUltimateReceiver = NS12 + "role/ultimateReceiver"
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

// mustUnderstand reports whether h carries mustUnderstand="1" or "true" in the envelope namespace.
func mustUnderstand(v Version, h *etree.Element) bool {
	mu, _ := attrValue(h, v.Namespace(), "mustUnderstand")
	mu = strings.TrimSpace(mu)
	return mu == "1" || mu == "true"
}

// checkMustUnderstand returns a MustUnderstand fault naming every header block addressed to us,
// marked mustUnderstand, that understood does not accept; nil if there is none.
func checkMustUnderstand(v Version, hdr *etree.Element, understood func(*etree.Element) bool) *Fault {
	if hdr == nil {
		return nil
	}
	var missed []QName
	for _, h := range hdr.ChildElements() {
		if targeted(v, h) && mustUnderstand(v, h) && !understood(h) {
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
