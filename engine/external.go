package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// Activities implemented in Go (FORMAT.md, "Custom activities"). An ActivityType declares an
// element name and its arguments; the parser accepts the element wherever an activity may
// stand. A code-only type (Run set) runs inside the work item that executes it. Any other type
// is asynchronous: executing it records a pending external call in the instance (persisted in
// the image, version 2) and the activity waits, as a Receive waits on its bookmark, until the
// host delivers the call's outcome with CompleteCall. The engine never performs the call: it
// keeps the call's arguments, its idempotency key, the attempt number and the retry policy,
// and times the retries' back-off and each attempt's deadline with durable timers.

// ActivityType declares an activity implemented in Go.
type ActivityType struct {
	// Name is the XML element: an identifier that is not a built-in activity.
	Name string
	// Arguments are the element's attributes besides Id, DisplayName and Result (and, for an
	// asynchronous type, Timeout, Attempts, RetryBackoff and RetryMaxBackoff). Each is a
	// literal or an expression, evaluated when the activity executes.
	Arguments []ActivityArgument
	// Run implements a code-only activity: it is called synchronously, inside the work item,
	// with every argument evaluated (absent ones have their default). It must be deterministic
	// with respect to the instance (the same arguments give the same result; no clock but
	// c.Now, no I/O whose outcome matters), because the instance may replay it after a crash or
	// an Abandon. A returned *Exception keeps its name (catchable by it); any other error
	// raises ActivityError. The result is assigned to the Result variable. Nil: the type is
	// asynchronous (the host performs its calls).
	Run func(c CodeContext, args map[string]any) (any, error)
}

// ActivityArgument is one attribute of an ActivityType.
type ActivityArgument struct {
	Name     string
	Type     Type // Number, String, Boolean or Object
	Required bool
	// Default is the value of an absent optional argument (nil: the type's zero value).
	Default any
	// Validate, when set, checks a value: literals when the definition loads (a load error),
	// computed values when the activity executes (an ArgumentError).
	Validate func(v any) error
}

// CodeContext is what a code-only activity's Run sees of its instance.
type CodeContext struct {
	Instance uuid.UUID
	Activity string    // the activity's id
	Now      time.Time // the time the host passed to the current Run (the wall clock is never read)
}

// Async reports whether the type is asynchronous (no Run).
func (t *ActivityType) Async() bool { return t.Run == nil }

// Exception names raised by activities implemented in Go.
const (
	// ActivityError: a custom activity failed (its Go function returned an error that is not an
	// *Exception, panicked, or no implementation is registered for it).
	ActivityError = "ActivityError"
	// HttpRequestError: an HttpRequest failed (refused by the allow-list, a connection error or
	// timeout after the last attempt, a response too large, or a status with FailOnStatus).
	HttpRequestError = "HttpRequestError"
)

// The attributes every asynchronous activity takes: its retry policy, literal only.
const (
	attrTimeout    = "Timeout"
	attrAttempts   = "Attempts"
	attrBackoff    = "RetryBackoff"
	attrMaxBackoff = "RetryMaxBackoff"
)

// Policy defaults and bounds (FORMAT.md, "Custom activities").
const (
	DefaultCallTimeout     = 30 * time.Second
	MaxCallTimeout         = 10 * time.Minute
	DefaultRetryBackoff    = time.Second
	DefaultRetryMaxBackoff = 5 * time.Minute
	MaxAttempts            = 100
	// CallGrace is how long after an attempt's Timeout the engine waits before it decides the
	// host lost the attempt (a crash) and asks for it again, with the same idempotency key.
	CallGrace = 5 * time.Second
)

var reservedArgs = []string{"Id", "DisplayName", "Result", attrTimeout, attrAttempts, attrBackoff, attrMaxBackoff}

// catalog is the set of Go activity types a parser accepts: the built-ins plus the caller's.
type catalog map[string]*ActivityType

// builtinTypes are the activity types every registry knows.
func builtinTypes() []*ActivityType { return []*ActivityType{HttpRequest} }

func newCatalog(types []*ActivityType) (catalog, error) {
	c := catalog{}
	for i, t := range append(builtinTypes(), types...) {
		if err := t.check(); err != nil {
			return nil, err
		}
		if prev, dup := c[t.Name]; dup {
			if prev == t {
				continue
			}
			if i < len(builtinTypes()) || slices.Contains(builtinTypes(), prev) {
				return nil, fmt.Errorf("engine: activity type %s is built in", t.Name)
			}
			return nil, fmt.Errorf("engine: activity type %s is declared twice", t.Name)
		}
		c[t.Name] = t
	}
	return c, nil
}

