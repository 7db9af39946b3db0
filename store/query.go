package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// ErrInvalidQuery reports a Filter that does not Validate, a negative page size, a malformed
// page token or an unknown GroupBy. Nothing was read.
var ErrInvalidQuery = errors.New("store: invalid query")

// Page sizes of QueryInstances.
const (
	DefaultPageSize = 100  // PageQuery.Size 0
	MaxPageSize     = 1000 // a larger Size is taken as MaxPageSize
)

// Filter selects instances for QueryInstances and CountInstances. Every field is optional (its
// zero value selects everything) and the fields are ANDed. Matches is the reference
// semantics every backend implements.
type Filter struct {
	State      workflow.State      // exact
	Completion workflow.Completion // exact; "" for any (not "not completed": use State)
	Definition string              // the definition's name, exact
	Package    string              // the definition's package, exact
	// Version is the definition's version compared as a System.Version value: 1.0.0.0 matches
	// 1.00.0.0 but not 1.0. VersionMin and VersionMax bound it, both inclusive, in System.Version
	// order (1.0 < 1.0.0 < 1.0.0.0 < 1.1 < 10.0). Instances whose version does not parse match
	// none of the three.
	Version, VersionMin, VersionMax string
	// Exception is the name of the exception that suspended the instance or, for a Faulted one,
	// completed it (SuspensionException, else CompletionException), exact.
	Exception string
	// ReasonContains selects instances whose SuspensionReason contains it (byte-wise, so case
	// sensitive).
	ReasonContains string
	// Bookmark selects instances that wait on a bookmark of this name (exact).
	Bookmark string
	// Created and Updated bounds, both exclusive: Created after CreatedAfter and before
	// CreatedBefore. A zero time is no bound.
	CreatedAfter, CreatedBefore time.Time
	UpdatedAfter, UpdatedBefore time.Time
	// CorrelationKey selects the instance with this correlation key (exact).
	CorrelationKey string
	// CurrentState selects instances whose outermost StateMachine is in this state (exact).
	CurrentState string
	// Properties selects instances that have every one of these promoted properties with
	// exactly this value.
	Properties map[string]string
	// Parent selects the instances whose Parent is this id (exact; uuid.Nil: no condition).
	Parent uuid.UUID
	// HasParent selects only instances that have a parent (any).
	HasParent bool
}

// Validate reports, as ErrInvalidQuery, a state or completion that does not exist and a
// version that is not a System.Version.
func (f Filter) Validate() error {
	if f.State != "" && !f.State.Valid() {
		return fmt.Errorf("%w: state %q is not Active, Suspended or Completed", ErrInvalidQuery, f.State)
	}
	switch f.Completion {
	case workflow.NotCompleted, workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted:
	default:
		return fmt.Errorf("%w: completion %q is not Closed, Canceled, Terminated or Faulted", ErrInvalidQuery, f.Completion)
	}
	for name := range f.Properties {
		if name == "" {
			return fmt.Errorf("%w: a property filter needs the property's name", ErrInvalidQuery)
		}
	}
	for _, v := range []struct{ name, value string }{{"version", f.Version}, {"minimum version", f.VersionMin}, {"maximum version", f.VersionMax}} {
		if v.value == "" {
			continue
		}
		if _, err := workflow.ParseVersion(v.value); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidQuery, v.name, err)
		}
	}
	return nil
}

// Summarizable reports whether f uses only the fields an instance's state, completion,
// definition and exception decide (no reason, bookmark or time bounds): counts that a backend
// can keep per group instead of counting rows.
func (f Filter) Summarizable() bool {
	return f.ReasonContains == "" && f.Bookmark == "" && f.CreatedAfter.IsZero() && f.CreatedBefore.IsZero() &&
		f.UpdatedAfter.IsZero() && f.UpdatedBefore.IsZero() && f.CorrelationKey == "" && f.CurrentState == "" &&
		len(f.Properties) == 0 && f.Parent == uuid.Nil && !f.HasParent
}

