//go:build !unix

package events

import (
	"context"
	"sync"
)

var (
	locksMu sync.Mutex
	locks   = map[string]*sync.Mutex{}
)

// lockDir serialises deliveries of one queue within this process; without
// flock, two processes sharing a state_dir may post an event twice.
func lockDir(ctx context.Context, dir string) (func(), error) {
	locksMu.Lock()
	m := locks[dir]
	if m == nil {
		m = &sync.Mutex{}
		locks[dir] = m
	}
	locksMu.Unlock()
	m.Lock()
	return m.Unlock, ctx.Err()
}
