package traffic

import (
	"math"
	"testing"
)

// dayRatios sums every service at every POP over one UTC day of the
// provider's model and returns its hit ratio, 5xx share and requests.
func dayRatios(m *Model, provider string) (hit, fiveXX float64, requests int64) {
	pm := m.For(provider)
	day := int64(1767225600) // 2026-01-01T00:00:00Z
	var s Sample
	for svc := range pm.Services {
		s.Add(pm.SumAll(svc, day, day+86400))
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses), float64(s.Status5xx) / float64(s.Requests), s.Requests
}

// The demo model's characters, checked over a day against values worked out
// by hand from the parameters, not from At: the base hit ratio weighted by
// POP share is .25×.95 + .15×.92 + .25×.90 + .15×.85 + .12×.80 + .08×.70 =
// 0.880 (the diurnal curve and the noise scale every POP alike), so
// fastly (+2 pp) is 0.900, cloudfront (+2.5 pp) 0.905, akamai (−3 pp) 0.850
// and cloudflare (+2 pp, −20 pp for 600 of every 2400 s: a day is 36 whole
// spells) 0.900 − 0.20/4 = 0.850. 5xx: the quiet-minute 0.2 % rounds to
// none per POP and second at these rates (at most ~110 requests), so
// cloudfront (no bursts) has none; akamai's bursts (8 % of minutes at
// 5–15 %, mean 10 %) make about 0.8 %, fastly's (1 %) about 0.1 %.
func TestDemoCharactersOverADay(t *testing.T) {
	m := Demo(1)
	want := map[string]float64{"fastly": 0.900, "cloudfront": 0.905, "akamai": 0.850, "cloudflare": 0.850}
	hits := map[string]float64{}
	errs := map[string]float64{}
	reqs := map[string]int64{}
	for p, w := range want {
		hits[p], errs[p], reqs[p] = dayRatios(m, p)
		t.Logf("%s: hit ratio %.4f, 5xx %.4f, requests %d", p, hits[p], errs[p], reqs[p])
		if math.Abs(hits[p]-w) > 0.003 {
			t.Errorf("%s: hit ratio over a day %.4f, want %.3f ± 0.003", p, hits[p], w)
		}
	}
	if errs["cloudfront"] != 0 {
		t.Errorf("cloudfront (no bursts) 5xx share %.5f, want 0", errs["cloudfront"])
	}
	if e := errs["akamai"]; e < 0.006 || e > 0.010 {
		t.Errorf("akamai 5xx share %.4f, want about 0.008 (0.006..0.010)", e)
	}
	if e := errs["fastly"]; e < 0.0005 || e > 0.0015 {
		t.Errorf("fastly 5xx share %.4f, want about 0.001 (0.0005..0.0015)", e)
	}
	// Scale: akamai serves 1.2×, cloudfront 0.7× fastly's requests (the
	// noise averages out over a day to well within 1 %).
	for p, scale := range map[string]float64{"akamai": 1.2, "cloudfront": 0.7} {
		if r := float64(reqs[p]) / float64(reqs["fastly"]); math.Abs(r-scale) > 0.01 {
			t.Errorf("%s serves %.3f× fastly's requests, want %.2f", p, r, scale)
		}
	}
}

// Cloudflare's spell: inside it the hit ratio is 20 pp lower and about 4 %
// of requests get a 5xx (a little less: the 5xx count is rounded per POP
// and second, which loses most at the smallest POPs); right after it, it
// is back. 14:00 UTC, the daily peak, keeps the rounding loss small.
func TestDemoCloudflareDegradedForAWhile(t *testing.T) {
	m := Demo(1).For("cloudflare")
	spell := int64(1767225600 + 14*3600) // a multiple of 2400: a spell starts here
	ratio := func(from, to int64) (float64, float64) {
		var s Sample
		for svc := range m.Services {
			s.Add(m.SumAll(svc, from, to))
		}
		return float64(s.Hits) / float64(s.Hits+s.Misses), float64(s.Status5xx) / float64(s.Requests)
	}
	hd, ed := ratio(spell, spell+600)
	ha, _ := ratio(spell+600, spell+1200)
	t.Logf("in the spell: hit ratio %.4f, 5xx %.4f; after it: hit ratio %.4f", hd, ed, ha)
	if math.Abs(hd-0.70) > 0.005 || math.Abs(ha-0.90) > 0.005 {
		t.Errorf("hit ratio in the spell %.4f (want 0.70), after it %.4f (want 0.90)", hd, ha)
	}
	if ed < 0.033 || ed > 0.045 {
		t.Errorf("5xx share in the spell %.4f, want about 0.04", ed)
	}
}

// For leaves a model without characters as it is (every test model, and
// Default, serves every provider the same traffic), and a provider without a
// character gets the base.
func TestForWithoutCharacterIsTheModel(t *testing.T) {
	d := Default(1)
	if d.For("fastly") != d {
		t.Fatal("Default(1).For(fastly) is not the model itself")
	}
	demo := Demo(1)
	if demo.For("originlog") != demo {
		t.Fatal("a provider without a character does not get the base model")
	}
	if f := demo.For("fastly"); f.For("fastly") != f || f.Characters != nil {
		t.Fatal("For is not idempotent")
	}
	if demo.POPs[0].HitRatio != 0.95 || demo.Services[0].Scale != 200 {
		t.Fatal("For changed the base model")
	}
}
