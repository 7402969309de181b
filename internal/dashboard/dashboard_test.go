package dashboard

import (
	"os"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/fastly"
)

const shipped = "../../scripts/grafana-dashboard.json"

func TestShippedDashboard(t *testing.T) {
	if err := CheckFile(shipped); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCatchesBreakage mutates the shipped dashboard and expects each
// mutation to be reported.
func TestCheckCatchesBreakage(t *testing.T) {
	orig, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, old, new, want string }{
		{"renamed metric", "hit_ratio, -4", "hitratio, -4", `"hitratio" is not a metric`},
		{"wildcard metric", "bandwidth_bps,", "*,", `"*" is not a metric`},
		{"broken call", "aliasByNode($prefix.$provider.$service.$location.error_ratio, -4, -3, -2)", "aliasByNode($prefix.$provider.$service.$location.error_ratio, -4, -3, -2", "missing ')'"},
		{"hard-coded prefix", "aliasByNode($prefix.$provider.$service.$location.requests", "aliasByNode(cdn.$provider.$service.$location.requests", "does not start with $prefix"},
		{"deploy annotation gone", `"deploy"`, `"deplo"`, `tag "deploy"`},
		{"variable gone", `"name": "service"`, `"name": "svc"`, `"service" missing`},
		{"not JSON", `"panels": [`, `"panels": [[`, "not a valid dashboard JSON"},
		// "Providers compared" must derive ratios from summed counts.
		{"averaged ratio", `aliasByNode(applyByNode($prefix.$provider.$service.all.hits, -4, 'divideSeries(sumSeries(%.$service.all.hits), sumSeries(%.$service.all.{hits,misses}))', '%.hit_ratio'), -2, -1)`,
			`groupByNodes($prefix.$provider.$service.all.hit_ratio, 'average', -4, -1)`, `groupByNodes(…) combines the ratio hit_ratio`},
		{"averaged ratio in a template", `'divideSeries(sumSeries(%.$service.all.hits), sumSeries(%.$service.all.{hits,misses}))'`,
			`'averageSeries(%.$service.all.hit_ratio)'`, `averageSeries(…) combines the ratio hit_ratio`},
		{"summed ratio", `aliasByNode($prefix.$provider.$service.$location.error_ratio, -4, -3, -2)`,
			`sumSeries($prefix.$provider.$service.$location.error_ratio)`, `sumSeries(…) combines the ratio error_ratio`},
		{"template metric renamed", `sumSeries(%.$service.all.status_5xx)`, `sumSeries(%.$service.all.status5xx)`, `"status5xx" is not a metric`},
		// The provider variable lists every provider and nothing else.
		{"provider hidden", `"regex": "/^(?!events$|`, `"regex": "/^(?!fastly$|events$|`, "want exactly the non-provider namespaces"},
		{"beacons listed as a provider", `|beacons$).+$/`, `).+$/`, "want exactly the non-provider namespaces"},
		{"provider query narrowed", `"target": "$prefix.*"`, `"target": "$prefix.f*"`, `want "$prefix.*"`},
		// Fastly inspector panels name a metric of their feed, below it.
		{"inspector metric renamed", "origins.*.latency_p95_ms", "origins.*.latency_p99_ms", `"latency_p99_ms" is not a metric`},
		{"inspector metric without its feed", "$location.origins.*.responses", "$location.responses", `"responses" is not a metric`},
		{"origin metric under domains", "domains.*.requests", "domains.*.responses", `"responses" is not a metric`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := string(orig)
			if !strings.Contains(s, c.old) {
				t.Fatalf("mutation anchor %q not in the dashboard", c.old)
			}
			err := Check([]byte(strings.Replace(s, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	cases := []struct {
		in    string
		paths []string
		shape string
	}{
		{"cdn.fastly.svc1.all.hit_ratio", []string{"cdn.fastly.svc1.all.hit_ratio"}, "path"},
		{"drawAsInfinite(events('deploy'))", nil, "call(call(string))"},
		{`events("deploy","svc2")`, nil, "call(string,string)"},
		{"aliasByNode($prefix.$provider.{a,b}.*.hit_ratio, -4, -3)", []string{"$prefix.$provider.{a,b}.*.hit_ratio"}, "call(path,number,number)"},
		{"groupByNodes(a.b.c, 'average', -4, -1)", []string{"a.b.c"}, "call(path,string,number,number)"},
		{"movingAverage(a.b, '5min', xFilesFactor=0.5)", []string{"a.b"}, "call(path,string,kw)"},
		{"scale(a.b, 1e-3)", []string{"a.b"}, "call(path,number)"},
		{"x(1min.foo)", []string{"1min.foo"}, "call(path)"},
		{"legendValue(a.b, 'avg', true)", []string{"a.b"}, "call(path,string,bool)"},
		{"divideSeries( sumSeries(a.[ab]?.x) , ${prefix}.b )", []string{"a.[ab]?.x", "${prefix}.b"}, "call(call(path),path)"},
		{"a.[[var]].b", []string{"a.[[var]].b"}, "path"},
		{"f()", nil, "call()"},
		{`alias(a.b, 'it\'s')`, []string{"a.b"}, "call(path,string)"},
	}
	for _, c := range cases {
		n, err := ParseTarget(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := n.Paths(); strings.Join(got, "|") != strings.Join(c.paths, "|") {
			t.Errorf("%s: paths %q, want %q", c.in, got, c.paths)
		}
		if got := shape(n); got != c.shape {
			t.Errorf("%s: shape %s, want %s", c.in, got, c.shape)
		}
	}
	if n, _ := ParseTarget(`alias(a.b, 'it\'s')`); n.Args[1].Value != "it's" {
		t.Errorf("escaped quote: %q", n.Args[1].Value)
	}
	for _, bad := range []string{"", "f(", "f(a,)", "f(a b)", "a..b", ".a", "a.", "f(x=1, a.b)", "'open", "a.{b", "a.b}", "a.[b", "a.$.b", "a.${}.b", "(a)", "f)", "a b", "1a(b)", "f(,)"} {
		if n, err := ParseTarget(bad); err == nil {
			t.Errorf("%q parsed as %s", bad, shape(n))
		}
	}
}

func shape(n Node) string {
	switch n.Kind {
	case Call:
		parts := []string{}
		for _, a := range n.Args {
			parts = append(parts, shape(a))
		}
		for range n.Kw {
			parts = append(parts, "kw")
		}
		return "call(" + strings.Join(parts, ",") + ")"
	default:
		return n.Kind.String()
	}
}

func TestMetricsCoverSchema(t *testing.T) {
	m := Metrics()
	// 12 count fields + 5 derived metrics + 8 real-user timing metrics +
	// steering weight and cost.
	if len(m) != 12+5+8+2 || !m["ttfb_p95_ms"] || !m["weight"] || !m["cost"] || !m["hit_ratio"] || !m["status_5xx"] || m["all"] {
		t.Fatalf("metrics %v", m)
	}
}

// The dashboard's list of inspector metrics is the one the Fastly
// collector writes.
func TestInspectorMetricsMatchCollector(t *testing.T) {
	if len(InspectorMetrics) != len(fastly.InspectorFeeds) {
		t.Fatalf("feeds %v, collector %v", InspectorMetrics, fastly.InspectorFeeds)
	}
	for _, feed := range fastly.InspectorFeeds {
		if got, want := strings.Join(InspectorMetrics[feed], " "), strings.Join(fastly.InspectorMetrics(feed), " "); got != want {
			t.Errorf("%s: dashboard knows %s, collector writes %s", feed, got, want)
		}
	}
}
