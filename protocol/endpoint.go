package protocol

import (
	"context"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/soap"
)

// Manager applies decoded commands to instances. The host implements it: under the
// instance's lock it reads the instance's Status, calls Decide, applies the Decision and
// commits durably before returning. Protocol faults are returned as *soap.Fault.
type Manager interface {
	Manage(ctx context.Context, cmd Command) error
}

// Operations returns the 13 MS-WFIM operations bound to m, ready for a soap.Endpoint.
func Operations(m Manager) []soap.Operation {
	ops := make([]soap.Operation, 0, len(Ops))
	for _, op := range Ops {
		ops = append(ops, soap.Operation{
			Action:      op.Action(),
			ReplyAction: op.ReplyAction(),
			Element:     soap.QName{Space: NS, Local: op.Name},
			Handle: func(ctx context.Context, req *soap.Request) (*etree.Element, error) {
				cmd, err := Decode(op, req.Body)
				if err != nil {
					return nil, err
				}
				cmd.Principal = Principal(req)
				if err := m.Manage(ctx, cmd); err != nil {
					return nil, err
				}
				return ResponseElement(op), nil
			},
		})
	}
	return ops
}

// ResponseElement is the empty reply wrapper <{Op}Response xmlns="…WorkflowServices"/>.
func ResponseElement(op Op) *etree.Element {
	e := etree.NewElement(op.Name + "Response")
	e.CreateAttr("xmlns", NS)
	return e
}

// Principal names who sent a request for the tracking trail: the HTTP user when the
// request carries credentials, else "anonymous", with the peer address.
func Principal(req *soap.Request) string {
	if req == nil || req.HTTP == nil {
		return "anonymous"
	}
	user := "anonymous"
	if u, _, ok := req.HTTP.BasicAuth(); ok && u != "" {
		user = u
	}
	return user + "@" + req.HTTP.RemoteAddr
}
