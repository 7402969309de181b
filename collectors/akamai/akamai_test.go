package akamai

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/akamai/akamaisim"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The constructed v2 sample: CP code 123456 at 1736935200 has
// edgeHitsSum 120000, edgeBytesSum 9876543210, originHitsSum 3000,
// originBytesSum 123456789 and hitsOffloadedPercentage 97.5, which is
// (120000-3000)/120000 = 0.975: the request_offload the schema derives.
func TestTrafficSampleNormalisation(t *testing.T) {
	r, err := parseReport(collectorstest.ReadTestdata(t, "reporting-v2-traffic-current-response.constructed.json"))
	if err != nil {
		t.Fatal(err)
	}
	counts, skipped := trafficRows(r, map[int64]bool{123456: true, 654321: true})
	if len(skipped) != 0 || len(counts) != 4 {
		t.Fatalf("counts=%d skipped=%v", len(counts), skipped)
	}
	c := counts[key{123456, 1736935200}]
	for f, want := range map[schema.Field]float64{schema.Requests: 120000, schema.EdgeBytes: 9876543210, schema.OriginRequests: 3000, schema.OriginBytes: 123456789} {
		if v, ok := c.Get(f); !ok || v != want {
			t.Errorf("%s = %v, want %v", f, v, want)
		}
	}
	if c.Has(schema.Hits) || c.Has(schema.Misses) {
		t.Error("Akamai gives no cache hits/misses; they must stay unknown")
	}
	rec := schema.Record{Provider: "akamai", Service: "www", Location: "all", Start: 1736935200, Step: 300, Counts: *c}
	for _, p := range schema.Points("cdn", []schema.Record{rec}, nil) {
		if p.Path == "cdn.akamai.www.all.request_offload" && p.Value != 0.975 {
			t.Errorf("request_offload = %v, want 0.975 (Akamai's 97.5 %%)", p.Value)
		}
		if strings.HasSuffix(p.Path, "hit_ratio") {
			t.Error("hit_ratio emitted for Akamai")
		}
	}
	// Only configured CP codes are kept.
	if counts, _ := trafficRows(r, map[int64]bool{654321: true}); len(counts) != 2 {
		t.Fatalf("filter kept %d rows, want 2", len(counts))
	}
}

func TestBadRowsSkippedOthersKept(t *testing.T) {
	body := `{"data":[
	 {"time5minutes":1736935200,"cpcode":"1","edgeHitsSum":10},
	 {"time5minutes":"x","cpcode":"1","edgeHitsSum":10},
	 {"time5minutes":1736935201,"cpcode":"1","edgeHitsSum":10},
	 {"time5minutes":1736935500,"cpcode":1,"edgeHitsSum":-4},
	 {"time5minutes":1736935800,"cpcode":1,"edgeHitsSum":"12"}]}`
	r, err := parseReport([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	counts, skipped := trafficRows(r, map[int64]bool{1: true})
	if len(counts) != 3 || len(skipped) != 2 {
		t.Fatalf("counts=%d skipped=%v", len(counts), skipped)
	}
	// The row's impossible value is NaN, left for the pipeline's value check.
	if v, ok := counts[key{1, 1736935500}].Get(schema.Requests); !ok || !math.IsNaN(v) {
		t.Fatalf("negative edgeHitsSum: %v (known %v), want NaN", v, ok)
	}
	if v, _ := counts[key{1, 1736935800}].Get(schema.Requests); v != 12 {
		t.Fatalf("string-typed value: %v", v)
	}
	for _, bad := range []string{"<html>oops</html>", "", `{"data":`} {
		if _, err := parseReport([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// recorder keeps what a collector emits.
type recorder = collectorstest.Recorder

func simCollector(t *testing.T, now time.Time, wrapper func(http.Handler) http.Handler, secret string, logs *bytes.Buffer) (*Collector, *traffic.Model) {
	t.Helper()
	m := traffic.Default(1)
	mux := http.NewServeMux()
	akamaisim.Serve(mux, simulate.Env{Model: m, Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }})
	var h http.Handler = http.StripPrefix("/akamai", mux)
	if wrapper != nil {
		h = wrapper(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	text, err := akamaisim.Config(srv.URL+"/akamai", dir)
	if err != nil {
		t.Fatal(err)
	}
	if secret != collectors.SimSecret {
		rc := filepath.Join(dir, "akamai.edgerc")
		b, _ := os.ReadFile(rc)
		os.WriteFile(rc, bytes.Replace(b, []byte(collectors.SimSecret), []byte(secret), 1), 0o600)
	}
	var wrap struct{ Akamai *Options }
	wrap.Akamai = defaults()
	if err := decode(text, &wrap); err != nil {
		t.Fatal(err)
	}
	c, err := New(wrap.Akamai, collectors.Env{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func TestSignedCollectAgainstStandInEqualsExpect(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	c, m := simCollector(t, now, nil, collectors.SimSecret, &logs)
	w := collectors.Window{Start: now.Add(-time.Hour), End: now.Add(-30 * time.Minute)}
	var rec recorder
	if err := c.Collect(context.Background(), w, &rec); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	want := akamaisim.Expect(m, w)
	if len(want) != 18 || len(rec.Records()) != len(want) { // 6 intervals × 3 CP codes
		t.Fatalf("got %d records, want %d (18)", len(rec.Records()), len(want))
	}
	got := map[string]schema.Counts{}
	for _, r := range rec.Records() {
		got[fmt.Sprint(r.Service, r.Start)] = r.Counts
	}
	for _, r := range want {
		if got[fmt.Sprint(r.Service, r.Start)] != r.Counts {
			t.Fatalf("%s@%d differs", r.Service, r.Start)
		}
	}
}

func TestWrongSecretIsRejectedClearlyWithoutLeaking(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	c, _ := simCollector(t, now, nil, "not-the-secret-0123456789", &logs)
	err := c.Collect(context.Background(), collectors.Window{Start: now.Add(-time.Hour), End: now.Add(-30 * time.Minute)}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "signature does not match") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error()+logs.String(), "not-the-secret-0123456789") {
		t.Fatal("secret leaked")
	}
}

// 429 with Retry-After, then a problem+json 400 on the class call: the
// retry waits as told, the 400's title and detail reach the error, and the
// traffic already fetched is emitted.
func TestRateLimitAndProblemJSON(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var calls atomic.Int32
	fault := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch calls.Add(1) {
			case 1:
				w.Header().Set("Retry-After", "1")
				akamaisim.ProblemJSON(w, http.StatusTooManyRequests, "Too Many Requests", "rate limit exceeded")
			case 3:
				akamaisim.ProblemJSON(w, http.StatusBadRequest, "Bad Request", "Unknown dimension: responseClas")
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
	var logs bytes.Buffer
	c, m := simCollector(t, now, fault, collectors.SimSecret, &logs)
	w := collectors.Window{Start: now.Add(-time.Hour), End: now.Add(-50 * time.Minute)}
	var rec recorder
	start := time.Now()
	err := c.Collect(context.Background(), w, &rec)
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("Retry-After 1 s not honoured (took %v)", took)
	}
	if err == nil || !strings.Contains(err.Error(), "Bad Request: Unknown dimension: responseClas") || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("err = %v", err)
	}
	if len(rec.Records()) != len(akamaisim.Expect(m, w)) || len(rec.Records()) == 0 {
		t.Fatalf("traffic records %d, want %d kept despite the class error", len(rec.Records()), len(akamaisim.Expect(m, w)))
	}
	if rec.Records()[0].Has(schema.Status2xx) {
		t.Error("status classes set although their call failed")
	}
}
