package compare

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/cost"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// The count series read per provider and service, at location "all".
var (
	mHits           = schema.Hits.String()
	mMisses         = schema.Misses.String()
	mRequests       = schema.Requests.String()
	mEdgeBytes      = schema.EdgeBytes.String()
	mOriginBytes    = schema.OriginBytes.String()
	mOriginRequests = schema.OriginRequests.String()
	mStatus5xx      = schema.Status5xx.String()
)

// MetricTTFB is the probe gauge the TTFB percentiles are taken over
// (collectors/probe).
const MetricTTFB = schema.ProbeTTFB

var countMetrics = []string{mHits, mMisses, mRequests, mEdgeBytes, mOriginBytes, mOriginRequests, mStatus5xx}

// maxBuckets bounds the points per count series graphite-web returns: the
// counts are summed server-side into at most this many buckets with
// summarize(...,'sum',true), which keeps every point (sums stay exact).
//
// Not maxDataPoints + consolidateBy('sum'): graphite-web 1.1.8's JSON
// consolidation "nudges" the start of the series to align its bands and
// DELETES up to valuesPerPoint−1 leading points (render/views.py,
// valuesToLose), so a window's total comes back short (measured: 522287
// instead of 600288 with maxDataPoints=7).
const maxBuckets = 2000

// epsilon absorbs float noise when a difference sits exactly on a limit.
const epsilon = 1e-9

// Verdicts.
const (
	VerdictPass     = "pass"
	VerdictFail     = "fail"
	VerdictBaseline = "baseline"
	// VerdictNotComparable is a provider whose data comes in buckets
	// longer than the window (Bunny's hours in a 40-minute window): its
	// counts cover more time than the others' and are not prorated, so it
	// is neither passed nor failed.
	VerdictNotComparable = "not comparable"
)

// Options says what to compare.
type Options struct {
	// WebURL is graphite-web ([graphite] web_url).
	WebURL string
	// Prefix is the path prefix ([graphite] prefix).
	Prefix string
	// From and Until bound the window.
	From, Until time.Time
	// Baseline is the provider the others are judged against.
	Baseline string
	// Service restricts the comparison to one service; empty sums all.
	Service string
	// Thresholds are the verdict limits ([compare]).
	Thresholds config.Compare
	// Tags is [graphite] tags: with "only" the series are read with
	// seriesByTag, as there is no dotted tree.
	Tags string
	// HTTPClient talks to graphite-web. By default, a client with a
	// 2-minute timeout.
	HTTPClient *http.Client
	// Username and Password, when Username is set, are sent to
	// graphite-web as basic auth ([graphite] username, password_env).
	Username, Password string
	// Resolution returns the length of a provider's data buckets (its
	// collector's Timing.Step, see Resolutions); 0 when not known. A
	// provider whose buckets are longer than the window is reported as
	// not comparable in it. Nil knows no provider's.
	Resolution func(provider string) time.Duration
	// Cost holds the [cost.<provider>] plans: currency and commitment of
	// the cost columns.
	Cost map[string]cost.Plan
}

// Report is the comparison of every provider over one window.
type Report struct {
	From, Until time.Time
	Baseline    string
	Service     string
	Thresholds  config.Compare
	Providers   []*Provider
	// Notes apply to the whole report (e.g. no probe series at all).
	Notes []string

	probed  bool // some provider has probe series
	rumSeen bool // some provider has RUM TTFB in the window
	// steps holds the providers' bucket lengths where known (see
	// Options.Resolution).
	steps map[string]time.Duration
	// dataFrom is the earliest interval with a usable count, where the
	// image starts (zero when there is none).
	dataFrom time.Time
}

// Provider is one provider's row. A nil pointer is a value the data cannot
// give (unknown, not zero).
type Provider struct {
	Name string
	// Totals over the window (sums of the count series).
	Requests, EdgeBytes, OriginBytes, OriginRequests, Hits, Misses, Status5xx *float64
	// RequestShare and BytesShare are fractions of the providers' sum.
	RequestShare, BytesShare *float64
	// Ratios from summed counts, as fractions.
	HitRatio, OriginOffload, RequestOffload, ErrorRatio *float64
	// TTFBP50 and TTFBP95 are nearest-rank percentiles of the probe
	// samples, in milliseconds; TTFBSamples is how many there were.
	TTFBP50, TTFBP95 *float64
	TTFBSamples      int
	// TTFBSource says where the TTFB comes from: "rum" (real users,
	// internal/rum), "probe", or "" when there is none.
	TTFBSource string
	// probeTTFB keeps the probes' TTFB when RUM replaced it, for a
	// baseline that has no RUM.
	probeTTFB *ttfbSet
	// Services lists the services seen in the count series.
	Services []string
	// Steering is the weight beside the observed request share, Cost
	// the price columns; nil without weights / cost series.
	Steering *Steering
	Cost     *Cost
	// Verdict is pass, fail or baseline.
	Verdict string
	// Failures are the limits this provider broke; Notes are everything
	// else worth knowing (missing series, skipped values, not compared).
	Failures, Notes []string
}

