package azuresim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

func serve(t *testing.T, now time.Time) *httptest.Server {
	mux := http.NewServeMux()
	Serve(mux, simulate.Env{Model: traffic.Default(0), Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func token(t *testing.T, srv *httptest.Server) string {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID}, "client_secret": {collectors.SimSecret}, "scope": {Scope}}
	resp, err := http.PostForm(srv.URL+TokenPath(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v %+v", err, tok)
	}
	return tok.AccessToken
}

func get(t *testing.T, srv *httptest.Server, tok, query string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, srv.URL+ResourceID("www")+"/providers/Microsoft.Insights/metrics?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The stand-in answers as Azure does where the collector depends on it:
// a filter on a dimension a metric lacks is a 400, a split without top
// gives at most 10 series, empty average buckets are timestamp-only, and
// a request without a valid token is a 401.
func TestStandInBehavesLikeAzure(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	srv := serve(t, now)
	tok := token(t, srv)
	base := "api-version=2023-10-01&metricnamespace=Microsoft.Cdn%2Fprofiles&interval=PT1M&timespan=2026-03-02T14:30:00Z%2F2026-03-02T15:00:00Z"
	if code, body := get(t, srv, tok, base+"&metricnames=ByteHitRatio&aggregation=Average&$filter=HttpStatusGroup%20eq%20%27*%27"); code != 400 || !strings.Contains(body, "does not support requested dimension") {
		t.Fatalf("ByteHitRatio split by HttpStatusGroup: %d %s", code, body)
	}
	code, body := get(t, srv, tok, base+"&metricnames=ByteHitRatio&aggregation=Average")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	// 14:30 to 14:57 are published; 14:58 and 14:59 end within Lag of now.
	if !strings.Contains(body, `{"average":`) || !strings.Contains(body, `{"timeStamp":"2026-03-02T14:59:00Z"}`) {
		t.Fatalf("no timestamp-only bucket for the unprocessed minute: %s", body)
	}
	series := func(top string) int {
		code, body := get(t, srv, tok, base+"&metricnames=RequestCount&aggregation=Total&$filter=ClientRegion%20eq%20%27*%27%20and%20HttpStatusGroup%20eq%20%27*%27"+top)
		var a struct {
			Value []struct {
				Timeseries []json.RawMessage `json:"timeseries"`
			} `json:"value"`
		}
		if err := json.Unmarshal([]byte(body), &a); code != 200 || err != nil || len(a.Value) != 1 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		return len(a.Value[0].Timeseries)
	}
	// Only combinations with requests are answered, at most top of them
	// (Azure's default: 10).
	all, def, three := series("&top=1000"), series(""), series("&top=3")
	if all < 4 || def != min(all, 10) || three != 3 {
		t.Fatalf("%d series with top=1000, %d without top, %d with top=3", all, def, three)
	}
	if code, _ := get(t, srv, "not-a-token", base+"&metricnames=RequestCount&aggregation=Total"); code != 401 {
		t.Fatalf("unknown token: %d", code)
	}
}

// FuzzParseRequest feeds arbitrary query strings to the stand-in's
// request parser, which faces whatever a client sends the simulator.
func FuzzParseRequest(f *testing.F) {
	f.Add("api-version=2023-10-01&metricnamespace=Microsoft.Cdn%2Fprofiles&metricnames=RequestCount,ResponseSize&timespan=2025-01-15T10:00:00Z/2025-01-15T10:03:00Z&interval=PT1M&aggregation=Total&$filter=HttpStatusGroup%20eq%20%27*%27%20and%20Endpoint%20eq%20%27a.b%27&top=1000")
	f.Add("api-version=2023-10-01&metricnames=ByteHitRatio&timespan=x/y&interval=PT1M&aggregation=Average&$filter=%27")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		req, err := parseRequest(v)
		if err == nil && (len(req.metrics) == 0 || !req.start.Before(req.end) || req.top < 1) {
			t.Fatalf("accepted %+v", req)
		}
	})
}
