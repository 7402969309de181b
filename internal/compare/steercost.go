package compare

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/cost"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// MetricWeight and MetricCost are the series the steering and cost
// columns read: <prefix>.steering.<service>.<provider>.weight (a share,
// collectors/steering) and <prefix>.<provider>.<service>.all.cost
// (internal/cost).
const (
	MetricWeight = "weight"
	MetricCost   = cost.Metric
)

// Steering is a provider's steering weight beside what it served, over
// the services that have weights.
type Steering struct {
	// Weight is the share the weights gave the provider: each steered
	// service's time-averaged weight, weighed by that service's requests
	// (all providers) in the window.
	Weight float64
	// Observed is the provider's share of those services' requests.
	Observed float64
	// DiffPP is Observed − Weight in percentage points; Flagged when its
	// size is above the margin ([compare] steering_margin_pct).
	DiffPP  float64
	Flagged bool
}

// Cost is a provider's price over the window and the month to date.
type Cost struct {
	Currency string
	// Window is the sum of the cost series over the window.
	Window float64
	// PerGB is Window divided by the edge gigabytes (10^9 bytes) of the
	// same intervals; nil without edge bytes.
	PerGB *float64
	// Share is Window's share among the providers of the same currency.
	Share *float64
	// MonthUsage sums the cost series from the start of the UTC month of
	// the window's end to that end; MonthBilled is max(commitment, usage).
	MonthUsage, MonthBilled, Commit float64
	MonthFrom                       time.Time
}

// steerCost adds the steering and cost columns to r. counts are the
// summed count series compare read (provider.service.metric).
func steerCost(ctx context.Context, c *client, nm naming, r *Report, o Options, provs []string, svc string, counts []Series) error {
	if err := steeringColumns(ctx, c, r, o, provs, svc, counts); err != nil {
		return err
	}
	return costColumns(ctx, c, nm, r, o, provs, svc, counts)
}

// steeringColumns reads the weights (always dotted: a namespace beside
// the provider tree) and compares them with the request shares.
func steeringColumns(ctx context.Context, c *client, r *Report, o Options, provs []string, svc string, counts []Series) error {
	depth := strings.Count(o.Prefix, ".") + 1
	target := fmt.Sprintf("aliasByNode(%s.%s.%s.*.%s,%d,%d)", o.Prefix, schema.NamespaceSteering, svc, MetricWeight, depth+1, depth+2)
	ws, err := c.render(ctx, []string{target}, o.From, o.Until)
	if err != nil {
		return err
	}
	// weight[service][provider]: the mean of the shares in the window,
	// over every instant the service has weights: a provider without a
	// point at such an instant was not in the weights then (share 0), so
	// the means still sum to 1.
	weight := map[string]map[string]float64{}
	instants := map[string]map[int64]bool{}
	for _, s := range ws {
		parts := strings.Split(s.Target, ".")
		if len(parts) != 2 {
			continue
		}
		var sum float64
		n := 0
		for _, pt := range s.Points {
			if !pt.Null && pt.Value >= 0 && pt.Value <= 1 {
				sum += pt.Value
				n++
				if instants[parts[0]] == nil {
					instants[parts[0]] = map[int64]bool{}
				}
				instants[parts[0]][pt.Time] = true
			}
		}
		if n == 0 {
			continue
		}
		if weight[parts[0]] == nil {
			weight[parts[0]] = map[string]float64{}
		}
		weight[parts[0]][parts[1]] = sum
	}
	for svc, byProv := range weight {
		for p, sum := range byProv {
			byProv[p] = sum / float64(len(instants[svc]))
		}
	}
	if len(weight) == 0 {
		return nil
	}
	// Requests per provider, service and interval. Unknown is not zero: a
	// service's shares use only the intervals where every provider its
	// weights name (and that has series) reported requests, as compare's
	// ratios use only paired intervals.
	reqs := seriesPoints(counts, mRequests) // [provider][service][time]
	var expected, observed = map[string]float64{}, map[string]float64{}
	var total float64
	var svcs []string
	for s := range weight {
		svcs = append(svcs, s)
	}
	sort.Strings(svcs)
	var used []string
	for _, s := range svcs {
		var need []string // weighted providers with series
		for p, w := range weight[s] {
			if !contains(provs, p) {
				r.Notes = append(r.Notes, fmt.Sprintf("steering weights of service %s name %s, which has no series: its traffic is not seen", s, p))
			} else if w > 0 {
				need = append(need, p)
			}
		}
		var times []int64 // intervals where every needed provider is known
		if len(need) > 0 {
			for ts := range reqs[need[0]][s] {
				ok := true
				for _, p := range need[1:] {
					if _, k := reqs[p][s][ts]; !k {
						ok = false
						break
					}
				}
				if ok {
					times = append(times, ts)
				}
			}
		}
		var rs float64
		for _, ts := range times {
			for _, p := range provs {
				rs += reqs[p][s][ts]
			}
		}
		if rs <= 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("steering weights for service %s not compared: no interval in the window where every weighted provider reported requests", s))
			continue
		}
		used = append(used, s)
		total += rs
		for p, w := range weight[s] {
			expected[p] += w * rs
		}
		for _, p := range provs {
			for _, ts := range times {
				observed[p] += reqs[p][s][ts]
			}
		}
	}
	if total <= 0 {
		return nil
	}
	margin := r.Thresholds.SteeringMarginPct
	for _, p := range r.Providers {
		_, weighed := expected[p.Name]
		if !weighed && observed[p.Name] == 0 {
			continue
		}
		st := &Steering{Weight: expected[p.Name] / total, Observed: observed[p.Name] / total}
		st.DiffPP = (st.Observed - st.Weight) * 100
		if math.Abs(st.DiffPP) > margin+epsilon {
			st.Flagged = true
			dir := "above"
			if st.DiffPP < 0 {
				dir = "below"
			}
			p.Notes = append(p.Notes, fmt.Sprintf("steering: observed request share %s is %.2f pp %s its weight %s (margin %g pp; services %s)",
				pct(st.Observed), math.Abs(st.DiffPP), dir, pct(st.Weight), margin, strings.Join(used, ",")))
		}
		p.Steering = st
	}
	return nil
}

