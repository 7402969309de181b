package collectorstest

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/pipeline"
)

// Pipe is the program's pipeline in a dry run, for collector tests that must
// see what the central checks (clock guard, value check) make of a
// collector's batches: what reaches carbon and the self-metrics.
type Pipe struct {
	p    *pipeline.Pipeline
	sink *graphite.WriterSink
	out  bytes.Buffer
	mu   sync.Mutex
	log  bytes.Buffer
}

// NewPipe returns a dry-run pipeline with prefix "cdn" and the default clock
// tolerance, on our real clock.
func NewPipe() *Pipe {
	p := &Pipe{}
	p.sink = graphite.NewWriterSink(&p.out)
	p.p = pipeline.New(pipeline.Options{Prefix: "cdn", Sink: p.sink, Logger: slog.New(slog.NewTextHandler(lockedWriter{p}, nil)),
		ClockSkewTolerance: collectors.DefaultClockSkewTolerance})
	return p
}

type lockedWriter struct{ p *Pipe }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

// Emitter is collector name's emitter.
func (p *Pipe) Emitter(name string) collectors.Emitter { return p.p.Emitter(name) }

// Clock is collector name's clock (for collectors.Env.Clock).
func (p *Pipe) Clock(name string) collectors.Clock { return p.p.Clock(name) }

// Log is what the pipeline logged.
func (p *Pipe) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Lines flushes the sink and returns every point it received under
// "path@time" and, with its last value, under its path; and every
// self-metric under its path.
func (p *Pipe) Lines(t testing.TB) map[string]float64 {
	t.Helper()
	if err := p.sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, l := range strings.Split(p.out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got[f[0]+"@"+f[2]] = v
		got[f[0]] = v
	}
	for _, pt := range p.p.SelfPoints(time.Now()) {
		got[pt.Path] = pt.Value
	}
	return got
}
