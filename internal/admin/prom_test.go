package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/pipeline"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// The text exposition format 0.0.4, line by line.
var (
	metricName = `[a-zA-Z_:][a-zA-Z0-9_:]*`
	helpLine   = regexp.MustCompile(`^# HELP (` + metricName + `) (.*)$`)
	typeLine   = regexp.MustCompile(`^# TYPE (` + metricName + `) (counter|gauge|histogram|summary|untyped)$`)
	sampleLine = regexp.MustCompile(`^(` + metricName + `)(?:\{(.*)\})? (\S+)(?: (-?[0-9]+))?$`)
	labelPair  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"`)
)

// parseExposition checks text against the format's rules and returns
// every sample as name{labels} -> value.
func parseExposition(t *testing.T, text string) map[string]float64 {
	t.Helper()
	if text != "" && !strings.HasSuffix(text, "\n") {
		t.Fatalf("exposition does not end with a newline")
	}
	samples := map[string]float64{}
	types := map[string]string{}
	done := map[string]bool{} // families whose samples ended: they may not come back
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		switch {
		case strings.HasPrefix(line, "# HELP "):
			if helpLine.FindStringSubmatch(line) == nil {
				t.Fatalf("line %d: bad HELP: %q", n, line)
			}
		case strings.HasPrefix(line, "# TYPE "):
			m := typeLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: bad TYPE: %q", n, line)
			}
			if _, dup := types[m[1]]; dup {
				t.Fatalf("line %d: second TYPE for %s", n, m[1])
			}
			if done[m[1]] || current == m[1] {
				t.Fatalf("line %d: TYPE for %s after its samples", n, m[1])
			}
			if m[2] == "counter" && !strings.HasSuffix(m[1], "_total") {
				t.Fatalf("line %d: counter %s does not end in _total", n, m[1])
			}
			types[m[1]] = m[2]
		case strings.HasPrefix(line, "#") || line == "":
			t.Fatalf("line %d: unexpected %q", n, line)
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: not a sample: %q", n, line)
			}
			name := m[1]
			if _, ok := types[name]; !ok {
				t.Fatalf("line %d: sample of %s without a TYPE before it", n, name)
			}
			if name != current {
				if done[name] {
					t.Fatalf("line %d: samples of %s are not together", n, name)
				}
				if current != "" {
					done[current] = true
				}
				current = name
			}
			labels := m[2]
			for rest := labels; rest != ""; {
				lp := labelPair.FindString(rest)
				if lp == "" {
					t.Fatalf("line %d: bad labels %q", n, labels)
				}
				rest = strings.TrimPrefix(rest[len(lp):], ",")
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil && m[3] != "+Inf" && m[3] != "-Inf" && m[3] != "NaN" {
				t.Fatalf("line %d: value %q: %v", n, m[3], err)
			}
			key := name
			if labels != "" {
				key += "{" + labels + "}"
			}
			if _, dup := samples[key]; dup {
				t.Fatalf("line %d: series %s twice", n, key)
			}
			samples[key] = v
		}
	}
	return samples
}

// statsSink records what it is sent and reports fixed stats.
type statsSink struct {
	st   graphite.Stats
	sent int
}

func (s *statsSink) Send(_ context.Context, pts []schema.Point) error { s.sent += len(pts); return nil }
func (s *statsSink) Flush(context.Context) error                      { return nil }
func (s *statsSink) Close(context.Context) error                      { return nil }
func (s *statsSink) Stats() graphite.Stats                            { return s.st }
func (s *statsSink) SelfPoints(prefix string, now time.Time) []schema.Point {
	return s.st.SelfPoints(prefix, now)
}

