package compare

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/cost"
)

// A graphite-web stand-in answering the count, weight and cost targets.
func steerCostServer(t *testing.T) *httptest.Server {
	counts := "[" + strings.Join([]string{
		series("fastly.www.requests", `[[100, 100], [100, 110], [null, 120]]`),
		series("akamai.www.requests", `[[300, 100], [null, 110], [200, 120]]`),
		series("cloudflare.www.requests", `[[100, 100], [100, 110], [100, 120]]`),
		series("fastly.www.edge_bytes", `[[2e9, 100], [2e9, 110]]`),
		series("akamai.www.edge_bytes", `[[4e9, 100]]`),
	}, ",") + "]"
	weights := "[" + strings.Join([]string{
		series("www.fastly", `[[0.2, 100], [0.3, 110]]`),
		series("www.akamai", `[[0.6, 100], [0.5, 110], [null, 120]]`),
	}, ",") + "]"
	costWin := "[" + strings.Join([]string{
		series("fastly.www.cost", `[[0.5, 100], [0.25, 110]]`),
		series("akamai.www.cost", `[[1.0, 100]]`),
	}, ",") + "]"
	costMonth := "[" + strings.Join([]string{
		series("fastly.www.cost", `[[2.0, 0], [0.5, 100], [0.25, 110]]`),
		series("akamai.www.cost", `[[1.0, 100]]`),
	}, ",") + "]"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch tg := q.Get("target"); {
		case r.URL.Path == "/metrics/find":
			w.Write([]byte(findThree))
		case strings.Contains(tg, ".steering."):
			w.Write([]byte(weights))
		case strings.Contains(tg, ".cost"):
			if q.Get("from") == "-1" { // the month from 0, as whisper's (-1, …]
				w.Write([]byte(costMonth))
			} else {
				w.Write([]byte(costWin))
			}
		case strings.Contains(tg, MetricTTFB):
			w.Write([]byte("[]"))
		default:
			w.Write([]byte(counts))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Weights beside observed shares, and the cost columns, by hand.
//
// www's weights average fastly (0.2+0.3)/2 = 0.25, akamai (0.6+0.5)/2 =
// 0.55; cloudflare has none (0). Requests are compared only where fastly
// and akamai (the weighted providers) both reported: t=100, 500 requests
// (fastly 100, akamai 300, cloudflare 100). Observed: fastly 0.2 (−5 pp),
// akamai 0.6 (+5 pp), cloudflare 0.2 against 0 (+20 pp, flagged at the
// default 10 pp).
//
// Cost: fastly 0.5 + 0.25 = 0.75 over 2 + 2 GB: 0.1875 per GB; akamai 1.0
// over 4 GB: 0.25; USD shares 0.75/1.75 and 1/1.75. Month to date (from
// 1970-01-01, the month of until): fastly 2.75, billed its commitment 10;
// akamai 1.0.
func TestSteeringAndCostColumns(t *testing.T) {
	srv := steerCostServer(t)
	o := testOptions(srv.URL)
	o.Cost = map[string]cost.Plan{
		"fastly": {Currency: "USD", PerGB: [][]float64{{0, 0.1}}, CommitMonthly: 10},
		"akamai": {Currency: "USD", PerGB: [][]float64{{0, 0.1}}},
	}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Provider{}
	for _, p := range r.Providers {
		by[p.Name] = p
	}
	for name, want := range map[string][3]float64{"fastly": {0.25, 0.2, -5}, "akamai": {0.55, 0.6, 5}, "cloudflare": {0, 0.2, 20}} {
		st := by[name].Steering
		if st == nil {
			t.Fatalf("%s: no steering", name)
		}
		val(t, name+" weight", &st.Weight, want[0])
		val(t, name+" observed", &st.Observed, want[1])
		if d := st.DiffPP - want[2]; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s diff %v pp, want %v", name, st.DiffPP, want[2])
		}
		if st.Flagged != (name == "cloudflare") {
			t.Errorf("%s flagged %v", name, st.Flagged)
		}
	}
	hasNote(t, by["cloudflare"], "20.00 pp above its weight 0.00%")
	f, a := by["fastly"].Cost, by["akamai"].Cost
	if f == nil || a == nil || by["cloudflare"].Cost != nil {
		t.Fatalf("cost fastly %+v akamai %+v cloudflare %+v", f, a, by["cloudflare"].Cost)
	}
	val(t, "fastly cost", &f.Window, 0.75)
	val(t, "fastly per GB", f.PerGB, 0.1875)
	val(t, "fastly share", f.Share, 0.75/1.75)
	val(t, "fastly month", &f.MonthUsage, 2.75)
	val(t, "fastly billed", &f.MonthBilled, 10)
	val(t, "akamai cost", &a.Window, 1)
	val(t, "akamai per GB", a.PerGB, 0.25)
	val(t, "akamai share", a.Share, 1/1.75)
	val(t, "akamai billed", &a.MonthBilled, 1)
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"steering weight vs observed", "FLAG", "0.1875 USD", "10.00 USD (10.00 USD)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// A provider added to the weights within the window has no weight point
// before it was added: it weighed 0 then, not "unknown". Averaged over its
// own points only, the weights of the window summed to more than 1 and
// the newcomer was flagged though traffic followed the weights exactly.
//
// www: fastly 1.0 then 0.5, akamai absent then 0.5: means 0.75 and 0.25.
// Requests (both intervals paired): fastly 150+150, akamai 50+50 of 400:
// observed 0.75 and 0.25, no difference, no flag.
func TestSteeringProviderAddedInWindow(t *testing.T) {
	counts := "[" + strings.Join([]string{
		series("fastly.www.requests", `[[150, 100], [150, 110]]`),
		series("akamai.www.requests", `[[50, 100], [50, 110]]`),
	}, ",") + "]"
	weights := "[" + strings.Join([]string{
		series("www.fastly", `[[1.0, 100], [0.5, 110]]`),
		series("www.akamai", `[[null, 100], [0.5, 110]]`),
	}, ",") + "]"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch tg := r.URL.Query().Get("target"); {
		case r.URL.Path == "/metrics/find":
			w.Write([]byte(findThree))
		case strings.Contains(tg, ".steering."):
			w.Write([]byte(weights))
		case strings.Contains(tg, ".cost"), strings.Contains(tg, MetricTTFB):
			w.Write([]byte("[]"))
		default:
			w.Write([]byte(counts))
		}
	}))
	defer srv.Close()
	r, err := Run(context.Background(), testOptions(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Providers {
		want, ok := map[string]float64{"fastly": 0.75, "akamai": 0.25}[p.Name]
		if !ok {
			continue
		}
		st := p.Steering
		if st == nil {
			t.Fatalf("%s: no steering", p.Name)
		}
		val(t, p.Name+" weight", &st.Weight, want)
		val(t, p.Name+" observed", &st.Observed, want)
		if st.Flagged {
			t.Errorf("%s flagged: %+v", p.Name, st)
		}
	}
}
