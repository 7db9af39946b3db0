package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"

	"github.com/wimp-project/wimp/workflow"
)

// Activity behaviour. Every continuation is named: a child's completion runs the parent's
// callback named when the child was scheduled (callbacks), a bookmark or timer resumption runs
// a named resumption (resumptions). The names are stored in the execution image.

type (
	execFn     func(in *Instance, a *actInst, n *activity) *Exception
	callbackFn func(in *Instance, a *actInst, n *activity, c childDone) *Exception
	resumeFn   func(in *Instance, a *actInst, n *activity, payload any) *Exception
)

type behaviour struct {
	execute execFn
	cancel  execFn // nil: cancel every child; the callbacks complete the activity Canceled
}

// Phases.
const (
	phaseTry      = "try"
	phaseCatch    = "catch"
	phaseFinally  = "finally"
	phaseBody     = "body"
	phaseHandler  = "handler"
	phaseComplete = "completing" // Parallel: the CompletionCondition held
)

var behaviours map[Kind]behaviour
var callbacks map[string]callbackFn
var resumptions map[string]resumeFn

func init() {
	behaviours = map[Kind]behaviour{
		KindSequence:          {execute: execSequence},
		KindIf:                {execute: execIf},
		KindWhile:             {execute: execWhile},
		KindDoWhile:           {execute: execWhile},
		KindAssign:            {execute: execAssign},
		KindWriteLine:         {execute: execWriteLine},
		KindDelay:             {execute: execDelay, cancel: cancelWait},
		KindReceive:           {execute: execReceive, cancel: cancelWait},
		KindPick:              {execute: execPick},
		KindParallel:          {execute: execParallel},
		KindTryCatch:          {execute: execTryCatch, cancel: cancelTryCatch},
		KindThrow:             {execute: execThrow},
		KindCancellationScope: {execute: execScope, cancel: cancelScope},
		KindTerminateWorkflow: {execute: execTerminate},
		KindPersist:           {execute: execPersist},
		KindStateMachine:      {execute: execStateMachine},
		KindForEach:           {execute: execForEach},
		KindParallelForEach:   {execute: execParallelForEach},
		KindInvokeWorkflow:    {execute: execInvoke, cancel: cancelInvoke},
	}
	callbacks = map[string]callbackFn{
		"Sequence.child":            sequenceChild,
		"If.branch":                 finishWithChild,
		"While.body":                whileBody,
		"Pick.trigger":              pickTrigger,
		"Pick.action":               finishWithChild,
		"Parallel.branch":           parallelBranch,
		"TryCatch.try":              tryDone,
		"TryCatch.catch":            catchDone,
		"TryCatch.finally":          finallyDone,
		"CancellationScope.body":    scopeBody,
		"CancellationScope.handler": scopeHandler,
		"StateMachine.entry":        machineEntryDone,
		"StateMachine.trigger":      machineTriggerDone,
		"StateMachine.exit":         machineExitDone,
		"StateMachine.action":       machineActionDone,
		"ForEach.body":              forEachBody,
		"ParallelForEach.body":      parallelBranch,
	}
	resumptions = map[string]resumeFn{
		"Receive.resumed": receiveResumed,
		"Delay.fired":     delayFired,
	}
}

// env is the expression environment of activity instance a: arguments, variables, now(), and
// the loop variables of the ForEach bodies a is in (a nil: no loop variables).
func (in *Instance) env(a *actInst) map[string]any {
	env := make(map[string]any, len(in.args)+len(in.vars)+1)
	for k, v := range in.args {
		env[k] = v
	}
	for k, v := range in.vars {
		env[k] = v
	}
	clock := in.clock
	env["now"] = func() time.Time { return clock }
	for p := a; p != nil; p = in.acts[p.Parent] {
		for k, v := range p.Locals {
			env[k] = v // names are unique along a path (checked at load and restore)
		}
		if p.Parent == 0 {
			break
		}
	}
	return env
}

// eval evaluates e outside any activity (argument and variable defaults).
func (in *Instance) eval(e *Expr) (any, *Exception) { return in.evalAt(nil, e) }

