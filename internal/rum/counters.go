package rum

import (
	"log/slog"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Counters are the self-metrics <prefix>.cdnmetrics.rum.<name>, cumulative
// since the start:
//   - beacons, entries, nel_reports: accepted bodies, entries, NEL failures;
//   - dropped_<reason>: whole requests (method, origin, rate_limited,
//     too_large, unreadable, content_type, malformed) or parts of them
//     (entry_malformed, too_many_entries, no_provider, timing, size,
//     throughput, nel_host, nel_malformed) that were not aggregated;
//   - other_provider, other_service, other_pop: values outside their
//     allow-list or cap, filed as "other"; bad_country: a country header
//     that is no assigned ISO 3166 alpha-2 code (the entry counts only in
//     the all-countries location).
var Counters = []string{"beacons", "entries", "nel_reports",
	"dropped_method", "dropped_origin", "dropped_rate_limited", "dropped_too_large", "dropped_unreadable",
	"dropped_content_type", "dropped_malformed", "dropped_entry_malformed", "dropped_too_many_entries",
	"dropped_no_provider", "dropped_timing", "dropped_size", "dropped_throughput", "dropped_nel_host", "dropped_nel_malformed",
	"other_provider", "other_service", "other_pop", "bad_country"}

// logEvery bounds the log lines per counter: the first is logged, then at
// most one a minute with how many were not; the counters are exact.
const logEvery = time.Minute

type counters struct {
	mu       sync.Mutex
	n        map[string]int64
	lastLog  map[string]time.Time
	unlogged map[string]int64
	log      *slog.Logger
	now      func() time.Time
}

func newCounters(log *slog.Logger, now func() time.Time) *counters {
	return &counters{n: map[string]int64{}, lastLog: map[string]time.Time{}, unlogged: map[string]int64{}, log: log, now: now}
}

func (c *counters) add(name string, d int64) {
	c.mu.Lock()
	c.n[name] += d
	c.mu.Unlock()
}

// drop counts d of name and logs msg (never a value from the request
// beyond args the caller chose) within the log rate limit.
func (c *counters) drop(name string, d int64, msg string, args ...any) {
	now := c.now()
	c.mu.Lock()
	c.n[name] += d
	last, logged := c.lastLog[name]
	emit := !logged || now.Sub(last) >= logEvery || now.Before(last)
	var skipped int64
	if emit {
		skipped, c.unlogged[name], c.lastLog[name] = c.unlogged[name], 0, now
	} else {
		c.unlogged[name] += d
	}
	c.mu.Unlock()
	if !emit {
		return
	}
	args = append(args, "counter", "rum."+name, "count", d)
	if skipped > 0 {
		args = append(args, "not_logged_since_last", skipped)
	}
	c.log.Warn(msg, args...)
}

// get returns the counter's value.
func (c *counters) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// points are the counters as self-metrics at now (zeros included).
func (c *counters) points(prefix string, now time.Time) []schema.Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	pts := make([]schema.Point, 0, len(Counters))
	for _, name := range Counters {
		pts = append(pts, schema.Point{Path: schema.Path(prefix, schema.NamespaceSelf, "rum", name), Value: float64(c.n[name]), Time: now.Unix()})
	}
	return pts
}
