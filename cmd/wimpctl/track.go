package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// dataWidth is how much of a record's data a table shows (-o wide: all of it).
const dataWidth = 60

func init() {
	register(&command{
		name: "track", args: "ID", group: groupHosting, flags: trackFlags,
		summary: "print the instance's tracking records [--follow]",
		doc: `Prints the tracking records of the instance ID (GetTrackingRecords): the audit trail of
its lifecycle, activities, bookmark resumptions and who asked. DATA is a WriteLine's text, or
the record's JSON data (a bookmark's payload, a management operation's request id), cut at
60 characters in a table. An unknown id is the InstanceNotFound fault, as with get.

With --follow, records are printed as they are written: the instance and its new records are
read every --poll-interval until the instance has completed and a read after that brings no new
record (or until wimpctl is interrupted). -o json then prints one JSON record per line.`,
	})
}

func trackFlags(fs *flag.FlagSet) action {
	out := outputFlags(fs, "wide shows DATA whole")
	follow := fs.Bool("follow", false, "keep printing new records until the instance has completed")
	every := fs.Duration("poll-interval", 500*time.Millisecond, "with --follow, how often to read new records")
	return func(ctx context.Context, c *client, args []string) error {
		id, err := parseID(args[0])
		if err != nil {
			return err
		}
		if *every <= 0 {
			return usagef("--poll-interval must be positive")
		}
		p := &recordPrinter{w: c.out, format: *out, stream: *follow}
		if err := c.track(ctx, id, *follow, *every, p); err != nil {
			return err
		}
		return p.end()
	}
}

// track reads the instance's records and hands them to p: all of them once, or with follow
// until the instance has completed and a read after that brings nothing new.
func (c *client) track(ctx context.Context, id uuid.UUID, follow bool, every time.Duration, p *recordPrinter) error {
	var after int64
	for first := true; ; first = false {
		// Read the instance before its records: when it was completed then, the records read
		// next include its last ones.
		completed := false
		var instErr error
		if follow {
			inst, err := c.hosting.GetInstance(ctx, id)
			switch {
			case err == nil:
				completed = inst.State == workflow.Completed
			case isInstanceNotFound(err):
				// Never created, or purged (its records stay): none will come.
				completed, instErr = true, err
			default:
				return err
			}
		}
		recs, err := c.hosting.TrackingRecords(ctx, id, after)
		if err != nil {
			return err
		}
		if first && len(recs) == 0 {
			// GetTrackingRecords answers an unknown id with no records (records outlive a
			// purge); GetInstance tells whether the instance exists.
			if !follow {
				_, instErr = c.hosting.GetInstance(ctx, id)
			}
			if instErr != nil {
				return instErr
			}
		}
		if err := p.print(recs); err != nil {
			return err
		}
		if len(recs) > 0 {
			after = recs[len(recs)-1].Seq
		}
		if !follow || (completed && len(recs) == 0) {
			return nil
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isInstanceNotFound reports whether err is the InstanceNotFound fault.
func isInstanceNotFound(err error) bool {
	var f *soap.Fault
	if !errors.As(err, &f) {
		return false
	}
	for _, q := range f.Subcodes {
		if q.Space == protocol.NS && q.Local == "InstanceNotFound" {
			return true
		}
	}
	return false
}

// recordPrinter prints tracking records as they are read: a table (its header first, each
// batch aligned and flushed as it comes), a JSON array, or with stream one JSON record per line.
type recordPrinter struct {
	w      io.Writer
	format format
	stream bool

	tw   *table
	recs []hosting.Record // the JSON array, printed by end
}

func (p *recordPrinter) print(recs []hosting.Record) error {
	switch {
	case p.format == formatJSON && p.stream:
		for _, r := range recs {
			line, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(p.w, "%s\n", line); err != nil {
				return err
			}
		}
		return nil
	case p.format == formatJSON:
		p.recs = append(p.recs, recs...)
		return nil
	}
	if p.tw == nil {
		p.tw = newTable(p.w)
		p.tw.row("SEQ", "TIME", "KIND", "NAME", "ACTIVITY", "REASON", "PRINCIPAL", "DATA")
	}
	for _, r := range recs {
		data := recordData(r)
		if p.format != formatWide {
			data = clip(data, dataWidth)
		}
		p.tw.row(strconv.FormatInt(r.Seq, 10), timeCell(r.Time), cell(r.Kind), cell(r.Name), cell(r.Activity),
			cell(r.Reason), cell(r.Principal), cell(data))
	}
	return p.tw.flush()
}

// end finishes the output: the JSON array, when that is the format.
func (p *recordPrinter) end() error {
	if p.format == formatJSON && !p.stream {
		if p.recs == nil {
			p.recs = []hosting.Record{}
		}
		return writeJSON(p.w, p.recs)
	}
	return nil
}

// recordData is what the DATA column shows: a WriteLine record's text (its data is
// {"text": ...}, engine/FORMAT.md), otherwise the data as the server sent it.
func recordData(r hosting.Record) string {
	if r.Kind == string(workflow.ActivityRecord) && r.Name == "WriteLine" {
		var d struct {
			Text *string `json:"text"`
		}
		if json.Unmarshal([]byte(r.Data), &d) == nil && d.Text != nil {
			return *d.Text
		}
	}
	return r.Data
}
