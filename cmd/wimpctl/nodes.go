package main

import (
	"context"
	"flag"
	"strconv"
)

func init() {
	register(&command{
		name: "nodes", group: groupHosting, flags: nodesFlags,
		summary: "list the live nodes sharing the server's store",
		doc: `Lists the live nodes sharing the server's store (GetNodes): each node's --node-id, the
URL other nodes forward its instances' operations to, how many instances' leases it holds and
when it last renewed its lease; * marks the node that answered. On SQLite there is one. With
-o wide: its registration id, process, registration time and when its leases lapse unless
renewed.`,
	})
}

// nodesFlags is nodes: the live nodes and the instance leases each holds.
func nodesFlags(fs *flag.FlagSet) action {
	out := outputFlags(fs, "wide adds each node's registration id, process, registration time and lease expiry")
	return func(ctx context.Context, c *client, _ []string) error {
		nodes, err := c.hosting.Nodes(ctx)
		if err != nil {
			return err
		}
		if *out == formatJSON {
			return writeJSON(c.out, nodes)
		}
		wide := *out == formatWide
		tw := newTable(c.out)
		header := []string{"NODE", "ADVERTISE", "INSTANCES", "RENEWED"}
		if wide {
			header = append(header, "ID", "INFO", "REGISTERED", "EXPIRY")
		}
		tw.row(header...)
		for _, n := range nodes {
			name := cell(n.Name)
			if n.Self {
				name += " *"
			}
			cells := []string{name, cell(n.Advertise), strconv.Itoa(n.Instances), timeCell(n.Renewed)}
			if wide {
				cells = append(cells, cell(n.ID), cell(n.Info), timeCell(n.Registered), timeCell(n.Expiry))
			}
			tw.row(cells...)
		}
		return tw.flush()
	}
}
