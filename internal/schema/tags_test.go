package schema

import "testing"

func TestTagged(t *testing.T) {
	cases := []struct {
		prefix, path, want string
		ok                 bool
	}{
		{"cdn", "cdn.fastly.www.lhr.requests", "cdn.requests;provider=fastly;service=www;location=lhr", true},
		{"ops.cdn", "ops.cdn.akamai.api-v2.all.hit_ratio", "ops.cdn.hit_ratio;provider=akamai;service=api-v2;location=all", true},
		// Not provider metrics: stay dotted.
		{"cdn", "cdn.cdnmetrics.collector.fastly.failures", "", false},
		{"cdn", "cdn.cdnmetrics.sink.sent_points", "", false},
		{"cdn", "cdn.events.deploy.www", "", false},
		{"cdn", "cdn.anomaly.fastly.www.all.hit_ratio", "", false},
		{"cdn", "cdn.beacons.rum.failures", "", false},
		{"cdn", "other.fastly.www.lhr.requests", "", false},
		{"cdn", "cdnx.fastly.www.lhr.requests", "", false},
		{"cdn", "cdn.fastly..lhr.requests", "", false},
		{"cdn", "cdn.fastly.WWW.lhr.requests", "", false}, // not built by Path
	}
	for _, c := range cases {
		got, ok := Tagged(c.prefix, c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("Tagged(%q, %q) = %q, %v; want %q, %v", c.prefix, c.path, got, ok, c.want, c.ok)
		}
	}
	// The tagged form of every path MetricPath builds, whatever the
	// service name, names the same (sanitised) elements.
	p := MetricPath("cdn", "fastly", "Shop;Front ~x", "LHR", "requests")
	got, ok := Tagged("cdn", p)
	if want := "cdn.requests;provider=fastly;service=shop_front__x;location=lhr"; !ok || got != want {
		t.Errorf("Tagged(%q) = %q, %v; want %q", p, got, ok, want)
	}
}

// Tag values follow graphite's TaggedSeries.validateTagAndValue (no ';',
// not empty, no leading '~'), plus no bytes the line protocol splits on.
func TestTagValue(t *testing.T) {
	for in, want := range map[string]string{
		"www": "www", "": "_", "a;b": "a_b", "~re": "_re", "a~b": "a~b",
		"x!y^z=w": "x_y_z_w", "sp ace\t\n": "sp_ace__",
	} {
		if got := TagValue(in); got != want {
			t.Errorf("TagValue(%q) = %q, want %q", in, got, want)
		}
	}
	if got := TaggedPath("cdn", "Fast;ly", "", "~lhr", "requests"); got != "cdn.requests;provider=fast_ly;service=_;location=_lhr" {
		t.Errorf("TaggedPath = %q", got)
	}
}
