package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// Errors returned by Instance methods; check with errors.Is.
var (
	ErrBookmarkNotFound = errors.New("engine: bookmark not found")
	ErrCompleted        = errors.New("engine: instance is completed")
	// ErrNotReady: the instance is paused on an unhandled exception; the host must apply its
	// policy (Cancel, Terminate, or discard the object) first.
	ErrNotReady         = errors.New("engine: instance is paused on an unhandled exception")
	ErrNoException      = errors.New("engine: no unhandled exception is pending")
	ErrInvalidInput     = errors.New("engine: invalid input")
	ErrInvalidPayload   = errors.New("engine: invalid bookmark payload")
	ErrUpdateNotAllowed = errors.New("engine: update not allowed")
	ErrImage            = errors.New("engine: invalid execution image")
)

// Status is the execution status of an instance.
type Status string

const (
	StatusExecuting          Status = "Executing"          // work items are queued: Run has work to do
	StatusIdle               Status = "Idle"               // waiting on bookmarks or timers
	StatusUnhandledException Status = "UnhandledException" // paused; the host must apply its policy
	StatusCompleted          Status = "Completed"          // see Completion()
)

// ActivityState is WF4's ActivityInstanceState.
type ActivityState string

const (
	Executing        ActivityState = "Executing"
	ActivityClosed   ActivityState = "Closed"
	ActivityCanceled ActivityState = "Canceled"
	ActivityFaulted  ActivityState = "Faulted"
)

// ResultKind says why Run returned.
type ResultKind string

const (
	ResultIdle               ResultKind = "Idle"               // the work queue is empty; waiting on bookmarks/timers
	ResultRunnable           ResultKind = "Runnable"           // maxWorkItems used up; call Run again
	ResultPersistRequested   ResultKind = "PersistRequested"   // a Persist activity ran: persist, then Run again
	ResultCompleted          ResultKind = "Completed"          // see Result.Completion and Reason
	ResultUnhandledException ResultKind = "UnhandledException" // see Result.Exception; apply the policy
)

// Result is what Run reports.
type Result struct {
	Kind       ResultKind
	Completion workflow.Completion // when Completed
	Reason     string              // termination reason, or the exception message of a Faulted completion
	Exception  *Exception          // when UnhandledException (or Completed Faulted): name, message, activity id
	WorkItems  int                 // work items executed by this call
}

// TimerRecordName is the Name of the Bookmark record emitted when a Delay timer fires.
const TimerRecordName = "(timer)"

const (
	opExecute  = "execute"
	opCallback = "callback"
	opResume   = "resume"
	opCancel   = "cancel"
)

// actInst is a live activity instance.
type actInst struct {
	N               int    `json:"n"`
	Act             string `json:"activity"`
	Kind            Kind   `json:"type"`
	Parent          int    `json:"parent,omitempty"`
	Callback        string `json:"callback,omitempty"` // parent's callback when this completes
	Children        []int  `json:"children,omitempty"`
	Started         bool   `json:"started,omitempty"`
	CancelRequested bool   `json:"cancelRequested,omitempty"`
	Phase           string `json:"phase,omitempty"`
	// Sequence: position; While: iteration; ForEach: position of the current item;
	// StateMachine: the last activity instance number allocated before the current state was
	// entered (completions of older children are stale).
	Index  int        `json:"index,omitempty"`
	Winner string     `json:"winner,omitempty"` // Pick: the winning PickBranch; StateMachine: the transition being taken
	Catch  int        `json:"catch,omitempty"`  // TryCatch: index+1 of the matching Catch
	Exc    *Exception `json:"exception,omitempty"`
	State  string     `json:"state,omitempty"`  // StateMachine: id of the current state
	Values []any      `json:"values,omitempty"` // ForEach: the collection, evaluated at the start
	// A ForEach or ParallelForEach body: its loop variable and item.
	Locals  map[string]any `json:"locals,omitempty"`
	Call    *callState     `json:"call,omitempty"`    // an asynchronous Go activity: its call (image version 2)
	Invoked *invoked       `json:"invoked,omitempty"` // an InvokeWorkflow: its child (image version 3)
}

type childDone struct {
	N        int           `json:"n"`
	Activity string        `json:"activity"`
	State    ActivityState `json:"state"`
}

type workItem struct {
	Op       string     `json:"op"`
	Target   int        `json:"target"`
	Callback string     `json:"callback,omitempty"`
	Child    *childDone `json:"child,omitempty"`
	Payload  any        `json:"payload,omitempty"`
	Bookmark string     `json:"bookmark,omitempty"`
}

