package soap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Namespaces of fault subcodes this package produces.
const (
	// NSDispatcher is WCF's dispatcher namespace (InternalServiceFault, DeserializationFailed).
	NSDispatcher = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
	// NSAddressingNone is the namespace WCF uses for addressing faults to requests without WS-A.
	NSAddressingNone = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
)

// Fault actions (wsa:Action of a fault reply).
const (
	// FaultActionSOAP10 is the action of a SOAP fault with WS-Addressing 1.0.
	FaultActionSOAP10 = WSA10 + "/soap/fault"
	// FaultActionWSA10 is the action of a WS-Addressing 1.0 fault (WS-A 1.0 SOAP Binding §6).
	FaultActionWSA10 = WSA10 + "/fault"
	// FaultAction0408 is the fault action of WS-Addressing 2004/08 (every fault).
	FaultAction0408 = WSA0408 + "/fault"
	// FaultActionDispatcher is the action .NET gives InternalServiceFault.
	FaultActionDispatcher = NSDispatcher + "/fault"
)

// InternalServiceFaultReason is the reason of the Receiver fault that answers internal errors.
const InternalServiceFaultReason = "The server was unable to process the request due to an internal error."

// NewFault returns a fault with the given top-level code, reason and subcodes (outermost first).
func NewFault(code FaultCode, reason string, subcodes ...QName) *Fault {
	return &Fault{Code: code, Reason: reason, Subcodes: subcodes}
}

// String names the code as SOAP 1.2 does.
func (c FaultCode) String() string {
	switch c {
	case Sender:
		return "Sender"
	case Receiver:
		return "Receiver"
	case MustUnderstand:
		return "MustUnderstand"
	case VersionMismatch:
		return "VersionMismatch"
	}
	return fmt.Sprintf("FaultCode(%d)", int(c))
}

// soap11Name is the local name of the SOAP 1.1 faultcode for c.
func (c FaultCode) soap11Name() string {
	switch c {
	case Receiver:
		return "Server"
	case MustUnderstand:
		return "MustUnderstand"
	case VersionMismatch:
		return "VersionMismatch"
	}
	return "Client"
}

// String renders a QName in Clark notation, {ns}local.
func (q QName) String() string {
	if q.Space == "" {
		return q.Local
	}
	return "{" + q.Space + "}" + q.Local
}

// internalFault is the answer to an error that is not a *Fault.
func internalFault() *Fault {
	f := NewFault(Receiver, InternalServiceFaultReason, QName{NSDispatcher, "InternalServiceFault"})
	f.Action = FaultActionDispatcher
	return f
}

// asFault turns a handler error into the fault to send; ok is false for internal errors.
func asFault(err error) (*Fault, bool) {
	var f *Fault
	if errors.As(err, &f) && f != nil {
		return f, true
	}
	return internalFault(), false
}

// faultAction is the wsa:Action of a fault reply under the addressing namespace wsa.
func (f *Fault) faultAction(wsa string) string {
	switch {
	case f.Action != "":
		return f.Action
	case wsa == WSA0408:
		return FaultAction0408
	}
	return FaultActionSOAP10
}

// Element builds the s:Fault element (the body child) for version v, using the prefix s for the
// envelope namespace, which the enclosing Envelope must declare.
func (f *Fault) Element(v Version) *etree.Element {
	fe := etree.NewElement("s:Fault")
	if v == V12 {
		code := fe.CreateElement("s:Code")
		code.CreateElement("s:Value").SetText("s:" + f.Code.String())
		parent := code
		for _, sc := range f.Subcodes {
			sub := parent.CreateElement("s:Subcode")
			writeQName(sub.CreateElement("s:Value"), sc)
			parent = sub
		}
		text := fe.CreateElement("s:Reason").CreateElement("s:Text")
		text.CreateAttr("xml:lang", "en")
		text.SetText(f.Reason)
		return fe
	}
	fc := fe.CreateElement("faultcode")
	if len(f.Subcodes) > 0 {
		writeQName(fc, f.Subcodes[0])
	} else {
		fc.SetText("s:" + f.Code.soap11Name())
	}
	fs := fe.CreateElement("faultstring")
	fs.CreateAttr("xml:lang", "en")
	fs.SetText(f.Reason)
	return fe
}

// writeQName writes q as the text of e, declaring its namespace on e with the prefix a.
func writeQName(e *etree.Element, q QName) {
	if q.Space == "" {
		e.SetText(q.Local)
		return
	}
	e.CreateAttr("xmlns:a", q.Space)
	e.SetText("a:" + q.Local)
}

// FaultMessage is the reply envelope carrying f for a request of version v that used the WS-A
// namespace wsa ("" for none) and had the given MessageID.
func FaultMessage(v Version, wsa, relatesTo string, f *Fault) *Message {
	m := &Message{Version: v, Body: f.Element(v)}
	if wsa != "" {
		m.Addressing, m.Action, m.RelatesTo = wsa, f.faultAction(wsa), relatesTo
	}
	if v == V12 {
		for _, q := range f.NotUnderstood {
			nu := etree.NewElement("s:NotUnderstood")
			if q.Space == "" {
				nu.CreateAttr("qname", q.Local)
			} else {
				nu.CreateAttr("xmlns:p", q.Space)
				nu.CreateAttr("qname", "p:"+q.Local)
			}
			m.Headers = append(m.Headers, nu)
		}
	}
	return m
}

