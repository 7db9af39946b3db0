package conformance

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/server/servertest"
)

func TestExchanges(t *testing.T) {
	scenarios, err := Load("../testdata/exchanges")
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Base: servertest.Start(t, "../testdata/definitions")}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			if err := r.Run(context.Background(), sc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMatrixIsComplete checks that the suite covers every operation × instance condition over
// SOAP 1.1 and SOAP 1.2 + WS-A 1.0, WS-A 2004/08, every capture and the spec's example.
func TestMatrixIsComplete(t *testing.T) {
	scenarios, err := Load("../testdata/exchanges")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, sc := range scenarios {
		have[sc.Name] = true
	}
	ops := []string{"Run", "TransactedRun", "Suspend", "TransactedSuspend", "Unsuspend", "TransactedUnsuspend",
		"Cancel", "TransactedCancel", "Terminate", "TransactedTerminate", "Abandon", "Update", "TransactedUpdate"}
	cells := 0
	for _, op := range ops {
		for _, state := range []string{"Active", "Suspended", "Closed", "Canceled", "Terminated", "Unknown"} {
			for _, b := range []string{"soap11", "soap12wsa10"} {
				name := "matrix-" + op + "-" + state + "-" + b
				if !have[name] {
					t.Errorf("missing %s", name)
				}
				cells++
			}
		}
		if !have["wsa0408-"+op+"-Active"] {
			t.Errorf("missing the WS-A 2004/08 case for %s", op)
		}
	}
	captures, _ := filepath.Glob("../testdata/captures/*/*/*.request.http")
	for _, c := range captures {
		rel, _ := filepath.Rel("../testdata/captures", c)
		parts := strings.Split(rel, string(filepath.Separator))
		name := "capture-" + parts[0] + "-" + parts[1] + "-" + strings.TrimSuffix(parts[2], ".request.http")
		if !have[name] {
			t.Errorf("capture %s has no scenario", rel)
		}
	}
	if len(captures) != 160 {
		t.Errorf("%d captures in testdata, want the 160 shared ones", len(captures))
	}
	if !have["spec-section4-suspend"] {
		t.Error("missing the spec's section 4 example")
	}
	t.Logf("matrix: %d op × condition × version cells; %d scenarios in all", cells, len(scenarios))
}