type bookmark struct {
	Name     string `json:"name"`
	Owner    int    `json:"owner"`
	Callback string `json:"callback"`
}

type timer struct {
	Owner    int       `json:"owner"`
	Due      time.Time `json:"due"`
	Seq      int       `json:"seq"`
	Callback string    `json:"callback"`
}

type unhandled struct {
	Exc     *Exception `json:"exception"`
	Pending *workItem  `json:"pending,omitempty"` // the faulted activity's completion callback, held
}

// Instance is one workflow instance's execution state. It is not safe for concurrent use: the
// host serialises calls (one goroutine or a lock per instance).
type Instance struct {
	def         *Definition
	id          uuid.UUID
	hasStarted  bool
	trackedLoad bool // Started/Resumed tracked since this object was created (not persisted)
	clock       time.Time
	args        map[string]any
	vars        map[string]any
	acts        map[int]*actInst
	nextN       int
	rootN       int
	queue       []workItem
	bookmarks   map[string]*bookmark
	timers      []*timer
	timerSeq    int
	completion  workflow.Completion
	reason      string
	exc         *Exception // the exception of a Faulted completion
	unhandled   *unhandled
	persistReq  bool
	records     []workflow.Record
	// correlationKey is what the definition's CorrelationKey gave at Start (not persisted).
	correlationKey string
	// InvokeWorkflow (not persisted): the host's Invoker, children started and children no
	// longer waited for since the host last took them.
	invoker Invoker
	started []*Instance
	orphans []Orphan
}

// Start creates an instance of def. inputs are checked against the declared arguments (unknown
// name, missing required argument or wrong type → an error wrapping ErrInvalidInput); absent
// arguments and all variables get their defaults, evaluated in declaration order (arguments
// first). The root activity is scheduled; call Run to execute it.
func Start(def *Definition, id uuid.UUID, inputs map[string]any, now time.Time) (*Instance, error) {
	in := newInstance(def, id)
	in.clock = now.UTC()
	for k := range inputs {
		if _, ok := def.argument(k); !ok {
			return nil, fmt.Errorf("%w: %s has no argument %q", ErrInvalidInput, def.Identity, k)
		}
	}
	for _, a := range def.Arguments {
		in.args[a.Name] = a.Type.zero()
	}
	for _, v := range def.Variables {
		in.vars[v.Name] = v.Type.zero()
	}
	for _, a := range def.Arguments {
		raw, given := inputs[a.Name]
		if !given {
			if a.Required {
				return nil, fmt.Errorf("%w: missing required argument %q (%s)", ErrInvalidInput, a.Name, a.Type)
			}
			if a.Default == nil {
				continue
			}
			v, exc := in.eval(a.Default)
			if exc != nil {
				return nil, fmt.Errorf("%w: default of %q: %s", ErrInvalidInput, a.Name, exc.Message)
			}
			raw = v
		}
		v, err := coerce(raw, a.Type)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %q: %v", ErrInvalidInput, a.Name, err)
		}
		in.args[a.Name] = v
	}
	if err := in.initVariables(def.Variables); err != nil {
		return nil, err
	}
	if err := in.startCorrelation(); err != nil {
		return nil, err
	}
	in.nextN = 1
	in.rootN = 1
	in.acts[1] = &actInst{N: 1, Act: def.root.ID, Kind: def.root.Kind}
	in.enqueue(workItem{Op: opExecute, Target: 1})
	return in, nil
}

func newInstance(def *Definition, id uuid.UUID) *Instance {
	return &Instance{
		def: def, id: id,
		args: map[string]any{}, vars: map[string]any{},
		acts: map[int]*actInst{}, bookmarks: map[string]*bookmark{},
	}
}

func (in *Instance) initVariables(vars []Variable) error {
	for _, v := range vars {
		if v.Default == nil {
			in.vars[v.Name] = v.Type.zero()
			continue
		}
		raw, exc := in.eval(v.Default)
		if exc != nil {
			return fmt.Errorf("%w: default of variable %q: %s", ErrInvalidInput, v.Name, exc.Message)
		}
		val, err := coerce(raw, v.Type)
		if err != nil {
			return fmt.Errorf("%w: default of variable %q: %v", ErrInvalidInput, v.Name, err)
		}
		in.vars[v.Name] = val
	}
	return nil
}

// ID is the instance id.
func (in *Instance) ID() uuid.UUID { return in.id }

