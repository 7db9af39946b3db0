package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// ImageFormat is the version tag of the execution image written by Snapshot.
const ImageFormat = "wimp-image/1"

// ImageFormatCalls is the version tag of an image holding the call of an asynchronous Go
// activity (HttpRequest, a custom activity): version 1 plus the activities' "call" field.
// Snapshot writes it only when a call is executing, so an image without one stays readable by
// engines that know only version 1; Restore reads both.
const ImageFormatCalls = "wimp-image/2"

type image struct {
	Format     string              `json:"format"`
	ID         uuid.UUID           `json:"id"`
	Definition workflow.Identity   `json:"definition"`
	HasStarted bool                `json:"hasStarted"`
	Clock      time.Time           `json:"clock"`
	Arguments  map[string]any      `json:"arguments"`
	Variables  map[string]any      `json:"variables"`
	Root       int                 `json:"root"`
	NextN      int                 `json:"nextActivityInstance"`
	Activities []*actInst          `json:"activities"`
	Queue      []workItem          `json:"queue"`
	Bookmarks  []*bookmark         `json:"bookmarks"`
	Timers     []*timer            `json:"timers"`
	TimerSeq   int                 `json:"timerSeq"`
	Completion workflow.Completion `json:"completion,omitempty"`
	Reason     string              `json:"reason,omitempty"`
	Exception  *Exception          `json:"exception,omitempty"`
	Unhandled  *unhandled          `json:"unhandled,omitempty"`
}

// Snapshot serialises the whole execution image (activity instance tree with per-activity
// state, work queue, bookmarks with their callback names, timers, variables, arguments, the
// hasStarted flag, completion) as JSON tagged {"format": "wimp-image/1"}. Tracking records are
// not part of it: drain them first. The output is deterministic.
func (in *Instance) Snapshot() ([]byte, error) {
	img := image{
		Format: ImageFormat, ID: in.id, Definition: in.def.Identity, HasStarted: in.hasStarted,
		Clock: in.clock, Arguments: in.args, Variables: in.vars, Root: in.rootN, NextN: in.nextN,
		Queue: in.queue, Timers: in.timers, TimerSeq: in.timerSeq, Completion: in.completion,
		Reason: in.reason, Exception: in.exc, Unhandled: in.unhandled,
		Activities: make([]*actInst, 0, len(in.acts)), Bookmarks: make([]*bookmark, 0, len(in.bookmarks)),
	}
	for _, a := range in.acts {
		img.Activities = append(img.Activities, a)
		if a.Call != nil && img.Format == ImageFormat {
			img.Format = ImageFormatCalls
		}
		if a.Invoked != nil {
			img.Format = ImageFormatChildren
		}
	}
	sort.Slice(img.Activities, func(i, j int) bool { return img.Activities[i].N < img.Activities[j].N })
	for _, b := range in.bookmarks {
		img.Bookmarks = append(img.Bookmarks, b)
	}
	sort.Slice(img.Bookmarks, func(i, j int) bool { return img.Bookmarks[i].Name < img.Bookmarks[j].Name })
	if img.Queue == nil {
		img.Queue = []workItem{}
	}
	if img.Timers == nil {
		img.Timers = []*timer{}
	}
	return json.Marshal(img)
}

