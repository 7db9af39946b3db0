package engine

import (
	"errors"
	"strings"
	"testing"
)

// Expected values follow the semantics in FORMAT.md: Values is evaluated once, when the
// activity starts, and must yield a list (else InvalidOperationError); ForEach runs the body
// once per item in order, ParallelForEach schedules every body at once (interleaved, FIFO, as
// Parallel) and checks its CompletionCondition after each body that closes. A computed
// bookmark name must be a non-empty String not already pending (else BookmarkError).

const listVars = `<Variables><Variable Name="i" Type="Number"/><Variable Name="s" Type="String"/>` +
	`<Variable Name="o" Type="Object" Default="[[1, 2, 3.5]]"/></Variables>`

const cancelableForEach = `<ForEach Id="f" Values="[['a', 'b']]" Variable="x"><CancellationScope><Receive Bookmark="['item/' + x]"/>` +
	`<CancellationScope.CancellationHandler><WriteLine Text="['canceled ' + x]"/></CancellationScope.CancellationHandler></CancellationScope></ForEach>`

const waitingForEach = `<ForEach Values="[['a', 'b']]" Variable="x"><Sequence><Receive Bookmark="['item/' + x]"/>` +
	`<WriteLine Text="['got ' + x]"/></Sequence></ForEach>`

