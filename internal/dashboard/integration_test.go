package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
)

type series struct {
	Target     string              `json:"target"`
	Datapoints [][]json.RawMessage `json:"datapoints"`
}

func render(t *testing.T, web, target string, from, until int64) []series {
	t.Helper()
	out, err := tryRender(web, target, from, until)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryRender is render returning its error: graphite-web can answer 500
// while carbon is still creating a whisper file the glob matches, which
// the loops waiting for the metrics to appear retry.
func tryRender(web, target string, from, until int64) ([]series, error) {
	q := url.Values{"target": {target}, "format": {"json"}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}}
	resp, err := http.Get(web + "/render?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("render %s: %s %.300s", target, resp.Status, body)
	}
	var out []series
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("render %s: %v", target, err)
	}
	return out, nil
}

// valueAt returns the value of s at ts, or NaN-like false.
func valueAt(s series, ts int64) (float64, bool) {
	for _, dp := range s.Datapoints {
		if len(dp) == 2 && string(dp[1]) == fmt.Sprint(ts) && string(dp[0]) != "null" {
			v, err := strconv.ParseFloat(string(dp[0]), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestDashboardTargetsRenderOnRealGraphite writes a small tree of metrics
// and renders every panel target of the shipped dashboard with its
// variables substituted as Grafana does (multi-value → {a,b}), checking
// that graphite-web knows every function, that the negative node indices
// name the provider, service and location, and the comparison values.
func TestDashboardTargetsRenderOnRealGraphite(t *testing.T) {
	srv := graphitetest.Start(t)
	const prefix = "cdn"
	t0 := time.Now().Unix() - 60
	t0 -= t0 % 10 // whisper's 10 s step
	// hit_ratio per provider/service, and the counts the comparison panel
	// sums over services: hits, misses, status_5xx, requests, origin_bytes,
	// edge_bytes. Services differ in size, so summed counts and the mean of
	// the ratios differ (fastly: 970/1100 = 0.882, not (0.9+0.7)/2 = 0.8).
	hit := map[string]float64{"fastly.svc1": 0.9, "fastly.svc2": 0.7, "akamai.svc1": 0.6, "akamai.svc2": 0.4}
	counts := map[string][6]float64{ // hits, misses, status_5xx, requests, origin_bytes, edge_bytes
		"fastly.svc1": {900, 100, 10, 1000, 100, 1000}, "fastly.svc2": {70, 30, 5, 100, 50, 100},
		"akamai.svc1": {60, 40, 0, 100, 40, 100}, "akamai.svc2": {400, 600, 20, 1000, 600, 1000},
	}
	// Real-user timing (internal/rum) at location rum: metric i of
	// rumMetrics has the value 10·(i+1) everywhere.
	rumMetrics := []string{"ttfb_p50_ms", "ttfb_p95_ms", "connect_p50_ms", "tls_p50_ms", "download_kbps_p50", "rum_hit_share", "rum_samples", "rum_errors"}
	var b strings.Builder
	for ps := range hit {
		for i, m := range rumMetrics {
			fmt.Fprintf(&b, "%s.%s.rum.%s %d %d\n", prefix, ps, m, 10*(i+1), t0)
		}
	}
	for ps, hr := range hit {
		for _, loc := range []string{"all", "ams"} {
			base := prefix + "." + ps + "." + loc + "."
			fmt.Fprintf(&b, "%shit_ratio %g %d\n", base, hr, t0)
			for _, m := range []string{"bandwidth_bps", "origin_offload", "request_offload", "error_ratio"} {
				fmt.Fprintf(&b, "%s%s %g %d\n", base, m, 0.25, t0)
			}
			for i, m := range []string{"hits", "misses", "status_5xx", "requests", "origin_bytes", "edge_bytes"} {
				fmt.Fprintf(&b, "%s%s %g %d\n", base, m, counts[ps][i], t0)
			}
		}
	}
	// Cost at location all (fastly.svc1 = 2.5), steering weights of svc1
	// (fastly 0.7, akamai 0.3).
	costs := map[string]float64{"fastly.svc1": 2.5, "fastly.svc2": 0.5, "akamai.svc1": 1, "akamai.svc2": 4}
	for ps, v := range costs {
		fmt.Fprintf(&b, "%s.%s.all.cost %g %d\n", prefix, ps, v, t0)
	}
	fmt.Fprintf(&b, "%s.steering.svc1.fastly.weight 0.7 %d\n%s.steering.svc1.akamai.weight 0.3 %d\n", prefix, t0, prefix, t0)
	// Fastly inspector series of both fastly services at location all:
	// origin o1 and domain d1 (svc2's values ten times svc1's).
	inspector := map[string]float64{
		"origins.o1.responses": 10, "origins.o1.status_2xx": 9, "origins.o1.status_3xx": 0, "origins.o1.status_4xx": 0,
		"origins.o1.status_5xx": 1, "origins.o1.latency_p95_ms": 120, "domains.d1.requests": 100, "domains.d1.hit_ratio": 0.09,
	}
	for m, v := range inspector {
		fmt.Fprintf(&b, "%s.fastly.svc1.all.%s %g %d\n%s.fastly.svc2.all.%s %g %d\n", prefix, m, v, t0, prefix, m, 10*v, t0)
	}
	c, err := net.Dial("tcp", srv.CarbonAddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	c.Close()

	data, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	subst := strings.NewReplacer("$prefix", prefix, "$provider", "{akamai,fastly}", "$service", "*", "$location", "all")
	from, until := t0-300, t0+60
	// New metrics appear after about 1 s (GRAPHITE.md §4).
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		got, err := tryRender(srv.WebURL, prefix+".*.*.*.*", from, until)
		for _, s := range got {
			if _, ok := valueAt(s, t0); ok {
				n++
			}
		}
		if n == 4*2*11+4*8+4+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 126 metrics readable (%v)", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		n := 0
		got, err := tryRender(srv.WebURL, prefix+".fastly.*.all.*.*.*", from, until)
		for _, s := range got {
			if _, ok := valueAt(s, t0); ok {
				n++
			}
		}
		if n == 2*len(inspector) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d inspector metrics readable (%v)", n, 2*len(inspector), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr := subst.Replace(tg.Target)
			got := render(t, srv.WebURL, expr, from, until)
			names := map[string]float64{}
			for _, s := range got {
				if v, ok := valueAt(s, t0); ok {
					names[s.Target] = v
				}
			}
			if len(names) == 0 {
				t.Errorf("panel %q target %s: no data from %s", p.Title, tg.RefID, expr)
				continue
			}
			switch {
			case p.ID == 12: // steering: aliasByNode(..., -3, -2) names service.provider
				if names["svc1.fastly"] != 0.7 || names["svc1.akamai"] != 0.3 || len(names) != 2 {
					t.Errorf("steering panel series %v, want svc1.fastly = 0.7, svc1.akamai = 0.3", names)
				}
			case p.ID == 13: // cost: aliasByNode(..., -4, -3) names provider.service
				if names["fastly.svc1"] != 2.5 || names["akamai.svc2"] != 4 || len(names) != 4 {
					t.Errorf("cost panel series %v, want fastly.svc1 = 2.5, akamai.svc2 = 4 of 4", names)
				}
			case p.ID >= 14 && p.ID <= 17: // Fastly inspectors: aliasByNode(..., -5, -4, -2[, -1]) names service.location.name[.metric]
				want := map[string]float64{
					"14A": 10, "14B": 9, "15A": 120, "16A": 100, "17A": 0.09,
				}[fmt.Sprint(p.ID, tg.RefID)]
				key := map[int]string{14: "svc1.all.o1.responses", 15: "svc1.all.o1", 16: "svc1.all.d1", 17: "svc1.all.d1"}[p.ID]
				n := 2
				if p.ID == 14 && tg.RefID == "B" {
					key, n = "svc1.all.o1.status_2xx", 8 // 4 classes × 2 services
				}
				if v, ok := names[key]; !ok || math.Abs(v-want) > 1e-9 || len(names) != n || names[strings.Replace(key, "svc1", "svc2", 1)] != 10*v {
					t.Errorf("inspector panel %q target %s: series %v, want %s = %v and %d series", p.Title, tg.RefID, names, key, want, n)
				}
			case p.ID == 1: // aliasByNode(..., -4, -3, -2)
				if v, ok := names["fastly.svc1.all"]; !ok || v != 0.9 || len(names) != 4 {
					t.Errorf("hit ratio panel series %v, want 4 named provider.service.location with fastly.svc1.all = 0.9", names)
				}
			case p.ID >= 7 && p.ID <= 11: // real users: aliasByNode(..., -4, -3, -1)
				i := -1
				for j, m := range rumMetrics {
					if strings.HasSuffix(expr, ".rum."+m+", -4, -3, -1)") {
						i = j
					}
				}
				if v, ok := names["fastly.svc1."+rumMetrics[max(i, 0)]]; i < 0 || !ok || v != float64(10*(i+1)) || len(names) != 4 {
					t.Errorf("real-user panel %q target %s: series %v, want 4 named provider.service.metric", p.Title, tg.RefID, names)
				}
			case p.ID == 5: // ratios of counts summed over the services
				want := map[string]map[string]float64{
					"A": {"fastly.hit_ratio": 970.0 / 1100, "akamai.hit_ratio": 460.0 / 1100},
					"B": {"fastly.origin_offload": 1 - 150.0/1100, "akamai.origin_offload": 1 - 640.0/1100},
					"C": {"fastly.error_ratio": 15.0 / 1100, "akamai.error_ratio": 20.0 / 1100},
				}[tg.RefID]
				ok := len(names) == len(want)
				for k, w := range want {
					ok = ok && math.Abs(names[k]-w) < 1e-9
				}
				if !ok {
					t.Errorf("comparison target %s: series %v, want %v", tg.RefID, names, want)
				}
			}
		}
	}
	// The template variable queries.
	for _, q := range []string{prefix + ".*", prefix + ".{akamai,fastly}.*", prefix + ".{akamai,fastly}.*.*"} {
		resp, err := http.Get(srv.WebURL + "/metrics/find?query=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		var nodes []struct {
			Text string `json:"text"`
		}
		err = json.NewDecoder(resp.Body).Decode(&nodes)
		resp.Body.Close()
		if err != nil || len(nodes) < 2 {
			t.Errorf("find %s: %v %v", q, nodes, err)
		}
	}
}
