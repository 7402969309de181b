package collectors

import (
	"sync"
	"time"
)

// Discovery caches the service list a collector discovers from its
// vendor's API when none is configured, so that discovery costs one call
// per TTL, not one per run. The zero value is ready to use; it is safe for
// concurrent use.
type Discovery[T any] struct {
	mu   sync.Mutex
	list []T
	at   time.Time
}

// List returns the list discovered less than ttl before now(), or else
// calls discover for a fresh one. While discover runs, other callers wait
// for its answer rather than ask the vendor too. When discover fails and
// an earlier list exists, List keeps returning that list and calls kept
// with the error and the list's length, for the caller to log: a vendor
// hiccup must not stop the collection of services already known. Without
// an earlier list the error is returned.
func (d *Discovery[T]) List(ttl time.Duration, now func() time.Time, discover func() ([]T, error), kept func(err error, n int)) ([]T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.list != nil && now().Sub(d.at) < ttl {
		return d.list, nil
	}
	list, err := discover()
	if err != nil {
		if d.list != nil {
			kept(err, len(d.list))
			return d.list, nil
		}
		return nil, err
	}
	// Stamped when the answer is in: the list is as fresh as the answer.
	d.list, d.at = list, now()
	return list, nil
}