// Reasons returns the failures followed by the notes.
func (p *Provider) Reasons() []string {
	return append(append([]string{}, p.Failures...), p.Notes...)
}

// Failed reports whether any provider failed its comparison.
func (r *Report) Failed() bool {
	for _, p := range r.Providers {
		if p.Verdict == VerdictFail {
			return true
		}
	}
	return false
}

// ErrUsage marks errors in what was asked (as opposed to graphite-web
// failing); both end the command with status 2.
var ErrUsage = errors.New("usage")

// Run reads the window from graphite-web and builds the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if !o.Until.After(o.From) {
		return nil, fmt.Errorf("%w: --from %s is not before --until %s", ErrUsage, o.From.UTC().Format(time.RFC3339), o.Until.UTC().Format(time.RFC3339))
	}
	if o.Baseline == "" {
		return nil, fmt.Errorf("%w: no baseline provider (set [compare] baseline or --baseline)", ErrUsage)
	}
	if o.Service != "" && !plainName(o.Service) {
		return nil, fmt.Errorf("%w: --service %q: use the service's path element ([a-z0-9_-])", ErrUsage, o.Service)
	}
	if o.Prefix == "" {
		return nil, fmt.Errorf("%w: empty [graphite] prefix", ErrUsage)
	}
	c, err := newClient(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	r := &Report{From: o.From.UTC(), Until: o.Until.UTC(), Baseline: o.Baseline, Service: o.Service, Thresholds: o.Thresholds}

	nm := newNaming(o.Prefix, o.Tags)
	names, err := nm.providerNames(ctx, c)
	if err != nil {
		return nil, err
	}
	// rumOther is internal/rum's Other: the series of beacons naming a
	// provider outside [rum] providers, which anyone may send.
	const rumOther = "other"
	var provs []string
	for _, n := range names {
		switch {
		case schema.IsNamespace(n):
		case n == rumOther:
			r.Notes = append(r.Notes, fmt.Sprintf("%s.%s skipped: real-user beacons naming no provider of [rum] providers, not a CDN", o.Prefix, n))
		case !plainName(n):
			r.Notes = append(r.Notes, fmt.Sprintf("%s.%s skipped: not a plain path element", o.Prefix, n))
		default:
			provs = append(provs, n)
		}
	}
	sort.Strings(provs)
	provs = dedupe(provs)
	if len(provs) == 0 {
		return nil, fmt.Errorf("%w: no provider series under %q in graphite-web", ErrUsage, o.Prefix)
	}
	if !contains(provs, o.Baseline) {
		return nil, fmt.Errorf("%w: baseline %q has no series under %q (providers: %s)", ErrUsage, o.Baseline, o.Prefix, strings.Join(provs, ", "))
	}

	r.steps = providerSteps(provs, o.Resolution)
	if step := r.steps[o.Baseline]; step > o.Until.Sub(o.From) {
		return nil, fmt.Errorf("%w: baseline %q is not comparable in this window: %s", ErrUsage, o.Baseline, coarseReason(o.Baseline, step, o.Until.Sub(o.From)))
	}
	svc := "*"
	if o.Service != "" {
		svc = o.Service
	}
	counts, err := c.render(ctx, []string{nm.alias(fmt.Sprintf("summarize(%s,'%ds','sum',true)",
		nm.series(provs, svc, schema.LocationAll, countMetrics), bucketSeconds(o.Until.Sub(o.From))),
		"provider", "service", "metric")}, o.From, o.Until)
	if err != nil {
		return nil, err
	}
	nm.unalias(counts)
	// Probe samples: every location (the probe files a sample under the
	// POP that answered, or "all"), raw, unconsolidated.
	probes, err := c.render(ctx, []string{nm.alias(nm.series(provs, svc, "*", []string{MetricTTFB}),
		"provider", "service", "location")}, o.From, o.Until)
	if err != nil {
		return nil, err
	}
	// Real-user TTFB (internal/rum), per minute at location rum.
	rumSeries, err := c.render(ctx, []string{nm.alias(nm.series(provs, svc, schema.LocationRUM, rumMetrics),
		"provider", "service", "metric")}, o.From, o.Until)
	if err != nil {
		return nil, err
	}
	nm.unalias(rumSeries)
	computeWithRUM(r, provs, counts, probes, rumSeries)
	if err := steerCost(ctx, c, nm, r, o, provs, svc, counts); err != nil {
		return nil, err
	}
	return r, nil
}

