package config

import "testing"

// [graphite] tags is "off" by default and accepts off, both and only.
func TestGraphiteTags(t *testing.T) {
	if d := Default(); d.Graphite.Tags != "off" {
		t.Errorf("default tags = %q, want off", d.Graphite.Tags)
	}
	for _, c := range []struct {
		val string
		ok  bool
	}{{"off", true}, {"both", true}, {"only", true}, {"on", false}, {"", false}, {"Both", false}} {
		cfg, probs := Parse("x.toml", []byte("[graphite]\ntags = \""+c.val+"\"\n"), env())
		bad := false
		for _, p := range probs {
			bad = bad || p.Key == "graphite.tags"
		}
		if bad == c.ok {
			t.Errorf("tags = %q: problems %v, want ok=%v", c.val, probs, c.ok)
		}
		if c.ok && cfg != nil && cfg.Graphite.Tags != c.val {
			t.Errorf("tags = %q decoded as %q", c.val, cfg.Graphite.Tags)
		}
	}
}
