package probe

import (
	"net/http"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// A probe's answer → points: the cache verdict and POP read from the
// response headers (the only place that knows their names), and the
// gauges one result becomes.

// verdictHeaders are read in this order; the first with a known value wins.
// CF-Cache-Status first: behind Cloudflare an X-Cache may come from the
// origin's own cache.
var verdictHeaders = []string{"CF-Cache-Status", "X-Cache", "X-Cache-Status"}

// lastValue is the last comma-separated value of the last line of header
// name: the edge's value when a shield adds its own before it.
func lastValue(h http.Header, name string) string {
	vs := h.Values(name)
	if len(vs) == 0 {
		return ""
	}
	v := vs[len(vs)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// cacheVerdict reads whether the response was served from cache; known is
// false when no header says so.
func cacheVerdict(h http.Header) (hit, known bool) {
	for _, name := range verdictHeaders {
		if hit, known = classify(lastValue(h, name)); known {
			return hit, true
		}
	}
	return false, false
}

// classify reads one cache status value; only its first word counts
// ("TCP_HIT from a23-…", "Hit from cloudfront").
func classify(v string) (hit, known bool) {
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		v = v[:i]
	}
	v = strings.ToUpper(v)
	switch {
	case v == "":
		return false, false
	case strings.Contains(v, "HIT"), v == "STALE", v == "UPDATING", v == "REVALIDATED":
		return true, true
	case strings.Contains(v, "MISS"), v == "EXPIRED", v == "BYPASS", v == "DYNAMIC", v == "PASS":
		return false, true
	}
	return false, false
}

// popOf names the POP that answered, or "" when no header says.
func popOf(h http.Header) string {
	if v := lastValue(h, "CF-Ray"); v != "" {
		if i := strings.LastIndexByte(v, '-'); i >= 0 {
			return popCode(v[i+1:])
		}
	}
	if v := lastValue(h, "X-Served-By"); strings.HasPrefix(v, "cache-") {
		return popCode(v[strings.LastIndexByte(v, '-')+1:])
	}
	if v := lastValue(h, "X-Amz-Cf-Pop"); v != "" {
		n := 0
		for n < len(v) && isLetter(v[n]) {
			n++
		}
		return popCode(v[:n])
	}
	return ""
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// popCode accepts 2–8 letters or digits, so a header can never put
// arbitrary text (or a new path level) into a metric name.
func popCode(s string) string {
	if len(s) < 2 || len(s) > 8 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !('0' <= s[i] && s[i] <= '9') {
			return ""
		}
	}
	s = strings.ToUpper(s)
	if reserved(s) {
		// "ALL" would land on our location "all" (the gauges of a probe
		// whose POP is unknown): prefixed, as Fastly POPs are.
		return renamedPrefix + s
	}
	return s
}

// renamedPrefix marks a POP named like one of our reserved locations.
const renamedPrefix = "POP_"

// reserved reports whether the POP code s names one of our own locations.
func reserved(s string) bool {
	n := schema.Sanitize(s)
	return n == schema.LocationAll || n == schema.LocationOrigin || n == schema.LocationRUM || strings.HasPrefix(n, schema.LocationRUM+"_")
}

// gauges are one result's points, stamped at the probe's start aligned
// down to the step, at the POP that answered when it says so.
func (c *Collector) gauges(t *Target, r *result) []schema.Gauge {
	ts := r.start.Unix()
	ts -= ((ts % c.step) + c.step) % c.step
	loc := schema.LocationAll
	if r.pop != "" {
		loc = r.pop
	}
	if strings.HasPrefix(loc, renamedPrefix) && c.firstRename(loc) {
		// Once per name: probes run every step.
		c.log.Warn("probe answered by a POP named like a reserved location; written under another name",
			"provider", t.Provider, "service", t.Service, "pop", strings.TrimPrefix(loc, renamedPrefix), "location", loc)
		c.clock.Count(collectors.RenamedLocations, 1)
	}
	g := func(metric string, v float64) schema.Gauge {
		return schema.Gauge{Provider: t.Provider, Service: t.Service, Location: loc, Metric: metric, Time: ts, Value: v}
	}
	out := []schema.Gauge{g(schema.ProbeOK, b2f(r.ok))}
	if r.answered {
		out = append(out, g(schema.ProbeTTFB, ms(r.ttfb)), g(schema.ProbeTotal, ms(r.total)))
	}
	if r.known {
		out = append(out, g(schema.ProbeHit, b2f(r.hit)))
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// firstRename reports whether the renamed location loc is seen for the
// first time.
func (c *Collector) firstRename(loc string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.renamed[loc] {
		return false
	}
	c.renamed[loc] = true
	return true
}
