package cost_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/cost"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

var plan = cost.Plan{Currency: "USD", PerGB: [][]float64{{0, 0.12}, {10, 0.08}, {50, 0.06}}, Per10kRequests: 0.0075}

func rec(t time.Time, gb, reqs float64) schema.Record {
	r := schema.Record{Provider: "fastly", Service: "www", Location: schema.LocationAll, Start: t.Unix(), Step: 60}
	r.Set(schema.EdgeBytes, gb*1e9)
	r.Set(schema.Requests, reqs)
	return r
}

// price runs one record through m and returns its cost (ok false: none).
func price(t *testing.T, m *cost.Meter, r schema.Record) (float64, bool) {
	t.Helper()
	gs := m.Gauges([]schema.Record{r})
	if len(gs) == 0 {
		return 0, false
	}
	g := gs[0]
	if g.Metric != "cost" || g.Location != "all" || g.Time != r.Start || g.Provider != "fastly" || g.Service != "www" {
		t.Fatalf("gauge %+v", g)
	}
	return g.Value, true
}

func wantCost(t *testing.T, m *cost.Meter, r schema.Record, want float64) {
	t.Helper()
	got, ok := price(t, m, r)
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Errorf("%s: cost %v (ok %v), want %v", time.Unix(r.Start, 0).UTC().Format(time.RFC3339), got, ok, want)
	}
}

// Tiers on month-to-date volume across a month boundary, re-reads that do
// not count twice, a restart from the ledger, a revision. Every value by
// hand: tiers 0.12/GB to 10 GB, 0.08 to 50 GB, 0.06 beyond; 0.0075 per
// 10,000 requests.
func TestTiersAcrossMonthBoundary(t *testing.T) {
	dir := t.TempDir()
	m, err := cost.NewMeter(map[string]cost.Plan{"fastly": plan}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	jan3158 := time.Date(2026, 1, 31, 23, 58, 0, 0, time.UTC)
	jan3159 := jan3158.Add(time.Minute)
	feb0100 := jan3159.Add(time.Minute)
	feb0101 := feb0100.Add(time.Minute)
	// 6 GB from 0: 6 × 0.12 = 0.72; 20,000 requests: 0.015.
	wantCost(t, m, rec(jan3158, 6, 20000), 0.735)
	// 8 GB from 6: 4 × 0.12 + 4 × 0.08 = 0.80; 10,000 requests: 0.0075.
	wantCost(t, m, rec(jan3159, 8, 10000), 0.8075)
	// February starts from 0: 5 × 0.12.
	wantCost(t, m, rec(feb0100, 5, 0), 0.60)
	// Re-reads (an overlap) price the same: nothing is counted twice.
	wantCost(t, m, rec(jan3159, 8, 10000), 0.8075)
	wantCost(t, m, rec(feb0100, 5, 0), 0.60)
	wantCost(t, m, rec(jan3158, 6, 20000), 0.735)

	// Restart: the ledger comes back from state_dir.
	m, err = cost.NewMeter(map[string]cost.Plan{"fastly": plan}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 50 GB from 5: 5 × 0.12 + 40 × 0.08 + 5 × 0.06 = 0.6 + 3.2 + 0.3.
	wantCost(t, m, rec(feb0101, 50, 0), 4.1)
	wantCost(t, m, rec(feb0100, 5, 0), 0.60)
	// A revision of January's first minute (7 GB) re-prices the next one
	// when it is read again: 3 × 0.12 + 5 × 0.08 + 0.0075.
	wantCost(t, m, rec(jan3158, 7, 20000), 0.84+0.015)
	wantCost(t, m, rec(jan3159, 8, 10000), 0.7675)

	// Seven hours later the first February minutes are folded into the
	// month's base: 55 GB before, so 1 GB at 0.06.
	wantCost(t, m, rec(feb0100.Add(7*time.Hour), 1, 0), 0.06)
	// A read of a folded minute cannot be priced without counting it twice.
	if _, ok := price(t, m, rec(feb0100, 5, 0)); ok {
		t.Error("a folded interval was priced again")
	}
	// A month older than the previous one is no longer kept.
	if _, ok := price(t, m, rec(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), 1, 0)); ok {
		t.Error("December priced in February")
	}
	pts := m.SelfPoints("cdn", 0)
	if len(pts) != 3 || pts[1].Path != "cdn.cdnmetrics.cost.late_intervals" || pts[1].Value != 2 {
		t.Errorf("self points %v", pts)
	}
}

// Unknown edge bytes give no cost (unknown is not zero), counted.
func TestUnknownCountsNoCost(t *testing.T) {
	m, _ := cost.NewMeter(map[string]cost.Plan{"fastly": plan}, "", nil)
	r := schema.Record{Provider: "fastly", Service: "www", Location: "all", Start: 1_800_000_000, Step: 60}
	r.Set(schema.Requests, 100)
	if gs := m.Gauges([]schema.Record{r}); len(gs) != 0 {
		t.Fatalf("cost from unknown bytes: %v", gs)
	}
	// Another provider, or a POP, is not priced.
	r2 := rec(time.Unix(1_800_000_000, 0), 1, 1)
	r2.Provider = "akamai"
	r3 := rec(time.Unix(1_800_000_000, 0), 1, 1)
	r3.Location = "lhr"
	if gs := m.Gauges([]schema.Record{r2, r3}); len(gs) != 0 {
		t.Fatalf("priced %v", gs)
	}
	if p := m.SelfPoints("cdn", 0)[0]; p.Value != 1 {
		t.Errorf("unknown_counts %v", p)
	}
}

// A corrupt ledger is set aside, not fatal.
func TestCorruptLedgerSetAside(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, cost.StateFile), []byte(`{"version":1,"keys":{"fastly/www":{"2026-01":{"base_bytes":-1}}}}`), 0o640)
	m, err := cost.NewMeter(map[string]cost.Plan{"fastly": plan}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCost(t, m, rec(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1, 0), 0.12)
	if g, _ := filepath.Glob(filepath.Join(dir, cost.StateFile+".corrupt-*")); len(g) != 1 {
		t.Errorf("not set aside: %v", g)
	}
}