var forEachCases = []activityCase{
	{
		name:    "ForEach runs the body once per item, in order, with the loop variable",
		body:    `<ForEach Values="[['a', 'b', 'c']]" Variable="x"><WriteLine Text="[x]"/></ForEach>`,
		results: "Completed:Closed", lines: "a|b|c",
	},
	{
		name:    "ForEach over a variable's list",
		decls:   listVars,
		body:    `<ForEach Values="[o]" Variable="x"><Assign To="i" Value="[i + x]"/></ForEach>`,
		results: "Completed:Closed", vars: vars("i", 6.5),
	},
	{
		name:    "the collection is evaluated once, at the start",
		decls:   listVars,
		body:    `<ForEach Values="[o]" Variable="x"><Sequence><Assign To="o" Value="[[]]"/><WriteLine Text="[string(x)]"/></Sequence></ForEach>`,
		results: "Completed:Closed", lines: "1|2|3.5", vars: vars("o", []any{}),
	},
	{
		name:    "an empty collection: the body never runs",
		body:    `<ForEach Values="[[]]" Variable="x"><WriteLine Text="body"/></ForEach>`,
		results: "Completed:Closed",
	},
	{
		name:    "Values from a range",
		body:    `<ForEach Values="[1..3]" Variable="x"><WriteLine Text="[string(x)]"/></ForEach>`,
		results: "Completed:Closed", lines: "1|2|3",
	},
	{
		name:    "ForEach without a Variable repeats the body",
		decls:   listVars,
		body:    `<ForEach Values="[o]"><Assign To="i" Value="[i + 1]"/></ForEach>`,
		results: "Completed:Closed", vars: vars("i", 3),
	},
	{
		name:    "nested ForEach",
		body:    `<ForEach Values="[[1, 2]]" Variable="x"><ForEach Values="[['a', 'b']]" Variable="y"><WriteLine Text="[string(x) + y]"/></ForEach></ForEach>`,
		results: "Completed:Closed", lines: "1a|1b|2a|2b",
	},
	{
		name:    "Values that is an object raises InvalidOperationError",
		decls:   `<Variables><Variable Name="o" Type="Object" Default="[{'a': 1}]"/></Variables>`,
		body:    `<ForEach Id="f" Values="[o]" Variable="x"><WriteLine Text="body"/></ForEach>`,
		results: "UnhandledException:InvalidOperationError@f",
	},
	{
		name:    "Values that is null raises InvalidOperationError",
		decls:   counterVars,
		body:    `<ForEach Id="f" Values="[o]" Variable="x"><WriteLine Text="body"/></ForEach>`,
		results: "UnhandledException:InvalidOperationError@f",
	},
	{
		name:  "... which is catchable",
		decls: `<Variables><Variable Name="o" Type="Object" Default="'text'"/></Variables>`,
		body: `<TryCatch><Try><ForEach Id="f" Values="[o]" Variable="x"><WriteLine Text="body"/></ForEach></Try>` +
			`<Catch Exception="InvalidOperationError"><WriteLine Text="not a list"/></Catch></TryCatch>`,
		results: "Completed:Closed", lines: "not a list",
	},
	{
		name:    "a body that waits: one item at a time",
		body:    waitingForEach,
		actions: []action{resume("item/b", nil), resume("item/a", nil)},
		results: `Idle|error:engine: bookmark not found: "item/b"|Idle|Idle`,
		lines:   "got a", bookmarks: "item/b",
	},
	{
		name:    "a body that waits: to the end",
		body:    waitingForEach,
		actions: []action{resume("item/a", nil), resume("item/b", nil)},
		results: "Idle|Idle|Completed:Closed", lines: "got a|got b",
	},
	{
		name:    "Cancel during a ForEach: the current body's handler runs, the rest never",
		body:    cancelableForEach,
		actions: []action{cancel()},
		results: "Idle|Completed:Canceled", lines: "canceled a",
	},
	{
		name:    "Terminate during a ForEach: no handler",
		body:    cancelableForEach,
		actions: []action{terminate("stop")},
		results: "Idle|Completed:Terminated",
	},
	{
		name:      "ParallelForEach schedules every body at once, each with its item",
		body:      `<ParallelForEach Values="[['ann', 'bob', 'cy']]" Variable="r"><Receive Bookmark="['approve/' + r]"/></ParallelForEach>`,
		results:   "Idle",
		bookmarks: "approve/ann|approve/bob|approve/cy",
	},
	{
		name: "ParallelForEach bodies interleave (FIFO)",
		body: `<ParallelForEach Values="[['a', 'b']]" Variable="r"><Sequence><WriteLine Text="['start ' + r]"/>` +
			`<WriteLine Text="['end ' + r]"/></Sequence></ParallelForEach>`,
		results: "Completed:Closed", lines: "start a|start b|end a|end b",
	},
	{
		name: "ParallelForEach bodies complete in any order",
		body: `<ParallelForEach Values="[['a', 'b']]" Variable="r"><Sequence><Receive Bookmark="['approve/' + r]"/>` +
			`<WriteLine Text="[r + ' done']"/></Sequence></ParallelForEach>`,
		actions: []action{resume("approve/b", nil), resume("approve/a", nil)},
		results: "Idle|Idle|Completed:Closed", lines: "b done|a done",
	},
	{
		name:  "ParallelForEach CompletionCondition: when it holds the remaining bodies are canceled",
		decls: counterVars,
		body: `<ParallelForEach Id="p" Values="[['a', 'b', 'c']]" Variable="r" CompletionCondition="[i >= 2]">` +
			`<Sequence><Receive Id="w" Bookmark="['approve/' + r]"/><Assign To="i" Value="[i + 1]"/></Sequence></ParallelForEach>`,
		actions:   []action{resume("approve/c", nil), resume("approve/a", nil)},
		results:   "Idle|Idle|Completed:Closed",
		vars:      vars("i", 2),
		states:    []string{"p", "w"},
		wantState: "p:Executing|w:Executing|w:Executing|w:Executing|w:Closed|w:Closed|w:Canceled|p:Closed",
	},
	{
		name:    "ParallelForEach over an empty list closes at once",
		body:    `<ParallelForEach Values="[[]]" Variable="r"><Receive Bookmark="['approve/' + r]"/></ParallelForEach>`,
		results: "Completed:Closed",
	},
	{
		name:    "ParallelForEach Values not a list",
		body:    `<ParallelForEach Id="p" Values="[nil]" Variable="r"><WriteLine Text="body"/></ParallelForEach>`,
		results: "UnhandledException:InvalidOperationError@p",
	},
	{
		name:      "ParallelForEach: a duplicate computed bookmark name is a BookmarkError",
		body:      `<ParallelForEach Values="[['a', 'a']]" Variable="r"><Receive Id="w" Bookmark="['approve/' + r]"/></ParallelForEach>`,
		results:   "UnhandledException:BookmarkError@w",
		bookmarks: "approve/a", // the first body still waits: the instance is paused
	},
	{
		name: "Cancel of a ParallelForEach cancels every body",
		body: `<ParallelForEach Id="p" Values="[['a', 'b']]" Variable="r"><CancellationScope><Receive Bookmark="['approve/' + r]"/>` +
			`<CancellationScope.CancellationHandler><WriteLine Text="['canceled ' + r]"/></CancellationScope.CancellationHandler></CancellationScope></ParallelForEach>`,
		actions: []action{cancel()},
		results: "Idle|Completed:Canceled", lines: "canceled a|canceled b",
	},
}

