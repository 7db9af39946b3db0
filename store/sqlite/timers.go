package sqlite

import (
	"context"
	"database/sql"

	"github.com/wimp-project/wimp/store"
)

// pendingTimersSQL counts the entries of the due-timer index, which holds exactly the Active
// instances with a pending timer: the count reads that index, no instance row.
const pendingTimersSQL = `SELECT COUNT(*) FROM instances INDEXED BY instances_due_timer
	WHERE state = 'Active' AND pending_timer IS NOT NULL`

// PendingTimers counts the Active instances with a PendingTimer.
func (s *Store) PendingTimers(ctx context.Context) (int64, error) {
	if s.rclosed.Load() {
		return 0, store.ErrClosed
	}
	var n int64
	err := retry(ctx, func() error {
		return s.queryRow(ctx, pendingTimersSQL, nil, func(r *sql.Row) error { return r.Scan(&n) })
	})
	if err != nil {
		return 0, s.readErr(err)
	}
	return n, nil
}
