package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly/fastlysim"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// tierCost is the test's own tier arithmetic (not internal/cost's): the
// price of gb more GB after before GB this month, at 0.12 per GB below
// edge GB and 0.08 above it.
func tierCost(before, gb, edge float64) float64 {
	below := math.Max(0, math.Min(before+gb, edge)-before)
	return below*0.12 + (gb-below)*0.08
}

// Steering weights and cost through real carbon and graphite-web: a
// weights file read by `collect` gives the shares, a change gives the
// shares and a cdn-steering event; the Fastly stand-in's traffic gives
// <prefix>.fastly.<service>.all.cost equal to the tiers applied by hand to
// the traffic model's month-to-date bytes; `compare` shows both.
func TestSteeringAndCostThroughRealGraphite(t *testing.T) {
	g := graphitetest.Start(t)
	model := traffic.Default(11)
	dir := t.TempDir()
	_, simText := startSim(t, simulate.Options{Model: model, Only: []string{"fastly"}}, dir,
		simulate.Core{GraphiteAddr: g.CarbonAddr, GraphiteWebURL: g.WebURL, Prefix: "e2e"})

	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-10 * time.Minute), End: end}
	// The model's `all` minutes, by service, in time order.
	bySvc := map[string][]schema.Record{}
	for _, r := range fastlysim.Expect(model, w) {
		if r.Location == schema.LocationAll {
			bySvc[r.Service] = append(bySvc[r.Service], r)
		}
	}
	var wwwGB float64
	for _, r := range bySvc["www"] {
		b, _ := r.Get(schema.EdgeBytes)
		wwwGB += b / 1e9
	}
	// The tier edge in the middle of www's volume, so both tiers are used.
	edge := math.Round(wwwGB/2*1e6) / 1e6
	if edge <= 0 {
		t.Fatalf("model gives www no bytes in %v", w)
	}

	weights := filepath.Join(dir, "weights.json")
	if err := os.WriteFile(weights, []byte(`{"fastly": 70, "akamai": 30}`), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf(`
[steering]
[[steering.source]]
service = "www"
kind = "file"
path = %q

[cost.fastly]
currency = "USD"
per_gb = [[0, 0.12], [%v, 0.08]]
per_10k_requests = 0.0075
commit_monthly = 1000000.0
`, weights, edge)
	cfgPath := writeConfig(t, dir, simText+extra)
	collect := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code := app.Main(context.Background(), append([]string{"collect", "--config", cfgPath}, args...), app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
		if code != 0 {
			t.Fatalf("collect %v: exit %d\n%s\n%s", args, code, out.String(), errb.String())
		}
		return errb.String()
	}

	// Cost: every `all` minute of every service, priced by hand.
	collect("--collector", "fastly", "--from", fmt.Sprint(w.Start.Unix()), "--to", fmt.Sprint(w.End.Unix()))
	want := map[string]map[int64]float64{}
	var totalCost, totalGB float64
	for svc, recs := range bySvc {
		sort.Slice(recs, func(i, j int) bool { return recs[i].Start < recs[j].Start })
		before, month := 0.0, ""
		path := "e2e.fastly." + svc + ".all.cost"
		want[path] = map[int64]float64{}
		for _, r := range recs {
			if m := time.Unix(r.Start, 0).UTC().Format("2006-01"); m != month {
				before, month = 0, m // a new UTC month starts from 0 GB
			}
			b, _ := r.Get(schema.EdgeBytes)
			n, _ := r.Get(schema.Requests)
			c := tierCost(before, b/1e9, edge) + n/10000*0.0075
			want[path][r.Start] = c
			before += b / 1e9
			totalCost += c
			totalGB += b / 1e9
		}
	}
	found, missing := g.WaitValues(t, want, 20*time.Second)
	t.Logf("cost: %d points as computed by hand, %d missing or different", found, missing)
	if missing != 0 {
		t.Fatalf("%d cost points not as computed by hand", missing)
	}

	// Steering: 70/30, then 50/50 with an event. The collector stamps its
	// own minute (the runs may straddle one): the newest value counts.
	now := time.Now()
	ts := now.Truncate(time.Minute).Unix()
	steer := func() {
		collect("--collector", "steering", "--from", fmt.Sprint(ts), "--to", fmt.Sprint(ts+60))
	}
	steer()
	waitNewest(t, g, "e2e.steering.www.fastly.weight", ts, 0.7)
	waitNewest(t, g, "e2e.steering.www.akamai.weight", ts, 0.3)
	if err := os.WriteFile(weights, []byte(`{"fastly": 50, "akamai": 50}`), 0o644); err != nil {
		t.Fatal(err)
	}
	steer()
	waitNewest(t, g, "e2e.steering.www.fastly.weight", ts, 0.5)
	waitNewest(t, g, "e2e.steering.www.akamai.weight", ts, 0.5)
	var evs []ghEvent
	for deadline := time.Now().Add(15 * time.Second); ; {
		evs = getEvents(t, g.WebURL, "cdn-steering")
		if len(evs) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(evs) != 1 || evs[0].Data != "www: fastly 70→50, akamai 30→50" || evs[0].What != "cdn-steering" {
		t.Fatalf("cdn-steering events %+v", evs)
	}
	// The event is drawn like deploys: its metric form too.
	g.WaitValue(t, "e2e.events.cdn-steering.www", evs[0].When-evs[0].When%10, 1, 10*time.Second)

	// compare (from a step before the first minute: graphite-web's from
	// is exclusive): fastly served all of www (the only provider with series),
	// its weight is 0.5: +50 pp, flagged. Cost over the window: the sum
	// computed above, per GB over the same minutes; one USD provider: share
	// 1; billed the commitment.
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"compare", "--config", cfgPath, "--format", "json",
		"--from", fmt.Sprint(w.Start.Unix() - 60), "--until", fmt.Sprint(ts + 180)}, app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	if code >= 2 {
		t.Fatalf("compare exit %d: %s", code, errb.String())
	}
	var rep struct {
		Providers []struct {
			Provider string
			Steering *struct {
				Weight   float64 `json:"weight"`
				Observed float64 `json:"observed_request_share"`
				DiffPP   float64 `json:"diff_pp"`
				Flagged  bool    `json:"flagged"`
			}
			Cost *struct {
				Currency    string  `json:"currency"`
				Cost        float64 `json:"cost"`
				PerGB       float64 `json:"price_per_gb"`
				Share       float64 `json:"cost_share"`
				MonthUsage  float64 `json:"month_to_date_usage"`
				MonthBilled float64 `json:"month_to_date_billed"`
			}
		}
		Notes []string
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("compare json: %v\n%s", err, out.String())
	}
	if len(rep.Providers) != 1 || rep.Providers[0].Provider != "fastly" {
		t.Fatalf("providers %+v", rep.Providers)
	}
	p := rep.Providers[0]
	// The weight is the mean of the window's weight points: 0.5, or
	// (0.7 + 0.5) / 2 when the two runs straddled a minute.
	ss, err := g.Render(context.Background(), "e2e.steering.www.fastly.weight", w.Start.Unix()-60, ts+180)
	if err != nil {
		t.Fatal(err)
	}
	var wsum float64
	var wn int
	for _, s := range ss {
		for _, pt := range s.Points {
			if pt.Value != nil {
				wsum += *pt.Value
				wn++
			}
		}
	}
	if wn == 0 {
		t.Fatal("no weight points")
	}
	wantW := wsum / float64(wn)
	if st := p.Steering; st == nil || !near(st.Weight, wantW) || !near(st.Observed, 1) || !near(st.DiffPP, (1-wantW)*100) || !st.Flagged {
		t.Errorf("steering %+v, want weight %v, observed 1, %+v pp, flagged", st, wantW, (1-wantW)*100)
	}
	c := p.Cost
	if c == nil || c.Currency != "USD" || !near(c.Cost, totalCost) || !near(c.PerGB, totalCost/totalGB) || !near(c.Share, 1) || c.MonthBilled != 1e6 {
		t.Errorf("cost %+v, want %v USD, %v per GB, share 1, billed 1e6", c, totalCost, totalCost/totalGB)
	}
	// Month to date: the window's minutes of this month (the ledger knew
	// no other).
	var monthCost float64
	monthStart := time.Date(time.Unix(ts, 0).UTC().Year(), time.Unix(ts, 0).UTC().Month(), 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, byTime := range want {
		for at, v := range byTime {
			if at >= monthStart {
				monthCost += v
			}
		}
	}
	if c != nil && !near(c.MonthUsage, monthCost) {
		t.Errorf("month to date %v, want %v", c.MonthUsage, monthCost)
	}
	joined := strings.Join(rep.Notes, "\n")
	if !strings.Contains(joined, "name akamai, which has no series") {
		t.Errorf("no note on akamai's weight without series: %v", rep.Notes)
	}
	// The table shows both.
	out.Reset()
	app.Main(context.Background(), []string{"compare", "--config", cfgPath,
		"--from", fmt.Sprint(w.Start.Unix() - 60), "--until", fmt.Sprint(ts + 180)}, app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	t.Logf("compare:\n%s", out.String())
	if !strings.Contains(out.String(), "steering weight vs observed") || !strings.Contains(out.String(), "FLAG") || !strings.Contains(out.String(), "USD") {
		t.Errorf("table lacks the steering and cost columns:\n%s", out.String())
	}
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// waitNewest polls graphite-web until the newest value of path from ts on
// is want.
func waitNewest(t *testing.T, g *graphitetest.Server, path string, ts int64, want float64) {
	t.Helper()
	var last *float64
	for deadline := time.Now().Add(15 * time.Second); ; {
		ss, err := g.Render(context.Background(), path, ts-10, time.Now().Unix()+60)
		if err != nil {
			t.Fatal(err)
		}
		last = nil
		for _, s := range ss {
			for _, p := range s.Points {
				if p.Value != nil {
					last = p.Value
				}
			}
		}
		if last != nil && near(*last, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: newest value %v, want %v", path, last, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
