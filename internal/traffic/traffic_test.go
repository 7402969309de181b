package traffic

import "testing"

func TestDeterministicPerSeed(t *testing.T) {
	a, b, c := Default(1), Default(1), Default(2)
	same, diff := 0, 0
	for s := int64(0); s < 600; s++ {
		if a.At(0, 0, 1700000000+s) != b.At(0, 0, 1700000000+s) {
			t.Fatal("same seed served different traffic")
		}
		if a.At(0, 0, 1700000000+s) == c.At(0, 0, 1700000000+s) {
			same++
		} else {
			diff++
		}
	}
	if diff < 300 {
		t.Fatalf("seeds 1 and 2 differ in only %d of 600 seconds", diff)
	}
}

func TestSampleInvariantsAndSums(t *testing.T) {
	m := Default(3)
	var hour Sample
	for p := range m.POPs {
		for s := int64(0); s < 3600; s++ {
			x := m.At(0, p, 1700000000+s)
			if x.Hits+x.Misses+x.Passes != x.Requests || x.Status2xx+x.Status3xx+x.Status4xx+x.Status5xx != x.Requests || x.Status2xx < 0 {
				t.Fatalf("inconsistent sample %+v", x)
			}
			hour.Add(x)
		}
	}
	if got := m.SumAll(0, 1700000000, 1700003600); got != hour {
		t.Fatalf("SumAll %+v != sum of seconds %+v", got, hour)
	}
	var regions Sample
	for _, r := range m.Regions() {
		regions.Add(m.SumRegion(0, r, 1700000000, 1700003600))
	}
	if regions != hour {
		t.Fatal("regions do not add up to the total")
	}
}

func TestPOPsDifferAndDiurnalCurve(t *testing.T) {
	m := Default(1)
	day := int64(1700006400) // 00:00 UTC
	ratio := func(p int) float64 {
		s := m.Sum(0, p, day, day+3600)
		return float64(s.Hits) / float64(s.Hits+s.Misses)
	}
	if lhr, syd := ratio(0), ratio(5); lhr-syd < 0.15 {
		t.Fatalf("LHR hit ratio %.3f vs SYD %.3f: POPs should differ", lhr, syd)
	}
	peak := m.SumAll(0, day+14*3600, day+15*3600).Requests
	trough := m.SumAll(0, day+2*3600, day+3*3600).Requests
	if float64(peak) < 2*float64(trough) {
		t.Fatalf("peak %d vs trough %d: no diurnal curve", peak, trough)
	}
}

func TestIncidentDropsHitRatio(t *testing.T) {
	m := Default(1)
	m.BurstChance = 0
	t0 := int64(1700000000)
	m.Incidents = []Incident{{Service: "www", Start: t0 + 600, End: t0 + 1200, HitRatioDelta: -0.4, ErrorRate: 0.2}}
	before, during := m.SumAll(0, t0, t0+600), m.SumAll(0, t0+600, t0+1200)
	hb := float64(before.Hits) / float64(before.Hits+before.Misses)
	hd := float64(during.Hits) / float64(during.Hits+during.Misses)
	if hb-hd < 0.3 || float64(during.Status5xx)/float64(during.Requests) < 0.15 {
		t.Fatalf("hit ratio %.2f → %.2f, 5xx %d/%d", hb, hd, during.Status5xx, during.Requests)
	}
}
