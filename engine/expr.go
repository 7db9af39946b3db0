package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// Expr is an attribute value: either a literal or a compiled expr-lang expression (written
// "[...]" in XML).
type Expr struct {
	Source  string // the attribute text as written
	literal bool
	lit     any // literal value, already converted to its target type
	prog    *vm.Program
}

// IsLiteral reports whether the value is a literal rather than an expression.
func (e *Expr) IsLiteral() bool { return e.literal }

// reserved names: expr-lang keywords and the engine's own function.
var reservedNames = map[string]bool{
	"true": true, "false": true, "nil": true, "and": true, "or": true, "not": true, "in": true,
	"matches": true, "contains": true, "startsWith": true, "endsWith": true, "let": true,
	"if": true, "else": true, "now": true, "env": true, "$env": true,
}

func validName(s string) bool {
	return len(s) <= 128 && !reservedNames[s] && isIdentifier(s)
}

// isIdentifier reports a non-empty ASCII identifier: a letter or _, then letters, digits or _.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}

var nowFuncType = types.TypeOf(func() time.Time { return time.Time{} })

func exprType(t Type) types.Type {
	switch t {
	case Number:
		return types.Float64
	case String:
		return types.String
	case Boolean:
		return types.Bool
	}
	return types.Any
}

// compileEnv builds the type environment expressions are checked against.
func compileEnv(args []Argument, vars []Variable) types.Map {
	env := types.Map{"now": nowFuncType}
	for _, a := range args {
		env[a.Name] = exprType(a.Type)
	}
	for _, v := range vars {
		env[v.Name] = exprType(v.Type)
	}
	return env
}

// compileSource compiles an expression body (without brackets). want is the expected result
// type ("" for any).
func compileSource(src string, env types.Map, want Type) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	opts := []expr.Option{expr.Env(env), expr.DisableBuiltin("now"), expr.Timezone("UTC")}
	switch want {
	case Boolean:
		opts = append(opts, expr.AsBool())
	case Number:
		opts = append(opts, expr.AsFloat64())
	case String:
		opts = append(opts, expr.AsKind(reflect.String))
	}
	prog, err := compileNoPanic(src, opts)
	if err != nil {
		return nil, fmt.Errorf("bad expression %q: %s", src, firstLine(err.Error()))
	}
	return prog, nil
}

func compileNoPanic(src string, opts []expr.Option) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return expr.Compile(src, opts...)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// isBracketed reports whether an attribute value is an expression "[...]".
func isBracketed(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']'
}

func unbracket(s string) string {
	s = strings.TrimSpace(s)
	return s[1 : len(s)-1]
}

// Exception is a workflow exception: raised by Throw or by the runtime (ExpressionError,
// TypeError, ArgumentError, BookmarkError, InvalidOperationError). Activity is the id of the
// activity that raised it.
type Exception struct {
	Name     string `json:"name"`
	Message  string `json:"message"`
	Activity string `json:"activity,omitempty"`
}

func (e *Exception) Error() string { return e.Name + ": " + e.Message }

// Runtime exception names.
const (
	ExpressionError = "ExpressionError" // an expression failed to evaluate
	TypeError       = "TypeError"       // a value does not fit the declared type
	ArgumentError   = "ArgumentError"   // a bad activity argument (e.g. a negative Delay)
	BookmarkError   = "BookmarkError"   // a bookmark name already in use, or a bad computed name
	// InvalidOperationError: an activity cannot go on (ForEach Values not a list; a State none
	// of whose transitions can be taken).
	InvalidOperationError = "InvalidOperationError"
)

// normalize converts a Go value to its canonical JSON form (float64, string, bool, nil,
// []any, map[string]any) so that it survives a snapshot round trip unchanged.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a finite number", x)
		}
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case json.RawMessage:
		return decodeJSON(x)
	case []byte:
		return decodeJSON(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("value is not representable as JSON: %v", err)
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) (any, error) {
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	return out, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case float64:
		return "Number"
	case string:
		return "String"
	case bool:
		return "Boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// aTypeName is typeName with an article: "a Number", "an object", "null".
func aTypeName(v any) string {
	switch n := typeName(v); n {
	case "null":
		return n
	case "array", "object":
		return "an " + n
	default:
		return "a " + n
	}
}

// coerce converts v to the declared type t (after normalisation).
func coerce(v any, t Type) (any, error) {
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	switch t {
	case Object:
		return n, nil
	case Number:
		if _, ok := n.(float64); ok {
			return n, nil
		}
	case String:
		if _, ok := n.(string); ok {
			return n, nil
		}
	case Boolean:
		if _, ok := n.(bool); ok {
			return n, nil
		}
	}
	return nil, fmt.Errorf("a %s value does not fit type %s", typeName(n), t)
}

// parseLiteral converts a literal attribute text to a value of type t.
func parseLiteral(s string, t Type) (any, error) {
	switch t {
	case String:
		return s, nil
	case Number:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a Number", s)
		}
		return f, nil
	case Boolean:
		switch strings.TrimSpace(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a Boolean (true or false)", s)
	case Object:
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not JSON: %v", s, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

// toText renders a value for WriteLine, Throw messages and termination reasons.
func toText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	}
	n, err := normalize(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if f, ok := n.(float64); ok {
		return toText(f)
	}
	b, _ := json.Marshal(n)
	return string(b)
}

// toDuration converts a Delay duration value: a Go duration string ("90s", "240h") or a number
// of seconds.
func toDuration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case string:
		p, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("bad duration %q: want a Go duration such as \"90s\" or \"240h\"", x)
		}
		d = p
	case time.Duration:
		d = x
	case float64, int, int64:
		f := reflect.ValueOf(x).Convert(reflect.TypeFor[float64]()).Float()
		if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
			return 0, fmt.Errorf("bad duration %v seconds", f)
		}
		d = time.Duration(f * float64(time.Second))
	default:
		return 0, fmt.Errorf("bad duration: a %s value (want a duration string or seconds)", typeName(x))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %v", d)
	}
	return d, nil
}
