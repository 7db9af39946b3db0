package soap

import "fmt"

// Parser limits. Every request is checked against them by a streaming pre-pass before any of it
// is built into a DOM, so parsing costs time linear in the body and memory bounded by a small
// multiple of it, whatever the body holds. A request that exceeds one gets a Sender fault whose
// reason names the limit (see LimitError). MS-WFIM and hosting requests are a few KB with a few
// dozen elements; the limits leave room for WS-Security headers (signatures, tokens, timestamps)
// many times that size.
const (
	// MaxDepth is the deepest element nesting accepted; the Envelope is level 1, the operation
	// element level 3.
	MaxDepth = 64
	// MaxElements is the number of elements a message may contain.
	MaxElements = 8192
	// MaxNodes bounds the nodes of a message's tree: elements, text segments (character data
	// between two tags, CDATA sections), comments and processing instructions together.
	MaxNodes = 4 * MaxElements
	// MaxAttributesPerElement bounds the attributes of one element, namespace declarations
	// included.
	MaxAttributesPerElement = 256
	// MaxAttributes bounds the attributes of a whole message, namespace declarations included.
	MaxAttributes = 2 * MaxElements
	// MaxNameBytes bounds an element or attribute name, prefix and colon included, in bytes.
	MaxNameBytes = 1024
	// MaxAttributeValueBytes bounds one attribute value, in bytes after references are replaced.
	MaxAttributeValueBytes = 64 << 10
)

// limits is one set of parser limits; 0 means unlimited.
type limits struct {
	depth, elements, nodes, attrsPerElement, attrs, nameBytes, attrValueBytes int
}

// requestLimits apply to every request an Endpoint reads and to ParseEnvelope.
var requestLimits = limits{
	depth: MaxDepth, elements: MaxElements, nodes: MaxNodes, attrsPerElement: MaxAttributesPerElement,
	attrs: MaxAttributes, nameBytes: MaxNameBytes, attrValueBytes: MaxAttributeValueBytes,
}

// replyLimits apply to the replies a Client reads (bounded by Client.MaxReplyBytes): a server's
// list of instances or tracking records can hold any number of elements, so only the limits
// that keep the cost per byte constant remain.
var replyLimits = limits{
	depth: MaxDepth, attrsPerElement: MaxAttributesPerElement, nameBytes: MaxNameBytes,
}

// LimitError is the error for a message that exceeds one of the parser limits.
type LimitError struct {
	Limit string // the limit's name: "MaxDepth", "MaxElements", ...
	Value int    // the limit
	What  string // what was counted, e.g. "elements"
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the message exceeds the parser limit %s: more than %d %s", e.Limit, e.Value, e.What)
}
