package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// Metric is the last path element of the cost series.
const Metric = schema.CostMetric

// FoldAfter is how far behind the newest interval of a provider and
// service an interval's volume is folded into its month's base: far beyond
// any collector's overlap (Akamai re-reads 50 minutes), so a re-read is
// still held per interval, while the state stays small.
const FoldAfter = 6 * time.Hour

// month is one provider and service's month-to-date volume: Base sums the
// folded intervals (every start before Through), Intervals holds the
// newer ones by start, so a re-read replaces rather than adds.
type month struct {
	BaseBytes    float64            `json:"base_bytes"`
	BaseRequests float64            `json:"base_requests"`
	Through      int64              `json:"through"`
	Intervals    map[int64]interval `json:"intervals"`
}

type interval struct {
	Bytes    float64 `json:"b"`
	Requests float64 `json:"r"`
}

// ledgerDoc is the state file: months by "provider/service" then by
// "YYYY-MM" (the current and the previous month are kept).
type ledgerDoc struct {
	Version int                          `json:"version"`
	Keys    map[string]map[string]*month `json:"keys"`
}

const ledgerVersion = 1

// DecodeLedger reads the state file's content; anything it cannot trust
// is an error (the caller sets the file aside and starts from zero).
func DecodeLedger(data []byte) (map[string]map[string]*month, error) {
	var d ledgerDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if d.Version != ledgerVersion {
		return nil, fmt.Errorf("version %d, want %d", d.Version, ledgerVersion)
	}
	if d.Keys == nil {
		d.Keys = map[string]map[string]*month{}
	}
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
	for k, ms := range d.Keys {
		for name, m := range ms {
			from, err := time.Parse("2006-01", name)
			if err != nil || m == nil {
				return nil, fmt.Errorf("%s: bad month %q", k, name)
			}
			if !ok(m.BaseBytes) || !ok(m.BaseRequests) {
				return nil, fmt.Errorf("%s %s: bad base", k, name)
			}
			// Folded past the month's end, every interval of the month
			// would be refused as late; an interval of another month
			// would add to this one.
			to := from.AddDate(0, 1, 0).Unix()
			if m.Through > to {
				return nil, fmt.Errorf("%s %s: folded through %d, after the month", k, name, m.Through)
			}
			if m.Intervals == nil {
				m.Intervals = map[int64]interval{}
			}
			for s, iv := range m.Intervals {
				if !ok(iv.Bytes) || !ok(iv.Requests) || s < m.Through || s < from.Unix() || s >= to {
					return nil, fmt.Errorf("%s %s: bad interval %d", k, name, s)
				}
			}
		}
	}
	return d.Keys, nil
}

// Meter prices `all` records with the plans; one per process, safe for
// concurrent use.
type Meter struct {
	plans  map[string]Plan
	path   string // state file; "" keeps the ledger in memory (dry runs)
	logger *slog.Logger

	mu     sync.Mutex
	ledger map[string]map[string]*month

	unknown, late, writeFailures atomic.Int64
}

// StateFile is the ledger's name under state_dir.
const StateFile = "cost-ledger.json"

// NewMeter returns a Meter for plans, keeping its ledger under stateDir
// ("" for none). A corrupt ledger is set aside (<file>.corrupt-<unix
// seconds>) and logged; the month-to-date volume then starts from zero.
func NewMeter(plans map[string]Plan, stateDir string, logger *slog.Logger) (*Meter, error) {
	if logger == nil {
		logger = slog.Default()
	}
	m := &Meter{plans: plans, logger: logger, ledger: map[string]map[string]*month{}}
	if stateDir == "" {
		return m, nil
	}
	m.path = filepath.Join(stateDir, StateFile)
	data, err := os.ReadFile(m.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("cost: read %s: %w", m.path, err)
	}
	l, derr := DecodeLedger(data)
	if derr == nil {
		derr = futureMonth(l, time.Now())
	}
	if derr == nil {
		m.ledger = l
		return m, nil
	}
	to := fmt.Sprintf("%s.corrupt-%d", m.path, time.Now().Unix())
	if err := os.Rename(m.path, to); err != nil {
		return nil, fmt.Errorf("cost: set aside corrupt %s: %w", m.path, err)
	}
	logger.Warn("cost ledger corrupt: set aside, month-to-date volume starts from zero", "moved_to", to, "err", derr)
	return m, nil
}

// Priced reports whether provider has a plan.
func (m *Meter) Priced(provider string) bool {
	if m == nil {
		return false
	}
	_, ok := m.plans[provider]
	return ok
}

