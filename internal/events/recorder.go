package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Recorder records an event both ways: its metric form through the sink
// and the event itself through the Poster's queues (delivered by Run). It implements
// collectors.EventPoster, and its PostEvent method fits hook.Callback.
type Recorder struct {
	p      *Poster
	prefix string
	e      collectors.Emitter
}

// Recorder returns a Recorder writing metric points under prefix to e.
func (p *Poster) Recorder(prefix string, e collectors.Emitter) *Recorder {
	return &Recorder{p: p, prefix: prefix, e: e}
}

// PostEvent emits the metric form of ev, then queues ev durably
// (Poster.Enqueue) and wakes Run, which must be running: it does not wait
// for graphite-web, so a deploy hook answers at once (GitHub gives a hook
// 10 s) and a collector is never held up by a slow graphite-web. The
// metric goes first: when it cannot be handed to
// the sink (shutdown) nothing was queued, so the sender's retry does not
// produce a second event; re-emitting the metric on a retry is harmless
// (same path, value and time). The metric carries ev's own tags (not the
// configured ones) and ev.When, or now when it is zero.
func (r *Recorder) PostEvent(ctx context.Context, ev Event) error {
	if strings.TrimSpace(ev.What) == "" {
		return errors.New("events: event has no \"what\"")
	}
	if ev.When.IsZero() {
		ev.When = time.Unix(r.p.now().Unix(), 0)
	}
	if err := r.e.Emit(ctx, collectors.Batch{Points: MetricPoints(r.prefix, ev)}); err != nil {
		return fmt.Errorf("events: metric form of %s event: %w", ev.What, err)
	}
	_, err := r.p.Enqueue(ev)
	return err
}
