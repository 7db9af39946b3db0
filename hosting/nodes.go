package hosting

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// GetNodes: the live nodes sharing the server's store (one on SQLite), each with the number of
// instance leases it holds, and which of them answered.

func getNodes(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	nodes, err := h.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	for _, n := range nodes {
		e := reply.CreateElement("node")
		el(e, "id", n.ID)
		el(e, "name", n.Name)
		optEl(e, "advertise", n.Advertise)
		optEl(e, "info", n.Info)
		el(e, "registered", n.Registered.UTC().Format(time.RFC3339Nano))
		el(e, "renewed", n.Renewed.UTC().Format(time.RFC3339Nano))
		el(e, "expiry", n.Expiry.UTC().Format(time.RFC3339Nano))
		el(e, "instances", strconv.Itoa(n.Instances))
		el(e, "self", strconv.FormatBool(n.Self))
	}
	return reply, nil
}

// Nodes lists the live nodes sharing the server's store.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	reply, err := c.call(ctx, OpGetNodes, nil)
	if err != nil {
		return nil, err
	}
	out := []Node{}
	for _, e := range reply.SelectElements("node") {
		n := Node{ID: childText(e, "id"), Name: childText(e, "name"), Advertise: childText(e, "advertise"), Info: childText(e, "info")}
		for _, t := range []struct {
			name string
			v    *time.Time
		}{{"registered", &n.Registered}, {"renewed", &n.Renewed}, {"expiry", &n.Expiry}} {
			if *t.v, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(childText(e, t.name))); err != nil {
				return nil, fmt.Errorf("node %s: %w", t.name, err)
			}
		}
		held, err := parseLong(e, "instances", "node")
		if err != nil {
			return nil, err
		}
		n.Instances = int(held)
		if n.Self, err = strconv.ParseBool(strings.TrimSpace(childText(e, "self"))); err != nil {
			return nil, fmt.Errorf("node self: %w", err)
		}
		out = append(out, n)
	}
	return out, nil
}