// noteDataFrom moves r.dataFrom back to the first usable point of pts.
func (r *Report) noteDataFrom(pts []Point) {
	for _, pt := range pts {
		if pt.Null || math.IsInf(pt.Value, 0) || pt.Value < 0 {
			continue
		}
		if t := time.Unix(pt.Time, 0).UTC(); r.dataFrom.IsZero() || t.Before(r.dataFrom) {
			r.dataFrom = t
		}
		return
	}
}

// bucketSeconds is the summarize interval that splits window into at most
// maxBuckets buckets, rounded up to whole 10 s, minutes or hours so that
// buckets line up with whisper's archive steps.
func bucketSeconds(window time.Duration) int64 {
	b := int64(math.Ceil(window.Seconds() / maxBuckets))
	unit := int64(10)
	switch {
	case b > 3600:
		unit = 3600
	case b > 60:
		unit = 60
	}
	return max((b+unit-1)/unit*unit, unit)
}

// compute fills r from the decoded render answers. counts are named
// "provider.service.metric", probes "provider.service.location".
func compute(r *Report, provs []string, counts, probes []Series) {
	computeWithRUM(r, provs, counts, probes, nil)
}

// computeWithRUM is compute with the real-user TTFB series, named
// "provider.service.metric": a provider with RUM TTFB in the window shows
// it instead of the probes' (see useRUM).
func computeWithRUM(r *Report, provs []string, counts, probes, rum []Series) {
	data := map[string]*provData{}
	for _, p := range provs {
		data[p] = &provData{metrics: map[string]*metricData{}, services: map[string]bool{}}
	}
	addCounts(r, data, counts)
	probed := addProbes(data, probes)
	r.probed = probed
	if !probed {
		r.Notes = append(r.Notes, fmt.Sprintf("no %s series for any provider in the window: TTFB left empty", MetricTTFB))
	}
	for _, name := range provs {
		p := provider(name, data[name], r.Service, probed)
		switch step, window := r.steps[name], r.Until.Sub(r.From); {
		case step > window:
			notComparable(p, step, window)
		case step*10 > window && (r.From.Unix()%int64(step.Seconds()) != 0 || r.Until.Unix()%int64(step.Seconds()) != 0):
			// Coarse buckets and a window not on their edges: the counts
			// cover the buckets stamped inside it, which may reach up to a
			// bucket beyond either edge. Said, not corrected.
			p.Notes = append(p.Notes, fmt.Sprintf("window edges are not on whole %v buckets: counts cover the buckets stamped inside the window, up to %v more or less than it", step, step))
		}
		r.Providers = append(r.Providers, p)
	}
	useRUM(r, rum)
	shares(r.Providers, func(p *Provider) *float64 { return p.Requests }, func(p *Provider, v *float64) { p.RequestShare = v })
	shares(r.Providers, func(p *Provider) *float64 { return p.EdgeBytes }, func(p *Provider, v *float64) { p.BytesShare = v })
	verdicts(r)
}

// addCounts files each count series under its provider, service and
// metric, and notes where r's data starts (for the image); series of other
// providers or metrics are ignored.
func addCounts(r *Report, data map[string]*provData, counts []Series) {
	for _, s := range counts {
		parts := strings.Split(s.Target, ".")
		if len(parts) != 3 || data[parts[0]] == nil || !contains(countMetrics, parts[2]) {
			continue
		}
		d := data[parts[0]]
		d.services[parts[1]] = true
		d.metric(parts[2]).add(parts[1], s.Points)
		r.noteDataFrom(s.Points)
	}
}

