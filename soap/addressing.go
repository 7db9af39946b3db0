package soap

import (
	"strings"

	"github.com/beevik/etree"
)

// Anonymous addresses of both WS-Addressing versions; either is accepted in either namespace.
const (
	AnonymousWSA10   = WSA10 + "/anonymous"
	AnonymousWSA0408 = WSA0408 + "/role/anonymous"
)

// wsaHeaders are the WS-Addressing header blocks this package processes.
var wsaHeaders = map[string]bool{
	"Action": true, "MessageID": true, "To": true, "From": true,
	"ReplyTo": true, "FaultTo": true, "RelatesTo": true,
}

// singleWSA are the headers that may appear at most once.
var singleWSA = []string{"Action", "MessageID", "To", "ReplyTo", "FaultTo"}

// addressing is what the WS-Addressing headers of a request say.
type addressing struct {
	ns        string // WSA10, WSA0408 or "" when the request had no WS-A header
	blocks    map[string][]*etree.Element
	known     map[*etree.Element]bool // every block in blocks
	action    string
	hasAction bool
	messageID string // "" unless exactly one MessageID
}

// readAddressing picks the WS-A namespace (the first one seen among the header blocks) and
// collects that namespace's understood headers. It does not validate them (see validate).
func readAddressing(hdr *etree.Element) *addressing {
	a := &addressing{blocks: map[string][]*etree.Element{}, known: map[*etree.Element]bool{}}
	if hdr == nil {
		return a
	}
	for _, h := range hdr.ChildElements() {
		ns := nsOf(h)
		if a.ns == "" && (ns == WSA10 || ns == WSA0408) {
			a.ns = ns
		}
		if ns == a.ns && a.ns != "" && wsaHeaders[h.Tag] {
			a.blocks[h.Tag] = append(a.blocks[h.Tag], h)
			a.known[h] = true
		}
	}
	if ids := a.blocks["MessageID"]; len(ids) == 1 {
		a.messageID = strings.TrimSpace(ids[0].Text())
	}
	if acts := a.blocks["Action"]; len(acts) > 0 {
		a.hasAction = true
		a.action = strings.TrimSpace(acts[0].Text())
	}
	return a
}

// understood reports whether h is one of the WS-A header blocks this package processes.
func (a *addressing) understood(h *etree.Element) bool {
	return a.known[h]
}

// validate applies the WS-A rules: cardinality, a non-empty Action, and anonymous-only
// ReplyTo/FaultTo.
func (a *addressing) validate() *Fault {
	for _, name := range singleWSA {
		if len(a.blocks[name]) > 1 {
			return a.fault("InvalidCardinality", "The message has more than one wsa:"+name+" header.")
		}
	}
	if a.hasAction && a.action == "" {
		return a.fault("", "The wsa:Action header is empty.")
	}
	for _, name := range []string{"ReplyTo", "FaultTo"} {
		for _, epr := range a.blocks[name] {
			addr := child(epr, a.ns, "Address")
			if addr == nil {
				return a.fault("MissingAddressInEPR", "The wsa:"+name+" header has no wsa:Address.")
			}
			switch u := strings.TrimSpace(addr.Text()); u {
			case AnonymousWSA10, AnonymousWSA0408:
			default:
				return a.fault("OnlyAnonymousAddressSupported",
					"The wsa:"+name+" address '"+u+"' is not supported: replies are sent only on the HTTP response (anonymous address).")
			}
		}
	}
	return nil
}

// fault is an invalid-addressing-header fault in the request's WS-A namespace: WS-A 1.0
// [InvalidAddressingHeader, sub] (sub omitted when ""), 2004/08 [InvalidMessageInformationHeader].
func (a *addressing) fault(sub, reason string) *Fault {
	return addressingFault(a.ns, sub, reason)
}

func addressingFault(ns, sub, reason string) *Fault {
	if ns == WSA0408 {
		f := NewFault(Sender, reason, QName{WSA0408, "InvalidMessageInformationHeader"})
		f.Action = FaultAction0408
		return f
	}
	f := NewFault(Sender, reason, QName{WSA10, "InvalidAddressingHeader"})
	if sub != "" {
		f.Subcodes = append(f.Subcodes, QName{WSA10, sub})
	}
	f.Action = FaultActionWSA10
	return f
}

// actionNotSupported is the fault for an action no operation has.
func actionNotSupported(wsa, action string) *Fault {
	ns, act := wsa, FaultActionWSA10
	switch wsa {
	case "":
		ns, act = NSAddressingNone, ""
	case WSA0408:
		act = FaultAction0408
	}
	f := NewFault(Sender, "The message with Action '"+action+"' cannot be processed at the receiver: no operation of this endpoint has that action.",
		QName{ns, "ActionNotSupported"})
	f.Action = act
	return f
}