// Identity is the identity of the instance's current definition.
func (in *Instance) Identity() workflow.Identity { return in.def.Identity }

// Definition is the instance's current definition.
func (in *Instance) Definition() *Definition { return in.def }

// Status is the execution status.
func (in *Instance) Status() Status {
	switch {
	case in.completion != workflow.NotCompleted:
		return StatusCompleted
	case in.unhandled != nil:
		return StatusUnhandledException
	case len(in.queue) > 0:
		return StatusExecuting
	}
	return StatusIdle
}

// Completion is how the instance ended and the reason (termination reason or fault message);
// NotCompleted while running.
func (in *Instance) Completion() (workflow.Completion, string) { return in.completion, in.reason }

// PendingException is the unhandled exception the instance is paused on, if any.
func (in *Instance) PendingException() *Exception {
	if in.unhandled == nil {
		return nil
	}
	e := *in.unhandled.Exc
	return &e
}

// Bookmarks returns the names of the user bookmarks (Receive) the instance waits on, sorted.
// Delay timers are not bookmarks here: see NextTimer.
func (in *Instance) Bookmarks() []string {
	out := make([]string, 0, len(in.bookmarks))
	for n := range in.bookmarks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MachineState is the current state of one executing StateMachine activity.
type MachineState struct {
	Machine string // the StateMachine's activity id
	State   string // the Id of the state it is in
}

// CurrentStates lists the current state of every executing StateMachine, outermost (earliest
// started) first: nested machines after the machine whose state runs them, machines in
// Parallel branches or ParallelForEach bodies in the order they started. A machine is in a
// state from the moment the state is entered (before its Entry runs) until the target of a
// taken transition is entered, so while the source's Exit and the transition's Action run it is
// still in the source state. Empty when no StateMachine is executing (and once the instance has
// completed: the StateEntered tracking records tell which state a machine ended in).
func (in *Instance) CurrentStates() []MachineState {
	var ns []int
	for n, a := range in.acts {
		if a.Kind == KindStateMachine && a.State != "" {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	out := make([]MachineState, 0, len(ns))
	for _, n := range ns {
		out = append(out, MachineState{Machine: in.acts[n].Act, State: in.acts[n].State})
	}
	return out
}

// CurrentState is the current state of the outermost (earliest started) executing
// StateMachine, "" when none is executing: what a host shows as the instance's currentState.
func (in *Instance) CurrentState() string {
	if s := in.CurrentStates(); len(s) > 0 {
		return s[0].State
	}
	return ""
}

// NextTimer returns the earliest pending Delay due time.
func (in *Instance) NextTimer() (time.Time, bool) {
	if len(in.timers) == 0 {
		return time.Time{}, false
	}
	return in.timers[0].Due, true
}

// Timers returns the due times of the pending Delays, earliest first (nil when none). The n
// timers FireDueTimers fires are the first n of them.
func (in *Instance) Timers() []time.Time {
	var out []time.Time
	for _, t := range in.timers {
		out = append(out, t.Due)
	}
	return out
}

// Variables returns a copy of the workflow variables.
func (in *Instance) Variables() map[string]any { return copyValues(in.vars) }

// Arguments returns a copy of the input arguments.
func (in *Instance) Arguments() map[string]any { return copyValues(in.args) }

func copyValues(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			v, _ = normalize(v) // deep copy
		}
		out[k] = v
	}
	return out
}

// PendingRecords is how many tracking records wait to be drained.
func (in *Instance) PendingRecords() int { return len(in.records) }

// DrainRecords returns the tracking records produced since the last call.
func (in *Instance) DrainRecords() []workflow.Record {
	r := in.records
	in.records = nil
	return r
}

func jsonData(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func (in *Instance) track(r workflow.Record) { in.records = append(in.records, r) }

func (in *Instance) trackActivity(a *actInst, state ActivityState, exc *Exception) {
	d := map[string]any{"type": string(a.Kind)}
	if exc != nil {
		d["exception"] = exc.Name
		d["message"] = exc.Message
	}
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: string(state), Activity: a.Act, Data: jsonData(d)})
}

func (in *Instance) node(a *actInst) *activity { return in.def.byID[a.Act] }

func (in *Instance) enqueue(w workItem) { in.queue = append(in.queue, w) }

