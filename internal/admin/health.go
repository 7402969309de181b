package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// StreamGrace is how long a streaming collector may go without a batch
// delivered before it is unhealthy.
const StreamGrace = 2 * time.Minute

// Schedule is the part of a cron schedule the health rule needs
// (scheduler.ParseSchedule's result).
type Schedule interface {
	Next(time.Time) time.Time
}

// Collector is one collector the daemon runs.
type Collector struct {
	Name string
	// Schedule is the collector's schedule; nil for a streaming collector.
	Schedule Schedule
	// Spec is the schedule as configured, shown in the report.
	Spec string
}

// Tracker remembers each collector's last success and failure; safe for
// concurrent use. A nil Tracker ignores everything (admin listener off).
type Tracker struct {
	start time.Time
	now   func() time.Time

	mu   sync.Mutex
	cols map[string]*collectorState
}

type collectorState struct {
	Collector
	lastSuccess time.Time
	lastFailure time.Time
	lastErr     string
}

// NewTracker tracks cs from start; now is the clock (time.Now outside
// tests).
func NewTracker(start time.Time, now func() time.Time, cs []Collector) *Tracker {
	t := &Tracker{start: start, now: now, cols: map[string]*collectorState{}}
	for _, c := range cs {
		t.cols[c.Name] = &collectorState{Collector: c}
	}
	return t
}