// versionMismatchMessage is the reply to a message that is not a SOAP 1.1 or 1.2 envelope: a
// SOAP 1.1 fault carrying the SOAP 1.2 Upgrade header (SOAP 1.2 Part 1, Appendix A).
func versionMismatchMessage(reason string) *Message {
	up := etree.NewElement("u:Upgrade")
	up.CreateAttr("xmlns:u", NS12)
	for i, ns := range []string{NS12, NS11} {
		p := fmt.Sprintf("ns%d", i+1)
		se := up.CreateElement("u:SupportedEnvelope")
		se.CreateAttr("xmlns:"+p, ns)
		se.CreateAttr("qname", p+":Envelope")
	}
	f := NewFault(VersionMismatch, reason)
	return &Message{Version: V11, Headers: []*etree.Element{up}, Body: f.Element(V11)}
}

// ParseFault reads the fault of a SOAP 1.1 or SOAP 1.2 envelope (its Body's Fault child).
// Subcodes are filled from SOAP 1.2 Subcode chains; a SOAP 1.1 faultcode outside the envelope
// namespace is WCF's convention for a subcode and becomes Subcodes[0], with Code Sender (Receiver
// for the dispatcher's InternalServiceFault). Action is the reply's wsa:Action, if any;
// NotUnderstood comes from SOAP 1.2 NotUnderstood header blocks.
func ParseFault(env *etree.Element) (*Fault, error) {
	v, ok := envelopeVersion(env)
	if !ok {
		return nil, ErrVersionMismatch
	}
	ns := v.Namespace()
	body := child(env, ns, "Body")
	if body == nil {
		return nil, errors.New("soap: envelope has no Body")
	}
	fe := child(body, ns, "Fault")
	if fe == nil {
		return nil, errors.New("soap: Body holds no Fault")
	}
	f := &Fault{}
	if hdr := child(env, ns, "Header"); hdr != nil {
		for _, h := range hdr.ChildElements() {
			switch {
			case h.Tag == "Action" && (nsOf(h) == WSA10 || nsOf(h) == WSA0408):
				f.Action = strings.TrimSpace(h.Text())
			case v == V12 && is(h, NS12, "NotUnderstood"):
				if q, ok := resolveQName(h, h.SelectAttrValue("qname", "")); ok {
					f.NotUnderstood = append(f.NotUnderstood, q)
				}
			}
		}
	}
	if v == V12 {
		code := child(fe, NS12, "Code")
		if code == nil {
			return nil, errors.New("soap: SOAP 1.2 Fault has no Code")
		}
		val := child(code, NS12, "Value")
		if val == nil {
			return nil, errors.New("soap: SOAP 1.2 Fault Code has no Value")
		}
		q, _ := resolveQName(val, val.Text())
		c, ok := codeFromQName(q, NS12)
		if !ok {
			return nil, fmt.Errorf("soap: unknown SOAP 1.2 fault code %s", q)
		}
		f.Code = c
		for sub := child(code, NS12, "Subcode"); sub != nil; sub = child(sub, NS12, "Subcode") {
			if sv := child(sub, NS12, "Value"); sv != nil {
				sq, _ := resolveQName(sv, sv.Text())
				f.Subcodes = append(f.Subcodes, sq)
			}
		}
		if r := child(fe, NS12, "Reason"); r != nil {
			if t := child(r, NS12, "Text"); t != nil {
				f.Reason = t.Text()
			}
		}
		return f, nil
	}
	fc := firstChildNamed(fe, "faultcode")
	if fc == nil {
		return nil, errors.New("soap: SOAP 1.1 Fault has no faultcode")
	}
	q, _ := resolveQName(fc, fc.Text())
	if c, ok := codeFromQName(q, NS11); ok {
		f.Code = c
	} else {
		f.Code = Sender
		if q == (QName{NSDispatcher, "InternalServiceFault"}) {
			f.Code = Receiver
		}
		f.Subcodes = []QName{q}
	}
	if fs := firstChildNamed(fe, "faultstring"); fs != nil {
		f.Reason = fs.Text()
	}
	return f, nil
}

// firstChildNamed finds an unqualified child (SOAP 1.1 fault children), tolerating a qualified one.
func firstChildNamed(e *etree.Element, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	return nil
}

// codeFromQName maps a predefined fault code QName of envelope namespace ns. SOAP 1.1 dotted
// codes (Client.Authentication) map to their first part; an unqualified predefined name is
// accepted as lenient input.
func codeFromQName(q QName, ns string) (FaultCode, bool) {
	if q.Space != ns && q.Space != "" {
		return 0, false
	}
	local, _, _ := strings.Cut(q.Local, ".")
	switch local {
	case "Sender", "Client":
		return Sender, true
	case "Receiver", "Server":
		return Receiver, true
	case "MustUnderstand":
		return MustUnderstand, true
	case "VersionMismatch":
		return VersionMismatch, true
	}
	return 0, false
}
