package protocol

import (
	"context"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
)

// Manager applies management commands to instances: the host. Under the instance's lock it
// asks the command's rules (Decide over the state table) for a decision, applies it and
// commits durably before returning; refusals are *host.Error values.
type Manager interface {
	Authorize(ctx context.Context, op string, need host.Role) error
	Manage(ctx context.Context, cmd host.Command) error
}

// Operations returns the 13 MS-WFIM operations bound to m, ready for a soap.Endpoint. The
// principal recorded with each command is the one the request's context carries.
func Operations(m Manager) []soap.Operation {
	ops := make([]soap.Operation, 0, len(Ops))
	for _, op := range Ops {
		ops = append(ops, soap.Operation{
			Action:      op.Action(),
			ReplyAction: op.ReplyAction(),
			Element:     soap.QName{Space: NS, Local: op.Name},
			Handle: func(ctx context.Context, req *soap.Request) (*etree.Element, error) {
				// Authorized before the body is read, as WCF does: a caller without the
				// role learns nothing from the validation faults.
				if err := m.Authorize(ctx, op.Name, op.Requires()); err != nil {
					return nil, Fault(err)
				}
				cmd, err := Decode(op, req.Body)
				if err != nil {
					return nil, err
				}
				if err := m.Manage(ctx, cmd.Host()); err != nil {
					return nil, Fault(err)
				}
				return ResponseElement(op), nil
			},
		})
	}
	return ops
}

// Host is the command in the host's vocabulary, decided by the MS-WFIM state table.
func (c Command) Host() host.Command {
	return host.Command{Instance: c.InstanceID, Operation: c.Op.Name, Reason: c.ReasonText(), Requires: c.Op.Requires(),
		Rules: func(cond host.Condition) host.Decision { return Decide(c, cond) }}
}

// ResponseElement is the empty reply wrapper <{Op}Response xmlns="…WorkflowServices"/>.
func ResponseElement(op Op) *etree.Element {
	e := etree.NewElement(op.Name + "Response")
	e.CreateAttr("xmlns", NS)
	return e
}
