// Package soap reads and writes SOAP 1.1 and SOAP 1.2 envelopes over HTTP: version detection,
// action resolution, WS-Addressing (1.0 and 2004/08), mustUnderstand processing and faults.
// It knows nothing of workflows: an Endpoint dispatches each request to one of its Operations.
package soap

import (
	"context"
	"net/http"

	"github.com/beevik/etree"
)

// Envelope namespaces.
const (
	NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NS12 = "http://www.w3.org/2003/05/soap-envelope"
)

// WS-Addressing namespaces.
const (
	WSA10   = "http://www.w3.org/2005/08/addressing"
	WSA0408 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
)

// Version is the SOAP version of a message.
type Version int

const (
	V11 Version = 11
	V12 Version = 12
)

// QName is a namespace-qualified name.
type QName struct{ Space, Local string }

// FaultCode is the top-level SOAP fault code, named as in SOAP 1.2.
// SOAP 1.1 writes Sender as Client and Receiver as Server.
type FaultCode int

const (
	Sender FaultCode = iota
	Receiver
	MustUnderstand
	VersionMismatch
)

// Fault is a SOAP fault. It is an error so operations can return it.
// On the wire SOAP 1.2 nests Subcodes in order; SOAP 1.1 writes Subcodes[0] as faultcode
// (WCF's convention) or the top-level code when there is no subcode.
type Fault struct {
	Code     FaultCode
	Subcodes []QName
	Reason   string

	// NotUnderstood lists the header blocks of a MustUnderstand fault; SOAP 1.2 writes one
	// NotUnderstood header per entry, SOAP 1.1 has no place for them.
	NotUnderstood []QName
	// Action, if set, is the wsa:Action of the fault reply; "" means the default fault action of
	// the request's WS-Addressing version (WSA10 "/soap/fault", WSA0408 "/fault").
	Action string
}

func (f *Fault) Error() string { return f.Reason }

// Request is one parsed SOAP request, handed to an Operation.
type Request struct {
	Version    Version
	Action     string         // the resolved request action
	Addressing string         // "" (no WS-Addressing headers), WSA10 or WSA0408
	MessageID  string         // wsa:MessageID, "" if absent
	Header     *etree.Element // the Header element, nil if absent
	Body       *etree.Element // the body's first child element (the operation wrapper), nil if the body is empty
	HTTP       *http.Request
}

// Operation is one request/reply operation of an Endpoint.
type Operation struct {
	Action      string // request action URI (wsa:Action / SOAPAction / SOAP 1.2 action=)
	ReplyAction string // reply action URI
	Element     QName  // the body wrapper element of the request
	// Handle processes the request and returns the reply body element (e.g. an empty
	// <RunResponse xmlns="..."/>). A returned *Fault (checked with errors.As) is sent as that fault;
	// any other error is logged and answered with a Receiver fault that reveals nothing internal.
	Handle func(ctx context.Context, req *Request) (*etree.Element, error)
}
