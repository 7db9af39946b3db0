package sqlite

import (
	"time"

	"github.com/wimp-project/wimp/store"
)

// WithObserver has f called once per batch the writer takes from its queue, on the writer's
// goroutine before the batch's calls are answered: it must be quick (the next batch waits
// for it) and must not call the store.
func WithObserver(f func(store.BatchInfo)) Option { return func(o *options) { o.observer = f } }

// observe reports b, a batch taken at start, to the observer, if there is one.
func (s *Store) observe(start time.Time, b store.BatchInfo) {
	if f := s.opts.observer; f != nil {
		b.Duration = time.Since(start)
		f(b)
	}
}
