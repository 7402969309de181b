package akamai

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// Rows Akamai sends that cannot be placed — a cpcode or time5minutes that
// is not a whole positive number (a fractional time would be summed into
// the interval it truncates to), a class row without its class — are left
// out per row, counted in rejected_values and warned about once per run
// (not once per row); the good row of the same answer is written as sent.
func TestBadRowsCountedAndWarnedOnce(t *testing.T) {
	const start = 1736935200 // 2025-01-15T10:00:00Z
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "responseClass") {
			fmt.Fprintf(w, `{"metadata":{},"data":[
				{"time5minutes":%d,"cpcode":1,"responseClass":"2xx","edgeHitsSum":10},
				{"time5minutes":%d,"cpcode":1,"edgeHitsSum":3}]}`, start, start)
			return
		}
		fmt.Fprintf(w, `{"metadata":{},"data":[
			{"time5minutes":%d,"cpcode":1,"edgeHitsSum":10,"edgeBytesSum":1000},
			{"time5minutes":%d.5,"cpcode":1,"edgeHitsSum":7,"edgeBytesSum":700},
			{"time5minutes":%d,"cpcode":1.5,"edgeHitsSum":5,"edgeBytesSum":500},
			{"time5minutes":%d,"cpcode":"x","edgeHitsSum":5,"edgeBytesSum":500}]}`, start, start, start, start)
	}))
	defer srv.Close()
	pipe := collectorstest.NewPipe()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := &Collector{env: collectors.Env{Clock: pipe.Clock("akamai")}, base: srv.URL, logger: log,
		http: httpx.New("akamai", httpx.WithLogger(log)), codes: []CPCode{{ID: 1, Name: "www"}}}
	w := collectors.Window{Start: time.Unix(start, 0), End: time.Unix(start+300, 0)}
	if err := c.Collect(context.Background(), w, pipe.Emitter("akamai")); err != nil {
		t.Fatal(err)
	}
	lines := pipe.Lines(t)
	for path, want := range map[string]float64{
		fmt.Sprintf("cdn.akamai.www.all.requests@%d", start):   10,
		fmt.Sprintf("cdn.akamai.www.all.edge_bytes@%d", start): 1000,
		"cdn.cdnmetrics.collector.akamai.rejected_values":      4, // 3 traffic rows, 1 class row
	} {
		if got, ok := lines[path]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", path, got, ok, want)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "count=4") {
		t.Errorf("%d warnings, want 1 naming count=4:\n%s", n, logs.String())
	}
}
