package wimp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
)

// Activity is a custom activity to register with New: made by Code (run synchronously inside
// the instance) or Async (run by the host outside it).
type Activity struct {
	typ  *engine.ActivityType
	call host.CallFunc // Async only
	err  error
}

// Name is the activity's XML element.
func (a Activity) Name() string {
	if a.typ == nil {
		return ""
	}
	return a.typ.Name
}

// CodeContext is what a code-only activity sees of its instance: the instance id, the
// activity's id and the time of the current execution (engine.CodeContext).
type CodeContext = engine.CodeContext

// Call is what an asynchronous activity's function sees of the attempt it performs.
type Call struct {
	Instance uuid.UUID
	Activity string // the activity's id in the definition
	// IdempotencyKey is the same for every attempt of one execution of the activity, across
	// crashes and restarts: use it to make the effect happen once (HttpRequest sends it as the
	// Idempotency-Key header).
	IdempotencyKey string
	Attempt        int // 1-based
	Attempts       int // the activity's Attempts
	Started        time.Time
}

// Error is an error with a workflow exception name: returned by an activity's function, it
// raises that exception in the workflow (catchable with <Catch Exception="Name">). Any other
// error raises ActivityError.
type Error struct {
	Name    string // an identifier, e.g. MailboxFull
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// retryable marks an error as transient.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// Retryable marks err as transient: an asynchronous activity's attempt that returns it is
// retried after the back-off while the activity's Attempts last. A context deadline (the
// attempt's Timeout) is transient too.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return retryable{err}
}

// Code declares a code-only activity named name: run is called with the activity's arguments
// decoded into A, inside the work item that executes it, and its result is assigned to the
// activity's Result variable. run must be deterministic with respect to the instance — the
// same arguments give the same result, no clock but c.Now, no I/O whose outcome matters — as
// an instance may run it again after a crash. Use Async for anything that talks to the world.
//
// A is a struct whose exported fields are the element's attributes (see argumentsOf); R is
// any JSON-representable type.
func Code[A, R any](name string, run func(c CodeContext, args A) (R, error)) Activity {
	args, err := argumentsOf[A]()
	if err != nil {
		return Activity{err: fmt.Errorf("wimp: activity %s: %w", name, err)}
	}
	return Activity{typ: &engine.ActivityType{Name: name, Arguments: args,
		Run: func(c engine.CodeContext, m map[string]any) (any, error) {
			a, err := decodeArgs[A](m)
			if err != nil {
				return nil, err
			}
			r, err := run(c, a)
			if err != nil {
				return nil, toException(err)
			}
			return r, nil
		}}}
}

// Async declares an asynchronous activity named name: executing it records a durable pending
// call and the activity waits; the host calls call outside the instance (with ctx bounded by
// the activity's Timeout), and the instance goes on with the result (assigned to Result) once
// it is persisted. An error fails the attempt: a Retryable one (or a timeout) is retried after
// the back-off while the activity's Attempts last, then raises its exception; any other raises
// it at once (an *Error by its Name, else ActivityError). Attempts are made at least once and
// may be repeated after a crash, always with the same c.IdempotencyKey.
func Async[A, R any](name string, call func(ctx context.Context, c Call, args A) (R, error)) Activity {
	args, err := argumentsOf[A]()
	if err != nil {
		return Activity{err: fmt.Errorf("wimp: activity %s: %w", name, err)}
	}
	return Activity{typ: &engine.ActivityType{Name: name, Arguments: args},
		call: func(ctx context.Context, c host.Call) engine.CallOutcome {
			a, err := decodeArgs[A](c.Args)
			if err != nil {
				return engine.CallOutcome{Error: toException(err)}
			}
			r, err := call(ctx, Call{Instance: c.Instance, Activity: c.Activity, IdempotencyKey: c.Key,
				Attempt: c.Attempt, Attempts: c.Attempts, Started: c.Started}, a)
			if err != nil {
				var rt retryable
				return engine.CallOutcome{Error: toException(err),
					Retry: errors.As(err, &rt) || errors.Is(err, context.DeadlineExceeded)}
			}
			return engine.CallOutcome{Value: r}
		}}
}

func toException(err error) *engine.Exception {
	var e *Error
	if errors.As(err, &e) {
		return &engine.Exception{Name: e.Name, Message: e.Message}
	}
	var x *engine.Exception
	if errors.As(err, &x) {
		return x
	}
	return &engine.Exception{Name: engine.ActivityError, Message: err.Error()}
}

// argumentsOf derives the attributes of an activity from its argument struct A: every
// exported field is one, named by its `wimp:"Name"` tag (default: the field's name; "-" skips
// it; `wimp:"Name,required"` makes it required). string fields are String, bool Boolean, the
// integer and floating-point kinds Number, anything else Object (a JSON value decoded into the
// field).
func argumentsOf[A any]() ([]engine.ActivityArgument, error) {
	t := reflect.TypeFor[A]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("arguments must be a struct, not %s", t)
	}
	var out []engine.ActivityArgument
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("wimp"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		arg := engine.ActivityArgument{Name: name, Required: opts == "required", Type: engine.Object}
		switch f.Type.Kind() {
		case reflect.String:
			arg.Type = engine.String
		case reflect.Bool:
			arg.Type = engine.Boolean
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
			reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			arg.Type = engine.Number
		}
		out = append(out, arg)
	}
	return out, nil
}

// decodeArgs fills an A from evaluated arguments (JSON values by attribute name).
func decodeArgs[A any](m map[string]any) (A, error) {
	var a A
	v := reflect.ValueOf(&a).Elem()
	for _, f := range reflect.VisibleFields(v.Type()) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("wimp"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		raw, ok := m[name]
		if !ok || raw == nil {
			continue
		}
		b, err := json.Marshal(raw)
		if err != nil {
			return a, err
		}
		if err := json.Unmarshal(b, v.FieldByIndex(f.Index).Addr().Interface()); err != nil {
			return a, &Error{Name: engine.ArgumentError, Message: fmt.Sprintf("argument %s: %v", name, err)}
		}
	}
	return a, nil
}
