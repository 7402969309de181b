package collectorstest

import (
	"context"
	"errors"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// The Recorder keeps its own copy of each batch (the collector may reuse
// its slices) and refuses everything once Err is set.
func TestRecorder(t *testing.T) {
	var r Recorder
	recs := []schema.Record{{Service: "a"}}
	gauges := []schema.Gauge{{Metric: "g", Value: 1}}
	if err := r.Emit(context.Background(), collectors.Batch{Records: recs, Gauges: gauges}); err != nil {
		t.Fatal(err)
	}
	recs[0].Service, gauges[0].Value = "reused", 2
	if err := r.Emit(context.Background(), collectors.Batch{Records: []schema.Record{{Service: "b"}}}); err != nil {
		t.Fatal(err)
	}
	if got := r.Records(); len(got) != 2 || got[0].Service != "a" || got[1].Service != "b" {
		t.Errorf("Records() = %+v, want services a, b", got)
	}
	if got := r.Gauges(); len(got) != 1 || got[0].Value != 1 {
		t.Errorf("Gauges() = %+v, want one gauge of value 1", got)
	}
	if n := len(r.Batches()); n != 2 {
		t.Errorf("%d batches, want 2", n)
	}

	closed := errors.New("sink closed")
	refusing := Recorder{Err: closed}
	if err := refusing.Emit(context.Background(), collectors.Batch{Records: recs}); !errors.Is(err, closed) {
		t.Errorf("Emit with Err set = %v, want %v", err, closed)
	}
	if n := len(refusing.Batches()); n != 0 {
		t.Errorf("refusing recorder kept %d batches", n)
	}
}
