package schema_test

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/azure"
	"github.com/cdnmetrics/cdnmetrics/collectors/cloudfront"
	"github.com/cdnmetrics/cdnmetrics/collectors/fastly"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/rum"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// aggRule is one section of carbon's storage-aggregation.conf.
type aggRule struct {
	name, method string
	xff          string
	re           *regexp.Regexp
}

// loadAggregation reads the storage-aggregation.conf the scripts ship, the
// way carbon does (carbon/storage.py loadAggregationSchemas): sections in
// file order, each pattern a regular expression searched anywhere in the
// metric name (re.search), the first match wins.
func loadAggregation(t *testing.T, path string) []aggRule {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []aggRule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			rules = append(rules, aggRule{name: line[1 : len(line)-1]})
		case len(rules) > 0 && strings.Contains(line, "="):
			k, v, _ := strings.Cut(line, "=")
			r := &rules[len(rules)-1]
			switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); k {
			case "pattern":
				if r.re, err = regexp.Compile(v); err != nil {
					t.Fatalf("%s:%d: pattern %q: %v", path, n, v, err)
				}
			case "aggregationMethod":
				r.method = v
			case "xFilesFactor":
				r.xff = v
			default:
				t.Fatalf("%s:%d: unknown key %q", path, n, k)
			}
		default:
			t.Fatalf("%s:%d: not a section or key: %q", path, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.re == nil || r.method == "" || r.xff != "0" {
			t.Fatalf("%s: section [%s] lacks a pattern or method, or xFilesFactor is not 0", path, r.name)
		}
	}
	return rules
}

// carbonName is the name carbon-cache gives a tagged series before it
// looks up its rules (carbon/util.py TaggedSeries.parse(…).path): the tags
// sorted by name.
func carbonName(tagged string) string {
	parts := strings.Split(tagged, ";")
	sort.Strings(parts[1:])
	return strings.Join(parts, ";")
}

func matchRule(rules []aggRule, metric string) aggRule {
	for _, r := range rules {
		if r.re.MatchString(metric) {
			return r
		}
	}
	return aggRule{name: "(none: carbon's built-in average, xFilesFactor 0.5)", method: "average"}
}

// Every metric the program writes rolls up with the right method in the
// storage-aggregation.conf shipped by scripts/graphite-up: counts are
// summed, ratios and gauges averaged, self-metrics (cumulative counters
// and gauges) keep the last value — in the dotted tree and as tagged
// series, under any prefix. A metric that only the catch-all [default]
// section matches fails: a new field or gauge needs its own rule.
func TestStorageAggregationCoversSchema(t *testing.T) {
	rules := loadAggregation(t, "../../scripts/graphite/storage-aggregation.conf")
	want := map[string]string{} // metric path → method
	provider := func(metric, method string) {
		for _, prefix := range []string{"cdn", "ops.cdn"} {
			// A service or POP named like a namespace or a metric must not
			// change the rule.
			for _, svc := range []string{"www", "requests", "hit_ratio"} {
				want[schema.MetricPath(prefix, "fastly", svc, "lhr", metric)] = method
				want[schema.MetricPath(prefix, "akamai", svc, schema.LocationAll, metric)] = method
				want[carbonName(schema.TaggedPath(prefix, "fastly", svc, "lhr", metric))] = method
			}
		}
	}
	for _, f := range schema.Fields() {
		provider(f.String(), "sum") // a Field is an additive count
	}
	for _, m := range schema.DerivedMetrics {
		provider(m, "average")
	}
	for _, m := range []string{schema.ProbeOK, schema.ProbeTTFB, schema.ProbeTotal, schema.ProbeHit,
		cloudfront.GaugeOriginLatency, schema.OriginRequestsDeltaRatio,
		azure.GaugeTotalLatency, azure.GaugeOriginLatency} {
		provider(m, "average")
	}
	for _, loc := range []string{schema.LocationRUM, schema.LocationRUMCountry("gb")} {
		for _, prefix := range []string{"cdn", "ops.cdn"} {
			for _, m := range schema.RUMCounts {
				want[schema.MetricPath(prefix, "fastly", "www", loc, m)] = "sum"
				want[carbonName(schema.TaggedPath(prefix, "fastly", "www", loc, m))] = "sum"
			}
			for _, m := range schema.RUMPercentiles {
				want[schema.MetricPath(prefix, "fastly", "www", loc, m)] = "max"
				want[carbonName(schema.TaggedPath(prefix, "fastly", "www", loc, m))] = "max"
			}
			want[schema.MetricPath(prefix, "fastly", "www", loc, schema.RUMHitShare)] = "average"
		}
	}
	for _, name := range rum.Counters {
		want[schema.Path("cdn", "cdnmetrics", "rum", name)] = "last"
	}
	want[schema.Path("cdn", "beacons", "rum", "failures")] = "sum" // failed beacons per interval
	want[schema.Path("cdn", "events", "deploy", "www")] = "sum"
	want[schema.Path("cdn", "anomaly", "fastly", "www", "all", schema.HitRatio)] = "average"
	for _, p := range (graphite.Stats{}).SelfPoints("cdn", time.Unix(1, 0)) {
		want[p.Path] = "last"
	}
	for _, m := range []string{"points", "failures", "run_seconds", "last_success", "skipped_runs", "rejected_values",
		"path_clashes", collectors.RejectedFuture, collectors.RejectedTooOld, "checkpoint_resets", collectors.RenamedLocations} {
		want[schema.Path("cdn", "cdnmetrics", "collector", "fastly", m)] = "last"
	}
	want[schema.Path("cdn", "cdnmetrics", "hook", "rejected_future")] = "last"
	// Cost sums like a count; steering weights (shares) average; their
	// self-metrics keep the last value.
	provider("cost", "sum")
	for _, prefix := range []string{"cdn", "ops.cdn"} {
		want[schema.Path(prefix, schema.NamespaceSteering, "www", "fastly", "weight")] = "average"
	}
	want[schema.Path("cdn", "cdnmetrics", "steering", "www", "all_zero")] = "last"
	want[schema.Path("cdn", "cdnmetrics", "cost", "late_intervals")] = "last"

	// Fastly Origin/Domain Inspector: counts sum, percentiles max, the
	// domain hit_ratio average, whatever the origin, domain or POP is
	// called (a namespace's name included).
	for _, feed := range fastly.InspectorFeeds {
		for _, m := range fastly.InspectorMetrics(feed) {
			method := "sum"
			switch {
			case strings.HasPrefix(m, "latency_p") && strings.HasSuffix(m, "_ms"):
				method = "max"
			case m == schema.HitRatio:
				method = "average"
			}
			for _, name := range []string{"origin_example_com", "cdnmetrics", "events", "anomaly", "requests", "hit_ratio"} {
				for _, loc := range []string{"all", "lhr", "origins", "domains"} {
					want[schema.Path("cdn", "fastly", "www", loc, feed, name, m)] = method
					want[schema.Path("ops.cdn", "fastly", "events", loc, feed, name, m)] = method
				}
			}
		}
	}
	for path, method := range want {
		r := matchRule(rules, path)
		if r.name == "default" || r.method != method {
			t.Errorf("%s: rule [%s] (%s), want its own rule with %s", path, r.name, r.method, method)
		}
	}
}