const orderVars = `<Variables><Variable Name="order" Type="String" Default="'A-17'"/><Variable Name="s" Type="String"/>` +
	`<Variable Name="o" Type="Object"/><Variable Name="num" Type="Object" Default="[42]"/><Variable Name="i" Type="Number"/></Variables>`

var bookmarkCases = []activityCase{
	{
		name:      "a computed bookmark name",
		decls:     orderVars,
		body:      `<Sequence><Receive Bookmark="['order/' + order]" Result="o"/><WriteLine Text="[o.note]"/></Sequence>`,
		results:   "Idle",
		bookmarks: "order/A-17",
	},
	{
		name:    "resuming a computed bookmark",
		decls:   orderVars,
		body:    `<Sequence><Receive Bookmark="['order/' + order]" Result="o"/><WriteLine Text="[o.note]"/></Sequence>`,
		actions: []action{resume("order/A-17", vars("note", "shipped"))},
		results: "Idle|Completed:Closed", lines: "shipped",
	},
	{
		name:    "an empty computed name is a BookmarkError",
		decls:   orderVars,
		body:    `<Receive Id="r" Bookmark="[s]"/>`,
		results: "UnhandledException:BookmarkError@r",
	},
	{
		name:    "a computed name that is not a String is a BookmarkError",
		decls:   orderVars,
		body:    `<Receive Id="r" Bookmark="[num]"/>`,
		results: "UnhandledException:BookmarkError@r",
	},
	{
		name:      "a computed name already pending is a BookmarkError",
		decls:     orderVars,
		body:      `<Parallel><Receive Bookmark="order/A-17"/><Receive Id="r2" Bookmark="['order/' + order]"/></Parallel>`,
		results:   "UnhandledException:BookmarkError@r2",
		bookmarks: "order/A-17",
	},
	{
		name:    "a computed name with a control character is a BookmarkError",
		decls:   orderVars,
		body:    `<Receive Id="r" Bookmark="['a\nb']"/>`,
		results: "UnhandledException:BookmarkError@r",
	},
	{
		name:    "a computed name longer than 1024 bytes is a BookmarkError",
		decls:   orderVars,
		body:    `<Receive Id="r" Bookmark="[repeat('x', 1025)]"/>`,
		results: "UnhandledException:BookmarkError@r",
	},
	{
		name:      "a computed name of 1024 bytes is fine",
		decls:     orderVars,
		body:      `<Receive Id="r" Bookmark="[repeat('x', 1024)]"/>`,
		results:   "Idle",
		bookmarks: strings.Repeat("x", 1024),
	},
	{
		name:    "BookmarkError is catchable",
		decls:   orderVars,
		body:    `<TryCatch><Try><Receive Bookmark="[s]"/></Try><Catch Exception="BookmarkError"><WriteLine Text="bad name"/></Catch></TryCatch>`,
		results: "Completed:Closed", lines: "bad name",
	},
	{
		name:    "a computed name is free again once its Receive completed",
		decls:   orderVars,
		body:    `<While Condition="[i &lt; 2]"><Sequence><Receive Bookmark="['again/' + order]"/><Assign To="i" Value="[i + 1]"/></Sequence></While>`,
		actions: []action{resume("again/A-17", nil), resume("again/A-17", nil)},
		results: "Idle|Idle|Completed:Closed",
	},
}

func TestForEach(t *testing.T)           { runActivityCases(t, forEachCases) }
func TestComputedBookmarks(t *testing.T) { runActivityCases(t, bookmarkCases) }