func (t *ActivityType) check() error {
	if t == nil {
		return errors.New("engine: nil activity type")
	}
	if !isIdentifier(t.Name) {
		return fmt.Errorf("engine: activity type name %q is not an identifier", t.Name)
	}
	if _, builtin := activityAttrs[Kind(t.Name)]; builtin || t.Name == "Workflow" {
		return fmt.Errorf("engine: activity type %s is a built-in activity", t.Name)
	}
	seen := map[string]bool{}
	for _, a := range t.Arguments {
		switch {
		case !isIdentifier(a.Name):
			return fmt.Errorf("engine: activity type %s: argument name %q is not an identifier", t.Name, a.Name)
		case slices.Contains(reservedArgs, a.Name):
			return fmt.Errorf("engine: activity type %s: argument name %s is reserved", t.Name, a.Name)
		case seen[a.Name]:
			return fmt.Errorf("engine: activity type %s: argument %s is declared twice", t.Name, a.Name)
		case !a.Type.valid():
			return fmt.Errorf("engine: activity type %s: argument %s has bad Type %q", t.Name, a.Name, a.Type)
		}
		seen[a.Name] = true
		if a.Default != nil {
			if _, err := coerce(a.Default, a.Type); err != nil {
				return fmt.Errorf("engine: activity type %s: default of %s: %v", t.Name, a.Name, err)
			}
		}
	}
	return nil
}

// attrNames lists the attributes the type's element takes (Id and DisplayName are common).
func (t *ActivityType) attrNames() []string {
	names := []string{"Result"}
	if t.Async() {
		names = append(names, attrTimeout, attrAttempts, attrBackoff, attrMaxBackoff)
	}
	for _, a := range t.Arguments {
		names = append(names, a.Name)
	}
	return names
}

// externalNode is the parsed form of a Go activity's element.
type externalNode struct {
	typ    *ActivityType
	args   []*Expr // in typ.Arguments order; nil: absent (the default applies)
	policy callPolicy
}

// callPolicy is an asynchronous activity's retry policy, copied into the call when it starts.
type callPolicy struct {
	Timeout    time.Duration `json:"timeout"`
	Attempts   int           `json:"attempts"`
	Backoff    time.Duration `json:"backoff"`
	MaxBackoff time.Duration `json:"maxBackoff"`
}

