package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// repoRoot walks up from the package directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// files lists the regular files under dir, as slash-separated paths relative to dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestCommittedExchangesAreGenerated regenerates the scenarios and the captures' copy from the
// repository's testdata/captures into a temporary directory and requires the committed
// testdata/exchanges and testdata/captures to be exactly that output.
func TestCommittedExchangesAreGenerated(t *testing.T) {
	testdata := filepath.Join(repoRoot(t), "testdata")
	tmp := t.TempDir()
	n, c, err := generate(tmp, filepath.Join(testdata, "captures"))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || c == 0 {
		t.Fatalf("generated %d scenarios, %d from captures", n, c)
	}
	const hint = "; run `go run ./conformance/cmd/genexchanges` from the repository root and review the diff"
	for _, sub := range []string{"exchanges", "captures"} {
		gen, committed := filepath.Join(tmp, sub), filepath.Join(testdata, sub)
		generated := files(t, gen)
		want := map[string]bool{}
		for _, f := range generated {
			want[f] = true
		}
		have := map[string]bool{}
		for _, f := range files(t, committed) {
			have[f] = true
			if !want[f] {
				t.Errorf("testdata/%s/%s is not written by genexchanges (extra file)%s", sub, f, hint)
			}
		}
		for _, f := range generated {
			if !have[f] {
				t.Errorf("testdata/%s/%s is missing%s", sub, f, hint)
				continue
			}
			g, err := os.ReadFile(filepath.Join(gen, filepath.FromSlash(f)))
			if err != nil {
				t.Fatal(err)
			}
			w, err := os.ReadFile(filepath.Join(committed, filepath.FromSlash(f)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g, w) {
				t.Errorf("testdata/%s/%s differs from the generator's output%s", sub, f, hint)
			}
		}
		if len(generated) == 0 {
			t.Errorf("genexchanges wrote nothing under %s", sub)
		}
	}
}

// TestGenerateInPlace: when the captures directory is <out>/captures itself (the defaults,
// out=testdata and captures=testdata/captures), the captures are not copied onto themselves.
func TestGenerateInPlace(t *testing.T) {
	src := filepath.Join(repoRoot(t), "testdata", "captures")
	tmp := t.TempDir()
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, f := range files(t, src) {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(tmp, "captures", filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dst, old, old); err != nil {
			t.Fatal(err)
		}
	}
	// The same directory, spelled differently.
	if _, _, err := generate(tmp, filepath.Join(tmp, ".", "exchanges", "..", "captures")); err != nil {
		t.Fatal(err)
	}
	for _, f := range files(t, src) {
		want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
		p := filepath.Join(tmp, "captures", filepath.FromSlash(f))
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("captures/%s changed by an in-place generation (%v)", f, err)
		}
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(old) {
			t.Errorf("captures/%s was rewritten by an in-place generation", f)
		}
	}
	if len(files(t, filepath.Join(tmp, "exchanges"))) == 0 {
		t.Error("no scenarios written")
	}
}
