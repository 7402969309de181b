package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
)

// clock is a settable clock for the tracker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                       { return c.t }
func (c *clock) set(start time.Time, d time.Duration) { c.t = start.Add(d) }

func mustSchedule(t *testing.T, spec string) Collector {
	t.Helper()
	s, err := scheduler.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return Collector{Name: "fastly", Schedule: s, Spec: spec}
}

var connected = Sink{Connected: true}

// A scheduled collector that never succeeded is measured from the start:
// healthy for twice its period, then unhealthy with a reason.
func TestScheduledCollectorNeverRanIsUnhealthyAfterTwoPeriods(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	tr := NewTracker(start, clk.now, []Collector{mustSchedule(t, "@every 1m")})

	clk.set(start, 2*time.Minute-time.Second)
	if r := tr.Check(connected); r.Status != "ok" || !r.Collectors["fastly"].OK || r.Collectors["fastly"].LastSuccess != nil {
		t.Fatalf("1m59s after start: %+v, want ok with no last success", r)
	}
	clk.set(start, 2*time.Minute)
	r := tr.Check(connected)
	c := r.Collectors["fastly"]
	if r.Status != "unhealthy" || c.OK || !c.Deadline.Equal(start.Add(2*time.Minute)) {
		t.Fatalf("2m after start: status %q ok %v deadline %v, want unhealthy at deadline %v", r.Status, c.OK, c.Deadline, start.Add(2*time.Minute))
	}
	if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], "fastly: no successful run since the daemon started at 2026-03-02T10:00:00Z") {
		t.Fatalf("reasons %q", r.Reasons)
	}
}

// After a success the collector stays healthy for twice its period from
// that success, whatever failed in between; the last error is said.
func TestScheduledCollectorHealthyWithinTwicePeriodOfLastSuccess(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	tr := NewTracker(start, clk.now, []Collector{mustSchedule(t, "@every 5m")})
	clk.set(start, 5*time.Minute+20*time.Second)
	tr.Record("fastly", nil)
	clk.set(start, 10*time.Minute+20*time.Second)
	tr.Record("fastly", errors.New("fastly: 503 from the stats API"))
	tr.Record("fastly", context.Canceled) // shutdown: neither success nor failure

	success := start.Add(5*time.Minute + 20*time.Second)
	clk.t = success.Add(10*time.Minute - time.Second)
	r := tr.Check(connected)
	if c := r.Collectors["fastly"]; r.Status != "ok" || c.LastSuccess == nil || !c.LastSuccess.Equal(success) || c.LastError != "fastly: 503 from the stats API" {
		t.Fatalf("9m59s after the success: %+v", r)
	}
	clk.t = success.Add(10 * time.Minute)
	r = tr.Check(connected)
	c := r.Collectors["fastly"]
	if r.Status != "unhealthy" || c.OK {
		t.Fatalf("10m after the success: %+v, want unhealthy", r)
	}
	want := "no successful run since 2026-03-02T10:05:20Z; two scheduled runs (@every 5m) have come due; last error: fastly: 503 from the stats API"
	if c.Reason != want {
		t.Fatalf("reason %q, want %q", c.Reason, want)
	}
	clk.t = success.Add(11 * time.Minute)
	tr.Record("fastly", nil)
	if r := tr.Check(connected); r.Status != "ok" {
		t.Fatalf("after a new success: %+v", r)
	}
}

// A weekday schedule is not unhealthy over the weekend: two runs must have
// come due.
func TestCalendarScheduleCountsRunsNotHours(t *testing.T) {
	fri := time.Date(2026, 3, 6, 9, 0, 30, 0, time.Local) // a Friday
	clk := &clock{t: fri}
	tr := NewTracker(fri.Add(-time.Hour), clk.now, []Collector{mustSchedule(t, "0 9 * * 1-5")})
	tr.Record("fastly", nil)
	clk.t = time.Date(2026, 3, 9, 12, 0, 0, 0, time.Local) // Monday noon: one run missed
	if r := tr.Check(connected); r.Status != "ok" {
		t.Fatalf("Monday noon: %+v", r)
	}
	clk.t = time.Date(2026, 3, 10, 9, 0, 0, 0, time.Local) // Tuesday's run due: two missed
	if r := tr.Check(connected); r.Status != "unhealthy" {
		t.Fatalf("Tuesday 09:00: %+v", r)
	}
}