// Run executes work items until the queue is empty (Idle), the instance completes, a Persist
// activity ran (PersistRequested), an exception reaches the root unhandled (UnhandledException),
// or maxWorkItems items ran (Runnable; maxWorkItems <= 0 means no limit). now is the current
// time (used by Delay and the now() expression function).
//
// An instance paused by an unhandled exception stays paused (Run returns UnhandledException
// again, doing nothing) until the host applies its policy: Cancel, Terminate, Fault, or
// discarding the object and reloading its last image (Abandon, AbandonAndSuspend).
func (in *Instance) Run(now time.Time, maxWorkItems int) Result {
	in.clock = now.UTC()
	if in.completion != workflow.NotCompleted {
		return in.completedResult(0)
	}
	if u := in.unhandled; u != nil {
		e := *u.Exc
		return Result{Kind: ResultUnhandledException, Exception: &e}
	}
	executed := 0
	for len(in.queue) > 0 {
		if maxWorkItems > 0 && executed >= maxWorkItems {
			return Result{Kind: ResultRunnable, WorkItems: executed}
		}
		w := in.queue[0]
		in.queue[0] = workItem{}
		in.queue = in.queue[1:]
		a := in.acts[w.Target]
		if a == nil || (w.Op == opExecute && a.Started) || (w.Op == opCancel && !a.Started) {
			continue // stale: its activity completed or was aborted
		}
		in.trackLoad()
		executed++
		in.dispatch(a, w)
		switch {
		case in.completion != workflow.NotCompleted:
			return in.completedResult(executed)
		case in.unhandled != nil:
			e := *in.unhandled.Exc
			return Result{Kind: ResultUnhandledException, Exception: &e, WorkItems: executed}
		case in.persistReq:
			in.persistReq = false
			return Result{Kind: ResultPersistRequested, WorkItems: executed}
		}
	}
	if len(in.queue) == 0 {
		in.queue = nil
	}
	if executed > 0 {
		in.track(workflow.Record{Kind: workflow.InstanceRecord, Name: "Idle"})
	}
	return Result{Kind: ResultIdle, WorkItems: executed}
}

// trackLoad records Started (first execution ever) or Resumed, once per in-memory lifetime,
// on the first Run that executes work, Cancel or bookmark resumption (WF4's TrackResumed).
func (in *Instance) trackLoad() {
	if in.trackedLoad {
		return
	}
	in.trackedLoad = true
	name := "Resumed"
	if !in.hasStarted {
		name = "Started"
	}
	in.hasStarted = true
	in.track(workflow.Record{Kind: workflow.InstanceRecord, Name: name})
}

func (in *Instance) completedResult(n int) Result {
	r := Result{Kind: ResultCompleted, Completion: in.completion, Reason: in.reason, WorkItems: n}
	if in.exc != nil {
		e := *in.exc
		r.Exception = &e
	}
	return r
}

func (in *Instance) dispatch(a *actInst, w workItem) {
	node := in.node(a)
	var exc *Exception
	switch w.Op {
	case opExecute:
		a.Started = true
		if a.CancelRequested {
			in.complete(a, ActivityCanceled)
			return
		}
		in.trackActivity(a, Executing, nil)
		exc = behaviourOf(a.Kind).execute(in, a, node)
	case opCallback:
		exc = callbacks[w.Callback](in, a, node, *w.Child)
	case opResume:
		exc = resumptions[w.Callback](in, a, node, w.Payload)
	case opCancel:
		if c := behaviourOf(a.Kind).cancel; c != nil {
			exc = c(in, a, node)
		} else {
			in.cancelChildren(a)
		}
	}
	if exc != nil {
		in.fault(a, exc)
	}
}

// schedule creates a child activity instance of p for act and queues its execution; cb names
// p's callback run when the child completes.
func (in *Instance) schedule(p *actInst, act *activity, cb string) *actInst {
	in.nextN++
	c := &actInst{N: in.nextN, Act: act.ID, Kind: act.Kind, Parent: p.N, Callback: cb}
	in.acts[c.N] = c
	p.Children = append(p.Children, c.N)
	in.enqueue(workItem{Op: opExecute, Target: c.N})
	return c
}

// complete closes a with the given state and queues its parent's callback.
func (in *Instance) complete(a *actInst, state ActivityState) {
	in.trackActivity(a, state, nil)
	in.release(a)
	if a.Parent == 0 {
		switch state {
		case ActivityClosed:
			in.finish(workflow.Closed, "")
		default:
			in.finish(workflow.Canceled, "")
		}
		return
	}
	in.enqueue(workItem{Op: opCallback, Target: a.Parent, Callback: a.Callback,
		Child: &childDone{N: a.N, Activity: a.Act, State: state}})
}