// ImageIdentity reads the definition identity recorded in an execution image, so the host
// can find the definition to Restore it with.
func ImageIdentity(data []byte) (workflow.Identity, error) {
	var head struct {
		Format     string            `json:"format"`
		Definition workflow.Identity `json:"definition"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return workflow.Identity{}, fmt.Errorf("%w: %v", ErrImage, err)
	}
	if head.Format != ImageFormat && head.Format != ImageFormatCalls && head.Format != ImageFormatChildren {
		return workflow.Identity{}, fmt.Errorf("%w: unsupported format %q (this engine reads %q, %q and %q)", ErrImage, head.Format, ImageFormat, ImageFormatCalls, ImageFormatChildren)
	}
	return head.Definition, nil
}

// Definitions finds definitions by identity; *Registry and *Definition implement it.
type Definitions interface {
	Get(id workflow.Identity) (*Definition, error)
}

// Get returns d itself if id is d's identity (so a single *Definition can serve Restore).
func (d *Definition) Get(id workflow.Identity) (*Definition, error) {
	if !id.Equal(d.Identity) {
		return nil, fmt.Errorf("%w: %s (have %s)", ErrNotFound, id, d.Identity)
	}
	return d, nil
}

// Restore rebuilds an instance from an execution image written by Snapshot, with the image's
// definition looked up in defs. It refuses unknown formats and images that do not fit the
// definition (ErrImage). The restored instance tracks Resumed (not Started) on its first Run.
func Restore(defs Definitions, data []byte) (*Instance, error) {
	idn, err := ImageIdentity(data)
	if err != nil {
		return nil, err
	}
	def, err := defs.Get(idn)
	if err != nil {
		return nil, err
	}
	var img image
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&img); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrImage, fmt.Sprintf(format, args...))
	}
	in := newInstance(def, img.ID)
	in.hasStarted = img.HasStarted
	in.clock = img.Clock
	in.rootN = img.Root
	in.nextN = img.NextN
	in.timerSeq = img.TimerSeq
	in.completion = img.Completion
	in.reason = img.Reason
	in.exc = img.Exception
	in.unhandled = img.Unhandled
	switch in.completion {
	case workflow.NotCompleted, workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted:
	default:
		return nil, bad("unknown completion %q", in.completion)
	}
	for _, a := range def.Arguments {
		v, err := coerce(img.Arguments[a.Name], a.Type)
		if err != nil {
			return nil, bad("argument %s: %v", a.Name, err)
		}
		in.args[a.Name] = v
	}
	for _, v := range def.Variables {
		val, err := coerce(img.Variables[v.Name], v.Type)
		if err != nil {
			return nil, bad("variable %s: %v", v.Name, err)
		}
		in.vars[v.Name] = val
	}
	for _, a := range img.Activities {
		if a == nil || a.N <= 0 || a.N > in.nextN || in.acts[a.N] != nil {
			return nil, bad("bad activity instance")
		}
		n := def.byID[a.Act]
		if n == nil || n.Kind != a.Kind || n.Kind.structural() {
			return nil, bad("activity %q (%s) is not in %s", a.Act, a.Kind, def.Identity)
		}
		if err := checkImageFields(a, n); err != "" {
			return nil, bad("activity %q: %s", a.Act, err)
		}
		if err := checkCallImage(a, n); err != "" {
			return nil, bad("activity %q: %s", a.Act, err)
		}
		if a.Call != nil && img.Format == ImageFormat {
			return nil, bad("activity %q: a call in a %s image", a.Act, ImageFormat)
		}
		if err := checkInvokedImage(a, n); err != "" {
			return nil, bad("activity %q: %s", a.Act, err)
		}
		if a.Invoked != nil && img.Format != ImageFormatChildren {
			return nil, bad("activity %q: a child in a %s image", a.Act, img.Format)
		}
		if a.Parent == 0 && a.N != in.rootN {
			return nil, bad("activity instance %d has no parent", a.N)
		}
		if a.Catch < 0 || a.Catch > len(n.Catches) {
			return nil, bad("activity %q: bad catch index", a.Act)
		}
		in.acts[a.N] = a
	}
	for _, a := range in.acts {
		if a.Parent != 0 {
			p := in.acts[a.Parent]
			if p == nil || !fits(a.Callback, p.Kind, callbacks) {
				return nil, bad("activity instance %d: bad parent %d or callback %q", a.N, a.Parent, a.Callback)
			}
		}
		for _, c := range a.Children {
			if ch := in.acts[c]; ch == nil || ch.Parent != a.N {
				return nil, bad("activity instance %d: bad child %d", a.N, c)
			}
		}
		// Every instance reaches the root: no cycles.
		steps := 0
		for p := a; p.Parent != 0; p = in.acts[p.Parent] {
			if steps++; steps > len(in.acts) {
				return nil, bad("activity instance %d: its parents form a cycle", a.N)
			}
		}
		// Loop variables: only on ForEach bodies, under the loop variable's name.
		if a.Locals != nil {
			p := in.acts[a.Parent]
			if p == nil || !p.Kind.forEach() {
				return nil, bad("activity instance %d: loop variables outside a ForEach body", a.N)
			}
			v := def.byID[p.Act].Variable
			if _, ok := a.Locals[v]; v == "" || !ok || len(a.Locals) != 1 {
				return nil, bad("activity instance %d: loop variables do not match the ForEach's Variable %q", a.N, v)
			}
		}
	}
	if in.completion == workflow.NotCompleted && in.unhandled == nil && in.acts[in.rootN] == nil {
		return nil, bad("no root activity")
	}
	for _, w := range img.Queue {
		target := in.acts[w.Target]
		switch w.Op {
		case opExecute, opCancel:
		case opCallback:
			if w.Child == nil || (target != nil && !fits(w.Callback, target.Kind, callbacks)) {
				return nil, bad("bad callback work item %q", w.Callback)
			}
		case opResume:
			if target != nil && !fits(w.Callback, target.Kind, resumptions) {
				return nil, bad("bad resumption work item %q", w.Callback)
			}
		default:
			return nil, bad("unknown work item %q", w.Op)
		}
	}
	if len(img.Queue) > 0 {
		in.queue = img.Queue
	}
	for _, b := range img.Bookmarks {
		if b == nil || in.acts[b.Owner] == nil || in.acts[b.Owner].Kind != KindReceive ||
			!fits(b.Callback, KindReceive, resumptions) || in.bookmarks[b.Name] != nil {
			return nil, bad("bad bookmark")
		}
		in.bookmarks[b.Name] = b
	}
	for _, t := range img.Timers {
		if t == nil || in.acts[t.Owner] == nil || !timerOwner(in.acts[t.Owner]) || !fits(t.Callback, in.acts[t.Owner].Kind, resumptions) {
			return nil, bad("bad timer")
		}
	}
	if len(img.Timers) > 0 {
		in.timers = img.Timers
		sort.SliceStable(in.timers, func(i, j int) bool {
			if !in.timers[i].Due.Equal(in.timers[j].Due) {
				return in.timers[i].Due.Before(in.timers[j].Due)
			}
			return in.timers[i].Seq < in.timers[j].Seq
		})
	}
	if u := in.unhandled; u != nil {
		if u.Exc == nil || (u.Pending != nil && (u.Pending.Child == nil || in.acts[u.Pending.Target] == nil ||
			!fits(u.Pending.Callback, in.acts[u.Pending.Target].Kind, callbacks))) {
			return nil, bad("bad unhandled exception")
		}
	}
	return in, nil
}

// checkImageFields checks the kind-specific fields of an activity instance against its node
// ("" when they fit).
func checkImageFields(a *actInst, n *activity) string {
	if a.State != "" && a.Kind != KindStateMachine {
		return "a state outside a StateMachine"
	}
	if a.Values != nil && a.Kind != KindForEach {
		return "a collection outside a ForEach"
	}
	switch a.Kind {
	case KindStateMachine:
		if a.Started && a.State == "" {
			return "a started StateMachine without a state"
		}
		if a.State != "" {
			st := n.child(a.State)
			if st == nil {
				return fmt.Sprintf("no state %q", a.State)
			}
			if a.Winner != "" && st.child(a.Winner) == nil {
				return fmt.Sprintf("no transition %q in state %q", a.Winner, a.State)
			}
		}
	case KindForEach:
		if a.Values != nil && (a.Index < 0 || a.Index >= len(a.Values)) {
			return "item position out of range"
		}
	}
	return ""
}

// fits reports whether the named continuation exists and belongs to activities of kind k
// (names are "Kind.what"; DoWhile shares While's).
func fits[F any](name string, k Kind, table map[string]F) bool {
	if _, ok := table[name]; !ok {
		return false
	}
	prefix, _, _ := strings.Cut(name, ".")
	return prefix == string(k) || (prefix == string(KindWhile) && k == KindDoWhile) ||
		(prefix == "External" && externalKind(k))
}

// timerOwner reports whether a may own a durable timer: a Delay, or an asynchronous Go
// activity (its back-off and its attempt's deadline).
func timerOwner(a *actInst) bool { return a.Kind == KindDelay || a.Call != nil }