// A stream is healthy while a batch got through within StreamGrace; a
// batch the sink refused is no success.
func TestStreamHealthyWhileBatchesGoThrough(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	tr := NewTracker(start, clk.now, []Collector{{Name: "fastly"}})
	var fail bool
	e := tr.Emitter("fastly", collectors.EmitterFunc(func(context.Context, collectors.Batch) error {
		if fail {
			return errors.New("sink closed")
		}
		return nil
	}))
	clk.set(start, 90*time.Second)
	if err := e.Emit(context.Background(), collectors.Batch{}); err != nil {
		t.Fatal(err)
	}
	fail = true
	clk.set(start, 3*time.Minute)
	if err := e.Emit(context.Background(), collectors.Batch{}); err == nil {
		t.Fatal("the emitter swallowed the error")
	}
	clk.set(start, 90*time.Second+StreamGrace-time.Millisecond)
	if r := tr.Check(connected); r.Status != "ok" || r.Collectors["fastly"].Kind != "stream" {
		t.Fatalf("within the grace: %+v", r)
	}
	clk.set(start, 90*time.Second+StreamGrace)
	r := tr.Check(connected)
	if c := r.Collectors["fastly"]; r.Status != "unhealthy" || !strings.HasPrefix(c.Reason, "no batch delivered since 2026-03-02T10:01:30Z (more than 2m0s); last error: sink closed") {
		t.Fatalf("past the grace: %+v", r)
	}
}

func TestSinkRule(t *testing.T) {
	cases := []struct {
		name  string
		sink  Sink
		ok    bool
		state string
	}{
		{"connected", Sink{Connected: true, SpoolMaxBytes: 10}, true, "connected"},
		{"connected, spool full from before", Sink{Connected: true, SpoolBytes: 10, SpoolMaxBytes: 10}, true, "connected"},
		{"spooling below the limit", Sink{SpoolBytes: 9, SpoolMaxBytes: 10, CarbonError: "dial tcp: connection refused"}, true, "spooling"},
		{"spool at its limit", Sink{SpoolBytes: 10, SpoolMaxBytes: 10}, false, "spool_full"},
		{"spool refusing", Sink{SpoolBytes: 1, SpoolMaxBytes: 10, SpoolError: "no space left on device"}, false, "spool_refusing"},
		{"no spool, disconnected", Sink{CarbonError: "dial tcp: connection refused"}, false, "disconnected"},
	}
	start := time.Now()
	for _, c := range cases {
		tr := NewTracker(start, func() time.Time { return start }, nil)
		r := tr.Check(c.sink)
		if r.Sink.OK != c.ok || r.Sink.State != c.state || (r.Status == "ok") != c.ok {
			t.Errorf("%s: status %q sink %+v, want ok=%v state %q", c.name, r.Status, r.Sink, c.ok, c.state)
		}
		if !c.ok && (len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], "sink: not connected to carbon")) {
			t.Errorf("%s: reasons %q", c.name, r.Reasons)
		}
	}
}

// /healthz answers 200 or 503 with the report as JSON.
func TestHealthzStatusAndJSON(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: start.Add(time.Minute)}
	tr := NewTracker(start, clk.now, []Collector{mustSchedule(t, "@every 1m")})
	sink := Sink{SpoolMaxBytes: 100}
	h := Handler(Source{Tracker: tr, Sink: func() Sink { return sink }})
	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body is not JSON: %v\n%s", err, rec.Body)
		}
		return rec.Code, body
	}
	code, body := get()
	if code != http.StatusOK || body["status"] != "ok" || body["sink"].(map[string]any)["state"] != "spooling" {
		t.Fatalf("%d %v", code, body)
	}
	fastly := body["collectors"].(map[string]any)["fastly"].(map[string]any)
	if fastly["ok"] != true || fastly["last_success"] != nil || fastly["deadline"] != "2026-03-02T10:02:00Z" || fastly["kind"] != "scheduled" {
		t.Fatalf("collector %v", fastly)
	}
	if _, ok := body["reasons"]; ok {
		t.Fatalf("reasons present when ok: %v", body)
	}
	sink.SpoolBytes = 100
	clk.t = start.Add(3 * time.Minute)
	code, body = get()
	reasons, _ := body["reasons"].([]any)
	if code != http.StatusServiceUnavailable || body["status"] != "unhealthy" || len(reasons) != 2 {
		t.Fatalf("%d %v", code, body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

// /healthz is served over HTTP: an error that carried a credential is
// reported without it.
func TestHealthzRedactsErrors(t *testing.T) {
	start := time.Now()
	tr := NewTracker(start, time.Now, []Collector{mustSchedule(t, "@every 1m")})
	tr.Record("fastly", errors.New(`GET https://api.example/stats?api_key=s3cretKey1234567 failed`))
	h := Handler(Source{Tracker: tr, Sink: func() Sink { return Sink{CarbonError: "dial https://carbon:pa55word99@10.0.0.1: refused"} }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	body := rec.Body.String()
	if strings.Contains(body, "s3cretKey1234567") || strings.Contains(body, "pa55word99") || !strings.Contains(body, "api.example/stats") {
		t.Fatalf("secret in /healthz or error gone:\n%s", body)
	}
}
