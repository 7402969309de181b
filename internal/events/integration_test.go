package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/events"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
)

type webEvent struct {
	When int64    `json:"when"`
	What string   `json:"what"`
	Data string   `json:"data"`
	Tags []string `json:"tags"`
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, body)
	}
}

// eventsByData returns the events tagged deploy and run that graphite-web
// holds, by data. The run tag is filtered here, not in the query:
// graphite-web 1.1.8 drops a tag it has never seen from the filter, so
// tags=deploy+<new tag> returns every deploy event until the first event
// with <new tag> exists.
func eventsByData(t *testing.T, web, run string) map[string]webEvent {
	var evs []webEvent
	getJSON(t, web+"/events/get_data?tags=deploy&from=-1h", &evs)
	out := map[string]webEvent{}
	for _, e := range evs {
		if contains(e.Tags, run) {
			if _, dup := out[e.Data]; dup {
				t.Errorf("event %q posted twice", e.Data)
			}
			out[e.Data] = e
		}
	}
	return out
}

// renderValues returns timestamp → value of the first series of target.
func renderValues(t *testing.T, web, target string, from, until int64) map[int64]float64 {
	var series []struct {
		Target     string              `json:"target"`
		Datapoints [][]json.RawMessage `json:"datapoints"`
	}
	q := url.Values{"target": {target}, "format": {"json"}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}}
	getJSON(t, web+"/render?"+q.Encode(), &series)
	out := map[int64]float64{}
	if len(series) == 0 {
		return out
	}
	for _, dp := range series[0].Datapoints {
		if len(dp) != 2 || string(dp[0]) == "null" {
			continue
		}
		v, err1 := strconv.ParseFloat(string(dp[0]), 64)
		ts, err2 := strconv.ParseInt(string(dp[1]), 10, 64)
		if err1 == nil && err2 == nil {
			out[ts] = v
		}
	}
	return out
}

func poll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRealGraphiteWeb posts events to a real graphite-web: one queued while
// graphite-web is unreachable, one while it is up; both must be returned by
// /events/get_data and drawn by drawAsInfinite(events('deploy')), and the
// metric form must be drawn by drawAsInfinite(<prefix>.events.deploy.<tag>).
func TestRealGraphiteWeb(t *testing.T) {
	srv := graphitetest.Start(t)

	// A port that refuses connections now; graphite-web appears on it
	// later through a proxy (the queue is per URL, so the URL must stay).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	p, err := events.New(config.Events{GraphiteWebURLs: []string{"http://" + addr}, Tags: []string{"cdnmetrics"}},
		t.TempDir(), func(string) string { return "" },
		events.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		events.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// Past seconds: get_data does not return events in the future. run
	// tags this test's events apart from others in the same graphite-web.
	now := time.Now().Unix()
	run := fmt.Sprintf("run%d", time.Now().UnixNano())
	queuedAt, liveAt := now-120, now-60
	_, res, err := p.Send(context.Background(), events.Event{What: "deploy", Tags: []string{"deploy", "svc1", run}, Data: "queued-while-down", When: time.Unix(queuedAt, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered() || res.Pending() != 1 {
		t.Fatalf("graphite-web unreachable, yet: %s", res)
	}

	target, _ := url.Parse(srv.WebURL)
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	proxy := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go proxy.Serve(l2)
	defer proxy.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	poll(t, "the queued event in graphite-web", 15*time.Second, func() bool {
		_, ok := eventsByData(t, srv.WebURL, run)["queued-while-down"]
		return ok
	})
	if err := p.PostEvent(ctx, events.Event{What: "deploy", Tags: []string{"deploy", run}, Data: "posted-live", When: time.Unix(liveAt, 0)}); err != nil {
		t.Fatal(err)
	}
	got := eventsByData(t, srv.WebURL, run)
	for data, when := range map[string]int64{"queued-while-down": queuedAt, "posted-live": liveAt} {
		e, ok := got[data]
		if !ok {
			t.Fatalf("event %q not in get_data: %+v", data, got)
		}
		if e.When != when || e.What != "deploy" || !contains(e.Tags, "deploy") || !contains(e.Tags, "cdnmetrics") {
			t.Errorf("event %q = %+v, want when %d, what deploy, tags with deploy and cdnmetrics", data, e, when)
		}
	}
	if len(got) != 2 {
		t.Errorf("graphite-web holds %d deploy events, want 2 (no duplicates)", len(got))
	}

	// events() is a 1-second-step series: value 1 at each event second
	// (the sum of the events in that second: other tests' deploys may
	// share it, so the exact check uses this run's tag). Polled: under
	// load a render right after get_data has shown only the first event.
	var vals map[int64]float64
	poll(t, "drawAsInfinite(events('deploy')) to draw both events", 15*time.Second, func() bool {
		vals = renderValues(t, srv.WebURL, "drawAsInfinite(events('deploy'))", now-300, now)
		return vals[queuedAt] >= 1 && vals[liveAt] >= 1
	})
	poll(t, "drawAsInfinite(events('deploy', run)) to draw both events", 15*time.Second, func() bool {
		vals = renderValues(t, srv.WebURL, "drawAsInfinite(events('deploy','"+run+"'))", now-300, now)
		return vals[queuedAt] >= 1 && vals[liveAt] >= 1
	})
	if vals[queuedAt] != 1 || vals[liveAt] != 1 || len(vals) != 2 {
		t.Errorf("drawAsInfinite(events('deploy','%s')) = %v; want 1 at %d and %d only", run, vals, queuedAt, liveAt)
	}

	// The metric form through carbon's plaintext port.
	ev := events.Event{What: "deploy", Tags: []string{"deploy", "svc1"}, When: time.Unix(liveAt, 0)}
	conn, err := net.Dial("tcp", srv.CarbonAddr)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, pt := range events.MetricPoints("cdn", ev) {
		fmt.Fprintf(&b, "%s %g %d\n", pt.Path, pt.Value, pt.Time)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	// Whisper's first archive has 10 s steps: the point lands in the
	// bucket liveAt - liveAt%10.
	bucket := liveAt - liveAt%10
	poll(t, "the metric form in whisper", 10*time.Second, func() bool {
		return renderValues(t, srv.WebURL, "drawAsInfinite(cdn.events.deploy.svc1)", now-300, now)[bucket] == 1
	})
	// Another metric of the same write: carbon promises no order across
	// metrics, so it is polled too.
	poll(t, "cdn.events.deploy.all = 1 in the bucket", 10*time.Second, func() bool {
		return renderValues(t, srv.WebURL, "cdn.events.deploy.all", now-300, now)[bucket] == 1
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