// backoff is the wait after failed attempt n (1-based): Backoff doubled n-1 times, at most
// MaxBackoff.
func (p callPolicy) backoff(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// externalAttrs reads a Go activity's attributes.
func (p *parser) externalAttrs(n *xnode, m map[string]string, a *activity, t *ActivityType) error {
	x := &externalNode{typ: t, args: make([]*Expr, len(t.Arguments))}
	for i, arg := range t.Arguments {
		if _, ok := m[arg.Name]; !ok {
			if arg.Required {
				return p.errAt(n, "missing required attribute %s on <%s>", arg.Name, n.name)
			}
			continue
		}
		e, err := p.exprAttr(n, m, arg.Name, arg.Type, true)
		if err != nil {
			return err
		}
		if e.literal && arg.Validate != nil {
			if err := arg.Validate(e.lit); err != nil {
				return p.errAt(n, "%s: %v", arg.Name, err)
			}
		}
		x.args[i] = e
	}
	if r, ok := m["Result"]; ok {
		v, err := p.varRef(n, "Result", r)
		if err != nil {
			return err
		}
		a.Result = v.Name
	}
	if t.Async() {
		pol := callPolicy{Timeout: DefaultCallTimeout, Attempts: 1, Backoff: DefaultRetryBackoff, MaxBackoff: DefaultRetryMaxBackoff}
		dur := func(name string, into *time.Duration, lo, hi time.Duration) error {
			s, ok := m[name]
			if !ok {
				return nil
			}
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil || d < lo || d > hi {
				return p.errAt(n, "bad %s %q: want a Go duration from %v to %v (a literal, not an expression)", name, s, lo, hi)
			}
			*into = d
			return nil
		}
		if err := dur(attrTimeout, &pol.Timeout, time.Millisecond, MaxCallTimeout); err != nil {
			return err
		}
		if err := dur(attrBackoff, &pol.Backoff, time.Millisecond, 24*time.Hour); err != nil {
			return err
		}
		if err := dur(attrMaxBackoff, &pol.MaxBackoff, time.Millisecond, 24*time.Hour); err != nil {
			return err
		}
		if s, ok := m[attrAttempts]; ok {
			k, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || k < 1 || k > MaxAttempts {
				return p.errAt(n, "bad %s %q: want an integer from 1 to %d (a literal, not an expression)", attrAttempts, s, MaxAttempts)
			}
			pol.Attempts = k
		}
		if pol.MaxBackoff < pol.Backoff {
			return p.errAt(n, "%s %v is shorter than %s %v", attrMaxBackoff, pol.MaxBackoff, attrBackoff, pol.Backoff)
		}
		x.policy = pol
	}
	a.ext = x
	return nil
}

// Phases of an asynchronous activity (actInst.Phase).
const (
	phaseCalling   = "calling"   // an attempt is pending: the host performs it
	phaseBackoff   = "backoff"   // waiting on the back-off timer before the next attempt
	phaseDelivered = "delivered" // the outcome is queued (External.done)
)

// callState is an executing asynchronous activity's call (actInst.Call).
type callState struct {
	Key     string         `json:"key"`
	Attempt int            `json:"attempt"`
	Started time.Time      `json:"started"` // when the current attempt was asked for
	Args    map[string]any `json:"args"`
	Policy  callPolicy     `json:"policy"`
	Outcome *CallOutcome   `json:"outcome,omitempty"` // the delivered outcome, until External.done runs
}

// CallOutcome is the outcome of one attempt of an asynchronous activity, as the host delivers
// it: with Retry and attempts left, the engine waits the back-off and asks for another attempt;
// otherwise an Error faults the activity with that exception (catchable by its Name), and
// without one Value is assigned to the Result variable (so the last attempt's Value is the
// result when Retry is set and attempts have run out).
type CallOutcome struct {
	Value any        `json:"value,omitempty"`
	Error *Exception `json:"error,omitempty"`
	Retry bool       `json:"retry,omitempty"`
}

// Call is a pending attempt of an asynchronous activity: what the host performs.
type Call struct {
	ID       string // identifies this attempt for CompleteCall ("<activity instance>.<attempt>")
	Type     string // the activity type's Name
	Activity string // the activity's id
	// Key is the idempotency key: the same for every attempt of one execution of the
	// activity, and kept in the image, so it survives a crash and a restart.
	Key      string
	Attempt  int // 1-based
	Attempts int // the policy's number of attempts
	Timeout  time.Duration
	Started  time.Time      // when the engine asked for this attempt
	Args     map[string]any // the evaluated arguments (a copy)
}

// ErrCallNotFound: CompleteCall named no pending call (its activity completed, was canceled or
// aborted, or the outcome was delivered already). The host discards the outcome.
var ErrCallNotFound = errors.New("engine: no such pending call")

func callID(a *actInst) string { return fmt.Sprintf("%d.%d", a.N, a.Call.Attempt) }

// PendingCalls lists the attempts the host must perform, by activity instance (an instance
// waiting in a back-off has none).
func (in *Instance) PendingCalls() []Call {
	var out []Call
	for _, a := range in.acts {
		if a.Call == nil || a.Phase != phaseCalling {
			continue
		}
		args, _ := normalize(a.Call.Args) // a deep copy
		m, _ := args.(map[string]any)
		out = append(out, Call{ID: callID(a), Type: string(a.Kind), Activity: a.Act, Key: a.Call.Key,
			Attempt: a.Call.Attempt, Attempts: a.Call.Policy.Attempts, Timeout: a.Call.Policy.Timeout,
			Started: a.Call.Started, Args: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CompleteCall delivers the outcome of the pending attempt id; the resumption is queued (call
// Run). Errors: ErrCompleted, ErrNotReady, ErrCallNotFound. A Value that is not JSON is
// delivered as an ActivityError.
func (in *Instance) CompleteCall(id string, o CallOutcome) error {
	switch {
	case in.completion != workflow.NotCompleted:
		return ErrCompleted
	case in.unhandled != nil:
		return ErrNotReady
	}
	var a *actInst
	for _, x := range in.acts {
		if x.Call != nil && x.Phase == phaseCalling && callID(x) == id {
			a = x
		}
	}
	if a == nil {
		return fmt.Errorf("%w: %s", ErrCallNotFound, id)
	}
	v, err := normalize(o.Value)
	if err != nil {
		o = CallOutcome{Error: &Exception{Name: ActivityError, Message: "the call's result is not JSON: " + err.Error()}}
	}
	o.Value = v
	if o.Error != nil {
		e := *o.Error
		if !validExceptionName(e.Name) {
			e.Name = ActivityError
		}
		e.Activity = a.Act
		o.Error = &e
	}
	a.Phase = phaseDelivered
	a.Call.Outcome = &o
	in.timers = slices.DeleteFunc(in.timers, func(t *timer) bool { return t.Owner == a.N }) // the deadline
	in.trackLoad()
	in.enqueue(workItem{Op: opResume, Target: a.N, Callback: "External.done"})
	return nil
}

// externalKind reports whether activities of kind k are Go activities (not built in).
func externalKind(k Kind) bool { _, builtin := activityAttrs[k]; return !builtin }

var externalBehaviour = behaviour{execute: execExternal, cancel: cancelWait}

// behaviourOf is the behaviour of activities of kind k.
func behaviourOf(k Kind) behaviour {
	if b, ok := behaviours[k]; ok {
		return b
	}
	return externalBehaviour
}

func init() {
	resumptions["External.done"] = externalDone
	resumptions["External.retry"] = externalRetry
	resumptions["External.lost"] = externalLost
}

// evalArgs evaluates a Go activity's arguments in a's scope.
func (in *Instance) evalArgs(a *actInst, x *externalNode) (map[string]any, *Exception) {
	args := make(map[string]any, len(x.args))
	for i, arg := range x.typ.Arguments {
		var v any
		if e := x.args[i]; e != nil {
			raw, exc := in.evalAt(a, e)
			if exc != nil {
				return nil, exc
			}
			cv, err := coerce(raw, arg.Type)
			if err != nil {
				return nil, &Exception{Name: TypeError, Message: fmt.Sprintf("%s %s: %v", x.typ.Name, arg.Name, err)}
			}
			v = cv
			if arg.Validate != nil && !e.literal {
				if err := arg.Validate(v); err != nil {
					return nil, &Exception{Name: ArgumentError, Message: fmt.Sprintf("%s %s: %v", x.typ.Name, arg.Name, err)}
				}
			}
		} else if arg.Default != nil {
			v, _ = coerce(arg.Default, arg.Type)
		} else {
			v = arg.Type.zero()
		}
		args[arg.Name] = v
	}
	return args, nil
}

func execExternal(in *Instance, a *actInst, n *activity) *Exception {
	x := n.ext
	args, exc := in.evalArgs(a, x)
	if exc != nil {
		return exc
	}
	if !x.typ.Async() {
		v, exc := runCode(x.typ, CodeContext{Instance: in.id, Activity: a.Act, Now: in.clock}, args)
		if exc != nil {
			return exc
		}
		return in.finishExternal(a, n, v)
	}
	// The key is derived from the instance, the activity instance and the time it executes:
	// unique per execution, stored with the call before the host makes the first attempt.
	key := uuid.NewSHA1(in.id, []byte(fmt.Sprintf("wimp/call/%d@%s", a.N, in.clock.Format(time.RFC3339Nano)))).String()
	a.Call = &callState{Key: key, Args: args, Policy: x.policy}
	in.startAttempt(a, 1)
	return nil
}

// runCode calls a code-only activity's Run, turning errors and panics into exceptions.
func runCode(t *ActivityType, c CodeContext, args map[string]any) (v any, exc *Exception) {
	defer func() {
		if r := recover(); r != nil {
			v, exc = nil, &Exception{Name: ActivityError, Message: fmt.Sprintf("%s panicked: %v", t.Name, r)}
		}
	}()
	out, err := t.Run(c, args)
	if err != nil {
		var e *Exception
		if errors.As(err, &e) && validExceptionName(e.Name) {
			return nil, &Exception{Name: e.Name, Message: e.Message}
		}
		return nil, &Exception{Name: ActivityError, Message: t.Name + ": " + err.Error()}
	}
	return out, nil
}

// finishExternal assigns a Go activity's result and closes it.
func (in *Instance) finishExternal(a *actInst, n *activity, v any) *Exception {
	if n.Result != "" {
		if exc := in.assign(n.Result, v); exc != nil {
			return exc
		}
	}
	in.complete(a, ActivityClosed)
	return nil
}

// startAttempt asks the host for attempt k, with a deadline timer in case the host loses it.
func (in *Instance) startAttempt(a *actInst, k int) {
	a.Phase = phaseCalling
	a.Call.Attempt = k
	a.Call.Started = in.clock
	a.Call.Outcome = nil
	in.addTimer(a.N, in.clock.Add(a.Call.Policy.Timeout+CallGrace), "External.lost")
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "CallAttempt", Activity: a.Act,
		Data: jsonData(map[string]any{"attempt": k, "attempts": a.Call.Policy.Attempts, "key": a.Call.Key})})
}

func externalDone(in *Instance, a *actInst, n *activity, _ any) *Exception {
	c := a.Call
	o := c.Outcome
	if o == nil || a.Phase != phaseDelivered {
		return &Exception{Name: InvalidOperationError, Message: "call outcome missing"}
	}
	c.Outcome = nil
	data := map[string]any{"attempt": c.Attempt}
	if o.Error != nil {
		data["exception"], data["message"] = o.Error.Name, o.Error.Message
	}
	if st, ok := o.Value.(map[string]any); ok {
		if s, ok := st["status"].(float64); ok {
			data["status"] = s
		}
	}
	if o.Retry && c.Attempt < c.Policy.Attempts {
		wait := c.Policy.backoff(c.Attempt)
		data["outcome"], data["retryIn"] = "retrying", wait.String()
		in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "CallResult", Activity: a.Act, Data: jsonData(data)})
		a.Phase = phaseBackoff
		in.addTimer(a.N, in.clock.Add(wait), "External.retry")
		return nil
	}
	if o.Error != nil {
		data["outcome"] = "failed"
		in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "CallResult", Activity: a.Act, Data: jsonData(data)})
		e := *o.Error
		return &e
	}
	data["outcome"] = "succeeded"
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "CallResult", Activity: a.Act, Data: jsonData(data)})
	return in.finishExternal(a, n, o.Value)
}

