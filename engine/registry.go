package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wimp-project/wimp/engine/samples"
	"github.com/wimp-project/wimp/workflow"
)

// ErrNotFound: no definition with that name, version or identity.
var ErrNotFound = errors.New("engine: definition not found")

// Registry holds workflow definitions by identity, versions compared as System.Version values
// (a lookup of 1.00.0.0 finds 1.0.0.0). It is immutable once loaded and then safe for concurrent
// reads; Add is not safe concurrently with other calls.
type Registry struct {
	defs     map[workflow.Identity]*Definition // by Identity.Key()
	embedded map[*Definition]bool              // loaded by LoadFS rather than from a file
	types    catalog                           // Go activity types its definitions may use (nil: the built-ins)
}

// NewRegistry returns an empty registry whose definitions may use the built-in Go activities
// (HttpRequest) and types (custom activities, FORMAT.md). It panics if a type is invalid (a
// name that is not an identifier or is taken, a reserved or duplicate argument): types are
// declared in code.
func NewRegistry(types ...*ActivityType) *Registry {
	c, err := newCatalog(types)
	if err != nil {
		panic(err)
	}
	return &Registry{defs: map[workflow.Identity]*Definition{}, types: c}
}

// catalog is the registry's activity types.
func (r *Registry) catalog() catalog {
	if r.types == nil {
		r.types, _ = newCatalog(nil)
	}
	return r.types
}

// LoadRegistry returns a registry holding the embedded samples plus the definitions at from
// ("" for the samples only): when it is a directory, every file in it whose name ends in .xml
// in any case (.xml, .XML; not recursive); when it is a file, that one file, whatever its name.
// Two definitions with the same identity are an error naming both files. Definitions may use
// the Go activity types given (custom activities) besides the built-in ones.
func LoadRegistry(from string, types ...*ActivityType) (*Registry, error) {
	if _, err := newCatalog(types); err != nil {
		return nil, err
	}
	r := NewRegistry(types...)
	if err := r.LoadFS(samples.FS, "samples"); err != nil {
		return nil, err
	}
	if from == "" {
		return r, nil
	}
	fi, err := os.Stat(from)
	if err != nil {
		return nil, fmt.Errorf("engine: definitions: %w", err)
	}
	if fi.IsDir() {
		err = r.LoadDir(from)
	} else {
		err = r.LoadFile(from)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// isDefinitionFile: definitions are the files named *.xml, compared without regard to case.
func isDefinitionFile(name string) bool { return strings.EqualFold(path.Ext(name), ".xml") }

// LoadFS adds every *.xml (or .XML, ...) file at the root of fsys; files are named prefix/name
// in messages. Embedded reports the definitions it loads.
func (r *Registry) LoadFS(fsys fs.FS, prefix string) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return err
	}
	for _, e := range entries { // sorted by name
		if e.IsDir() || !isDefinitionFile(e.Name()) {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return err
		}
		d, err := parseDefinition(path.Join(prefix, e.Name()), data, r.catalog())
		if err != nil {
			return err
		}
		if err := r.Add(d); err != nil {
			return err
		}
		if r.embedded == nil {
			r.embedded = map[*Definition]bool{}
		}
		r.embedded[d] = true
	}
	return nil
}

// LoadDir adds every file in dir whose name ends in .xml, in any case (not recursive).
func (r *Registry) LoadDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("engine: definitions directory: %w", err)
	}
	for _, e := range entries { // sorted by name
		if e.IsDir() || !isDefinitionFile(e.Name()) {
			continue
		}
		if err := r.LoadFile(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// LoadFile adds the definition in the file at name.
func (r *Registry) LoadFile(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("engine: definition file: %w", err)
	}
	d, err := parseDefinition(name, data, r.catalog())
	if err != nil {
		return err
	}
	return r.Add(d)
}

// Embedded reports whether d was loaded by LoadFS (the samples embedded in the binary) rather
// than from a file; d.File is then its name inside the binary, e.g. samples/Hello.xml.
func (r *Registry) Embedded(d *Definition) bool { return r.embedded[d] }

// Add registers d; an identity already present is an error naming both files.
func (r *Registry) Add(d *Definition) error {
	if prev, ok := r.defs[d.Identity.Key()]; ok {
		return fmt.Errorf("engine: duplicate definition %s in %s (already loaded from %s)", d.Identity, d.File, prev.File)
	}
	r.defs[d.Identity.Key()] = d
	return nil
}

// Get returns the definition with this identity (workflow.Identity.Equal).
func (r *Registry) Get(id workflow.Identity) (*Definition, error) {
	if d, ok := r.defs[id.Key()]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Lookup finds a definition by name ("Name" or "Package.Name") and version; version "" picks
// the newest (System.Version order). A bare name shared by several packages is an error.
func (r *Registry) Lookup(name, version string) (*Definition, error) {
	var want workflow.Version
	if version != "" {
		v, err := workflow.ParseVersion(version)
		if err != nil {
			return nil, fmt.Errorf("%w: %s version %s: %v", ErrNotFound, name, version, err)
		}
		want = v
	}
	var found []*Definition
	for _, d := range r.defs {
		if d.Identity.Name != name && (d.Identity.Package == "" || d.Identity.Package+"."+d.Identity.Name != name) {
			continue
		}
		if version != "" {
			if v, err := workflow.ParseVersion(d.Identity.Version); err != nil || v != want {
				continue
			}
		}
		found = append(found, d)
	}
	if len(found) == 0 {
		if version != "" {
			return nil, fmt.Errorf("%w: %s version %s", ErrNotFound, name, version)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	sortDefs(found)
	pkgs := map[string]bool{}
	for _, d := range found {
		pkgs[d.Identity.Package] = true
	}
	if len(pkgs) > 1 {
		var ps []string
		for p := range pkgs {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		return nil, fmt.Errorf("engine: definition name %s is ambiguous: packages %s (write Package.Name)", name, strings.Join(ps, ", "))
	}
	return found[len(found)-1], nil
}

// All returns every definition, sorted by package, name and version.
func (r *Registry) All() []*Definition {
	out := make([]*Definition, 0, len(r.defs))
	for _, d := range r.defs {
		out = append(out, d)
	}
	sortDefs(out)
	return out
}

func sortDefs(ds []*Definition) {
	sort.Slice(ds, func(i, j int) bool {
		a, b := ds[i].Identity, ds[j].Identity
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return workflow.CompareVersions(a.Version, b.Version) < 0
	})
}

// CanUpdate reports whether the registered definition `to` declares (UpdatableFrom) that
// instances of `from` may be updated to it. Whether a given instance can actually switch is
// decided by Instance.Update (its live activities must exist in `to`).
func (r *Registry) CanUpdate(from, to workflow.Identity) bool {
	d, ok := r.defs[to.Key()]
	return ok && d.declaresUpdateFrom(from)
}

func (d *Definition) declaresUpdateFrom(from workflow.Identity) bool {
	for _, f := range d.UpdatableFrom {
		if f.Equal(from) {
			return true
		}
	}
	return false
}
