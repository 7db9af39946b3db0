// Package archtest holds tests of the repository's structure.
package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/wimp-project/wimp"

type pkg struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // transitive
}

// listPackages runs go list over the whole module.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

func wimpOnly(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, strings.TrimPrefix(strings.TrimPrefix(p, module), "/"))
		}
	}
	return out
}

// The dependency direction of the architecture (DESIGN-NOTES.md, "Packages"): soap and the
// vocabulary know no other wimp package; the contracts (protocol, hosting) are adapters onto
// the host and never touch the store; the host knows no contract; the engine knows neither
// store, host nor SOAP.
func TestDependencyRules(t *testing.T) {
	pkgs := listPackages(t)
	for _, rule := range []struct {
		pkg        string
		transitive bool     // check every dependency, not only direct imports
		only       []string // allowed wimp packages (nil: see forbidden)
		forbidden  []string
	}{
		{pkg: "soap", transitive: true, only: []string{}},
		{pkg: "workflow", transitive: true, only: []string{}},
		{pkg: "protocol", forbidden: []string{"store", "store/sqlite", "engine", "hosting", "server"}},
		{pkg: "hosting", forbidden: []string{"store", "store/sqlite", "engine", "server"}},
		// The dashboard is an adapter like the contracts: the host, MS-WFIM's commands (protocol)
		// and the vocabulary; never a store, a backend, the engine or the server.
		{pkg: "ui", only: []string{"host", "protocol", "workflow", "auth"}},
		{pkg: "host", transitive: true, forbidden: []string{"soap", "protocol", "hosting", "server", "store/sqlite", "wsdl", "wimp"}},
		{pkg: "engine", transitive: true, forbidden: []string{"store", "store/sqlite", "host", "soap", "protocol", "hosting", "server", "wimp"}},
		// wimp, the embedding API, is wiring like cmd/wimp-server: it builds the store, host and
		// server, and never reaches into the SOAP contracts beyond the bulk jobs' state table.
		{pkg: "wimp", only: []string{"engine", "host", "protocol", "server", "store", "store/sqlite", "store/postgres"}},
		{pkg: "store", transitive: true, only: []string{"workflow"}},
		// store/internal/backend is the backends' shared logic, itself bound like them.
		{pkg: "store/internal/backend", transitive: true, only: []string{"store", "workflow"}},
		{pkg: "store/internal/benchload", transitive: true, only: []string{"store", "workflow"}},
		{pkg: "store/sqlite", transitive: true, only: []string{"store", "store/internal/backend", "workflow"}},
		{pkg: "store/postgres", transitive: true, only: []string{"store", "store/internal/backend", "workflow"}},
		{pkg: "auth", forbidden: []string{"soap", "protocol", "hosting", "server", "store", "store/sqlite", "engine"}},
	} {
		p, ok := pkgs[rule.pkg]
		if !ok {
			t.Errorf("package %s not found", rule.pkg)
			continue
		}
		deps := wimpOnly(p.Imports)
		if rule.transitive {
			deps = wimpOnly(p.Deps)
		}
		for _, d := range deps {
			if rule.only != nil && !slices.Contains(rule.only, d) {
				t.Errorf("%s depends on %s; it may depend only on %v", rule.pkg, d, rule.only)
			}
			if slices.Contains(rule.forbidden, d) {
				t.Errorf("%s depends on %s, which it must not", rule.pkg, d)
			}
		}
	}
}

// The rules above are not vacuous: go list sees the dependencies that do exist.
func TestDependencyListingSeesImports(t *testing.T) {
	pkgs := listPackages(t)
	for pkg, want := range map[string]string{"protocol": "host", "host": "store", "store/sqlite": "store", "engine": "workflow"} {
		if !slices.Contains(wimpOnly(pkgs[pkg].Imports), want) {
			t.Errorf("go list shows no import of %s by %s: %v", want, pkg, pkgs[pkg].Imports)
		}
	}
}