// evalAt evaluates e in the scope of activity instance a.
func (in *Instance) evalAt(a *actInst, e *Expr) (v any, exc *Exception) {
	if e.literal {
		return e.lit, nil
	}
	defer func() {
		if r := recover(); r != nil {
			v, exc = nil, &Exception{Name: ExpressionError, Message: fmt.Sprintf("%s: %v", e.Source, r)}
		}
	}()
	out, err := expr.Run(e.prog, in.env(a))
	if err != nil {
		return nil, &Exception{Name: ExpressionError, Message: fmt.Sprintf("%s: %s", e.Source, firstLine(err.Error()))}
	}
	return out, nil
}

func (in *Instance) evalBoolAt(a *actInst, e *Expr) (bool, *Exception) {
	v, exc := in.evalAt(a, e)
	if exc != nil {
		return false, exc
	}
	b, ok := v.(bool)
	if !ok {
		return false, &Exception{Name: ExpressionError, Message: fmt.Sprintf("%s: condition yielded a %s, not a Boolean", e.Source, typeName(v))}
	}
	return b, nil
}

// finishWithChild completes a composite whose only remaining work was the child: Closed if the
// child closed and no cancellation was requested, otherwise Canceled.
func finishWithChild(in *Instance, a *actInst, _ *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		in.complete(a, ActivityCanceled)
	} else {
		in.complete(a, ActivityClosed)
	}
	return nil
}

// Sequence

func execSequence(in *Instance, a *actInst, n *activity) *Exception {
	return sequenceFrom(in, a, n, 0)
}

func sequenceFrom(in *Instance, a *actInst, n *activity, i int) *Exception {
	if i >= len(n.Children) {
		in.complete(a, ActivityClosed)
		return nil
	}
	a.Index = i
	in.schedule(a, n.Children[i], "Sequence.child")
	return nil
}

func sequenceChild(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		in.complete(a, ActivityCanceled)
		return nil
	}
	// Continue after the completed child's position in the (possibly updated) definition.
	next := a.Index + 1
	if i := slices.IndexFunc(n.Children, func(x *activity) bool { return x.ID == c.Activity }); i >= 0 {
		next = i + 1
	}
	return sequenceFrom(in, a, n, next)
}

// If

func execIf(in *Instance, a *actInst, n *activity) *Exception {
	ok, exc := in.evalBoolAt(a, n.Condition)
	if exc != nil {
		return exc
	}
	branch := n.Else
	if ok {
		branch = n.Then
	}
	if branch == nil {
		in.complete(a, ActivityClosed)
		return nil
	}
	in.schedule(a, branch, "If.branch")
	return nil
}

// While / DoWhile

func execWhile(in *Instance, a *actInst, n *activity) *Exception {
	if n.Kind == KindDoWhile {
		loopBody(in, a, n)
		return nil
	}
	return loopTest(in, a, n)
}

func loopTest(in *Instance, a *actInst, n *activity) *Exception {
	ok, exc := in.evalBoolAt(a, n.Condition)
	if exc != nil {
		return exc
	}
	if !ok {
		in.complete(a, ActivityClosed)
		return nil
	}
	loopBody(in, a, n)
	return nil
}

func loopBody(in *Instance, a *actInst, n *activity) {
	a.Index++ // iteration count
	if n.Body != nil {
		in.schedule(a, n.Body, "While.body")
		return
	}
	// An empty body still takes one work item per iteration, so the budget bounds the loop.
	in.enqueue(workItem{Op: opCallback, Target: a.N, Callback: "While.body", Child: &childDone{State: ActivityClosed}})
}

func whileBody(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		in.complete(a, ActivityCanceled)
		return nil
	}
	return loopTest(in, a, n)
}

// Assign, WriteLine, Throw, TerminateWorkflow, Persist

func (in *Instance) assign(name string, raw any) *Exception {
	vd, _ := in.def.variable(name)
	v, err := coerce(raw, vd.Type)
	if err != nil {
		return &Exception{Name: TypeError, Message: fmt.Sprintf("cannot assign to %s: %v", name, err)}
	}
	in.vars[name] = v
	return nil
}

func execAssign(in *Instance, a *actInst, n *activity) *Exception {
	v, exc := in.evalAt(a, n.Value)
	if exc != nil {
		return exc
	}
	if exc := in.assign(n.To, v); exc != nil {
		return exc
	}
	in.complete(a, ActivityClosed)
	return nil
}

