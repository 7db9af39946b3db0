package wimp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/wimp"
	"github.com/wimp-project/wimp/workflow"
)

type lookup struct {
	SKU      string         `wimp:"Sku,required"`
	Quantity int            `wimp:"Quantity"`
	Rush     bool           `wimp:"Rush"`
	Extra    map[string]any `wimp:"Extra"`
	Ignored  string         `wimp:"-"`
}

const orderDef = `<Workflow Name="Order" Version="1.0.0.0">
  <Variables><Variable Name="price" Type="Number"/><Variable Name="stock" Type="Object"/><Variable Name="err" Type="String"/></Variables>
  <Sequence>
    <Price Id="price" Sku="[ 'b-1' ]" Quantity="3" Rush="true" Extra='{"coupon": "X"}' Result="price"/>
    <TryCatch>
      <Try><Reserve Id="reserve" Sku="b-1" Quantity="[3]" Result="stock" Attempts="3" RetryBackoff="1ms"/></Try>
      <Catch Exception="OutOfStock"><Assign To="err" Value="[ 'out' ]"/></Catch>
    </TryCatch>
  </Sequence>
</Workflow>`

// Typed arguments reach the Go functions of a code-only and an asynchronous activity; a
// Retryable error is retried with the same key; a *wimp.Error is caught by its name.
func TestEmbeddedServerActivities(t *testing.T) {
	var attempts atomic.Int64
	var keys [3]string
	fail := atomic.Bool{}
	price := wimp.Code("Price", func(c wimp.CodeContext, a lookup) (float64, error) {
		if a.SKU != "b-1" || a.Quantity != 3 || !a.Rush || a.Extra["coupon"] != "X" || c.Activity != "price" {
			return 0, fmt.Errorf("arguments %+v", a)
		}
		return 9.5 * float64(a.Quantity), nil
	})
	reserve := wimp.Async("Reserve", func(ctx context.Context, c wimp.Call, a lookup) (map[string]any, error) {
		n := attempts.Add(1)
		keys[n-1] = c.IdempotencyKey
		if fail.Load() {
			return nil, &wimp.Error{Name: "OutOfStock", Message: a.SKU}
		}
		if n == 1 {
			return nil, wimp.Retryable(errors.New("warehouse busy"))
		}
		return map[string]any{"reserved": a.Quantity, "attempt": c.Attempt}, nil
	})
	srv, err := wimp.New(context.Background(), wimp.Config{DB: filepath.Join(t.TempDir(), "w.db"),
		DefinitionFS: fstest.MapFS{"order.xml": {Data: []byte(orderDef)}}, Activities: []wimp.Activity{price, reserve},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	run := func() map[string]any {
		t.Helper()
		id, err := srv.Host().Create(context.Background(), host.CreateRequest{Definition: "Order"})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) { // a liveness bound
			inst, err := srv.Host().Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if inst.State == workflow.Completed {
				vars := map[string]any{}
				_ = json.Unmarshal(inst.Variables, &vars)
				if inst.Completion != workflow.Closed {
					t.Fatalf("%+v", inst)
				}
				return vars
			}
			if time.Now().After(deadline) {
				t.Fatalf("not completed: %+v", inst)
			}
		}
	}
	vars := run()
	if vars["price"] != 28.5 || fmt.Sprint(vars["stock"]) != "map[attempt:2 reserved:3]" || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("vars %v keys %q", vars, keys)
	}
	fail.Store(true)
	if vars := run(); vars["err"] != "out" || attempts.Load() != 3 {
		t.Fatalf("OutOfStock: vars %v after %d attempts", vars, attempts.Load())
	}
}

func TestNewRefuses(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	for _, tc := range []struct {
		cfg  wimp.Config
		want string
	}{
		{wimp.Config{}, "Config.DB is required"},
		{wimp.Config{DB: db, Activities: []wimp.Activity{wimp.Code("X", func(wimp.CodeContext, int) (int, error) { return 0, nil })}},
			"arguments must be a struct"},
		{wimp.Config{DB: db, Activities: []wimp.Activity{wimp.Code("Sequence", func(wimp.CodeContext, struct{}) (int, error) { return 0, nil })}},
			"built-in activity"},
		{wimp.Config{DB: db, HTTPAllow: "a b"}, "--http-allow entry"},
		{wimp.Config{DB: db, DefinitionFS: fstest.MapFS{"x.xml": {Data: []byte(`<Workflow Name="X" Version="1.0"><Nope/></Workflow>`)}}},
			"unknown element <Nope>"},
	} {
		if srv, err := wimp.New(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			if srv != nil {
				srv.Close()
			}
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
