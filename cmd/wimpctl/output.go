package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// format is how a command prints what it read: -o table (the default), json or wide.
type format string

const (
	formatTable format = "table"
	formatJSON  format = "json"
	formatWide  format = "wide"
)

// formatValue is the -o/--output flag.
type formatValue struct{ f *format }

func (v formatValue) String() string {
	if v.f == nil {
		return ""
	}
	return string(*v.f)
}

func (v formatValue) Set(s string) error {
	switch f := format(s); f {
	case formatTable, formatJSON, formatWide:
		*v.f = f
		return nil
	}
	return fmt.Errorf("%q is not table, json or wide", s)
}

// jsonFlag is --json, kept as the synonym of -o json.
type jsonFlag struct{ f *format }

func (j jsonFlag) String() string   { return "false" }
func (j jsonFlag) IsBoolFlag() bool { return true }

func (j jsonFlag) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if on {
		*j.f = formatJSON
	}
	return err
}

// outputFlags defines -o/--output and --json on fs; wide says what -o wide adds to the table.
func outputFlags(fs *flag.FlagSet, wide string) *format {
	f := formatTable
	usage := "print `FORMAT`: table, json or wide (" + wide + ")"
	fs.Var(formatValue{&f}, "o", usage)
	fs.Var(formatValue{&f}, "output", usage)
	fs.Var(jsonFlag{&f}, "json", "the same as -o json")
	return &f
}

// timeLayout is how tables show times: RFC 3339 in UTC to the millisecond, which the filter
// flags (--created-after ...) read back.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// table aligns cells in columns two spaces apart, as text/tabwriter would; unlike it, a table
// flushed in batches (track --follow) keeps the column widths of the rows before: a wider cell
// widens its column for the rows after it, and no column narrows. A row's last cell is not
// padded and does not widen its column.
type table struct {
	w      io.Writer
	widths []int      // by column, over every row so far
	rows   [][]string // not yet written
}

func newTable(w io.Writer) *table { return &table{w: w} }

// row adds a row of cells (already printable).
func (t *table) row(cells ...string) {
	for i := 0; i < len(cells)-1; i++ {
		if i == len(t.widths) {
			t.widths = append(t.widths, 0)
		}
		t.widths[i] = max(t.widths[i], utf8.RuneCountInString(cells[i]))
	}
	t.rows = append(t.rows, cells)
}

// flush writes the rows added since the last flush.
func (t *table) flush() error {
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	t.rows = nil
	_, err := io.WriteString(t.w, b.String())
	return err
}

// cell is a value from the server as a table cell: printable, and "-" when empty so that every
// row has every column.
func cell(s string) string { return dash(printable(s)) }

// dash is an already printable cell: "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// timeCell is a time as a table cell ("-" for none).
func timeCell(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// clip shortens s to n characters, the last one an ellipsis, for a table cell that -o wide
// shows whole. It cuts between characters and keeps the bytes before the cut as they are (so
// printable still shows a byte that is not UTF-8 as \xNN).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	kept := 0
	for i := range s {
		if kept == n-1 {
			return s[:i] + "…"
		}
		kept++
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}
