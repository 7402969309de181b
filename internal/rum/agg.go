package rum

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// RelativeAccuracy is the DDSketch's guarantee: every quantile it returns
// is within 1% of the value of the exact quantile.
const RelativeAccuracy = 0.01

// Other is the name every provider, service or POP outside its allow-list
// or cap is filed under.
const Other = "other"

// maxKbps is the largest throughput taken: 100 Gbit/s.
const maxKbps = 1e8

// minute is the aggregation step, in seconds.
const minute = 60

// key is one cell of a minute: country "" when unknown (counted only in
// the all-countries location).
type key struct{ provider, service, country string }

// cell holds one minute of one key: counts and mergeable sketches.
type cell struct {
	samples, errors int64
	hits, known     int64 // entries with a known cache status, and hits among them
	ttfb, connect   *ddsketch.DDSketch
	tls, kbps       *ddsketch.DDSketch
}

// maxBins bounds a sketch's bins (8 bytes each). Every value in [0,
// MaxTimingMS] is taken, and an attacker spreading values from 1e-307 ms
// up would otherwise grow each sketch to some 36,000 bins (1.2 MB a
// cell). 1024 bins at 1% span a ratio of 8e8 below the largest value
// (120 s down to 0.15 µs, 100 Gbit/s down to 0.12 kbit/s); only values
// below that are collapsed into the lowest bin.
const maxBins = 1024

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(RelativeAccuracy, maxBins)
	if err != nil {
		panic(err) // only for an accuracy outside (0, 1)
	}
	return s
}

func newCell() *cell {
	return &cell{ttfb: newSketch(), connect: newSketch(), tls: newSketch(), kbps: newSketch()}
}

// merge adds o into c.
func (c *cell) merge(o *cell) {
	c.samples += o.samples
	c.errors += o.errors
	c.hits += o.hits
	c.known += o.known
	for _, p := range [][2]*ddsketch.DDSketch{{c.ttfb, o.ttfb}, {c.connect, o.connect}, {c.tls, o.tls}, {c.kbps, o.kbps}} {
		_ = p[0].MergeWith(p[1]) // same accuracy: cannot fail
	}
}

// Aggregator folds entries and NEL failures into per-minute cells. Its
// dimensions are bounded: providers and services by their allow-lists
// (plus "other"), countries by ISO 3166, POP values by maxPOPs per
// provider. Safe for concurrent use.
type Aggregator struct {
	providers map[string]bool
	services  map[string]bool
	service0  string
	maxPOPs   int
	count     *counters

	mu      sync.Mutex
	pops    map[string]map[string]bool // provider → POP values kept
	minutes map[int64]map[key]*cell
}

// NewAggregator files entries under the given providers and services
// (services[0] for a beacon naming none), keeping at most maxPOPs POP
// values per provider.
func NewAggregator(providers, services []string, maxPOPs int, c *counters) *Aggregator {
	a := &Aggregator{providers: map[string]bool{}, services: map[string]bool{}, maxPOPs: maxPOPs, count: c,
		pops: map[string]map[string]bool{}, minutes: map[int64]map[key]*cell{}}
	for _, p := range providers {
		a.providers[p] = true
	}
	for _, s := range services {
		a.services[s] = true
	}
	if len(services) > 0 {
		a.service0 = services[0]
	}
	return a
}

// provider maps a beacon's provider to an allowed name or Other; "" when
// the entry names none.
func (a *Aggregator) provider(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if p == "" {
		return ""
	}
	if a.providers[p] {
		return p
	}
	a.count.add("other_provider", 1)
	return Other
}

func (a *Aggregator) service(s string) string {
	if s == "" {
		return a.service0
	}
	if s = strings.ToLower(s); a.services[s] {
		return s
	}
	a.count.add("other_service", 1)
	return Other
}

// pop notes a POP value under the provider's cap (the value itself is in
// no series path: the cap keeps the set the daemon holds bounded). Called
// with a.mu held.
func (a *Aggregator) pop(provider, raw string) {
	if raw == "" {
		return
	}
	p := cleanPOP(raw)
	set := a.pops[provider]
	if set == nil {
		set = map[string]bool{}
		a.pops[provider] = set
	}
	switch {
	case p == "":
		a.count.add("other_pop", 1)
	case set[p]:
	case len(set) >= a.maxPOPs:
		a.count.add("other_pop", 1)
	default:
		set[p] = true
	}
}