// costColumns reads the cost series over the window and the month to
// date, and prices them with the [cost.<provider>] plans.
func costColumns(ctx context.Context, c *client, nm naming, r *Report, o Options, provs []string, svc string, counts []Series) error {
	target := nm.alias(fmt.Sprintf("summarize(%s,'%ds','sum',true)", nm.series(provs, svc, schema.LocationAll, []string{MetricCost}),
		bucketSeconds(o.Until.Sub(o.From))), "provider", "service", "metric")
	win, err := c.render(ctx, []string{target}, o.From, o.Until)
	if err != nil {
		return err
	}
	nm.unalias(win)
	if len(win) == 0 {
		return nil
	}
	monthFrom := time.Date(o.Until.UTC().Year(), o.Until.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	var month []Series
	if monthFrom.Before(o.Until) {
		mt := nm.alias(fmt.Sprintf("summarize(%s,'%ds','sum',true)", nm.series(provs, svc, schema.LocationAll, []string{MetricCost}),
			bucketSeconds(o.Until.Sub(monthFrom))), "provider", "service", "metric")
		if month, err = c.render(ctx, []string{mt}, monthFrom, o.Until); err != nil {
			return err
		}
		nm.unalias(month)
	}
	costPts := seriesPoints(win, MetricCost)
	bytesPts := seriesPoints(counts, mEdgeBytes)
	monthTotals := seriesTotals(month, MetricCost)
	for _, p := range r.Providers {
		pc := costPts[p.Name]
		npts := 0
		for _, byTime := range pc {
			npts += len(byTime)
		}
		if npts == 0 {
			continue // no cost in the window: unknown, not 0
		}
		cs := &Cost{MonthFrom: monthFrom}
		var gb float64
		paired := false
		for s, byTime := range pc {
			for ts, v := range byTime {
				cs.Window += v
				if b, ok := bytesPts[p.Name][s][ts]; ok {
					gb += b / cost.BytesPerGB
					paired = true
				}
			}
		}
		if paired && gb > 0 {
			cs.PerGB = ptr(cs.Window / gb)
		}
		for _, v := range monthTotals[p.Name] {
			cs.MonthUsage += v
		}
		plan, ok := o.Cost[p.Name]
		if ok {
			cs.Currency, cs.Commit = plan.Currency, plan.CommitMonthly
		} else {
			p.Notes = append(p.Notes, "cost series without a [cost."+p.Name+"] plan in this config: currency and commitment unknown")
		}
		cs.MonthBilled = math.Max(cs.Commit, cs.MonthUsage)
		p.Cost = cs
	}
	// Shares among the providers of one currency.
	byCur := map[string]float64{}
	for _, p := range r.Providers {
		if p.Cost != nil && p.Cost.Currency != "" {
			byCur[p.Cost.Currency] += p.Cost.Window
		}
	}
	for _, p := range r.Providers {
		if p.Cost != nil && p.Cost.Currency != "" && byCur[p.Cost.Currency] > 0 {
			p.Cost.Share = ptr(p.Cost.Window / byCur[p.Cost.Currency])
		}
	}
	return nil
}

// seriesPoints files the usable points of metric's series
// (provider.service.metric) by provider, service and time.
func seriesPoints(ss []Series, metric string) map[string]map[string]map[int64]float64 {
	out := map[string]map[string]map[int64]float64{}
	for _, s := range ss {
		parts := strings.Split(s.Target, ".")
		if len(parts) != 3 || parts[2] != metric {
			continue
		}
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]map[int64]float64{}
		}
		m := out[parts[0]][parts[1]]
		if m == nil {
			m = map[int64]float64{}
			out[parts[0]][parts[1]] = m
		}
		for _, pt := range s.Points {
			if !pt.Null && !math.IsInf(pt.Value, 0) && pt.Value >= 0 {
				m[pt.Time] += pt.Value
			}
		}
	}
	return out
}

// seriesTotals sums seriesPoints over time.
func seriesTotals(ss []Series, metric string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for p, bySvc := range seriesPoints(ss, metric) {
		out[p] = map[string]float64{}
		for s, byTime := range bySvc {
			for _, v := range byTime {
				out[p][s] += v
			}
		}
	}
	return out
}
