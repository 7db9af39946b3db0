package protocol

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// Command is a decoded MS-WFIM request.
type Command struct {
	Op         Op
	InstanceID uuid.UUID
	Reason     *string            // nil when absent or xsi:nil (Abandon, Suspend, Terminate)
	Identity   *workflow.Identity // nil when absent or xsi:nil (Update)
}

// ReasonText is the reason, "" when nil.
func (c Command) ReasonText() string {
	if c.Reason == nil {
		return ""
	}
	return *c.Reason
}

// Decode reads the operation's body wrapper. Children are matched by local name in the
// contract namespace (or no namespace), in any order; unknown children are ignored.
// Validation follows docs/protocol.md ("Validation order"): instanceId first, then (Suspend only) reason.
func Decode(op Op, wrapper *etree.Element) (Command, error) {
	cmd := Command{Op: op}
	if wrapper == nil || wrapper.Tag != op.Name || (wrapper.NamespaceURI() != NS && wrapper.NamespaceURI() != "") {
		return cmd, deserializationFault(op, "", fmt.Sprintf("expecting element '%s' from namespace '%s'", op.Name, NS))
	}
	children := map[string]*etree.Element{}
	for _, c := range wrapper.ChildElements() {
		if ns := c.NamespaceURI(); ns != NS && ns != "" {
			continue
		}
		if !isParam(op, c.Tag) {
			continue
		}
		if children[c.Tag] != nil {
			return cmd, deserializationFault(op, c.Tag, "the element occurs more than once")
		}
		children[c.Tag] = c
	}

	idElem := children["instanceId"]
	if idElem == nil {
		return cmd, deserializationFault(op, "instanceId", "the element is missing")
	}
	if soap.IsNil(idElem) {
		return cmd, deserializationFault(op, "instanceId", "the value cannot be null")
	}
	text, err := soap.TextContent(idElem)
	if err != nil {
		return cmd, deserializationFault(op, "instanceId", err.Error())
	}
	if cmd.InstanceID, err = ParseGUID(text); err != nil {
		return cmd, deserializationFault(op, "instanceId", fmt.Sprintf("%q is not a valid Guid: %v", text, err))
	}

	switch op.Param {
	case ReasonParam:
		if e := children["reason"]; e != nil && !soap.IsNil(e) {
			r, err := soap.TextContent(e)
			if err != nil {
				return cmd, deserializationFault(op, "reason", err.Error())
			}
			cmd.Reason = &r
		}
		if op.Kind == Suspend && strings.TrimSpace(cmd.ReasonText()) == "" {
			return cmd, soap.NewFault(soap.Sender, fmt.Sprintf(
				"%s requires a reason: the reason element is missing, nil or empty.", op.Name))
		}
	case IdentityParam:
		if e := children["updatedDefinitionIdentity"]; e != nil && !soap.IsNil(e) {
			id, err := decodeIdentity(e)
			if err != nil {
				return cmd, deserializationFault(op, "updatedDefinitionIdentity", err.Error())
			}
			cmd.Identity = &id
		}
	}
	return cmd, nil
}

func isParam(op Op, name string) bool {
	switch name {
	case "instanceId":
		return true
	case "reason":
		return op.Param == ReasonParam
	case "updatedDefinitionIdentity":
		return op.Param == IdentityParam
	}
	return false
}

// decodeIdentity reads a WorkflowIdentity data contract: name, package, version, each optional
// and nillable, in the System.Activities namespace (tolerating the contract namespace or none).
func decodeIdentity(e *etree.Element) (workflow.Identity, error) {
	var id workflow.Identity
	seen := map[string]bool{}
	for _, c := range e.ChildElements() {
		if ns := c.NamespaceURI(); ns != ActivitiesNS && ns != NS && ns != "" {
			continue
		}
		var field *string
		switch c.Tag {
		case "name":
			field = &id.Name
		case "package":
			field = &id.Package
		case "version":
			field = &id.Version
		default:
			continue
		}
		if seen[c.Tag] {
			return id, fmt.Errorf("WorkflowIdentity member '%s' occurs more than once", c.Tag)
		}
		seen[c.Tag] = true
		if soap.IsNil(c) {
			continue
		}
		t, err := soap.TextContent(c)
		if err != nil {
			return id, fmt.Errorf("WorkflowIdentity member '%s': %v", c.Tag, err)
		}
		*field = t
	}
	if id.Version != "" {
		if _, err := workflow.ParseVersion(id.Version); err != nil {
			return id, err
		}
		id.Version = strings.TrimSpace(id.Version)
	}
	return id, nil
}

// deserializationFault is WCF's formatter fault: Sender, subcode DeserializationFailed.
func deserializationFault(op Op, param, detail string) *soap.Fault {
	msg := fmt.Sprintf("The formatter threw an exception while trying to deserialize the message: "+
		"error in deserializing the body of the request message for operation '%s': %s.", op.Name, detail)
	if param != "" {
		msg = fmt.Sprintf("The formatter threw an exception while trying to deserialize the message: "+
			"there was an error while trying to deserialize parameter %s:%s: %s.", NS, param, detail)
	}
	return soap.NewFault(soap.Sender, msg, soap.QName{Space: DispatcherNS, Local: "DeserializationFailed"})
}