// Gauges prices every `all` record of a priced provider and returns the
// cost gauges, and writes the ledger when it changed. A record whose
// priced counts are unknown (edge_bytes with per-GB tiers, requests with a
// request price) gets no cost: unknown is not zero. A record older than
// its month's folded base cannot be priced without counting it twice (or
// never): it is skipped. Both are logged and counted.
func (m *Meter) Gauges(recs []schema.Record) []schema.Gauge {
	if m == nil || len(m.plans) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []schema.Gauge
	changed := false
	for i := range recs {
		r := &recs[i]
		plan, ok := m.plans[r.Provider]
		if !ok || r.Location != schema.LocationAll {
			continue
		}
		bytes, bok := r.Get(schema.EdgeBytes)
		reqs, rok := r.Get(schema.Requests)
		if (len(plan.PerGB) > 0 && !bok) || (plan.Per10kRequests > 0 && !rok) {
			m.unknown.Add(1)
			m.logger.Warn("no cost for an interval: a priced count is unknown", "provider", r.Provider, "service", r.Service, "start", r.Start,
				"edge_bytes_known", bok, "requests_known", rok)
			continue
		}
		c, ok := m.price(plan, r.Provider+"/"+r.Service, r.Start, bytes, reqs)
		if !ok {
			m.late.Add(1)
			m.logger.Warn("no cost for an interval older than its month's folded volume", "provider", r.Provider, "service", r.Service, "start", r.Start)
			continue
		}
		changed = true
		out = append(out, schema.Gauge{Provider: r.Provider, Service: r.Service, Location: schema.LocationAll, Metric: Metric, Time: r.Start, Value: c})
	}
	if changed {
		m.save()
	}
	return out
}

// price records the interval's volume and returns its cost.
func (m *Meter) price(plan Plan, key string, start int64, bytes, reqs float64) (float64, bool) {
	t := time.Unix(start, 0).UTC()
	name := t.Format("2006-01")
	months := m.ledger[key]
	if months == nil {
		months = map[string]*month{}
		m.ledger[key] = months
	}
	newestMonth := ""
	for n := range months {
		newestMonth = max(newestMonth, n)
	}
	if newestMonth != "" && name < prevMonth(newestMonth) {
		return 0, false // its month's volume is no longer kept
	}
	mo := months[name]
	if mo == nil {
		mo = &month{Intervals: map[int64]interval{}}
		months[name] = mo
		for n := range months {
			if n < prevMonth(max(name, newestMonth)) {
				delete(months, n)
			}
		}
	}
	if start < mo.Through {
		return 0, false
	}
	mo.Intervals[start] = interval{Bytes: bytes, Requests: reqs}
	before := mo.BaseBytes
	newest := start
	for s, iv := range mo.Intervals {
		if s < start {
			before += iv.Bytes
		}
		newest = max(newest, s)
	}
	fold(mo, newest-int64(FoldAfter/time.Second))
	return plan.BytesCost(before/BytesPerGB, bytes/BytesPerGB) + plan.RequestsCost(reqs), true
}

// fold moves the intervals that started before cut into the base.
func fold(mo *month, cut int64) {
	if cut <= mo.Through {
		return
	}
	for s, iv := range mo.Intervals {
		if s < cut {
			mo.BaseBytes += iv.Bytes
			mo.BaseRequests += iv.Requests
			delete(mo.Intervals, s)
		}
	}
	mo.Through = cut
}

// futureMonth refuses a ledger holding a month after the one following
// now's (a clock skew at most reaches into that one): the newest month
// decides which are too old to price, so such a month would refuse every
// interval of every real month as late.
func futureMonth(l map[string]map[string]*month, now time.Time) error {
	u := now.UTC()
	limit := time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	for k, ms := range l {
		for name := range ms {
			if name > limit {
				return fmt.Errorf("%s: month %s is in the future", k, name)
			}
		}
	}
	return nil
}

// prevMonth is the "YYYY-MM" before name.
func prevMonth(name string) string {
	t, err := time.Parse("2006-01", name)
	if err != nil {
		return name
	}
	return t.AddDate(0, -1, 0).Format("2006-01")
}

// save writes the ledger; a failure is logged and counted (the volume is
// still held in memory).
func (m *Meter) save() {
	if m.path == "" {
		return
	}
	data, err := json.Marshal(ledgerDoc{Version: ledgerVersion, Keys: m.ledger})
	if err == nil {
		err = state.WriteFileAtomic(m.path, data, 0o640)
	}
	if err != nil {
		m.writeFailures.Add(1)
		m.logger.Error("cost ledger not written", "path", m.path, "err", err)
	}
}

// SelfPoints are the meter's counts under <prefix>.cdnmetrics.cost.
func (m *Meter) SelfPoints(prefix string, ts int64) []schema.Point {
	if m == nil || len(m.plans) == 0 {
		return nil
	}
	p := func(name string, v int64) schema.Point {
		return schema.Point{Path: schema.Path(prefix, schema.NamespaceSelf, Metric, name), Value: float64(v), Time: ts}
	}
	return []schema.Point{p("unknown_counts", m.unknown.Load()), p("late_intervals", m.late.Load()), p("ledger_write_failures", m.writeFailures.Load())}
}