func externalRetry(in *Instance, a *actInst, _ *activity, _ any) *Exception {
	if a.Call == nil || a.Phase != phaseBackoff {
		return nil
	}
	in.startAttempt(a, a.Call.Attempt+1)
	return nil
}

// externalLost: the attempt's deadline passed without an outcome (the host that performed it
// stopped): the same attempt is asked for again, with a new deadline.
func externalLost(in *Instance, a *actInst, _ *activity, _ any) *Exception {
	if a.Call == nil || a.Phase != phaseCalling {
		return nil
	}
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "CallLost", Activity: a.Act,
		Data: jsonData(map[string]any{"attempt": a.Call.Attempt})})
	in.startAttempt(a, a.Call.Attempt)
	return nil
}

// checkCallImage checks an activity instance's call state against its node ("" when fine).
func checkCallImage(a *actInst, n *activity) string {
	if a.Call == nil {
		if n.ext != nil && n.ext.typ.Async() && a.Started && a.Phase != "" {
			return "an asynchronous activity without its call"
		}
		return ""
	}
	if n.ext == nil || !n.ext.typ.Async() {
		return "a call outside an asynchronous activity"
	}
	c := a.Call
	switch {
	case c.Attempt < 1 || c.Attempt > c.Policy.Attempts || c.Policy.Attempts > MaxAttempts:
		return "call attempt out of range"
	case c.Policy.Timeout <= 0 || c.Policy.Backoff <= 0 || c.Policy.MaxBackoff < c.Policy.Backoff:
		return "bad call policy"
	case c.Key == "":
		return "a call without an idempotency key"
	}
	switch a.Phase {
	case phaseCalling, phaseBackoff:
		if c.Outcome != nil {
			return "a call outcome outside the delivered phase"
		}
	case phaseDelivered:
		if c.Outcome == nil {
			return "a delivered call without its outcome"
		}
	default:
		return fmt.Sprintf("bad call phase %q", a.Phase)
	}
	for _, arg := range n.ext.typ.Arguments {
		if _, ok := c.Args[arg.Name]; !ok {
			return "call arguments do not match the activity type"
		}
	}
	if len(c.Args) != len(n.ext.typ.Arguments) {
		return "call arguments do not match the activity type"
	}
	return ""
}

// ActivityTypes lists the registry's Go activity types (built-ins included), by name.
func (r *Registry) ActivityTypes() []*ActivityType {
	c := r.catalog()
	names := slices.Sorted(maps.Keys(c))
	out := make([]*ActivityType, 0, len(names))
	for _, n := range names {
		out = append(out, c[n])
	}
	return out
}
