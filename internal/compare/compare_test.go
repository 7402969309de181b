package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// fake is a graphite-web stand-in: /metrics/find answers find, /render
// answers counts for the count target and probes for the probe target.
type fake struct {
	find, counts, probes string
	status               int    // for /render; 0 = 200
	ctype                string // for /render
	queries              []string
}

func (f *fake) server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.queries = append(f.queries, r.URL.RawQuery)
		switch r.URL.Path {
		case "/metrics/find":
			_, _ = w.Write([]byte(f.find))
		case "/render":
			if f.ctype != "" {
				w.Header().Set("Content-Type", f.ctype)
			}
			if f.status != 0 {
				w.WriteHeader(f.status)
			}
			if strings.Contains(r.URL.Query().Get("target"), MetricTTFB) {
				_, _ = w.Write([]byte(f.probes))
			} else {
				_, _ = w.Write([]byte(f.counts))
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const findThree = `[{"text": "akamai", "id": "cdn.akamai", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "cdnmetrics", "id": "cdn.cdnmetrics", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "cloudflare", "id": "cdn.cloudflare", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "events", "id": "cdn.events", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "fastly", "id": "cdn.fastly", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "steering", "id": "cdn.steering", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "stray", "id": "cdn.stray", "allowChildren": 0, "expandable": 0, "leaf": 1}]`

func series(name, dps string) string {
	return `{"target": "` + name + `", "tags": {"name": "x"}, "datapoints": ` + dps + `}`
}

// Synthetic counts (aliasByNode gives provider.service.metric). The
// expected values are worked out in TestRunSynthetic.
var countsThree = "[" + strings.Join([]string{
	series("fastly.www.hits", `[[90.0, 100], [null, 110], [80.0, 120]]`),
	series("fastly.www.misses", `[[10.0, 100], [5.0, 110], [20.0, 120]]`),
	series("fastly.api.hits", `[[1e9999, 100], [45, 110]]`),
	series("fastly.api.misses", `[[5, 100], [5, 110]]`),
	series("fastly.www.requests", `[[100, 100], [100, 110], [100, 120]]`),
	series("fastly.api.requests", `[[50, 100], [50, 110]]`),
	series("fastly.www.status_5xx", `[[1, 100], [0, 110], [1, 120]]`),
	series("fastly.api.status_5xx", `[[0, 100], [2, 110]]`),
	series("fastly.www.edge_bytes", `[[1000, 100], [1000, 110], [1000, 120]]`),
	series("fastly.api.edge_bytes", `[[500, 100], [500, 110]]`),
	series("fastly.www.origin_bytes", `[[100, 100], [100, 110], [100, 120]]`),
	series("fastly.api.origin_bytes", `[[100, 100], [null, 110]]`),
	series("fastly.www.origin_requests", `[[10, 100], [10, 110], [10, 120]]`),
	series("fastly.api.origin_requests", `[[5, 100], [5, 110]]`),
	series("cloudflare.www.hits", `[[80, 100], [70, 110]]`),
	series("cloudflare.www.misses", `[[20, 100], [30, 110]]`),
	series("cloudflare.www.requests", `[[100, 100], [100, 110]]`),
	series("cloudflare.www.status_5xx", `[[0, 100], [0, 110]]`),
	series("cloudflare.www.edge_bytes", `[[2000, 100], [2000, 110]]`),
	series("cloudflare.www.origin_bytes", `[[200, 100], [200, 110]]`),
	series("akamai.www.requests", `[[200, 100], [200, 110]]`),
	series("akamai.www.status_5xx", `[[2, 100], [2, 110]]`),
	series("akamai.www.edge_bytes", `[[3000, 100], [null, 110]]`),
	series("akamai.www.origin_bytes", `[[300, 100], [300, 110]]`),
	// Names the report must ignore.
	series("events.x.requests", `[[1, 100]]`),
	series("fastly.www.bogus", `[[1, 100]]`),
}, ",") + "]"

var probesThree = "[" + strings.Join([]string{
	series("fastly.www.lhr", `[[10, 100], [20, 110], [null, 120]]`),
	series("fastly.www.all", `[[30, 100], [40, 110]]`),
	series("cloudflare.www.lhr", `[[21, 100], [42, 110], [1e9999, 120]]`),
}, ",") + "]"

func testOptions(url string) Options {
	return Options{
		WebURL: url, Prefix: "cdn", Baseline: "fastly",
		From:       time.Unix(50, 0),
		Until:      time.Unix(200, 0),
		Thresholds: config.Default().Compare,
	}
}

func val(t *testing.T, label string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = null, want %v", label, want)
		return
	}
	if math.Abs(*got-want) > 1e-12 {
		t.Errorf("%s = %v, want %v", label, *got, want)
	}
}

func null(t *testing.T, label string, got *float64) {
	t.Helper()
	if got != nil {
		t.Errorf("%s = %v, want null", label, *got)
	}
}

func hasNote(t *testing.T, p *Provider, sub string) {
	t.Helper()
	for _, n := range p.Reasons() {
		if strings.Contains(n, sub) {
			return
		}
	}
	t.Errorf("%s: no reason containing %q in %q", p.Name, sub, p.Reasons())
}

func TestRunSynthetic(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	srv := f.server(t)
	r, err := Run(context.Background(), testOptions(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Providers) != 3 {
		t.Fatalf("providers %d, want 3 (akamai, cloudflare, fastly)", len(r.Providers))
	}
	ak, cf, fa := r.Providers[0], r.Providers[1], r.Providers[2]
	if ak.Name != "akamai" || cf.Name != "cloudflare" || fa.Name != "fastly" {
		t.Fatalf("order %s %s %s", ak.Name, cf.Name, fa.Name)
	}

	// fastly: hits/misses paired per (service, ts):
	//   www@100 90/10, www@120 80/20, api@110 45/5 → 215 / (215+35) = 0.86.
	//   Left out: www@110 (hits null), api@100 (hits 1e9999 skipped) = 2.
	val(t, "fastly hit_ratio", fa.HitRatio, 215.0/250)
	hasNote(t, fa, "hit ratio: 2 intervals where only one of hits/misses is known left out")
	hasNote(t, fa, "hits: skipped 1 infinite")
	// Totals: hits 90+80+45 = 215, misses 10+5+20+5+5 = 45.
	val(t, "fastly hits", fa.Hits, 215)
	val(t, "fastly misses", fa.Misses, 45)
	// requests 3×100 + 2×50 = 400; 5xx 1+0+1+0+2 = 4 → 0.01.
	val(t, "fastly requests", fa.Requests, 400)
	val(t, "fastly error_ratio", fa.ErrorRatio, 0.01)
	// edge 3×1000 + 2×500 = 4000; origin/edge paired: www 300/3000,
	// api@100 100/500 (api@110 origin null) → 1 − 400/3500.
	val(t, "fastly edge_bytes", fa.EdgeBytes, 4000)
	val(t, "fastly origin_offload", fa.OriginOffload, 1-400.0/3500)
	// origin requests 3×10 + 2×5 = 40 of 400 → 0.9.
	val(t, "fastly request_offload", fa.RequestOffload, 0.9)
	// TTFB samples 10, 20, 30, 40: nearest rank p50 = ceil(0.5×4) = 2nd = 20,
	// p95 = ceil(0.95×4) = 4th = 40.
	val(t, "fastly p50", fa.TTFBP50, 20)
	val(t, "fastly p95", fa.TTFBP95, 40)
	if fa.TTFBSamples != 4 || fa.Verdict != VerdictBaseline {
		t.Errorf("fastly samples %d verdict %s", fa.TTFBSamples, fa.Verdict)
	}
	if strings.Join(fa.Services, ",") != "api,www" {
		t.Errorf("fastly services %v", fa.Services)
	}

	// cloudflare: 150/200 = 0.75, 11 pp below 0.86 → fail.
	val(t, "cloudflare hit_ratio", cf.HitRatio, 0.75)
	// origin 400 of edge 4000 → 0.9, above fastly → fine.
	val(t, "cloudflare origin_offload", cf.OriginOffload, 0.9)
	val(t, "cloudflare error_ratio", cf.ErrorRatio, 0)
	null(t, "cloudflare request_offload", cf.RequestOffload)
	hasNote(t, cf, "no origin_requests series: request offload left empty")
	// TTFB samples 21, 42 (1e9999 skipped): p50 21, p95 42 — exactly at the
	// 5 % limit of 20 and 40 (21 = 20×1.05, 42 = 40×1.05): not a failure.
	val(t, "cloudflare p50", cf.TTFBP50, 21)
	val(t, "cloudflare p95", cf.TTFBP95, 42)
	hasNote(t, cf, "probe_ttfb_ms: skipped 1 infinite")
	if cf.Verdict != VerdictFail || len(cf.Failures) != 1 || !strings.Contains(cf.Failures[0], "hit ratio 75.00% is 11.00 pp below fastly's 86.00%") {
		t.Errorf("cloudflare verdict %s failures %q", cf.Verdict, cf.Failures)
	}

	// akamai: no hits/misses → hit ratio null, not compared, not failed.
	null(t, "akamai hit_ratio", ak.HitRatio)
	hasNote(t, ak, "no hits/misses series: hit ratio left empty")
	hasNote(t, ak, "hit ratio not compared: missing here")
	// edge 3000 (one null), origin paired only @100: 1 − 300/3000 = 0.9.
	val(t, "akamai edge_bytes", ak.EdgeBytes, 3000)
	val(t, "akamai origin_offload", ak.OriginOffload, 0.9)
	hasNote(t, ak, "origin offload: 1 interval where only one of origin_bytes/edge_bytes is known")
	// 5xx 4 of 400 = 0.01, same as fastly.
	val(t, "akamai error_ratio", ak.ErrorRatio, 0.01)
	null(t, "akamai p50", ak.TTFBP50)
	hasNote(t, ak, "no probe_ttfb_ms series")
	if ak.Verdict != VerdictPass {
		t.Errorf("akamai verdict %s, failures %q", ak.Verdict, ak.Failures)
	}

	// Shares: requests 400 + 200 + 400 = 1000; edge 4000 + 4000 + 3000.
	val(t, "fastly request_share", fa.RequestShare, 0.4)
	val(t, "cloudflare request_share", cf.RequestShare, 0.2)
	val(t, "akamai request_share", ak.RequestShare, 0.4)
	val(t, "akamai bytes_share", ak.BytesShare, 3.0/11)
	if !r.Failed() {
		t.Error("Failed() = false with cloudflare failing")
	}

	// What was asked of graphite-web: the window [50, 200) as whisper's
	// (49, 199].
	q := strings.Join(f.queries, "\n")
	for _, want := range []string{"query=cdn.%2A", "summarize%28", "%2710s%27%2C%27sum%27%2Ctrue%29%2C1%2C2%2C4%29", "from=49", "until=199",
		"cdn.%7Bakamai%2Ccloudflare%2Cfastly%7D.%2A.all.%7Bhits%2Cmisses%2Crequests%2Cedge_bytes%2Corigin_bytes%2Corigin_requests%2Cstatus_5xx%7D"} {
		if !strings.Contains(q, want) {
			t.Errorf("queries lack %q:\n%s", want, q)
		}
	}
}

func TestJSONShape(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	srv := f.server(t)
	r, err := Run(context.Background(), testOptions(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		From, Until, Baseline string
		Providers             []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got.From != "1970-01-01T00:00:50Z" || got.Until != "1970-01-01T00:03:20Z" || got.Baseline != "fastly" {
		t.Errorf("header %+v", got)
	}
	ak := got.Providers[0]
	for _, k := range []string{"provider", "requests", "edge_bytes", "request_share", "hit_ratio", "origin_offload",
		"request_offload", "error_ratio", "ttfb_p50_ms", "ttfb_p95_ms", "verdict", "reasons"} {
		if _, ok := ak[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}
	// Unknown is null, never 0.
	if ak["hit_ratio"] != nil || ak["ttfb_p50_ms"] != nil || ak["origin_offload"] == nil {
		t.Errorf("akamai hit_ratio %v ttfb %v origin_offload %v", ak["hit_ratio"], ak["ttfb_p50_ms"], ak["origin_offload"])
	}
	if got.Providers[1]["verdict"] != "fail" || got.Providers[2]["verdict"] != "baseline" || ak["verdict"] != "pass" {
		t.Errorf("verdicts %v %v %v", ak["verdict"], got.Providers[1]["verdict"], got.Providers[2]["verdict"])
	}
}

func run(t *testing.T, f *fake, fl Flags, mutate func(*config.Config)) (int, string, string) {
	t.Helper()
	srv := f.server(t)
	cfg := config.Default()
	cfg.Graphite.WebURL = srv.URL
	if mutate != nil {
		mutate(&cfg)
	}
	if fl.Format == "" {
		fl.Format = "table"
	}
	if fl.From == "" {
		fl.From, fl.Until = "50", "200"
	}
	var out, errb bytes.Buffer
	code := Execute(context.Background(), &cfg, fl, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExecuteExitCodes(t *testing.T) {
	good := func() *fake { return &fake{find: findThree, counts: countsThree, probes: probesThree} }
	tests := []struct {
		name    string
		f       *fake
		fl      Flags
		mutate  func(*config.Config)
		code    int
		out, er string
	}{
		{name: "cloudflare fails", f: good(), code: 1, out: "cloudflare: FAIL: hit ratio"},
		{name: "looser limit passes", f: good(), code: 0, mutate: func(c *config.Config) { c.Compare.HitRatioMaxDropPP = 11.5 }},
		// Just under the limit: 11 pp > 10.99 pp.
		{name: "tight limit fails", f: good(), code: 1, mutate: func(c *config.Config) { c.Compare.HitRatioMaxDropPP = 10.99 }},
		{name: "ttfb limit", f: good(), code: 1, mutate: func(c *config.Config) {
			c.Compare.HitRatioMaxDropPP = 20
			c.Compare.TTFBMaxIncreasePct = 4.9
		}, out: "ttfb p50 21.0 ms is 5.0% above fastly's 20.0 ms"},
		{name: "baseline flag", f: good(), fl: Flags{Baseline: "cloudflare"}, code: 1, out: "fastly: FAIL: origin offload 88.57% is 1.43 pp below cloudflare's 90.00%"},
		{name: "unknown baseline", f: good(), fl: Flags{Baseline: "nope"}, code: 2, er: `baseline "nope" has no series`},
		{name: "bad format", f: good(), fl: Flags{Format: "xml"}, code: 2, er: "--format"},
		{name: "bad from", f: good(), fl: Flags{From: "-7q", Until: "now"}, code: 2, er: "--from"},
		{name: "from after until", f: good(), fl: Flags{From: "300", Until: "200"}, code: 2, er: "is not before"},
		{name: "bad service", f: good(), fl: Flags{Service: "a*"}, code: 2, er: "--service"},
		{name: "no web_url", f: good(), mutate: func(c *config.Config) { c.Graphite.WebURL = "" }, code: 2, er: "web_url"},
		{name: "html error page", f: &fake{find: findThree, status: 500, ctype: "text/html",
			counts: "<!DOCTYPE html><html><head><title>CorruptWhisperFile at /render</title></head><body>...</body></html>"},
			code: 3, er: "HTTP 500: CorruptWhisperFile at /render"},
		{name: "html with 200", f: &fake{find: findThree, ctype: "text/html", counts: "<html><body>oops</body></html>"},
			code: 3, er: "not a render JSON array"},
		{name: "broken datapoint", f: &fake{find: findThree, counts: `[{"target":"fastly.www.hits","datapoints":[["x",1]]}]`, probes: "[]"},
			code: 3, er: "bad value"},
		{name: "find not json", f: &fake{find: "<html>"}, code: 3, er: "/metrics/find"},
		{name: "no providers", f: &fake{find: "[]"}, code: 2, er: "no provider series"},
		// No data is never a pass: a gate must not open on missing series.
		{name: "empty render", f: &fake{find: findThree, counts: "[]", probes: "[]"}, code: 1, out: "akamai: FAIL: nothing could be compared with fastly"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, er := run(t, tc.f, tc.fl, tc.mutate)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(er, tc.er) {
				t.Errorf("code %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout %q, stderr %q", code, tc.code, out, er, tc.out, tc.er)
			}
		})
	}
}

func TestEmptyRenderIsNull(t *testing.T) {
	f := &fake{find: findThree, counts: "[]", probes: "[]"}
	code, out, _ := run(t, f, Flags{Format: "json"}, nil)
	if code != 1 {
		t.Fatalf("code %d, want 1 (no data is not a pass)", code)
	}
	var got struct{ Providers []map[string]any }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Providers {
		for _, k := range []string{"requests", "edge_bytes", "request_share", "hit_ratio", "origin_offload", "request_offload", "error_ratio", "ttfb_p50_ms"} {
			if p[k] != nil {
				t.Errorf("%v %s = %v, want null", p["provider"], k, p[k])
			}
		}
	}
}

func TestTableAndMarkdown(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	_, out, _ := run(t, f, Flags{}, nil)
	want := `compare 1970-01-01T00:00:50Z to 1970-01-01T00:03:20Z, all services summed, baseline fastly

provider    requests  req share  edge bytes  bytes share  hit ratio  origin offload  req offload  error ratio  ttfb p50  ttfb p95  verdict
akamai           400     40.00%     3.00 kB       27.27%          -          90.00%            -       1.000%         -         -  pass
cloudflare       200     20.00%     4.00 kB       36.36%     75.00%          90.00%            -       0.000%   21.0 ms   42.0 ms  fail
fastly           400     40.00%     4.00 kB       36.36%     86.00%          88.57%       90.00%       1.000%   20.0 ms   40.0 ms  baseline
`
	if !strings.HasPrefix(out, want) {
		t.Errorf("table:\n%s\nwant prefix:\n%s", out, want)
	}
	_, md, _ := run(t, f, Flags{Format: "markdown"}, nil)
	for _, line := range []string{
		"| provider | requests | req share | edge bytes | bytes share | hit ratio | origin offload | req offload | error ratio | ttfb p50 | ttfb p95 | verdict |",
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
		"| akamai | 400 | 40.00% | 3.00 kB | 27.27% | - | 90.00% | - | 1.000% | - | - | pass |",
		"- cloudflare: FAIL: hit ratio 75.00% is 11.00 pp below fastly's 86.00% (limit 0.5 pp)",
	} {
		if !strings.Contains(md, line+"\n") {
			t.Errorf("markdown lacks %q:\n%s", line, md)
		}
	}
}

func TestPNGTargets(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	srv := f.server(t)
	o := testOptions(srv.URL)
	o.Service = "www"
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ts := strings.Join(PNGTargets(o, r), "\n")
	// akamai has no hit ratio: only its offload line.
	for _, want := range []string{
		"alias(dashed(color(offset(scale(asPercent(sumSeries(cdn.akamai.www.all.origin_bytes),sumSeries(cdn.akamai.www.all.edge_bytes)),-1),100),'1f77b4')),'akamai origin offload %')",
		"alias(color(asPercent(sumSeries(cdn.fastly.www.all.hits),sumSeries(cdn.fastly.www.all.{hits,misses})),'2ca02c'),'fastly hit ratio %')",
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("targets lack %s:\n%s", want, ts)
		}
	}
	if strings.Contains(ts, "akamai hit ratio") {
		t.Errorf("akamai hit ratio drawn without hits:\n%s", ts)
	}
}

func TestBucketSeconds(t *testing.T) {
	for _, tc := range []struct {
		window time.Duration
		want   int64
	}{
		{150 * time.Second, 10},          // ceil(150/2000) = 1 → at least 10 s
		{2 * time.Hour, 10},              // ceil(7200/2000) = 4 → 10 s
		{24 * time.Hour, 50},             // 43.2 → 50 s
		{7 * 24 * time.Hour, 360},        // 302.4 → 303 → 6 min
		{365 * 24 * time.Hour, 5 * 3600}, // 15768 → 5 h
	} {
		if got := bucketSeconds(tc.window); got != tc.want {
			t.Errorf("bucketSeconds(%v) = %d, want %d", tc.window, got, tc.want)
		}
	}
}

// FuzzCompute feeds arbitrary render answers through the computation and
// the JSON writer: no panic, and the JSON always encodes (no NaN or Inf).
func FuzzCompute(f *testing.F) {
	f.Add([]byte(countsThree), []byte(probesThree))
	f.Add([]byte(`[{"target":"fastly.www.hits","datapoints":[[1e308,1],[1e308,2]]},{"target":"fastly.www.misses","datapoints":[[1e308,1],[1e308,2]]}]`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, counts, probes []byte) {
		cs, err := DecodeRender(counts)
		if err != nil {
			return
		}
		ps, err := DecodeRender(probes)
		if err != nil {
			return
		}
		r := &Report{Baseline: "fastly", Thresholds: config.Default().Compare}
		compute(r, []string{"akamai", "cloudflare", "fastly"}, cs, ps)
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatalf("json: %v", err)
		}
		if err := r.WriteTable(&buf); err != nil {
			t.Fatal(err)
		}
	})
}

// "other" holds the real-user beacons that name a provider outside [rum]
// providers: anyone on the internet can fill it, and it is no CDN. It is
// never listed (nor judged against the baseline), and the report says so.
func TestRUMOtherNotAProvider(t *testing.T) {
	find := strings.Replace(findThree, `{"text": "stray"`, `{"text": "other", "id": "cdn.other", "allowChildren": 1, "expandable": 1, "leaf": 0},
 {"text": "stray"`, 1)
	f := &fake{find: find, counts: countsThree, probes: probesThree}
	r, err := Run(context.Background(), testOptions(f.server(t).URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Providers {
		if p.Name == "other" {
			t.Errorf("other listed as a provider: %s %q", p.Verdict, p.Failures)
		}
	}
	if len(r.Providers) != 3 || !contains(r.Notes, "cdn.other skipped: real-user beacons naming no provider of [rum] providers, not a CDN") {
		t.Errorf("providers %d, notes %q", len(r.Providers), r.Notes)
	}
}
