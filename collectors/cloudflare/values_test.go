package cloudflare

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
)

// Through the real pipeline: one impossible value costs only its field
// (and what is derived from it), counted in rejected_values; a row stamped
// in 2100 is counted in rejected_future, not waved off as "outside the
// window" (issue 16 items 1, 15).
func TestCollectImpossibleValuesAndFutureRows(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":{"viewer":{"zones":[{"httpRequests1mGroups":[
			{"dimensions":{"datetimeMinute":"2019-09-08T20:00:00Z"},"sum":{"requests":100,"cachedRequests":9e15,"bytes":5000}},
			{"dimensions":{"datetimeMinute":"2019-09-08T20:01:00Z"},"sum":{"requests":50,"cachedRequests":20,"bytes":-7,
			 "responseStatusMap":[{"edgeResponseStatus":200,"requests":40},{"edgeResponseStatus":503,"requests":30}]}},
			{"dimensions":{"datetimeMinute":"2100-01-01T00:00:00Z"},"sum":{"requests":1}}
		]}]}},"errors":null}`)
	}))
	defer srv.Close()
	var logs strings.Builder
	pipe := collectorstest.NewPipe()
	o := defaultOptions()
	o.APIURL, o.TokenEnv, o.Zones = srv.URL, "CF_TOKEN", []Zone{{ID: "z1", Name: "www"}}
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Getenv: func(k string) string {
			if k == "CF_TOKEN" {
				return testToken
			}
			return ""
		},
		Clock: pipe.Clock("cloudflare"),
	}
	c, err := build(o, env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), sampleWindow(t), pipe.Emitter("cloudflare")); err != nil {
		t.Fatal(err)
	}
	got := pipe.Lines(t)
	const m0, m1 = "@1567972800", "@1567972860" // 20:00, 20:01
	for path, want := range map[string]float64{
		"cdn.cloudflare.www.all.requests" + m0:   100,
		"cdn.cloudflare.www.all.edge_bytes" + m0: 5000,
		"cdn.cloudflare.www.all.requests" + m1:   50,
		"cdn.cloudflare.www.all.hits" + m1:       20,
		"cdn.cloudflare.www.all.misses" + m1:     30,
	} {
		if v, ok := got[path]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", path, v, ok, want)
		}
	}
	for _, path := range []string{"cdn.cloudflare.www.all.hits" + m0, "cdn.cloudflare.www.all.misses" + m0, "cdn.cloudflare.www.all.edge_bytes" + m1} {
		if v, ok := got[path]; ok {
			t.Errorf("%s = %v emitted; it was impossible", path, v)
		}
	}
	// 20:00 hits (9e15 > 100 requests) and misses (100 - 9e15 < 0); 20:01
	// bytes, and its four status classes (40 + 30 > 50 requests).
	if v := got["cdn.cdnmetrics.collector.cloudflare.rejected_values"]; v != 3+4 {
		t.Errorf("rejected_values = %v, want 7\n%s\n%s", v, pipe.Log(), logs.String())
	}
	if v, ok := got["cdn.cloudflare.www.all.status_2xx"+m1]; ok {
		t.Errorf("status_2xx = %v emitted; the classes exceed requests", v)
	}
	if v := got["cdn.cdnmetrics.collector.cloudflare.rejected_future"]; v != 1 {
		t.Errorf("rejected_future = %v, want 1\n%s", v, logs.String())
	}
	if l := logs.String(); !strings.Contains(l, "ahead of our clock") || strings.Contains(l, "skipped bad rows") {
		t.Errorf("log:\n%s", l)
	}
}