// A ledger whose month is folded past its own end, or holds an interval
// of another month, cannot be trusted: read as it is, a folded-through in
// the future would refuse every interval of the month as late (no cost
// for the rest of it), and a stray interval would add to a month it is
// not in. It is set aside like any corrupt file.
func TestLedgerOutsideItsMonthSetAside(t *testing.T) {
	for name, doc := range map[string]string{
		"through in 2100":  `{"version":1,"keys":{"fastly/www":{"2026-01":{"through":4102444800,"intervals":{}}}}}`,
		"february in jan":  `{"version":1,"keys":{"fastly/www":{"2026-01":{"through":0,"intervals":{"1770000000":{"b":5e10,"r":0}}}}}}`,
		"month in 2999":    `{"version":1,"keys":{"fastly/www":{"2999-01":{"through":0,"intervals":{}}}}}`,
		"interval in 1999": `{"version":1,"keys":{"fastly/www":{"2026-01":{"through":0,"intervals":{"915148800":{"b":5e10,"r":0}}}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, cost.StateFile), []byte(doc), 0o640)
			m, err := cost.NewMeter(map[string]cost.Plan{"fastly": plan}, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			// 1 GB at 0.12 with nothing before it this month.
			wantCost(t, m, rec(time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), 1, 0), 0.12)
			if g, _ := filepath.Glob(filepath.Join(dir, cost.StateFile+".corrupt-*")); len(g) != 1 {
				t.Errorf("not set aside: %v", g)
			}
		})
	}
}

func TestPlanProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    cost.Plan
		want string
	}{
		{"negative price", cost.Plan{Currency: "USD", PerGB: [][]float64{{0, -0.1}}}, "cost.fastly.per_gb[0]"},
		{"unsorted tiers", cost.Plan{Currency: "USD", PerGB: [][]float64{{0, 0.1}, {50, 0.08}, {10, 0.06}}}, "cost.fastly.per_gb[2]"},
		{"first tier not at 0", cost.Plan{Currency: "USD", PerGB: [][]float64{{10, 0.1}}}, "cost.fastly.per_gb[0]"},
		{"three numbers", cost.Plan{Currency: "USD", PerGB: [][]float64{{0, 0.1, 3}}}, "cost.fastly.per_gb[0]"},
		{"currency format", cost.Plan{Currency: "usd", PerGB: [][]float64{{0, 0.1}}}, "cost.fastly.currency"},
		{"no currency", cost.Plan{PerGB: [][]float64{{0, 0.1}}}, "cost.fastly.currency"},
		{"negative requests", cost.Plan{Currency: "USD", Per10kRequests: -1}, "cost.fastly.per_10k_requests"},
		{"negative commitment", cost.Plan{Currency: "USD", Per10kRequests: 1, CommitMonthly: -5}, "cost.fastly.commit_monthly"},
		{"prices nothing", cost.Plan{Currency: "USD"}, "cost.fastly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.p.Problems("fastly")
			found := false
			for _, p := range ps {
				found = found || p.Key == tc.want
			}
			if !found {
				t.Errorf("no problem on %s: %v", tc.want, ps)
			}
		})
	}
	if ps := plan.Problems("fastly"); len(ps) != 0 {
		t.Errorf("good plan refused: %v", ps)
	}
	if ps := plan.Problems("steering"); len(ps) == 0 || !strings.Contains(ps[0].Message, "namespace") {
		t.Errorf("namespace as provider: %v", ps)
	}
}
