package engine

import "fmt"

// ForEach and ParallelForEach. Values is evaluated once, when the activity starts; ForEach keeps
// the collection in its image (Values, Index = the current item's position). Each body
// activity instance carries its item in Locals under the loop variable's name, so the body's
// expressions see it, and ParallelForEach bodies each see their own.

// forEachValues evaluates Values: it must yield a list.
func (in *Instance) forEachValues(a *actInst, n *activity) ([]any, *Exception) {
	v, exc := in.evalAt(a, n.Values)
	if exc != nil {
		return nil, exc
	}
	nv, err := normalize(v)
	if err != nil {
		return nil, &Exception{Name: TypeError, Message: fmt.Sprintf("%s Values %s: %v", n.Kind, n.Values.Source, err)}
	}
	list, ok := nv.([]any)
	if !ok {
		return nil, &Exception{Name: InvalidOperationError,
			Message: fmt.Sprintf("%s Values %s yielded %s, not a list", n.Kind, n.Values.Source, aTypeName(nv))}
	}
	return list, nil
}

func (in *Instance) scheduleIteration(a *actInst, n *activity, item any, cb string) {
	c := in.schedule(a, n.Body, cb)
	if n.Variable != "" {
		c.Locals = map[string]any{n.Variable: item}
	}
}

// startLoop evaluates a loop's values; with nothing to run (no item, or no body) it completes
// the loop and returns no items.
func (in *Instance) startLoop(a *actInst, n *activity) ([]any, *Exception) {
	items, exc := in.forEachValues(a, n)
	if exc != nil || (len(items) > 0 && n.Body != nil) {
		return items, exc
	}
	in.complete(a, ActivityClosed)
	return nil, nil
}

func execForEach(in *Instance, a *actInst, n *activity) *Exception {
	items, exc := in.startLoop(a, n)
	if exc != nil || items == nil {
		return exc
	}
	a.Values, a.Index = items, 0
	in.scheduleIteration(a, n, items[0], "ForEach.body")
	return nil
}

func forEachBody(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		in.complete(a, ActivityCanceled)
		return nil
	}
	next := a.Index + 1
	if next >= len(a.Values) || n.Body == nil {
		in.complete(a, ActivityClosed)
		return nil
	}
	a.Index = next
	in.scheduleIteration(a, n, a.Values[next], "ForEach.body")
	return nil
}

// execParallelForEach schedules every body at once; completions run parallelBranch (the
// CompletionCondition is checked after each body that closes, as in Parallel).
func execParallelForEach(in *Instance, a *actInst, n *activity) *Exception {
	items, exc := in.startLoop(a, n)
	if exc != nil || items == nil {
		return exc
	}
	for _, item := range items {
		in.scheduleIteration(a, n, item, "ParallelForEach.body")
	}
	return nil
}
