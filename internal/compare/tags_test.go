package compare

import (
	"reflect"
	"testing"
)

// With tags = "only" every target is a seriesByTag over the tagged names;
// otherwise the dotted globs stay exactly what they were.
func TestNamingTargets(t *testing.T) {
	dotted, tagged := newNaming("ops.cdn", "both"), newNaming("ops.cdn", "only")
	cases := []struct {
		n         naming
		got, want string
	}{
		{dotted, dotted.series([]string{"akamai", "fastly"}, "*", "all", []string{"hits", "misses"}), "ops.cdn.{akamai,fastly}.*.all.{hits,misses}"},
		{tagged, tagged.series([]string{"akamai", "fastly"}, "*", "all", []string{"hits", "misses"}),
			"seriesByTag('name=~^ops[.]cdn[.](hits|misses)$','provider=~^(akamai|fastly)$','location=all')"},
		{tagged, tagged.series([]string{"fastly"}, "www", "*", []string{MetricTTFB}),
			"seriesByTag('name=~^ops[.]cdn[.](probe_ttfb_ms)$','provider=fastly','service=www')"},
		{dotted, dotted.alias("X", "provider", "service", "metric"), "aliasByNode(X,2,3,5)"},
		{tagged, tagged.alias("X", "provider", "service", "metric"), "aliasByTags(X,'provider','service','name')"},
		{dotted, HitRatioTarget("cdn", "off"), "aliasByNode(cdn.*.*.all.hit_ratio,1,2)"},
		{tagged, HitRatioTarget("cdn", "only"), "aliasByTags(seriesByTag('name=~^cdn[.](hit_ratio)$','location=all'),'provider','service')"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	ss := []Series{{Target: "fastly.www.ops.cdn.requests"}, {Target: "akamai.cdn.ops.cdn.hits"}}
	tagged.unalias(ss)
	if got := []string{ss[0].Target, ss[1].Target}; !reflect.DeepEqual(got, []string{"fastly.www.requests", "akamai.cdn.hits"}) {
		t.Errorf("unalias: %q", got)
	}
	r := &Report{Providers: []*Provider{{Name: "fastly", HitRatio: new(float64)}}}
	if got := PNGTargets(Options{Prefix: "cdn", Tags: "only"}, r); len(got) != 1 || got[0] !=
		"alias(color(asPercent(sumSeries(seriesByTag('name=~^cdn[.](hits)$','provider=fastly','location=all')),sumSeries(seriesByTag('name=~^cdn[.](hits|misses)$','provider=fastly','location=all'))),'1f77b4'),'fastly hit ratio %')" {
		t.Errorf("PNGTargets only: %q", got)
	}
}
