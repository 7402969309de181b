package bunnysim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The stand-in answers in Bunny's shapes: charts keyed by hour, the
// current hour partial (what the model served until now), errors and
// origin traffic only with their load flags, 401 without the key.
func TestStandIn(t *testing.T) {
	m := traffic.Default(2)
	base := int64(1767225600)
	now := time.Unix(base+3600+900, 0) // 01:15
	mux := http.NewServeMux()
	Serve(mux, simulate.Env{Model: m, Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }})
	get := func(url, key string) (int, map[string]json.RawMessage) {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		r.Header.Set("AccessKey", key)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		var body map[string]json.RawMessage
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body
	}
	if code, _ := get("/statistics?hourly=true&dateFrom=2026-01-01T00:00:00Z&dateTo=2026-01-01T02:00:00Z", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", code)
	}
	code, body := get("/statistics?pullZone=65109&hourly=true&loadErrors=true&dateFrom=2026-01-01T00:00:00Z&dateTo=2026-01-01T05:00:00Z", collectors.SimSecret)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var req map[string]float64
	if err := json.Unmarshal(body["RequestsServedChart"], &req); err != nil {
		t.Fatal(err)
	}
	full := m.SumAll(0, base, base+3600).Requests
	part := m.SumAll(0, base+3600, base+3600+900).Requests
	if len(req) != 2 || req["2026-01-01T00:00:00Z"] != float64(full) || req["2026-01-01T01:00:00Z"] != float64(part) {
		t.Errorf("RequestsServedChart = %v, want 00:00 %d and partial 01:00 %d", req, full, part)
	}
	if _, ok := body["Error5xxChart"]; !ok {
		t.Error("no Error5xxChart with loadErrors=true")
	}
	if _, ok := body["OriginTrafficChart"]; ok {
		t.Error("OriginTrafficChart without loadOriginTraffic=true")
	}
	code, body = get("/pullzone?page=1&perPage=2", collectors.SimSecret)
	var items []struct{ Id int64 }
	_ = json.Unmarshal(body["Items"], &items)
	if code != http.StatusOK || len(items) != 2 || items[1].Id != FirstPullZoneID+1 || string(body["HasMoreItems"]) != "true" {
		t.Errorf("pull zones: %d %s", code, body)
	}
}

// FuzzParseDate: the stand-in's date parser faces whatever a client sends.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01", "2026-01-01T00:00:00+05:30", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := ParseDate(s); err == nil && tm.IsZero() && s != "0001-01-01" {
			t.Logf("%q → zero time", s)
		}
	})
}