// addProbes pools each provider's TTFB samples, counting the ones that
// cannot be a time; it reports whether any provider had a probe series.
func addProbes(data map[string]*provData, probes []Series) bool {
	probed := false
	for _, s := range probes {
		parts := strings.Split(s.Target, ".")
		if len(parts) != 3 || data[parts[0]] == nil {
			continue
		}
		d := data[parts[0]]
		d.probeSeries++
		probed = true
		for _, pt := range s.Points {
			switch {
			case pt.Null:
			case math.IsInf(pt.Value, 0) || pt.Value < 0:
				d.probeSkipped++
			default:
				d.ttfb = append(d.ttfb, pt.Value)
			}
		}
	}
	return probed
}

// provider turns one provider's pooled data into its row: totals, ratios,
// TTFB percentiles, and a note for everything left empty or skipped.
// service is the --service filter; probed, whether any provider was probed.
func provider(name string, d *provData, service string, probed bool) *Provider {
	p := &Provider{Name: name}
	for s := range d.services {
		p.Services = append(p.Services, s)
	}
	sort.Strings(p.Services)
	if len(d.services) == 0 {
		p.Notes = append(p.Notes, "no count series at location all"+serviceSuffix(service))
	}
	p.Requests = d.total(mRequests)
	p.EdgeBytes = d.total(mEdgeBytes)
	p.OriginBytes = d.total(mOriginBytes)
	p.OriginRequests = d.total(mOriginRequests)
	p.Hits = d.total(mHits)
	p.Misses = d.total(mMisses)
	p.Status5xx = d.total(mStatus5xx)
	if len(d.services) > 0 {
		providerRatios(p, d)
	}
	skippedCountNotes(p, d)
	providerTTFB(p, d, probed)
	return p
}

// providerRatios sets p's ratios from the totals, noting totals left empty.
func providerRatios(p *Provider, d *provData) {
	if p.Requests == nil {
		p.Notes = append(p.Notes, "no requests datapoints: requests and request share left empty")
	}
	if p.EdgeBytes == nil {
		p.Notes = append(p.Notes, "no edge_bytes datapoints: edge bytes and bytes share left empty")
	}
	p.HitRatio = d.ratio("hit ratio", mHits, mMisses, schema.HitRatioOf, &p.Notes)
	p.OriginOffload = d.ratio("origin offload", mOriginBytes, mEdgeBytes, schema.OffloadOf, &p.Notes)
	p.RequestOffload = d.ratio("request offload", mOriginRequests, mRequests, schema.OffloadOf, &p.Notes)
	p.ErrorRatio = d.ratio("error ratio", mStatus5xx, mRequests, schema.ErrorRatioOf, &p.Notes)
}

// skippedCountNotes notes the infinite and negative counts left out of p's
// totals.
func skippedCountNotes(p *Provider, d *provData) {
	for _, m := range countMetrics {
		if md := d.metrics[m]; md != nil && md.skippedInf > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: skipped %s", m, plural(md.skippedInf, "infinite value (1e9999)", "infinite values (1e9999)")))
		}
		if md := d.metrics[m]; md != nil && md.skippedNeg > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: skipped %s", m, plural(md.skippedNeg, "negative count", "negative counts")))
		}
	}
}

// providerTTFB sets p's TTFB percentiles from its pooled samples, or says
// why they are empty when some provider was probed.
func providerTTFB(p *Provider, d *provData, probed bool) {
	if len(d.ttfb) > 0 {
		sort.Float64s(d.ttfb)
		p.TTFBP50 = ptr(percentile(d.ttfb, 50))
		p.TTFBP95 = ptr(percentile(d.ttfb, 95))
		p.TTFBSamples = len(d.ttfb)
	} else if probed {
		if d.probeSeries == 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("no %s series: TTFB left empty", MetricTTFB))
		} else {
			p.Notes = append(p.Notes, fmt.Sprintf("%s has no samples in the window: TTFB left empty", MetricTTFB))
		}
	}
	if d.probeSkipped > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s: skipped %s", MetricTTFB, plural(d.probeSkipped, "infinite or negative sample", "infinite or negative samples")))
	}
}

func serviceSuffix(svc string) string {
	if svc == "" {
		return ""
	}
	return " for service " + svc
}

// shares sets each provider's fraction of the sum over the providers that
// have the total; a provider without it gets no share.
func shares(ps []*Provider, get func(*Provider) *float64, set func(*Provider, *float64)) {
	sum := 0.0
	for _, p := range ps {
		if v := get(p); v != nil {
			sum += *v
		}
	}
	if sum <= 0 || math.IsInf(sum, 0) {
		return
	}
	for _, p := range ps {
		if v := get(p); v != nil {
			set(p, ptr(*v/sum))
		}
	}
}

