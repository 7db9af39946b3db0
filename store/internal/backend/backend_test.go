package backend

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

func TestFence(t *testing.T) {
	live := func(string) error { return nil }
	lapsed := func(string) error { return store.ErrLeaseLost }
	leased := func(id uuid.UUID, holder string) error {
		return &store.LeaseError{Instance: id, Holder: store.Owner{ID: holder}}
	}
	held := Stored{Found: true, Version: 3, Lease: store.Lease{Owner: "a", Token: 7}, HolderLive: true}
	change := func(op store.Op, by string, hold bool, l store.Lease, version int64) store.Change {
		return store.Change{Op: op, By: by, Hold: hold, Instance: &store.Instance{ID: uuid.New(), Lease: l, Version: version}}
	}
	for _, c := range []struct {
		name      string
		c         store.Change
		cur       Stored
		ownerLive func(string) error
		want      store.Lease
		err       error
	}{
		{"insert held", change(store.Insert, "a", true, store.Lease{}, 0), Stored{}, live, store.Lease{Owner: "a", Token: 1}, nil},
		{"insert by a lapsed owner", change(store.Insert, "a", true, store.Lease{}, 0), Stored{}, lapsed, store.Lease{}, store.ErrLeaseLost},
		{"holder keeps", change(store.Update, "a", true, held.Lease, 3), held, live, held.Lease, nil},
		{"holder releases", change(store.Update, "a", false, held.Lease, 3), held, live, store.Lease{Token: 7}, nil},
		{"unfenced, held", change(store.Update, "", false, store.Lease{}, 3), held, live, store.Lease{}, store.ErrLeased},
		{"unfenced, lapsed holder", change(store.Update, "", false, store.Lease{}, 3), Stored{Found: true, Version: 3, Lease: held.Lease}, live,
			held.Lease, nil},
		{"stale token", change(store.Update, "a", true, store.Lease{Owner: "a", Token: 6}, 3), held, live, store.Lease{}, store.ErrLeaseLost},
		{"other holder", change(store.Update, "b", true, store.Lease{}, 3), held, live, store.Lease{}, store.ErrLeased},
		{"lapsed holder", change(store.Update, "b", true, store.Lease{}, 3), Stored{Found: true, Version: 3, Lease: held.Lease}, live,
			store.Lease{Owner: "b", Token: 8}, nil},
		{"old version", change(store.Update, "a", true, held.Lease, 2), held, live, store.Lease{}, store.ErrConflict},
		{"delete of any version", change(store.Delete, "a", false, held.Lease, 0), held, live, store.Lease{Token: 7}, nil},
	} {
		got, err := Fence(c.c, c.cur, c.ownerLive, leased)
		if c.err != nil && !errors.Is(err, c.err) || c.err == nil && err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestConditionsPlaceholders(t *testing.T) {
	d := Dialect{Placeholder: func(n int) string { return "$" + string(rune('0'+n)) }, Contains: "strpos",
		Time: func(ms int64) any { return ms }, ID: func(id uuid.UUID) any { return id }}
	at := time.UnixMilli(1000).Add(time.Microsecond)
	f := store.Filter{State: "Active", ReasonContains: "x", CreatedAfter: at, CreatedBefore: at}
	q, args := d.PageSQL("i.id", Source{From: "instances AS i", Created: "i.created", ID: "i.id"}, f, nil, 10)
	want := "SELECT i.id FROM instances AS i WHERE i.state = $1 AND strpos(i.suspension_reason, $2) > 0 AND i.created > $3 AND i.created < $4 ORDER BY i.created, i.id LIMIT $5"
	if q != want || len(args) != 5 || args[2] != int64(1000) || args[3] != int64(1001) {
		t.Errorf("got %s %v\nwant %s", q, args, want)
	}
	if q, _ := (Dialect{Contains: "instr", Time: d.Time, ID: d.ID}).PageSQL("i.id", Source{From: "instances AS i", Created: "i.created", ID: "i.id"}, f, nil, 10); strings.Contains(q, "$") {
		t.Errorf("without Placeholder: %s", q)
	}
}