// POPs returns the POP values kept for provider, sorted.
func (a *Aggregator) POPs(provider string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for p := range a.pops[provider] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (a *Aggregator) cellAt(t time.Time, k key) *cell {
	m := t.Unix() / minute * minute
	cells := a.minutes[m]
	if cells == nil {
		cells = map[key]*cell{}
		a.minutes[m] = cells
	}
	c := cells[k]
	if c == nil {
		c = newCell()
		cells[k] = c
	}
	return c
}

// Add files one entry received at t from a client in country cc (already
// checked, "" when unknown). Entries naming no provider are dropped and
// counted; timings out of range are dropped one by one and counted.
func (a *Aggregator) Add(e Entry, cc string, t time.Time) {
	prov := a.provider(e.Provider)
	if prov == "" {
		a.count.drop("dropped_no_provider", 1, "rum beacon entry dropped: it names no provider")
		return
	}
	svc := a.service(e.Service)
	timing := func(v *float64) (float64, bool) {
		if v == nil {
			return 0, false
		}
		if !timingOK(*v) {
			a.count.drop("dropped_timing", 1, "rum beacon timing dropped: outside 0 to max ms", "max_ms", MaxTimingMS)
			return 0, false
		}
		return *v, true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pop(prov, e.POP)
	c := a.cellAt(t, key{prov, svc, cc})
	c.samples++
	a.count.add("entries", 1)
	if v, ok := timing(e.TTFB); ok {
		_ = c.ttfb.Add(v)
	}
	if v, ok := timing(e.Connect); ok {
		_ = c.connect.Add(v)
	}
	if v, ok := timing(e.TLS); ok {
		_ = c.tls.Add(v)
	}
	timing(e.DNS) // checked and counted, not aggregated
	if d, ok := timing(e.Download); ok && d > 0 && e.Size != nil {
		switch s := *e.Size; {
		case s < 0 || s > maxSize:
			a.count.drop("dropped_size", 1, "rum beacon size dropped: negative or above 10 GB")
		case s > 0:
			// bits per ms = kbit/s; above maxKbps (a download time of a
			// few microseconds) is no measurement.
			if k := s * 8 / d; k <= maxKbps {
				_ = c.kbps.Add(k)
			} else {
				a.count.drop("dropped_throughput", 1, "rum beacon throughput dropped: above 100 Gbit/s", "max_kbps", maxKbps)
			}
		}
	}
	switch cacheHit(e.Cache) {
	case 1:
		c.hits++
		c.known++
	case 0:
		c.known++
	}
}

// AddError files one failure (a NEL report) of provider at t.
func (a *Aggregator) AddError(provider, cc string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cellAt(t, key{provider, a.service0, cc}).errors++
}

// Flush removes and returns the gauges of every minute that ended at or
// before now (all minutes when all is set, at the stop), stamped with the
// minute's start.
func (a *Aggregator) Flush(now time.Time, all bool) []schema.Gauge {
	a.mu.Lock()
	var done []int64
	for m := range a.minutes {
		if all || m+minute <= now.Unix() {
			done = append(done, m)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i] < done[j] })
	taken := make([]map[key]*cell, len(done))
	for i, m := range done {
		taken[i] = a.minutes[m]
		delete(a.minutes, m)
	}
	a.mu.Unlock()
	var out []schema.Gauge
	for i, m := range done {
		out = append(out, minuteGauges(m, taken[i])...)
	}
	return out
}

// minuteGauges turns one minute's cells into gauges: per country at
// rum_<cc>, and the merge of every country (and of clients without one)
// at rum.
func minuteGauges(t int64, cells map[key]*cell) []schema.Gauge {
	type ps struct{ provider, service string }
	all := map[ps]*cell{}
	keys := make([]key, 0, len(cells))
	for k := range cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.provider != b.provider {
			return a.provider < b.provider
		}
		if a.service != b.service {
			return a.service < b.service
		}
		return a.country < b.country
	})
	var out []schema.Gauge
	var order []ps
	for _, k := range keys {
		c := cells[k]
		p := ps{k.provider, k.service}
		if all[p] == nil {
			all[p] = newCell()
			order = append(order, p)
		}
		all[p].merge(c)
		if k.country != "" {
			out = append(out, cellGauges(k.provider, k.service, schema.LocationRUMCountry(k.country), t, c)...)
		}
	}
	for _, p := range order {
		out = append(out, cellGauges(p.provider, p.service, schema.LocationRUM, t, all[p])...)
	}
	return out
}

// cellGauges are one cell's metrics; a percentile without samples and a
// hit share without a known cache status are absent, not zero.
func cellGauges(provider, service, loc string, t int64, c *cell) []schema.Gauge {
	var out []schema.Gauge
	add := func(metric string, v float64) {
		out = append(out, schema.Gauge{Provider: provider, Service: service, Location: loc, Metric: metric, Time: t, Value: v})
	}
	add(schema.RUMSamples, float64(c.samples))
	add(schema.RUMErrors, float64(c.errors))
	q := func(metric string, s *ddsketch.DDSketch, quantile float64) {
		if s.IsEmpty() {
			return
		}
		if v, err := s.GetValueAtQuantile(quantile); err == nil {
			add(metric, v)
		}
	}
	q(schema.RUMTTFBP50, c.ttfb, 0.5)
	q(schema.RUMTTFBP95, c.ttfb, 0.95)
	q(schema.RUMConnectP50, c.connect, 0.5)
	q(schema.RUMTLSP50, c.tls, 0.5)
	q(schema.RUMDownloadKbpsP50, c.kbps, 0.5)
	if c.known > 0 {
		add(schema.RUMHitShare, float64(c.hits)/float64(c.known))
	}
	return out
}
