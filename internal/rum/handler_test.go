package rum

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

const page = "https://www.example.com"

func testConfig() config.RUM {
	c := config.Default().RUM
	c.Listen = "127.0.0.1:0"
	c.AllowedOrigins = []string{page}
	c.Providers = []string{"fastly", "cloudfront"}
	c.CountryHeader = "CF-IPCountry"
	c.NEL.Hosts = map[string]string{"img.example.com": "fastly"}
	return c
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func newTestHandler(t *testing.T, cfg config.RUM) (*Handler, *fixedClock) {
	t.Helper()
	clk := &fixedClock{t: time.Unix(1700000040, 0)}
	h := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(clk.now))
	return h, clk
}

func post(h http.Handler, body, ctype, origin string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/rum", strings.NewReader(body))
	req.RemoteAddr = "192.0.2.7:5555"
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// An accepted beacon, NDJSON or array, answers 204 with no body and the
// CORS headers for its (allowed) origin only.
func TestBeaconAcceptedBothShapes(t *testing.T) {
	h, clk := newTestHandler(t, testConfig())
	nd := `{"provider":"fastly","pop":"LHR","cache":"HIT","ttfb_ms":20,"size":1000,"download_ms":8}` + "\n" +
		`{"provider":"cloudfront","pop":"PHX50-C2","cache":"MISS","ttfb_ms":40}` + "\n"
	w := post(h, nd, "text/plain;charset=UTF-8", page, "CF-IPCountry", "GB")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("ndjson: %d %q", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != page {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	arr := `[{"provider":"fastly","cache":"MISS","ttfb_ms":30}]`
	if w := post(h, arr, "application/json", page, "CF-IPCountry", "ZZ"); w.Code != http.StatusNoContent {
		t.Fatalf("array: %d", w.Code)
	}
	if h.Counter("beacons") != 2 || h.Counter("entries") != 3 || h.Counter("bad_country") != 1 {
		t.Errorf("beacons %d entries %d bad_country %d", h.Counter("beacons"), h.Counter("entries"), h.Counter("bad_country"))
	}
	gs := h.Aggregator().Flush(clk.t.Add(time.Minute), false)
	fa := gaugeMap(gs, "fastly", "www")
	if fa["rum"]["rum_samples"] != 2 || fa["rum_gb"]["rum_samples"] != 1 || fa["rum"]["rum_hit_share"] != 0.5 {
		t.Errorf("fastly: %v", fa)
	}
	if _, ok := fa["rum_zz"]; ok {
		t.Errorf("a country that is no ISO code got a series")
	}
	within(t, "fastly rum_gb download", fa["rum_gb"]["download_kbps_p50"], 1000)
}

// CORS: only the configured origins, preflight included; no Origin on a
// beacon is refused; nothing is echoed.
func TestCORS(t *testing.T) {
	h, _ := newTestHandler(t, testConfig())
	body := `{"provider":"fastly","ttfb_ms":20}`
	for _, origin := range []string{"https://evil.example", "", "https://www.example.com.evil.example", "null"} {
		w := post(h, body, "text/plain", origin)
		if w.Code != http.StatusForbidden || w.Body.Len() != 0 || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %q: %d %q %q", origin, w.Code, w.Body.String(), w.Header().Get("Access-Control-Allow-Origin"))
		}
	}
	if h.Counter("dropped_origin") != 4 || h.Counter("entries") != 0 {
		t.Errorf("dropped_origin %d entries %d", h.Counter("dropped_origin"), h.Counter("entries"))
	}
	pre := func(origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/rum", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := pre(page); w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != page || w.Header().Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("preflight allowed: %d %v", w.Code, w.Header())
	}
	if w := pre("https://evil.example"); w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight refused: %d %v", w.Code, w.Header())
	}
	// NEL reports may come from the reported host's origin.
	if w := pre("https://img.example.com"); w.Code != http.StatusNoContent {
		t.Errorf("NEL preflight: %d", w.Code)
	}
}

// Body, entry and rate caps, each counted.
func TestCaps(t *testing.T) {
	h, clk := newTestHandler(t, testConfig())
	one := `{"provider":"fastly","ttfb_ms":20}`
	big := strings.Repeat(" ", 64<<10) + one
	if w := post(h, big, "text/plain", page); w.Code != http.StatusRequestEntityTooLarge || w.Body.Len() != 0 {
		t.Errorf("65 KiB body: %d", w.Code)
	}
	many := strings.TrimSuffix(strings.Repeat(one+"\n", 130), "\n")
	if w := post(h, many, "text/plain", page); w.Code != http.StatusNoContent {
		t.Errorf("130 entries: %d", w.Code)
	}
	if h.Counter("dropped_too_many_entries") != 30 || h.Counter("entries") != 100 || h.Counter("dropped_too_large") != 1 {
		t.Errorf("too_many %d entries %d too_large %d", h.Counter("dropped_too_many_entries"), h.Counter("entries"), h.Counter("dropped_too_large"))
	}
	// 50 beacons per client IP and second: the 2 before plus 48 pass.
	for i := 0; i < 48; i++ {
		if w := post(h, one, "text/plain", page); w.Code != http.StatusNoContent {
			t.Fatalf("beacon %d: %d", i, w.Code)
		}
	}
	if w := post(h, one, "text/plain", page); w.Code != http.StatusTooManyRequests {
		t.Errorf("51st beacon in a second: %d", w.Code)
	}
	if h.Counter("dropped_rate_limited") != 1 {
		t.Errorf("dropped_rate_limited %d", h.Counter("dropped_rate_limited"))
	}
	clk.t = clk.t.Add(time.Second)
	if w := post(h, one, "text/plain", page); w.Code != http.StatusNoContent {
		t.Errorf("next second: %d", w.Code)
	}
	for _, c := range []struct{ body, ctype string }{{"not json", "text/plain"}, {`[{"provider":1}, 7, {"ttfb_ms":"x"}]`, "text/plain"}, {one, "application/xml"}} {
		post(h, c.body, c.ctype, page)
	}
	if h.Counter("dropped_malformed") != 1 || h.Counter("dropped_entry_malformed") != 3 || h.Counter("dropped_content_type") != 1 {
		t.Errorf("malformed %d entry_malformed %d content_type %d", h.Counter("dropped_malformed"), h.Counter("dropped_entry_malformed"), h.Counter("dropped_content_type"))
	}
	req := httptest.NewRequest(http.MethodGet, "/rum", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed || h.Counter("dropped_method") != 1 {
		t.Errorf("GET /rum: %d", w.Code)
	}
	// The counters are the self-metrics, zeros included.
	pts := h.SelfPoints("cdn", clk.t)
	if len(pts) != len(Counters) || pts[0].Path != "cdn.cdnmetrics.rum.beacons" {
		t.Errorf("self points: %v", pts)
	}
}

// NEL reports are failures of the provider their host maps to; successes,
// other report types and unknown hosts are not, and are counted.
func TestNEL(t *testing.T) {
	h, clk := newTestHandler(t, testConfig())
	body := `[
 {"age":10,"type":"network-error","url":"https://img.example.com/a.jpg","body":{"type":"tcp.timed_out","phase":"connection","status_code":0}},
 {"age":10,"type":"network-error","url":"https://IMG.example.com:443/b.jpg","body":{"type":"http.error","status_code":503}},
 {"age":10,"type":"network-error","url":"https://img.example.com/c.jpg","body":{"type":"ok","status_code":200}},
 {"age":10,"type":"network-error","url":"https://other.example.net/d.jpg","body":{"type":"dns.name_not_resolved"}},
 {"age":10,"type":"csp-violation","url":"https://img.example.com/","body":{}}
]`
	w := post(h, body, "application/reports+json", "https://img.example.com", "CF-IPCountry", "fr")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("NEL: %d %q", w.Code, w.Body.String())
	}
	if h.Counter("nel_reports") != 2 || h.Counter("dropped_nel_host") != 1 || h.Counter("dropped_nel_malformed") != 1 {
		t.Errorf("nel_reports %d nel_host %d nel_malformed %d", h.Counter("nel_reports"), h.Counter("dropped_nel_host"), h.Counter("dropped_nel_malformed"))
	}
	fa := gaugeMap(h.Aggregator().Flush(clk.t.Add(time.Minute), false), "fastly", "www")
	if fa["rum"]["rum_errors"] != 2 || fa["rum_fr"]["rum_errors"] != 2 {
		t.Errorf("fastly errors: %v", fa)
	}
	// A NEL body from an origin that is neither allowed nor a NEL host.
	if w := post(h, body, "application/reports+json", "https://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("NEL from another origin: %d", w.Code)
	}
}

// The script is served with the configured path and sample rate.
func TestScript(t *testing.T) {
	cfg := testConfig()
	cfg.Path = "/b"
	cfg.SampleRate = 0.25
	h, _ := newTestHandler(t, cfg)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/rum.js", nil))
	js := w.Body.String()
	if w.Code != 200 || !strings.Contains(js, `ENDPOINT_PATH = "/b", SAMPLE_RATE = 0.25`) || !strings.Contains(js, "sendBeacon") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("rum.js: %d %s", w.Code, fmt.Sprint(w.Header()))
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/anything?x=<script>", nil))
	if w.Code != http.StatusNotFound || w.Body.Len() != 0 {
		t.Errorf("unknown path: %d %q", w.Code, w.Body.String())
	}
}

// One IPv6 client holds a whole /64 (SLAAC privacy addresses, any host
// on a routed prefix): a limit per full address would let it send as many
// beacons per second as it picks addresses. The limit holds per /64.
func TestRateLimitPerIPv6Prefix(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBeaconsPerSecond = 2
	h, _ := newTestHandler(t, cfg)
	body := `{"provider":"fastly","ttfb_ms":20}`
	codes := []int{}
	for i := 1; i <= 4; i++ {
		req := httptest.NewRequest(http.MethodPost, "/rum", strings.NewReader(body))
		req.RemoteAddr = fmt.Sprintf("[2001:db8:1:2::%x]:443", i) // one /64, four addresses
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", page)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		codes = append(codes, w.Code)
	}
	want := []int{204, 204, 429, 429}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	// Another /64 has its own budget, and an IPv4 client its own.
	req := httptest.NewRequest(http.MethodPost, "/rum", strings.NewReader(body))
	req.RemoteAddr = "[2001:db8:1:3::1]:443"
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", page)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 204 {
		t.Errorf("other /64: %d, want 204", w.Code)
	}
	if got := h.Counter("dropped_rate_limited"); got != 2 {
		t.Errorf("dropped_rate_limited %d, want 2", got)
	}
}

// Parts of a beacon dropped for their values are logged (once a minute
// per reason), not only counted: nothing is dropped silently.
func TestDroppedValuesLogged(t *testing.T) {
	var buf strings.Builder
	clk := &fixedClock{t: time.Unix(1700000040, 0)}
	h := New(testConfig(), WithLogger(slog.New(slog.NewTextHandler(&buf, nil))), WithClock(clk.now))
	body := `{"ttfb_ms":20}` + "\n" +
		`{"provider":"fastly","ttfb_ms":120001}` + "\n" +
		`{"provider":"fastly","download_ms":5,"size":-1}` + "\n" +
		`{"provider":"fastly","download_ms":0.000001,"size":10000000000}`
	if w := post(h, body, "text/plain", page); w.Code != 204 {
		t.Fatalf("code %d", w.Code)
	}
	for _, c := range []string{"dropped_no_provider", "dropped_timing", "dropped_size", "dropped_throughput"} {
		if h.Counter(c) != 1 {
			t.Errorf("%s = %d, want 1", c, h.Counter(c))
		}
		if !strings.Contains(buf.String(), "counter=rum."+c) {
			t.Errorf("%s counted but not logged:\n%s", c, buf.String())
		}
	}
}