// Matches reports whether f selects in (f must Validate). It is the reference semantics of
// Filter: backends must select exactly the instances it accepts.
func (f Filter) Matches(in *Instance) bool {
	switch {
	case f.State != "" && in.State != f.State,
		f.Completion != "" && in.Completion != f.Completion,
		f.Definition != "" && in.Definition.Name != f.Definition,
		f.Package != "" && in.Definition.Package != f.Package,
		f.Exception != "" && in.Exception() != f.Exception,
		f.ReasonContains != "" && !strings.Contains(in.SuspensionReason, f.ReasonContains),
		f.Bookmark != "" && !slices.Contains(in.Bookmarks, f.Bookmark),
		!f.CreatedAfter.IsZero() && !in.Created.After(f.CreatedAfter),
		!f.CreatedBefore.IsZero() && !in.Created.Before(f.CreatedBefore),
		!f.UpdatedAfter.IsZero() && !in.Updated.After(f.UpdatedAfter),
		!f.UpdatedBefore.IsZero() && !in.Updated.Before(f.UpdatedBefore),
		f.CorrelationKey != "" && in.CorrelationKey != f.CorrelationKey,
		f.CurrentState != "" && in.CurrentState != f.CurrentState,
		f.Parent != uuid.Nil && in.Parent != f.Parent,
		f.HasParent && in.Parent == uuid.Nil:
		return false
	}
	for name, value := range f.Properties {
		if v, ok := in.Properties[name]; !ok || v != value {
			return false
		}
	}
	return f.MatchesVersion(in.Definition.Version)
}

// MatchesVersion reports whether a definition version passes f's Version, VersionMin and
// VersionMax, comparing VersionKeys.
func (f Filter) MatchesVersion(version string) bool {
	if f.Version == "" && f.VersionMin == "" && f.VersionMax == "" {
		return true
	}
	k := VersionKey(version)
	switch {
	case k == "",
		f.Version != "" && k != VersionKey(f.Version),
		f.VersionMin != "" && k < VersionKey(f.VersionMin),
		f.VersionMax != "" && k > VersionKey(f.VersionMax):
		return false
	}
	return true
}

// Exception is the name of the exception that suspended or faulted the instance, if any:
// SuspensionException, else CompletionException.
func (in *Instance) Exception() string {
	if in.SuspensionException != "" {
		return in.SuspensionException
	}
	return in.CompletionException
}

// VersionKey is a text form of a System.Version whose byte order is the versions' order
// (workflow.Version.Compare), for an indexed column: each of the four components plus one (an
// absent component is -1) as eight hex digits. Equal versions ("1.0.0.0", "1.00.0.0") have
// equal keys. A version that does not parse has the key "", which sorts before every other.
func VersionKey(version string) string {
	v, err := workflow.ParseVersion(version)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%08x%08x%08x%08x", uint32(v.Major+1), uint32(v.Minor+1), uint32(v.Build+1), uint32(v.Revision+1))
}

// PageQuery asks QueryInstances for one page.
type PageQuery struct {
	Filter Filter
	// Size is the most instances on the page: 0 for DefaultPageSize; more than MaxPageSize is
	// MaxPageSize; negative is ErrInvalidQuery.
	Size int
	// Token is "" for the first page, else a Page.Next from the same store.
	Token string
	// Variables: include each instance's Variables.
	Variables bool
}

// PageSize is the size QueryInstances uses for Size, or ErrInvalidQuery.
func PageSize(size int) (int, error) {
	switch {
	case size < 0:
		return 0, fmt.Errorf("%w: page size %d is negative", ErrInvalidQuery, size)
	case size == 0:
		return DefaultPageSize, nil
	}
	return min(size, MaxPageSize), nil
}

// Page is one page of QueryInstances.
type Page struct {
	Instances []*Instance // without Image; Variables only when asked
	Next      string      // the next page's token; "" when this page is the last
}