// release removes a from the tree with its bookmarks and timers.
func (in *Instance) release(a *actInst) {
	in.releaseChild(a)
	for name, b := range in.bookmarks {
		if b.Owner == a.N {
			delete(in.bookmarks, name)
		}
	}
	in.timers = slices.DeleteFunc(in.timers, func(t *timer) bool { return t.Owner == a.N })
	delete(in.acts, a.N)
	if p := in.acts[a.Parent]; p != nil {
		p.Children = slices.DeleteFunc(p.Children, func(n int) bool { return n == a.N })
	}
}

// requestCancel marks a for cancellation and queues its cancel work item.
func (in *Instance) requestCancel(a *actInst) {
	if a == nil || a.CancelRequested {
		return
	}
	a.CancelRequested = true
	in.enqueue(workItem{Op: opCancel, Target: a.N})
}

func (in *Instance) cancelChildren(a *actInst) {
	for _, n := range slices.Clone(a.Children) {
		in.requestCancel(in.acts[n])
	}
}

// abortSubtree aborts a's descendants (and a itself if self): Faulted, no handlers run.
func (in *Instance) abortSubtree(a *actInst, self bool) {
	for _, n := range slices.Clone(a.Children) {
		if c := in.acts[n]; c != nil {
			in.abortSubtree(c, true)
		}
	}
	if self {
		in.trackActivity(a, ActivityFaulted, nil)
		in.release(a)
	}
}

func (in *Instance) abortAll() {
	if r := in.acts[in.rootN]; r != nil {
		in.abortSubtree(r, true)
	}
	in.acts = map[int]*actInst{}
	in.queue = nil
	in.bookmarks = map[string]*bookmark{}
	in.timers = nil
}

func (in *Instance) finish(c workflow.Completion, reason string) {
	in.completion = c
	in.reason = reason
	in.queue = nil
	in.bookmarks = map[string]*bookmark{}
	in.timers = nil
	in.unhandled = nil
	name := string(c)
	if c == workflow.Closed {
		name = "Completed"
	}
	r := workflow.Record{Kind: workflow.InstanceRecord, Name: name, Reason: reason}
	if c == workflow.Faulted && in.exc != nil {
		r.Data = jsonData(map[string]string{"exception": in.exc.Name, "activity": in.exc.Activity})
	}
	in.track(r)
}

// fault raises exc from a: a's descendants are aborted, a is Faulted, and the nearest enclosing
// TryCatch whose Try is executing and that has a matching Catch handles it (the path between
// is canceled, then the Catch runs). Without a handler the instance pauses (UnhandledException).
func (in *Instance) fault(a *actInst, exc *Exception) {
	if exc.Activity == "" {
		exc.Activity = a.Act
	}
	in.abortSubtree(a, false)
	var handler *actInst
	var path []*actInst // ancestors strictly between a and the handler, bottom-up
	for p := in.acts[a.Parent]; p != nil; p = in.acts[p.Parent] {
		if p.Kind == KindTryCatch && p.Phase == phaseTry && p.Catch == 0 {
			if i := slices.IndexFunc(in.node(p).Catches, func(c catchClause) bool { return c.matches(exc.Name) }); i >= 0 {
				handler = p
				p.Catch = i + 1
				p.Exc = exc
				break
			}
		}
		path = append(path, p)
	}
	in.trackActivity(a, ActivityFaulted, exc)
	in.release(a)
	var cb *workItem
	if a.Parent != 0 {
		cb = &workItem{Op: opCallback, Target: a.Parent, Callback: a.Callback,
			Child: &childDone{N: a.N, Activity: a.Act, State: ActivityFaulted}}
	}
	if handler != nil {
		for i := len(path) - 1; i >= 0; i-- {
			in.requestCancel(path[i])
		}
		in.enqueue(*cb)
		return
	}
	in.unhandled = &unhandled{Exc: exc, Pending: cb}
	in.track(workflow.Record{Kind: workflow.InstanceRecord, Name: "UnhandledException", Reason: exc.Message,
		Data: jsonData(map[string]string{"exception": exc.Name, "activity": exc.Activity})})
}

