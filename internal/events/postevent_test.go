package events

import (
	"context"
	"sync"
)

// PostEvent queues ev durably and tries every graphite-web that is not
// backing off right away, through the same flush and accounting Run and
// Send use. Only tests call it (production posts through Recorder, which
// queues for Run, or Send), so it lives here. It returns an error only when
// ev could not be queued; a graphite-web that is down gets the event later
// from Run (the failure is logged).
func (p *Poster) PostEvent(ctx context.Context, ev Event) error {
	if _, err := p.Enqueue(ev); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, t := range p.targets {
		if !t.due(p.now()) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.flush(ctx, t)
			p.account(t, r)
		}()
	}
	wg.Wait()
	return nil
}