// PageKey is the position a page token holds: the last instance of a page, in the order of
// QueryInstances.
type PageKey struct {
	Created time.Time // millisecond precision
	ID      uuid.UUID
}

// pageTokenVersion is the first byte of every token; a new layout gets a new one.
const pageTokenVersion = 1

// EncodePageToken returns the token of the page that follows k: URL-safe base64 (no padding)
// of a version byte, Created in Unix milliseconds (8 bytes, big-endian) and the id (16 bytes).
func EncodePageToken(k PageKey) string {
	var b [25]byte
	b[0] = pageTokenVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(k.Created.UnixMilli()))
	copy(b[9:], k.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DecodePageToken reads a token EncodePageToken wrote. Anything else — another length, another
// alphabet, padding, line breaks, an unknown version byte, a non-canonical spelling — is
// ErrInvalidQuery, so every valid token has exactly one spelling.
func DecodePageToken(token string) (PageKey, error) {
	bad := func(why string) (PageKey, error) {
		return PageKey{}, fmt.Errorf("%w: malformed page token (%s): pass the nextPageToken of a previous page, unchanged", ErrInvalidQuery, why)
	}
	if len(token) != 34 {
		return bad(fmt.Sprintf("%d characters, want 34", len(token)))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != 25 {
		return bad("not URL-safe base64")
	}
	if b[0] != pageTokenVersion {
		return bad(fmt.Sprintf("unknown version %d", b[0]))
	}
	if base64.RawURLEncoding.EncodeToString(b) != token {
		return bad("not in canonical form")
	}
	var k PageKey
	k.Created = time.UnixMilli(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	copy(k.ID[:], b[9:])
	if bytes.Equal(k.ID[:], uuid.Nil[:]) {
		return bad("nil instance id")
	}
	return k, nil
}

// GroupBy is how CountInstances groups.
type GroupBy string

const (
	GroupNone         GroupBy = ""           // one Count: every instance selected
	GroupByState      GroupBy = "state"      // Count.State
	GroupByDefinition GroupBy = "definition" // Count.Definition: name, package and version as stored
	GroupByException  GroupBy = "exception"  // Count.Exception (Instance.Exception; "" for none)
)

// Valid reports whether g is one of the four groupings.
func (g GroupBy) Valid() bool {
	switch g {
	case GroupNone, GroupByState, GroupByDefinition, GroupByException:
		return true
	}
	return false
}

// Count is one group of CountInstances: the group's key (only the field of its GroupBy is
// set) and how many instances it has. CountInstances returns no group with N 0, except the one
// Count of GroupNone, in the order SortCounts gives.
type Count struct {
	State      workflow.State
	Definition workflow.Identity
	Exception  string
	N          int64
}

// GroupKey is the Count (N 0) that in belongs to under g.
func GroupKey(in *Instance, g GroupBy) Count {
	switch g {
	case GroupByState:
		return Count{State: in.State}
	case GroupByDefinition:
		return Count{Definition: in.Definition}
	case GroupByException:
		return Count{Exception: in.Exception()}
	}
	return Count{}
}

var stateOrder = map[workflow.State]int{workflow.Active: 0, workflow.Suspended: 1, workflow.Completed: 2}

// SortCounts orders counts as CountInstances returns them: states Active, Suspended,
// Completed; definitions by package, name, then version (System.Version order, then as
// written); exceptions by name (byte-wise, "" first).
func SortCounts(cs []Count) {
	slices.SortFunc(cs, func(a, b Count) int {
		if a.State != b.State {
			return stateOrder[a.State] - stateOrder[b.State]
		}
		if c := strings.Compare(a.Definition.Package, b.Definition.Package); c != 0 {
			return c
		}
		if c := strings.Compare(a.Definition.Name, b.Definition.Name); c != 0 {
			return c
		}
		if c := workflow.CompareVersions(a.Definition.Version, b.Definition.Version); c != 0 {
			return c
		}
		if c := strings.Compare(a.Definition.Version, b.Definition.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Exception, b.Exception)
	})
}