func execWriteLine(in *Instance, a *actInst, n *activity) *Exception {
	v, exc := in.evalAt(a, n.Text)
	if exc != nil {
		return exc
	}
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "WriteLine", Activity: a.Act,
		Data: jsonData(map[string]string{"text": toText(v)})})
	in.complete(a, ActivityClosed)
	return nil
}

func execThrow(in *Instance, a *actInst, n *activity) *Exception {
	msg := ""
	if n.Message != nil {
		v, exc := in.evalAt(a, n.Message)
		if exc != nil {
			return exc
		}
		msg = toText(v)
	}
	return &Exception{Name: n.Exception, Message: msg, Activity: a.Act}
}

func execTerminate(in *Instance, a *actInst, n *activity) *Exception {
	reason := "terminated by " + a.Act
	if n.Reason != nil {
		v, exc := in.evalAt(a, n.Reason)
		if exc != nil {
			return exc
		}
		reason = toText(v)
	}
	in.terminate(reason)
	return nil
}

func execPersist(in *Instance, a *actInst, _ *activity) *Exception {
	in.complete(a, ActivityClosed)
	in.persistReq = true
	return nil
}

// Delay and Receive

func execDelay(in *Instance, a *actInst, n *activity) *Exception {
	v, exc := in.evalAt(a, n.Duration)
	if exc != nil {
		return exc
	}
	d, err := toDuration(v)
	if err != nil {
		return &Exception{Name: ArgumentError, Message: "Delay " + a.Act + ": " + err.Error()}
	}
	if d == 0 {
		in.complete(a, ActivityClosed)
		return nil
	}
	in.addTimer(a.N, in.clock.Add(d), "Delay.fired")
	return nil
}

func delayFired(in *Instance, a *actInst, _ *activity, _ any) *Exception {
	in.complete(a, ActivityClosed)
	return nil
}

// MaxBookmarkName is the longest bookmark name (in bytes) a computed Bookmark may yield.
const MaxBookmarkName = 1024

func execReceive(in *Instance, a *actInst, n *activity) *Exception {
	name := n.Bookmark
	if n.BookmarkExpr != nil {
		v, exc := in.evalAt(a, n.BookmarkExpr)
		if exc != nil {
			return exc
		}
		s, ok := v.(string)
		if !ok {
			return &Exception{Name: BookmarkError, Message: fmt.Sprintf("Bookmark %s yielded %s, not a String", n.BookmarkExpr.Source, aTypeName(v))}
		}
		if why := badBookmarkName(s); why != "" {
			return &Exception{Name: BookmarkError, Message: fmt.Sprintf("Bookmark %s yielded %q, which %s", n.BookmarkExpr.Source, truncate(s, 80), why)}
		}
		name = s
	}
	if b := in.bookmarks[name]; b != nil {
		return &Exception{Name: BookmarkError, Message: fmt.Sprintf("bookmark %q is already in use", truncate(name, 200))}
	}
	in.bookmarks[name] = &bookmark{Name: name, Owner: a.N, Callback: "Receive.resumed"}
	return nil
}