// ResumeBookmark resumes the named bookmark with payload (any JSON-representable value, or
// json.RawMessage/[]byte holding JSON). The resumption is queued (FIFO); call Run to execute it.
// Errors: ErrCompleted, ErrNotReady, ErrBookmarkNotFound, ErrInvalidPayload (the payload does
// not fit the Receive's Result variable; the bookmark stays).
func (in *Instance) ResumeBookmark(name string, payload any) error {
	switch {
	case in.completion != workflow.NotCompleted:
		return ErrCompleted
	case in.unhandled != nil:
		return ErrNotReady
	}
	b := in.bookmarks[name]
	if b == nil {
		return fmt.Errorf("%w: %q", ErrBookmarkNotFound, name)
	}
	owner := in.acts[b.Owner]
	node := in.node(owner)
	var v any
	var err error
	if node.Result != "" {
		vd, _ := in.def.variable(node.Result)
		v, err = coerce(payload, vd.Type)
	} else {
		v, err = normalize(payload)
	}
	if err != nil {
		return fmt.Errorf("%w: bookmark %q: %v", ErrInvalidPayload, name, err)
	}
	delete(in.bookmarks, name)
	in.trackLoad()
	in.enqueue(workItem{Op: opResume, Target: b.Owner, Callback: b.Callback, Payload: v, Bookmark: name})
	data := jsonData(v)
	if v == nil {
		data = "null"
	}
	in.track(workflow.Record{Kind: workflow.BookmarkRecord, Name: name, Activity: owner.Act, Data: data})
	return nil
}

// FireDueTimers queues the resumption of every Delay whose due time is at or before now, in
// due-time order, and returns how many fired. Call Run afterwards.
func (in *Instance) FireDueTimers(now time.Time) int {
	if in.completion != workflow.NotCompleted || in.unhandled != nil {
		return 0
	}
	in.clock = now.UTC()
	n := 0
	for len(in.timers) > 0 && !in.timers[0].Due.After(now) {
		t := in.timers[0]
		in.timers = in.timers[1:]
		in.enqueue(workItem{Op: opResume, Target: t.Owner, Callback: t.Callback})
		act := ""
		if a := in.acts[t.Owner]; a != nil {
			act = a.Act
		}
		in.track(workflow.Record{Kind: workflow.BookmarkRecord, Name: TimerRecordName, Activity: act,
			Data: jsonData(map[string]string{"due": t.Due.Format(time.RFC3339Nano)})})
		n++
	}
	if len(in.timers) == 0 {
		in.timers = nil
	}
	return n
}

func (in *Instance) addTimer(owner int, due time.Time, cb string) {
	in.timerSeq++
	t := &timer{Owner: owner, Due: due.UTC(), Seq: in.timerSeq, Callback: cb}
	i := sort.Search(len(in.timers), func(i int) bool { return in.timers[i].Due.After(t.Due) })
	in.timers = slices.Insert(in.timers, i, t)
}

// Cancel requests cancellation of the root activity: CancellationScope handlers and TryCatch
// Finally blocks run, Pick and Parallel branches are canceled; the instance normally completes
// Canceled. On an instance paused by an unhandled exception this is the Cancel policy. Call Run
// to execute the cancellation. Error: ErrCompleted.
func (in *Instance) Cancel() error {
	if in.completion != workflow.NotCompleted {
		return ErrCompleted
	}
	in.trackLoad()
	if u := in.unhandled; u != nil {
		in.unhandled = nil
		if u.Pending == nil { // the root itself faulted: nothing left to cancel
			in.finish(workflow.Canceled, "")
			return nil
		}
		var path []*actInst
		for p := in.acts[u.Pending.Target]; p != nil; p = in.acts[p.Parent] {
			path = append(path, p)
		}
		for i := len(path) - 1; i >= 0; i-- {
			in.requestCancel(path[i])
		}
		in.enqueue(*u.Pending)
	}
	in.requestCancel(in.acts[in.rootN])
	return nil
}

// Fault is the "accept the fault" policy for an instance paused by an unhandled exception
// (WorkflowApplication's default): every activity is aborted and the instance completes Faulted,
// the reason being the exception message. Errors: ErrCompleted, ErrNoException.
func (in *Instance) Fault() error {
	switch {
	case in.completion != workflow.NotCompleted:
		return ErrCompleted
	case in.unhandled == nil:
		return ErrNoException
	}
	u := in.unhandled
	in.unhandled = nil
	in.abortAll()
	in.exc = u.Exc
	in.finish(workflow.Faulted, u.Exc.Message)
	return nil
}

// Terminate aborts every activity (no cancellation handlers run) and completes the instance
// Terminated with reason, at once. Error: ErrCompleted.
func (in *Instance) Terminate(reason string) error {
	if in.completion != workflow.NotCompleted {
		return ErrCompleted
	}
	in.terminate(reason)
	return nil
}

func (in *Instance) terminate(reason string) {
	in.abortAll()
	in.finish(workflow.Terminated, reason)
}
