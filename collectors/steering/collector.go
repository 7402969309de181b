package steering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// step is what the weights' time stamps are aligned down to.
const step = time.Minute

// EventWhat is the event the collector posts when weights change.
const EventWhat = "cdn-steering"

// WeightMetric is the last path element of a share.
const WeightMetric = schema.SteeringWeight

// Collector reads every source each run.
type Collector struct {
	sources []Source
	readers []reader
	env     collectors.Env
	logger  *slog.Logger
	now     func() time.Time
	timeout time.Duration // one read (request_timeout)

	mu sync.Mutex // one run at a time owns last and the counters
	// last is the weights last seen per service (sanitised name); loaded
	// from state_dir at the first run.
	last     map[string]Weights
	loaded   bool
	unsaved  bool             // last differs from the state file
	allZero  map[string]int64 // runs whose weights were all 0, per service
	failures map[string]int64 // reads that failed, per service
}

// New builds the collector from validated options: secrets are read and
// the Route 53 clients built now, so a missing credential fails the start.
func New(o *Options, env collectors.Env) (*Collector, error) {
	logger := env.CollectorLogger(Name)
	c := &Collector{env: env, logger: logger, now: time.Now, timeout: o.RequestDeadline(),
		allZero: map[string]int64{}, failures: map[string]int64{}}
	timeout := httpx.WithDeadline(o.RequestDeadline())
	for _, s := range o.Sources {
		// Sharding and service filters: a service's weights are read by
		// the one instance that owns it.
		if !env.Includes(s.Service, s.Service) {
			continue
		}
		r, err := newReader(s, env, timeout, logger)
		if err != nil {
			return nil, err
		}
		c.sources = append(c.sources, s)
		c.readers = append(c.readers, r)
	}
	return c, nil
}

// Collect reads every source now (w is not used: weights say what is
// configured at present, nothing publishes their history) and emits one
// batch: the shares, and the collector's counts of all-zero weights and
// failed reads under <prefix>.cdnmetrics.steering. A weight change posts a
// cdn-steering event before the new weights are kept, so an event that
// could not be queued is tried again next run. A failed source does not
// stop the others; the run then fails naming it.
func (c *Collector) Collect(ctx context.Context, _ collectors.Window, e collectors.Emitter) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err := c.loadOnce(now); err != nil {
		return err
	}
	ts := now.Truncate(step).Unix()
	var b collectors.Batch
	var errs []error
	for i, s := range c.sources {
		svc := schema.Sanitize(s.Service)
		rctx, cancel := context.WithTimeout(ctx, c.timeout)
		w, err := c.readers[i].read(rctx)
		cancel()
		if err != nil {
			c.failures[svc]++
			c.logger.Warn("steering weights not read", "service", s.Service, "kind", s.Kind, "err", err)
			errs = append(errs, fmt.Errorf("steering %s: %w", s.Service, err))
			continue
		}
		if shares, ok := w.Shares(); ok {
			for p, v := range shares {
				b.Points = append(b.Points, schema.Point{Path: schema.Path(c.env.Prefix, Name, svc, p, WeightMetric), Value: v, Time: ts})
			}
		} else {
			c.allZero[svc]++
			c.logger.Warn("every steering weight is 0: no shares emitted", "service", s.Service, "providers", len(w))
		}
		old, seen := c.last[svc]
		if seen && old.Equal(w) {
			continue
		}
		if seen {
			if err := c.postChange(ctx, s.Service, w.Change(s.Service, old), now); err != nil {
				errs = append(errs, err)
				continue // keep the old weights: the change is posted next run
			}
		}
		c.last[svc] = w
		c.unsaved = true
	}
	// Kept before the batch is emitted, and until a write succeeds: the
	// change's event is already posted, so a restart must not post it
	// again, whatever became of this batch.
	if c.unsaved && c.env.StateDir != "" {
		if err := saveState(c.env.StateDir, c.last); err != nil {
			errs = append(errs, fmt.Errorf("steering: keep last weights: %w", err))
		} else {
			c.unsaved = false
		}
	}
	b.Points = append(b.Points, c.selfPoints(ts)...)
	sort.Slice(b.Points, func(i, j int) bool { return b.Points[i].Path < b.Points[j].Path })
	if err := e.Emit(ctx, b); err != nil {
		return errors.Join(append(errs, err)...)
	}
	return errors.Join(errs...)
}

// loadOnce reads the last weights from state at the first run.
func (c *Collector) loadOnce(now time.Time) error {
	if c.loaded {
		return nil
	}
	c.last = map[string]Weights{}
	if c.env.StateDir != "" {
		last, aside, err := loadState(c.env.StateDir, now)
		if err != nil {
			return err
		}
		if aside != "" {
			c.logger.Warn("steering state file corrupt: set aside, starting without last weights (the next change posts no event)", "moved_to", aside)
		}
		c.last = last
	}
	c.loaded = true
	return nil
}

// postChange posts the cdn-steering event (and logs the change, so it is
// on record without [events] too).
func (c *Collector) postChange(ctx context.Context, service, text string, now time.Time) error {
	c.logger.Info("steering weights changed", "service", service, "change", text)
	if c.env.Events == nil {
		return nil
	}
	ev := schema.Event{What: EventWhat, Tags: []string{EventWhat, service}, Data: text, When: now}
	if err := c.env.Events.PostEvent(ctx, ev); err != nil {
		return fmt.Errorf("steering %s: cdn-steering event not posted: %w", service, err)
	}
	return nil
}

// selfPoints are the running counts of all-zero weights and failed reads
// per service.
func (c *Collector) selfPoints(ts int64) []schema.Point {
	var pts []schema.Point
	for _, s := range c.sources {
		svc := schema.Sanitize(s.Service)
		pts = append(pts,
			schema.Point{Path: schema.Path(c.env.Prefix, schema.NamespaceSelf, Name, svc, "all_zero"), Value: float64(c.allZero[svc]), Time: ts},
			schema.Point{Path: schema.Path(c.env.Prefix, schema.NamespaceSelf, Name, svc, "read_failures"), Value: float64(c.failures[svc]), Time: ts})
	}
	return pts
}
