package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Metrics returns the metric names cdnmetrics writes as the last node of
// <prefix>.<provider>.<service>.<location>.<metric>: every count field,
// every derived metric and the real-user timing metrics.
func Metrics() map[string]bool {
	m := map[string]bool{}
	for _, f := range schema.Fields() {
		m[f.String()] = true
	}
	for _, d := range schema.DerivedMetrics {
		m[d] = true
	}
	// Real-user timing (internal/rum) at location rum / rum_<cc>.
	for _, r := range append(append([]string{schema.RUMHitShare}, schema.RUMCounts...), schema.RUMPercentiles...) {
		m[r] = true
	}
	// Steering shares (<prefix>.steering.<service>.<provider>.weight) and
	// the cost of an interval.
	m[schema.SteeringWeight] = true
	m[schema.CostMetric] = true
	return m
}

// InspectorMetrics are the metrics of Fastly's Origin and Domain Inspector
// series, <prefix>.fastly.<service>.<location>.<feed>.<name>.<metric>, by
// feed (collectors/fastly writes them: its InspectorMetrics, which a test
// keeps equal to this list). They are checked only at that depth below a
// feed node, so "responses" does not become a location-level metric.
var InspectorMetrics = map[string][]string{
	"origins": {"responses", "origin_bytes", "status_2xx", "status_3xx", "status_4xx", "status_5xx",
		"latency_0_to_1ms", "latency_1_to_5ms", "latency_5_to_10ms", "latency_10_to_50ms",
		"latency_50_to_100ms", "latency_100_to_250ms", "latency_250_to_500ms", "latency_500_to_1000ms",
		"latency_1000_to_5000ms", "latency_5000_to_10000ms", "latency_10000_to_60000ms", "latency_60000ms",
		"latency_p50_ms", "latency_p95_ms"},
	"domains": {"requests", "edge_bytes", "hits", "misses", "hit_ratio"},
}

// inspectorFeed returns the feed of an inspector path (nodes
// $prefix.fastly.<service>.<location>.<feed>.<name>.<metric>), or "".
func inspectorFeed(nodes []string) string {
	if len(nodes) != 7 || nodes[1] != "fastly" {
		return ""
	}
	if _, ok := InspectorMetrics[nodes[4]]; ok {
		return nodes[4]
	}
	return ""
}

// The template variables and annotation tags the dashboard must have.
var (
	requiredVars = []string{"prefix", "provider", "service", "location"}
	requiredTags = []string{"deploy", "cdn-config", "cdn-steering"}
)

type dashboardJSON struct {
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Panels  []panel  `json:"panels"` // rows
	Targets []target `json:"targets"`
}

type target struct {
	RefID  string `json:"refId"`
	Target string `json:"target"`
}

type variable struct {
	Name       string          `json:"name"`
	Regex      string          `json:"regex"`
	Type       string          `json:"type"`
	Definition string          `json:"definition"`
	Query      json.RawMessage `json:"query"`
}

type annotation struct {
	Name   string `json:"name"`
	Enable bool   `json:"enable"`
	Target *struct {
		QueryType string   `json:"queryType"`
		Tags      []string `json:"tags"`
	} `json:"target"`
}

// CheckFile is Check on the file at path.
func CheckFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if err := Check(data); err != nil {
		return fmt.Errorf("dashboard %s: %w", path, err)
	}
	return nil
}

