package dashboard

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// ratioMetrics are the derived metrics that are ratios: averaging (or
// summing) them across services or POPs weighs a service with ten requests
// like one with ten million. A panel that combines series must derive the
// ratio from summed counts instead (divideSeries / asPercent of sumSeries).
var ratioMetrics = map[string]bool{
	schema.HitRatio: true, schema.OriginOffload: true, schema.RequestOffload: true, schema.ErrorRatio: true,
}

// combiners are the Graphite functions that combine several series into
// one (or one per group).
var combiners = map[string]bool{
	"sumSeries": true, "sum": true, "averageSeries": true, "avg": true, "medianSeries": true,
	"maxSeries": true, "minSeries": true, "multiplySeries": true, "stddevSeries": true, "rangeSeries": true,
	"aggregate": true, "aggregateWithWildcards": true, "averageSeriesWithWildcards": true, "sumSeriesWithWildcards": true,
	"multiplySeriesWithWildcards": true, "groupByNode": true, "groupByNodes": true, "groupByTags": true,
	"percentileOfSeries": true, "countSeries": true, "weightedAverage": true,
}

// applyByNodeKey is what "%" in an applyByNode template stands for when
// the template is checked: the key the dashboard groups by is the provider
// (applyByNode(<prefix>.<provider>.…, -4, …)).
const applyByNodeKey = "$prefix.$provider"

// checkCombinedRatios reports every combiner call in n that takes a ratio
// metric's series, including inside applyByNode templates.
func checkCombinedRatios(n Node) error {
	var errs []error
	var walk func(n Node, under string)
	walk = func(n Node, under string) {
		switch n.Kind {
		case Path:
			if under == "" {
				return
			}
			nodes := splitNodes(n.Value)
			for _, m := range alternatives(nodes[len(nodes)-1]) {
				if ratioMetrics[m] {
					errs = append(errs, fmt.Errorf("%s(…) combines the ratio %s (path %s): derive it from summed counts, e.g. divideSeries(sumSeries(…hits), sumSeries(…{hits,misses}))", under, m, n.Value))
				}
			}
		case Call:
			if combiners[n.Value] && under == "" {
				under = n.Value
			}
			for _, a := range n.Args {
				walk(a, under)
			}
			for _, k := range n.Kw {
				walk(k.Value, under)
			}
			if t, ok := applyByNodeTemplate(n); ok {
				if tn, err := ParseTarget(t); err == nil {
					walk(tn, under)
				}
			}
		}
	}
	walk(n, "")
	return errors.Join(errs...)
}

// applyByNodeTemplate returns the template of an applyByNode call with its
// "%" replaced by applyByNodeKey.
func applyByNodeTemplate(n Node) (string, bool) {
	if n.Kind != Call || n.Value != "applyByNode" || len(n.Args) < 3 || n.Args[2].Kind != String {
		return "", false
	}
	return strings.ReplaceAll(n.Args[2].Value, "%", applyByNodeKey), true
}

// providerRegex is the only form of the provider variable's regex the
// checker accepts: JavaScript's negative lookahead over whole names, which
// Go's regexp cannot run, so it is read, not run.
var providerRegex = regexp.MustCompile(`^/\^\(\?!((?:[a-z0-9_-]+\$\|)*[a-z0-9_-]+\$)\)\.\+\$/$`)

// checkProviderVariable checks that the provider variable lists every
// provider and nothing else: its query is every name under $prefix and its
// regex drops exactly the namespaces that are not providers
// (schema.Namespaces).
func checkProviderVariable(v variable, query string) error {
	if query != "$prefix.*" {
		return fmt.Errorf("variable provider: query %q, want \"$prefix.*\" (every provider)", query)
	}
	m := providerRegex.FindStringSubmatch(v.Regex)
	if m == nil {
		return fmt.Errorf("variable provider: regex %q is not of the form /^(?!name$|…).+$/", v.Regex)
	}
	var dropped []string
	for _, d := range strings.Split(m[1], "|") {
		dropped = append(dropped, strings.TrimSuffix(d, "$"))
	}
	want := schema.Namespaces()
	sort.Strings(dropped)
	sort.Strings(want)
	if strings.Join(dropped, ",") != strings.Join(want, ",") {
		return fmt.Errorf("variable provider: regex drops %v, want exactly the non-provider namespaces %v", dropped, want)
	}
	return nil
}