// /metrics is the pipeline's self-metrics, in the exposition format, with
// the values the test put there.
func TestMetricsArePipelineSelfMetrics(t *testing.T) {
	sink := &statsSink{st: graphite.Stats{SentPoints: 41, SendErrors: 3, SpoolBytes: 1234, Connected: true}}
	p := pipeline.New(pipeline.Options{Prefix: "cdn.prod", Sink: sink})
	ts := time.Now().Add(-time.Minute).Unix()
	emit := func(name string, n int) {
		var pts []schema.Point
		for i := range n {
			pts = append(pts, schema.Point{Path: fmt.Sprintf("cdn.prod.x.%s.%d", name, i), Value: 1, Time: ts})
		}
		if err := p.Emitter(name).Emit(context.Background(), collectors.Batch{Points: pts}); err != nil {
			t.Fatal(err)
		}
	}
	emit("fastly", 3)
	emit("fastly", 4)
	emit("akamai", 2)
	if sink.sent != 9 {
		t.Fatalf("the sink got %d points, want 9", sink.sent)
	}
	before := time.Now().Unix()
	p.Record("fastly", scheduler.Result{Err: errors.New("boom"), Duration: 1500 * time.Millisecond})
	p.Record("fastly", scheduler.Result{Err: errors.New("boom")})
	p.Record("akamai", scheduler.Result{Duration: 250 * time.Millisecond})
	after := time.Now().Unix()

	tr := NewTracker(time.Now(), time.Now, nil)
	h := Handler(Source{Tracker: tr, Prefix: "cdn.prod", SelfPoints: p.SelfPoints, Sink: func() Sink { return Sink{} }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	got := parseExposition(t, rec.Body.String())
	want := map[string]float64{
		`cdnmetrics_collector_points_total{collector="fastly"}`:   7,
		`cdnmetrics_collector_points_total{collector="akamai"}`:   2,
		`cdnmetrics_collector_failures_total{collector="fastly"}`: 2,
		`cdnmetrics_collector_failures_total{collector="akamai"}`: 0,
		`cdnmetrics_collector_run_seconds{collector="akamai"}`:    0.25,
		`cdnmetrics_sink_sent_points_total`:                       41,
		`cdnmetrics_sink_send_errors_total`:                       3,
		`cdnmetrics_sink_spool_bytes`:                             1234,
		`cdnmetrics_sink_connected`:                               1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v\n%s", k, g, ok, v, rec.Body)
		}
	}
	ls, ok := got[`cdnmetrics_collector_last_success_timestamp_seconds{collector="akamai"}`]
	if !ok || ls < float64(before) || ls > float64(after) {
		t.Errorf("akamai last success %v, want in [%d, %d]", ls, before, after)
	}
	if _, ok := got[`cdnmetrics_collector_last_success_timestamp_seconds{collector="fastly"}`]; ok {
		t.Errorf("fastly never succeeded but has a last success")
	}
	if !strings.Contains(rec.Body.String(), "# TYPE cdnmetrics_sink_spool_bytes gauge\n") ||
		!strings.Contains(rec.Body.String(), "# TYPE cdnmetrics_collector_points_total counter\n") {
		t.Errorf("types:\n%s", rec.Body)
	}
	// Every point the pipeline gives becomes exactly one sample.
	if n := len(p.SelfPoints(time.Now())); len(got) != n {
		t.Errorf("%d samples for %d self-metric points", len(got), n)
	}
}

// Names and label values the format does not take as they are are
// escaped; points outside <prefix>.cdnmetrics are left out; an unknown
// self-metric is untyped.
func TestMetricsEscapeAndUnknown(t *testing.T) {
	pts := []schema.Point{
		{Path: `cdn.cdnmetrics.collector.we"ird\name` + "\n" + `.points`, Value: 5},
		{Path: "cdn.cdnmetrics.collector.a-b.new-thing", Value: math.Inf(1)},
		{Path: "cdn.cdnmetrics.hook.rejected_future", Value: 2},
		{Path: "cdn.cdnmetrics.rum.dropped_origin", Value: 3},
		{Path: "cdn.fastly.www.all.requests", Value: 9},
		{Path: "cdnx.cdnmetrics.sink.sent_points", Value: 9},
	}
	var b bytes.Buffer
	if err := WriteMetrics(&b, "cdn", pts); err != nil {
		t.Fatal(err)
	}
	got := parseExposition(t, b.String())
	want := map[string]float64{
		`cdnmetrics_collector_points_total{collector="we\"ird\\name\n"}`: 5,
		`cdnmetrics_collector_new_thing{collector="a-b"}`:                math.Inf(1),
		`cdnmetrics_hook_rejected_future_total`:                          2,
		`cdnmetrics_rum_dropped_origin_total`:                            3,
	}
	if len(got) != len(want) {
		t.Fatalf("samples %v, want %v\n%s", got, want, b.String())
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v\n%s", k, got[k], v, b.String())
		}
	}
	if !strings.Contains(b.String(), "# TYPE cdnmetrics_collector_new_thing untyped\n") {
		t.Errorf("unknown metric not untyped:\n%s", b.String())
	}
}