// Check validates a Grafana dashboard: valid JSON; every panel target
// parses as a Graphite target whose metric paths start with $prefix and
// end in a metric of Metrics(); the template variables prefix, provider,
// service and location exist and their Graphite queries parse, the
// provider variable lists every provider and nothing else; Graphite
// events annotations for the tags "deploy" and "cdn-config" are enabled.
// It returns every problem found, joined.
func Check(data []byte) error {
	var d dashboardJSON
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("not a valid dashboard JSON: %w", err)
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	metrics := Metrics()

	if d.Title == "" {
		bad("dashboard has no title")
	}
	var panels []panel
	var flatten func([]panel)
	flatten = func(ps []panel) {
		for _, p := range ps {
			panels = append(panels, p)
			flatten(p.Panels)
		}
	}
	flatten(d.Panels)
	ids := map[int]bool{}
	nTargets := 0
	for _, p := range panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			bad("%s: duplicate panel id", where)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Title == "" {
			bad("%s: no title", where)
		}
		if len(p.Targets) == 0 {
			bad("%s: no targets", where)
		}
		for _, t := range p.Targets {
			nTargets++
			tw := fmt.Sprintf("%s target %s", where, t.RefID)
			if t.RefID == "" {
				bad("%s: no refId", tw)
			}
			if err := CheckTarget(t.Target, metrics); err != nil {
				bad("%s: %w", tw, err)
			}
		}
	}
	if nTargets == 0 {
		bad("dashboard has no panel targets")
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
		if v.Type != "query" {
			continue
		}
		q := v.Definition
		var qo struct {
			Target string `json:"target"`
		}
		if json.Unmarshal(v.Query, &qo) == nil && qo.Target != "" {
			q = qo.Target
		} else {
			var qs string
			if json.Unmarshal(v.Query, &qs) == nil && qs != "" {
				q = qs
			}
		}
		if q == "" {
			bad("variable %s: no query", v.Name)
			continue
		}
		if _, err := ParseTarget(q); err != nil {
			bad("variable %s: query %q: %w", v.Name, q, err)
		}
		if v.Name == "provider" {
			if err := checkProviderVariable(v, q); err != nil {
				bad("%w", err)
			}
		}
	}
	for _, name := range requiredVars {
		if _, ok := vars[name]; !ok {
			bad("template variable %q missing", name)
		}
	}

	for _, tag := range requiredTags {
		found := false
		for _, a := range d.Annotations.List {
			if a.Enable && a.Target != nil && a.Target.QueryType == "tags" && contains(a.Target.Tags, tag) {
				found = true
			}
		}
		if !found {
			bad("no enabled Graphite events annotation for tag %q", tag)
		}
	}
	return errors.Join(errs...)
}

// CheckTarget parses one panel target and checks its metric paths
// (including those of applyByNode templates, "%" standing for
// $prefix.$provider): each must start with the $prefix variable and end in
// a known metric (below a Fastly inspector feed node, one of that feed's
// InspectorMetrics) (a {a,b} alternative must name known metrics only); and
// no function that combines series may take a ratio metric's series
// (averaged ratios are wrong: derive them from summed counts). metrics nil
// means Metrics().
func CheckTarget(expr string, metrics map[string]bool) error {
	if metrics == nil {
		metrics = Metrics()
	}
	n, err := ParseTarget(expr)
	if err != nil {
		return fmt.Errorf("target %q does not parse: %w", expr, err)
	}
	var errs []error
	paths := n.Paths()
	var walk func(Node)
	walk = func(n Node) {
		if t, ok := applyByNodeTemplate(n); ok {
			tn, err := ParseTarget(t)
			if err != nil {
				errs = append(errs, fmt.Errorf("applyByNode template %q does not parse: %w", n.Args[2].Value, err))
				return
			}
			paths = append(paths, tn.Paths()...)
			walk(tn)
		}
		for _, a := range n.Args {
			walk(a)
		}
	}
	walk(n)
	if err := checkCombinedRatios(n); err != nil {
		errs = append(errs, err)
	}
	for _, path := range paths {
		nodes := splitNodes(path)
		if nodes[0] != "$prefix" && nodes[0] != "${prefix}" {
			errs = append(errs, fmt.Errorf("path %s does not start with $prefix", path))
		}
		last := nodes[len(nodes)-1]
		known := metrics
		if feed := inspectorFeed(nodes); feed != "" {
			known = map[string]bool{}
			for _, m := range InspectorMetrics[feed] {
				known[m] = true
			}
		}
		for _, m := range alternatives(last) {
			if !known[m] {
				errs = append(errs, fmt.Errorf("path %s: %q is not a metric cdnmetrics writes", path, m))
			}
		}
	}
	return errors.Join(errs...)
}

// alternatives expands one node "{a,b}" into a and b; any other node is
// returned as it is (a wildcard then fails the metric check, as it should:
// a panel must name its metric).
func alternatives(node string) []string {
	if strings.HasPrefix(node, "{") && strings.HasSuffix(node, "}") && strings.Count(node, "{") == 1 {
		return strings.Split(node[1:len(node)-1], ",")
	}
	return []string{node}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