// Record notes the outcome of a run (or a stream's batch) of collector
// name: err nil is a success. A run ended by the daemon's shutdown
// (context.Canceled) is neither.
func (t *Tracker) Record(name string, err error) {
	if t == nil || errors.Is(err, context.Canceled) {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cols[name]
	if c == nil {
		return
	}
	if err == nil {
		c.lastSuccess = now
		return
	}
	c.lastFailure = now
	// The report is served over HTTP: no credential an error carried.
	c.lastErr = redact.String(err.Error())
}

// Emitter returns next recording every batch it takes for collector name:
// a stream's health is its batches getting through.
func (t *Tracker) Emitter(name string, next collectors.Emitter) collectors.Emitter {
	if t == nil {
		return next
	}
	return collectors.EmitterFunc(func(ctx context.Context, b collectors.Batch) error {
		err := next.Emit(ctx, b)
		t.Record(name, err)
		return err
	})
}

// Sink is the state of the Graphite sink the health rule reads.
type Sink struct {
	Connected bool
	// SpoolBytes is the size of the spool now; SpoolMaxBytes its limit
	// (graphite.spool_max_bytes, 0 when there is no spool).
	SpoolBytes    int64
	SpoolMaxBytes int64
	// SpoolError is why the spool refuses writes now ("" while it takes
	// them); CarbonError the last failed connect or write.
	SpoolError  string
	CarbonError string
}

// Report is the body of /healthz.
type Report struct {
	// Status is "ok" (HTTP 200) or "unhealthy" (HTTP 503).
	Status     string                     `json:"status"`
	Time       time.Time                  `json:"time"`
	Started    time.Time                  `json:"started"`
	Collectors map[string]CollectorReport `json:"collectors"`
	Sink       SinkReport                 `json:"sink"`
	// Reasons says, one line each, what is unhealthy; absent when ok.
	Reasons []string `json:"reasons,omitempty"`
}

// CollectorReport is one collector's part of the report.
type CollectorReport struct {
	OK bool `json:"ok"`
	// Kind is "scheduled" or "stream".
	Kind     string `json:"kind"`
	Schedule string `json:"schedule,omitempty"`
	// LastSuccess is null until the collector first succeeded.
	LastSuccess *time.Time `json:"last_success"`
	// Deadline is when the collector becomes unhealthy without another
	// success.
	Deadline    time.Time  `json:"deadline"`
	LastFailure *time.Time `json:"last_failure,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Reason      string     `json:"reason,omitempty"`
}

// SinkReport is the sink's part of the report.
type SinkReport struct {
	OK bool `json:"ok"`
	// State is "connected" or "spooling", or when unhealthy
	// "disconnected" (no spool), "spool_full" or "spool_refusing".
	State         string `json:"state"`
	SpoolBytes    int64  `json:"spool_bytes"`
	SpoolMaxBytes int64  `json:"spool_max_bytes"`
	CarbonError   string `json:"carbon_error,omitempty"`
	SpoolError    string `json:"spool_error,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Check applies the health rule at the tracker's now.
func (t *Tracker) Check(sink Sink) Report {
	now := t.now()
	r := Report{Status: "ok", Time: now.UTC(), Started: t.start.UTC(), Collectors: map[string]CollectorReport{}}
	t.mu.Lock()
	names := make([]string, 0, len(t.cols))
	for n := range t.cols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cr := t.cols[n].check(now, t.start)
		r.Collectors[n] = cr
		if !cr.OK {
			r.Reasons = append(r.Reasons, n+": "+cr.Reason)
		}
	}
	t.mu.Unlock()
	r.Sink = checkSink(sink)
	if !r.Sink.OK {
		r.Reasons = append(r.Reasons, "sink: "+r.Sink.Reason)
	}
	if len(r.Reasons) > 0 {
		r.Status = "unhealthy"
	}
	return r
}

func (c *collectorState) check(now, start time.Time) CollectorReport {
	cr := CollectorReport{Kind: "scheduled", Schedule: c.Spec, LastError: c.lastErr}
	ref := start
	if !c.lastSuccess.IsZero() {
		ls := c.lastSuccess.UTC()
		cr.LastSuccess, ref = &ls, c.lastSuccess
	}
	if !c.lastFailure.IsZero() {
		lf := c.lastFailure.UTC()
		cr.LastFailure = &lf
	}
	if c.Schedule == nil {
		cr.Kind = "stream"
		cr.Deadline = ref.Add(StreamGrace).UTC()
	} else {
		// The second run due after ref: twice the period of "@every",
		// two missed runs of a calendar schedule (weekday-only crons
		// are not unhealthy over the weekend).
		cr.Deadline = c.Schedule.Next(c.Schedule.Next(ref)).UTC()
	}
	cr.OK = now.Before(cr.Deadline)
	if cr.OK {
		return cr
	}
	since := "since the daemon started at " + ref.UTC().Format(time.RFC3339)
	if cr.LastSuccess != nil {
		since = "since " + ref.UTC().Format(time.RFC3339)
	}
	if cr.Kind == "stream" {
		cr.Reason = fmt.Sprintf("no batch delivered %s (more than %v)", since, StreamGrace)
	} else {
		cr.Reason = fmt.Sprintf("no successful run %s; two scheduled runs (%s) have come due", since, c.Spec)
	}
	if c.lastErr != "" {
		cr.Reason += "; last error: " + c.lastErr
	}
	return cr
}

func checkSink(s Sink) SinkReport {
	sr := SinkReport{OK: true, SpoolBytes: s.SpoolBytes, SpoolMaxBytes: s.SpoolMaxBytes,
		CarbonError: redact.String(s.CarbonError), SpoolError: redact.String(s.SpoolError)}
	switch {
	case s.Connected:
		sr.State = "connected"
	case s.SpoolMaxBytes <= 0:
		sr.OK, sr.State = false, "disconnected"
		sr.Reason = "not connected to carbon and no spool (graphite.spool_max_bytes = 0): points are held in memory only"
	case s.SpoolError != "":
		sr.OK, sr.State = false, "spool_refusing"
		sr.Reason = "not connected to carbon and the spool refuses writes: " + sr.SpoolError
	case s.SpoolBytes >= s.SpoolMaxBytes:
		sr.OK, sr.State = false, "spool_full"
		sr.Reason = fmt.Sprintf("not connected to carbon and the spool is at its limit (%d of %d bytes): the oldest points are being dropped", s.SpoolBytes, s.SpoolMaxBytes)
	default:
		sr.State = "spooling"
	}
	if !sr.OK && sr.CarbonError != "" {
		sr.Reason += "; carbon: " + sr.CarbonError
	}
	return sr
}
