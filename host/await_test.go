package host_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// Await answers when the instance completes: woken by the completion's commit. The periodic
// re-read is set to an hour here and the wait is MaxAwait, but the caller gives up after 10 s:
// only the wake-up can answer in time.
func TestAwaitWakesAtCompletion(t *testing.T) {
	defer host.SetAwaitRecheck(host.SetAwaitRecheck(time.Hour))
	h := newHost(t, 0)
	id := createExpense(t, h, 10)
	got := make(chan *host.Instance, 1)
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	go func() {
		in, err := h.Await(ctx, id, host.MaxAwait)
		got <- in
		errc <- err
	}()
	if err := h.ResumeBookmark(bg, id, "Review", map[string]any{"approved": true, "reviewer": "r"}); err != nil {
		t.Fatal(err)
	}
	in, err := <-got, <-errc
	if err != nil || in.State != workflow.Completed || in.Completion != workflow.Closed {
		t.Fatalf("Await = %+v, %v; want the instance Completed Closed", in, err)
	}
}

// A wait of 0 reads the instance as it is; a completed one answers at once whatever the wait;
// an unknown id is NotFound; a canceled context ends the wait with its error.
func TestAwaitBounds(t *testing.T) {
	defer host.SetAwaitRecheck(host.SetAwaitRecheck(time.Hour))
	h := newHost(t, 0)
	id := createExpense(t, h, 10)
	if in, err := h.Await(bg, id, 0); err != nil || in.State != workflow.Active {
		t.Fatalf("Await(0) = %+v, %v; want it Active", in, err)
	}
	mustManage(t, h, "Terminate", id, "done")
	if in, err := h.Await(bg, id, host.MaxAwait); err != nil || in.State != workflow.Completed || in.Completion != workflow.Terminated {
		t.Fatalf("Await of a terminated instance = %+v, %v", in, err)
	}
	if _, err := h.Await(bg, uuid.New(), host.MaxAwait); !errors.Is(err, host.ErrNotFound) {
		t.Fatalf("Await of an unknown id: %v, want ErrNotFound", err)
	}
	other := createExpense(t, h, 10)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := h.Await(ctx, other, host.MaxAwait); !errors.Is(err, context.Canceled) {
		t.Fatalf("Await with a canceled context: %v, want context.Canceled", err)
	}
	reader := host.WithPrincipal(bg, host.Principal{Name: "nobody", Role: host.NoRole})
	if _, err := h.Await(reader, other, 0); !errors.Is(err, host.ErrAccessDenied) {
		t.Fatalf("Await without a role: %v, want ErrAccessDenied", err)
	}
}
