package host_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

// An instance that was executing when its host stopped (persisted as Executing, no later
// persist) runs again when the next host starts on the same database, and completes.
func TestStartupRecoveryRunsInterruptedInstances(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wimp.db")
	def, err := engine.ParseDefinition("counter.xml", []byte(loopDefinition("Counter", "i &lt; 20000", "")))
	if err != nil {
		t.Fatal(err)
	}
	defs := engine.NewRegistry()
	if err := defs.Add(def); err != nil {
		t.Fatal(err)
	}

	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Config{Store: st, Definitions: defs, Slice: 1, InlineBudget: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := h.Create(ctx, host.CreateRequest{Definition: "Counter"})
	if err != nil {
		t.Fatal(err)
	}
	h.Close() // stops background execution at the next work-item boundary, as a crash would
	st.Close()

	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	row, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if row.State != workflow.Active || row.ExecutionStatus != "Executing" {
		t.Fatalf("after the stop the instance is %s/%s, want Active/Executing (the loop outran the stop?)", row.State, row.ExecutionStatus)
	}

	h2, err := host.New(host.Config{Store: st, Definitions: defs})
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	deadline := time.Now().Add(90 * time.Second) // a bound for loaded CI machines under -race, not a speed target
	for {
		row, err = st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if row.State == workflow.Completed || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var vars map[string]float64
	if err := json.Unmarshal(row.Variables, &vars); err != nil {
		t.Fatal(err)
	}
	if row.State != workflow.Completed || row.Completion != workflow.Closed || vars["i"] != 20000 {
		t.Fatalf("after recovery: %s/%s with i=%v, want Completed/Closed with i=20000", row.State, row.Completion, vars["i"])
	}
}
