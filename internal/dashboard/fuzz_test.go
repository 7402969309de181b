package dashboard

import (
	"strings"
	"testing"
)

// FuzzParseTarget: the parser never panics, and whatever it accepts
// yields paths that re-parse as paths.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"aliasByNode($prefix.$provider.$service.$location.hit_ratio, -4, -3, -2)",
		"groupByNodes($prefix.$provider.$service.all.error_ratio, 'average', -4, -1)",
		"drawAsInfinite(events('deploy'))", `events("deploy","svc2")`, "a.{b,c}.[d]?", "f(x=1e3)", "f(((((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseTarget(s)
		if err != nil {
			return
		}
		for _, p := range n.Paths() {
			m, err := ParseTarget(p)
			if err != nil || m.Kind != Path || m.Value != p {
				// A path node that is "true" etc. would come back as Bool; paths
				// never are such words because the parser makes them Bool.
				t.Fatalf("path %q of %q does not re-parse: %v %v", p, s, m, err)
			}
			if strings.ContainsAny(p, " \t\n") {
				t.Fatalf("path %q holds white space", p)
			}
		}
	})
}
