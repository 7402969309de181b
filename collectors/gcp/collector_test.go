package gcp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/gcp/gcpsim"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

const simT0 = 1767225600 // 2026-01-01T00:00:00Z

// faultySim serves gcpsim's stand-in, except that fault may answer a
// timeSeries.list request itself (returning true).
func faultySim(t *testing.T, m *traffic.Model, now time.Time, fault func(w http.ResponseWriter, r *http.Request, n int64) bool) (*Collector, *atomic.Int64) {
	t.Helper()
	h, _ := simulate.Handler(simulate.Options{Model: m, Only: []string{provider}, Now: func() time.Time { return now }})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/timeSeries") {
			n := calls.Add(1)
			if fault != nil && fault(w, r, n) {
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	section, err := gcpsim.Config(srv.URL+"/"+provider, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := decodeSection(t, section)
	c, err := build(o, collectors.Env{}, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000), httpx.WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestPagesCountedAndPermissionDenied(t *testing.T) {
	m := traffic.Default(2)
	now := time.Unix(simT0+3600, 0)
	w := collectors.Window{Start: time.Unix(simT0, 0), End: time.Unix(simT0+20*60, 0)}
	c, calls := faultySim(t, m, now, nil)
	rec := &collectorstest.Recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	// 3 url maps × 4 continents × 20 minutes × 3..6 groups: over
	// MaxPagePoints (300) for each metric, so every metric took pages.
	if n := calls.Load(); n < 8 {
		t.Fatalf("%d timeSeries.list calls for 4 metrics: no page boundary", n)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(gcpsim.Expect(m, w)))

	// A 403 on a later page: an error naming the vendor, the call and
	// Google's message, no access token, and nothing emitted for the
	// window (groups missing from a page would read as zeros).
	c, _ = faultySim(t, m, now, func(w http.ResponseWriter, r *http.Request, n int64) bool {
		if n < 3 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":403,"message":"Permission monitoring.timeSeries.list denied (or the resource may not exist).","status":"PERMISSION_DENIED"}}`))
		return true
	})
	rec = &collectorstest.Recorder{}
	err := c.Collect(context.Background(), w, rec)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"gcp", "timeSeries.list", "HTTP 403", "Permission monitoring.timeSeries.list denied"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "ya29.") {
		t.Errorf("error holds an access token: %v", err)
	}
	if len(rec.Records()) != 0 {
		t.Errorf("%d records emitted from an incomplete window", len(rec.Records()))
	}
}

// Without [[gcp.backend]] every url map with traffic is collected under
// its own name; shards and --service pick among them.
func TestDiscoveredURLMapsAndSelection(t *testing.T) {
	m := traffic.Default(4)
	now := time.Unix(simT0+3600, 0)
	w := collectors.Window{Start: time.Unix(simT0, 0), End: time.Unix(simT0+3*60, 0)}
	c, _ := faultySim(t, m, now, nil)
	c.backends = nil
	c.env.Include = func(id, name string) bool { return id != "api-map" }
	if err := c.SelectServices([]string{"www-map", "api-map"}); err != nil {
		t.Fatal(err)
	}
	rec := &collectorstest.Recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range collectorstest.Flatten(gcpsim.Expect(m, w)) {
		if strings.HasPrefix(l, "gcp www ") {
			want = append(want, strings.Replace(l, "gcp www ", "gcp www-map ", 1))
		}
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), want)
}

// Before the stand-in publishes a window, Collect says so (ErrNoData).
func TestNoDataYet(t *testing.T) {
	now := time.Unix(simT0+60, 0)
	c, _ := faultySim(t, traffic.Default(1), now, nil)
	err := c.Collect(context.Background(), collectors.Window{Start: time.Unix(simT0, 0), End: time.Unix(simT0+60, 0)}, &collectorstest.Recorder{})
	if !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

// A server (or a proxy in between) that echoes the request into its error
// body may encode it: the access token must not reach the error in any of
// the shapes internal/redact knows for registered secrets.
func TestEchoedTokenEncodedNotInError(t *testing.T) {
	m := traffic.Default(1)
	now := time.Unix(simT0+3600, 0)
	w := collectors.Window{Start: time.Unix(simT0, 0), End: time.Unix(simT0+3*60, 0)}
	var seen atomic.Value
	c, _ := faultySim(t, m, now, func(w http.ResponseWriter, r *http.Request, n int64) bool {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		seen.Store(tok)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":400,"message":"bad request; echo=` + base64.StdEncoding.EncodeToString([]byte(tok)) + `"}}`))
		return true
	})
	err := c.Collect(context.Background(), w, &collectorstest.Recorder{})
	if err == nil {
		t.Fatal("no error")
	}
	tok, _ := seen.Load().(string)
	if tok == "" {
		t.Fatal("no token sent")
	}
	if b64 := base64.StdEncoding.EncodeToString([]byte(tok)); strings.Contains(err.Error(), b64[:len(b64)-4]) {
		t.Errorf("error holds the access token, base64-encoded: %v", err)
	}
}

// A server whose nextPageToken cycles (A, B, A, …) repeats itself just as
// one that answers the same token twice: the loop stops at the first
// token seen before, not after maxPages requests.
func TestCyclingPageTokenStops(t *testing.T) {
	m := traffic.Default(1)
	now := time.Unix(simT0+3600, 0)
	w := collectors.Window{Start: time.Unix(simT0, 0), End: time.Unix(simT0+3*60, 0)}
	c, calls := faultySim(t, m, now, func(w http.ResponseWriter, r *http.Request, n int64) bool {
		next := "A"
		if r.URL.Query().Get("pageToken") == "A" {
			next = "B"
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"timeSeries":[],"nextPageToken":"` + next + `"}`))
		return true
	})
	err := c.Collect(context.Background(), w, &collectorstest.Recorder{})
	if err == nil || !strings.Contains(err.Error(), "nextPageToken") {
		t.Fatalf("err = %v, want a repeated nextPageToken", err)
	}
	// Pages: "" → A, A → B, B → A (seen): three requests.
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// A point skipped for its shape (an interval that is not one aligned
// minute) is a value lost: logged and counted in rejected_values, as the
// impossible values are.
func TestBadPointsCounted(t *testing.T) {
	m := traffic.Default(1)
	now := time.Unix(simT0+3600, 0)
	w := collectors.Window{Start: time.Unix(simT0, 0), End: time.Unix(simT0+3*60, 0)}
	c, _ := faultySim(t, m, now, func(w http.ResponseWriter, r *http.Request, n int64) bool {
		w.Header().Set("Content-Type", "application/json")
		if !strings.Contains(r.URL.Query().Get("filter"), `"loadbalancing.googleapis.com/https/request_count"`) {
			_, _ = w.Write([]byte(`{}`))
			return true
		}
		_, _ = w.Write(pageOf(
			ts("request_count", "web-map", "HIT", "200", "", pt("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", `{"int64Value":"30"}`)),
			ts("request_count", "web-map", "MISS", "200", "", pt("2026-01-01T00:00:30Z", "2026-01-01T00:01:30Z", `{"int64Value":"4"}`)),
		))
		return true
	})
	counted := map[string]int{}
	c.env.Clock = collectors.Clock{Now: func() time.Time { return now }, Reject: func(reason string, n int) { counted[reason] += n }}
	if err := c.Collect(context.Background(), w, &collectorstest.Recorder{}); err != nil {
		t.Fatal(err)
	}
	if counted[collectors.RejectedValues] != 1 {
		t.Errorf("counted %v, want %s: 1", counted, collectors.RejectedValues)
	}
}
