package collectorstest

import (
	"context"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Recorder is a collectors.Emitter that keeps a copy of every batch it
// accepts. It is safe for concurrent use (streams emit from their own
// goroutines). The zero value is ready to use.
type Recorder struct {
	// Err, when set before use, is returned by every Emit and nothing is
	// kept: a sink that shut down.
	Err error

	mu      sync.Mutex
	batches []collectors.Batch
}

// Emit implements collectors.Emitter. It copies b's slices, as a collector
// may reuse them once Emit returns.
func (r *Recorder) Emit(_ context.Context, b collectors.Batch) error {
	if r.Err != nil {
		return r.Err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, collectors.Batch{
		Records: append([]schema.Record(nil), b.Records...),
		Gauges:  append([]schema.Gauge(nil), b.Gauges...),
		Points:  append([]schema.Point(nil), b.Points...),
	})
	return nil
}

// Batches returns the accepted batches in order.
func (r *Recorder) Batches() []collectors.Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]collectors.Batch(nil), r.batches...)
}

// Records returns the records of every accepted batch, in order.
func (r *Recorder) Records() []schema.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []schema.Record
	for _, b := range r.batches {
		out = append(out, b.Records...)
	}
	return out
}

// Gauges returns the gauges of every accepted batch, in order.
func (r *Recorder) Gauges() []schema.Gauge {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []schema.Gauge
	for _, b := range r.batches {
		out = append(out, b.Gauges...)
	}
	return out
}