func TestBookmarkErrorMessages(t *testing.T) {
	cases := []struct{ bookmark, want string }{
		{`[s]`, `Bookmark [s] yielded "", which is empty`},
		{`[num]`, `Bookmark [num] yielded a Number, not a String`},
		{`['a\tb']`, `Bookmark ['a\tb'] yielded "a\tb", which contains a control character`},
		{`[repeat('x', 1025)]`, `Bookmark [repeat('x', 1025)] yielded "` + strings.Repeat("x", 80) + `...", which is longer than 1024 bytes`},
	}
	for _, c := range cases {
		def := mustParse(t, wf(orderVars, `<Receive Id="r" Bookmark="`+c.bookmark+`"/>`))
		r := mustStart(t, def, nil).Run(t0, 0)
		if r.Kind != ResultUnhandledException || r.Exception.Name != BookmarkError || r.Exception.Message != c.want {
			t.Errorf("%s: %+v, want %s", c.bookmark, r.Exception, c.want)
		}
	}
	def := mustParse(t, wf(`<Variables><Variable Name="o" Type="Object" Default="[{'a': 1}]"/></Variables>`,
		`<ForEach Id="f" Values="[o]" Variable="x"><WriteLine Text="body"/></ForEach>`))
	r := mustStart(t, def, nil).Run(t0, 0)
	if want := "ForEach Values [o] yielded an object, not a list"; r.Exception == nil || r.Exception.Message != want {
		t.Errorf("%+v, want %s", r.Exception, want)
	}
}

func TestForEachUpdate(t *testing.T) {
	mk := func(version, from, body string) *Definition {
		up := ""
		if from != "" {
			up = `<UpdatableFrom Name="L" Version="` + from + `"/>`
		}
		return mustParse(t, `<Workflow Name="L" Version="`+version+`">`+up+body+`</Workflow>`)
	}
	seq1 := mk("1.0", "", `<ForEach Id="f" Values="[['a', 'b']]" Variable="r"><Receive Id="w" Bookmark="['approve/' + r]"/></ForEach>`)
	seq2 := mk("2.0", "1.0", `<ForEach Id="f" Values="[['a', 'b']]" Variable="r"><Receive Id="w" Bookmark="['ok/' + r]"/></ForEach>`)
	seq3 := mk("3.0", "1.0", `<ForEach Id="f" Values="[['a', 'b']]" Variable="who"><Receive Id="w" Bookmark="['approve/' + who]"/></ForEach>`)
	par1 := mk("4.0", "", `<ParallelForEach Id="p" Values="[['a', 'b']]" Variable="r"><Receive Id="w" Bookmark="['approve/' + r]"/></ParallelForEach>`)
	par2 := mk("5.0", "4.0", `<ParallelForEach Id="p" Values="[['a', 'b']]" Variable="r"><Receive Id="w" Bookmark="['ok/' + r]"/></ParallelForEach>`)
	reg := NewRegistry()
	for _, d := range []*Definition{seq1, seq2, seq3, par1, par2} {
		if err := reg.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	// A waiting Receive keeps the name it computed; the new Bookmark applies the next time a
	// Receive executes (the next item).
	d := playBoth(t, reg, seq1, nil, update(seq2), resume("approve/a", nil))
	if got := join(d.in.Bookmarks()); got != "ok/b" || d.last() != "Idle" {
		t.Errorf("bookmarks %s results %v", got, d.results)
	}
	d = playBoth(t, reg, par1, nil, update(par2), resume("approve/b", nil))
	if got := join(d.in.Bookmarks()); got != "approve/a" {
		t.Errorf("bookmarks %s", got)
	}
	// Renaming the loop variable of a running ForEach is refused.
	in := mustStart(t, seq1, nil)
	in.Run(t0, 0)
	err := in.Update(seq3)
	var ue *UpdateError
	if !errors.As(err, &ue) || ue.Activity != "f" || ue.Reason != `renamed its loop variable from "r" to "who" in L; Version=3.0` {
		t.Fatalf("%v", err)
	}
}