// verdicts judges every provider against the baseline.
func verdicts(r *Report) {
	var base *Provider
	for _, p := range r.Providers {
		if p.Name == r.Baseline {
			base = p
		}
	}
	t := r.Thresholds
	for _, p := range r.Providers {
		if p == base {
			p.Verdict = VerdictBaseline
			continue
		}
		if p.Verdict == VerdictNotComparable {
			continue
		}
		if base == nil {
			p.Verdict = VerdictPass
			p.Notes = append(p.Notes, "not compared: baseline "+r.Baseline+" missing")
			continue
		}
		// compared counts the metrics judged: a provider with none (no data
		// in the window) fails, so a gate never passes on missing data.
		compared := 0
		// Drops and rises in percentage points of the ratio.
		pp := func(label string, pv, bv *float64, lowerIsWorse bool, limit float64, pct func(float64) string) {
			if !comparable(p, base, label, pv, bv) {
				return
			}
			compared++
			diff := (*pv - *bv) * 100
			if lowerIsWorse && -diff > limit+epsilon {
				p.Failures = append(p.Failures, fmt.Sprintf("%s %s is %.2f pp below %s's %s (limit %g pp)", label, pct(*pv), -diff, base.Name, pct(*bv), limit))
			}
			if !lowerIsWorse && diff > limit+epsilon {
				p.Failures = append(p.Failures, fmt.Sprintf("%s %s is %.2f pp above %s's %s (limit %g pp)", label, pct(*pv), diff, base.Name, pct(*bv), limit))
			}
		}
		pp("hit ratio", p.HitRatio, base.HitRatio, true, t.HitRatioMaxDropPP, pct)
		pp("origin offload", p.OriginOffload, base.OriginOffload, true, t.OriginOffloadMaxDropPP, pct)
		pp("error ratio", p.ErrorRatio, base.ErrorRatio, false, t.ErrorRatioMaxRisePP, pct3)
		pt, bt, src := ttfbPair(p, base)
		ttfb := func(label string, pv, bv *float64) {
			// With no probe or RUM series anywhere the report says so once.
			if src != "" && r.rumSeen { // say which, when there is a choice
				label += " (" + src + ")"
			}
			if (!r.probed && !r.rumSeen) || !comparable(p, base, label, pv, bv) {
				return
			}
			compared++
			if *pv > *bv*(1+t.TTFBMaxIncreasePct/100)+epsilon {
				rise := "∞"
				if *bv > 0 {
					rise = fmt.Sprintf("%.1f%%", (*pv / *bv - 1)*100)
				}
				p.Failures = append(p.Failures, fmt.Sprintf("%s %s ms is %s above %s's %s ms (limit %g%%)", label, ms(*pv), rise, base.Name, ms(*bv), t.TTFBMaxIncreasePct))
			}
		}
		ttfb("ttfb p50", pt.p50, bt.p50)
		ttfb("ttfb p95", pt.p95, bt.p95)
		if compared == 0 {
			p.Failures = append(p.Failures, "nothing could be compared with "+base.Name+": no hit ratio, origin offload, error ratio or TTFB in the window")
		}
		p.Verdict = VerdictPass
		if len(p.Failures) > 0 {
			p.Verdict = VerdictFail
		}
	}
}

// providerSteps returns the bucket length of each provider res knows
// (whole seconds, at least one).
func providerSteps(provs []string, res func(string) time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	if res == nil {
		return out
	}
	for _, p := range provs {
		if step := res(p).Truncate(time.Second); step >= time.Second {
			out[p] = step
		}
	}
	return out
}

func coarseReason(name string, step, window time.Duration) string {
	return fmt.Sprintf("%s reports in %v buckets, longer than the %v window; a bucket's counts cannot be cut to the window without prorating (use a window of at least %v, on whole buckets)",
		name, step, window, step)
}

// notComparable empties p's counts and everything derived from them (a
// bucket longer than the window holds traffic from outside it; scaling it
// down would invent numbers) and says why; p takes no share and gets no
// verdict. Its TTFB samples, taken inside the window, stay.
func notComparable(p *Provider, step, window time.Duration) {
	p.Requests, p.EdgeBytes, p.OriginBytes, p.OriginRequests, p.Hits, p.Misses, p.Status5xx = nil, nil, nil, nil, nil, nil, nil
	p.HitRatio, p.OriginOffload, p.RequestOffload, p.ErrorRatio = nil, nil, nil, nil
	p.Notes = []string{"not comparable in this window: " + coarseReason(p.Name, step, window)}
	p.Verdict = VerdictNotComparable
}

