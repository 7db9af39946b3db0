package host_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// An order workflow found by its business key: the key comes from the definition's
// CorrelationKey, the promoted properties follow the variables on every persist.
const orderDefinition = `<Workflow Name="Order" Package="test" Version="1.0.0.0" CorrelationKey="['order/' + orderId]">
  <Promote Name="amount" Value="[amount]"/>
  <Promote Name="approver" Value="[approver]"/>
  <Promote Name="approved" Value="[approver != '']"/>
  <Arguments>
    <In Name="orderId" Type="String" Required="true"/>
    <In Name="amount" Type="Number" Required="true"/>
  </Arguments>
  <Variables><Variable Name="approver" Type="String"/></Variables>
  <Sequence>
    <Receive Id="approve" Bookmark="approve" Result="approver"/>
    <Receive Id="ship" Bookmark="ship"/>
  </Sequence>
</Workflow>`

func TestCorrelationKeyAndPromotedProperties(t *testing.T) {
	h := startHost(t, host.Config{Definitions: registry(t, orderDefinition)})
	create := func(orderID string, amount float64, key string) (uuid.UUID, error) {
		return h.Create(bg, host.CreateRequest{Definition: "test.Order", CorrelationKey: key,
			Inputs: map[string]any{"orderId": orderID, "amount": amount}})
	}
	id, err := create("A-1", 1500, "")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := get(t, h, id)
	want := map[string]string{"amount": "1500", "approver": "", "approved": "false"}
	if in.CorrelationKey != "order/A-1" || !maps.Equal(in.Properties, want) {
		t.Fatalf("created: key %q, properties %v; want order/A-1, %v", in.CorrelationKey, in.Properties, want)
	}
	if found, err := h.FindByKey(bg, "order/A-1"); err != nil || found != id {
		t.Fatalf("FindByKey(order/A-1) = %s, %v; want %s", found, err, id)
	}

	// The same key again is refused as InstanceExists, and nothing is created.
	_, err = create("A-1", 20, "")
	var he *host.Error
	if !errors.As(err, &he) || !errors.Is(he.Kind, host.ErrExists) || !strings.Contains(err.Error(), "order/A-1") {
		t.Fatalf("second instance with key order/A-1: %v; want ErrExists naming the key", err)
	}
	page, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{Definition: "Order"}})
	if err != nil || len(page.Instances) != 1 {
		t.Fatalf("after the refusal: %d instances (%v), want 1", len(page.Instances), err)
	}
	// A key given by the caller replaces the definition's.
	other, err := create("A-1", 20, "manual-7")
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := get(t, h, other); in.CorrelationKey != "manual-7" {
		t.Fatalf("explicit key: got %q, want manual-7", in.CorrelationKey)
	}
	// A key that is not a stored instance's.
	if _, err := h.FindByKey(bg, "order/none"); !errors.As(err, &he) || !errors.Is(he.Kind, host.ErrNotFound) {
		t.Fatalf("FindByKey(order/none) = %v, want ErrNotFound", err)
	}

	// The properties follow the workflow's variables.
	if err := h.ResumeBookmark(bg, id, "approve", "carol"); err != nil {
		t.Fatal(err)
	}
	in, _ = get(t, h, id)
	want = map[string]string{"amount": "1500", "approver": "carol", "approved": "true"}
	if !maps.Equal(in.Properties, want) {
		t.Fatalf("after approval: properties %v, want %v", in.Properties, want)
	}
	for _, c := range []struct {
		props map[string]string
		want  int
	}{
		{map[string]string{"approver": "carol"}, 1},
		{map[string]string{"approved": "false"}, 1}, // the other order
		{map[string]string{"approved": "true", "amount": "1500"}, 1},
		{map[string]string{"approved": "true", "amount": "20"}, 0},
	} {
		page, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{Properties: c.props}})
		if err != nil || len(page.Instances) != c.want {
			t.Errorf("query %v: %d instances (%v), want %d", c.props, len(page.Instances), err, c.want)
		}
	}
	// Completed, the instance keeps its key until it is purged.
	if err := h.ResumeBookmark(bg, id, "ship", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the order completes", func() bool { in, _ := get(t, h, id); return in.State == workflow.Completed })
	if _, err := create("A-1", 1, ""); !errors.As(err, &he) || !errors.Is(he.Kind, host.ErrExists) {
		t.Fatalf("key of a completed instance: %v, want ErrExists", err)
	}
}

// A CorrelationKey that fails or is empty refuses the creation as invalid input.
func TestCorrelationKeyInvalid(t *testing.T) {
	h := startHost(t, host.Config{Definitions: registry(t, `<Workflow Name="Keyed" Package="test" Version="1.0.0.0" CorrelationKey="[ref]">
  <Arguments><In Name="ref" Type="String"/></Arguments>
  <WriteLine Text="x"/>
</Workflow>`)})
	_, err := h.Create(bg, host.CreateRequest{Definition: "test.Keyed"})
	var he *host.Error
	if !errors.As(err, &he) || !errors.Is(he.Kind, host.ErrInvalidInput) || !strings.Contains(err.Error(), "CorrelationKey") {
		t.Fatalf("empty key: %v, want ErrInvalidInput about the CorrelationKey", err)
	}
}