// badBookmarkName says why a computed bookmark name is refused ("" if it is fine): hosts list
// and look up names in XML and text, so they are non-empty, bounded, valid UTF-8 and printable.
func badBookmarkName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxBookmarkName:
		return fmt.Sprintf("is longer than %d bytes", MaxBookmarkName)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF {
			return "contains a control character"
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

func receiveResumed(in *Instance, a *actInst, n *activity, payload any) *Exception {
	if n.Result != "" {
		if exc := in.assign(n.Result, payload); exc != nil {
			return exc
		}
	}
	in.complete(a, ActivityClosed)
	return nil
}

// cancelWait cancels a waiting Receive or Delay: its bookmark or timer goes away.
func cancelWait(in *Instance, a *actInst, _ *activity) *Exception {
	in.complete(a, ActivityCanceled)
	return nil
}

// Pick

func execPick(in *Instance, a *actInst, n *activity) *Exception {
	if len(n.Children) == 0 {
		in.complete(a, ActivityClosed)
		return nil
	}
	for _, br := range n.Children {
		in.schedule(a, br.Trigger, "Pick.trigger")
	}
	return nil
}

func pickTrigger(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if c.State == ActivityClosed && a.Winner == "" && !a.CancelRequested {
		for _, br := range n.Children {
			if br.Trigger.ID == c.Activity {
				a.Winner = br.ID
			}
		}
		in.cancelChildren(a) // the losers
	}
	if len(a.Children) > 0 {
		return nil // wait until every losing trigger is canceled
	}
	if a.CancelRequested || a.Winner == "" {
		in.complete(a, ActivityCanceled)
		return nil
	}
	var win *activity
	for _, br := range n.Children {
		if br.ID == a.Winner {
			win = br
		}
	}
	if win == nil || win.Action == nil {
		in.complete(a, ActivityClosed)
		return nil
	}
	in.schedule(a, win.Action, "Pick.action")
	return nil
}

// Parallel

func execParallel(in *Instance, a *actInst, n *activity) *Exception {
	if len(n.Children) == 0 {
		in.complete(a, ActivityClosed)
		return nil
	}
	for _, br := range n.Children {
		in.schedule(a, br, "Parallel.branch")
	}
	return nil
}

func parallelBranch(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if c.State == ActivityClosed && !a.CancelRequested && a.Phase != phaseComplete && n.Condition != nil && len(a.Children) > 0 {
		done, exc := in.evalBoolAt(a, n.Condition)
		if exc != nil {
			return exc
		}
		if done {
			a.Phase = phaseComplete
			in.cancelChildren(a)
		}
	}
	if len(a.Children) > 0 {
		return nil
	}
	if a.CancelRequested {
		in.complete(a, ActivityCanceled)
	} else {
		in.complete(a, ActivityClosed)
	}
	return nil
}

// TryCatch

func execTryCatch(in *Instance, a *actInst, n *activity) *Exception {
	if n.Try == nil {
		runFinally(in, a, n)
		return nil
	}
	a.Phase = phaseTry
	in.schedule(a, n.Try, "TryCatch.try")
	return nil
}

func tryDone(in *Instance, a *actInst, n *activity, _ childDone) *Exception {
	if a.Catch > 0 && !a.CancelRequested {
		a.Phase = phaseCatch
		if body := n.Catches[a.Catch-1].Body; body != nil {
			in.schedule(a, body, "TryCatch.catch")
			return nil
		}
	}
	runFinally(in, a, n)
	return nil
}

func catchDone(in *Instance, a *actInst, n *activity, _ childDone) *Exception {
	runFinally(in, a, n)
	return nil
}

func runFinally(in *Instance, a *actInst, n *activity) {
	a.Phase = phaseFinally
	if n.Finally != nil {
		in.schedule(a, n.Finally, "TryCatch.finally")
		return
	}
	finallyDone(in, a, n, childDone{})
}

func finallyDone(in *Instance, a *actInst, _ *activity, _ childDone) *Exception {
	if a.CancelRequested {
		in.complete(a, ActivityCanceled)
	} else {
		in.complete(a, ActivityClosed)
	}
	return nil
}

// cancelTryCatch cancels the Try or Catch body; a running Finally is left to finish.
func cancelTryCatch(in *Instance, a *actInst, _ *activity) *Exception {
	if a.Phase != phaseFinally {
		in.cancelChildren(a)
	}
	return nil
}

// CancellationScope

func execScope(in *Instance, a *actInst, n *activity) *Exception {
	a.Phase = phaseBody
	if n.Body == nil {
		in.complete(a, ActivityClosed)
		return nil
	}
	in.schedule(a, n.Body, "CancellationScope.body")
	return nil
}

func scopeBody(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if c.State == ActivityClosed {
		in.complete(a, ActivityClosed)
		return nil
	}
	if a.CancelRequested && n.Handler != nil {
		a.Phase = phaseHandler
		in.schedule(a, n.Handler, "CancellationScope.handler")
		return nil
	}
	in.complete(a, ActivityCanceled)
	return nil
}

func scopeHandler(in *Instance, a *actInst, _ *activity, _ childDone) *Exception {
	in.complete(a, ActivityCanceled)
	return nil
}

// cancelScope cancels the body; a running handler is left to finish.
func cancelScope(in *Instance, a *actInst, _ *activity) *Exception {
	if a.Phase == phaseBody {
		in.cancelChildren(a)
	}
	return nil
}
