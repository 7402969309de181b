package gcoresim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The stand-in refuses a missing or wrong key and another scheme, takes
// the APIKey scheme in any case, and answers the documented shape.
func TestStandInAuthAndShape(t *testing.T) {
	mux := http.NewServeMux()
	now := time.Unix(1767225600+3600, 0)
	Serve(mux, simulate.Env{Model: traffic.Default(1), Now: func() time.Time { return now }, Secret: func(string) string { return "k" }})
	q := url.Values{"service": {"CDN"}, "from": {"2026-01-01T00:00:00Z"}, "to": {"2026-01-01T00:10:00Z"}, "granularity": {"5m"},
		"metrics": {"requests,sent_bytes"}, "group_by": {"resource", "region"}, "resource": {"100001"}}
	for auth, want := range map[string]int{"": 401, "APIKey x": 401, "Bearer k": 401, "APIKey k": 200, "apikey k": 200} {
		req := httptest.NewRequest(http.MethodGet, SeriesPath+"?"+q.Encode(), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: HTTP %d, want %d", auth, rec.Code, want)
		}
		if want == 200 && !strings.HasPrefix(rec.Body.String(), `{"resource":{"100001":{"region":{"asia":{"metrics":{"requests":[[1767225600,`) {
			t.Errorf("answer %.200s", rec.Body.String())
		}
	}
}

// FuzzParseSeriesRequest feeds arbitrary query strings to the stand-in's
// request parser, which faces whatever a client sends the simulator.
func FuzzParseSeriesRequest(f *testing.F) {
	f.Add("service=CDN&from=2026-01-01T00:00:00Z&to=2026-01-01T00:10:00Z&granularity=5m&metrics=requests,sent_bytes&group_by=resource&group_by=region&resource=100001")
	f.Add("service=CDN&from=2026-01-01T00:10:00Z&to=2026-01-01T00:00:00Z&granularity=2m&metrics=")
	f.Add("service=CDN&from=x&resource=abc")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := ParseSeriesRequest(q)
		if err == nil && (!req.From.Before(req.To) || req.Step <= 0 || len(req.Metrics) == 0 || (req.To.Unix()-req.From.Unix())/req.Step > MaxBuckets) {
			t.Fatalf("accepted %+v", req)
		}
	})
}