// comparable reports whether both values exist, noting why not otherwise.
// A metric missing on either side is not a failure.
func comparable(p, base *Provider, label string, pv, bv *float64) bool {
	switch {
	case pv == nil && bv == nil:
		p.Notes = append(p.Notes, fmt.Sprintf("%s not compared: missing here and at %s", label, base.Name))
	case pv == nil:
		p.Notes = append(p.Notes, fmt.Sprintf("%s not compared: missing here", label))
	case bv == nil:
		p.Notes = append(p.Notes, fmt.Sprintf("%s not compared: missing at %s", label, base.Name))
	default:
		return true
	}
	return false
}

// percentile is the nearest-rank percentile of sorted samples: the
// smallest sample with at least p % of the samples at or below it.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// provData collects one provider's series.
type provData struct {
	metrics      map[string]*metricData
	services     map[string]bool
	ttfb         []float64
	probeSeries  int
	probeSkipped int
}

func (d *provData) metric(m string) *metricData {
	md := d.metrics[m]
	if md == nil {
		md = &metricData{bySvc: map[string]map[int64]float64{}}
		d.metrics[m] = md
	}
	return md
}

// metricData is one count metric of one provider: the usable points per
// service and timestamp.
type metricData struct {
	bySvc                  map[string]map[int64]float64
	skippedInf, skippedNeg int
}

func (md *metricData) add(svc string, pts []Point) {
	m := md.bySvc[svc]
	if m == nil {
		m = map[int64]float64{}
		md.bySvc[svc] = m
	}
	for _, pt := range pts {
		switch {
		case pt.Null:
		case math.IsInf(pt.Value, 0):
			md.skippedInf++
		case pt.Value < 0:
			md.skippedNeg++
		default:
			m[pt.Time] += pt.Value
		}
	}
}

func (md *metricData) points() int {
	n := 0
	for _, m := range md.bySvc {
		n += len(m)
	}
	return n
}

// total sums metric m over services and the window; nil when there is no
// series or no datapoint.
func (d *provData) total(m string) *float64 {
	md := d.metrics[m]
	if md == nil || md.points() == 0 {
		return nil
	}
	sum := 0.0
	for _, pts := range md.bySvc {
		for _, v := range pts {
			sum += v
		}
	}
	if math.IsInf(sum, 0) {
		return nil // overflows float64: no believable total
	}
	return &sum
}

// ratio computes f(Σa, Σb) over the (service, interval) pairs where both a
// and b are known, so that a gap in one series does not skew the ratio.
func (d *provData) ratio(label, a, b string, f func(a, b float64) (float64, bool), notes *[]string) *float64 {
	ma, mb := d.metrics[a], d.metrics[b]
	var missing []string
	for _, m := range []string{a, b} {
		if md := d.metrics[m]; md == nil {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		*notes = append(*notes, fmt.Sprintf("no %s series: %s left empty", strings.Join(missing, "/"), label))
		return nil
	}
	var sa, sb float64
	paired, unpaired := 0, 0
	for svc, pa := range ma.bySvc {
		pb := mb.bySvc[svc]
		for ts, va := range pa {
			if vb, ok := pb[ts]; ok {
				sa += va
				sb += vb
				paired++
			} else {
				unpaired++
			}
		}
	}
	for svc, pb := range mb.bySvc {
		for ts := range pb {
			if _, ok := ma.bySvc[svc][ts]; !ok {
				unpaired++
			}
		}
	}
	if unpaired > 0 && paired > 0 {
		*notes = append(*notes, fmt.Sprintf("%s: %s where only one of %s/%s is known left out", label, plural(unpaired, "interval", "intervals"), a, b))
	}
	if paired == 0 {
		*notes = append(*notes, fmt.Sprintf("%s/%s have no common datapoints in the window: %s left empty", a, b, label))
		return nil
	}
	v, ok := f(sa, sb)
	if !ok || math.IsInf(sa, 0) || math.IsInf(sb, 0) || math.IsNaN(v) || math.IsInf(v, 0) {
		*notes = append(*notes, fmt.Sprintf("%s: zero denominator (no traffic) in the window: left empty", label))
		return nil
	}
	return &v
}

// plainName accepts what schema.Sanitize produces for one path element;
// it keeps globs and braces out of the targets built from names.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func braces(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return "{" + strings.Join(xs, ",") + "}"
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func ptr(v float64) *float64 { return &v }
