package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// fakeWeb is a stand-in for graphite-web's POST /events/: it records every
// accepted body and answers with status (200 with an empty body by
// default, as graphite-web 1.1.8 does).
type fakeWeb struct {
	*httptest.Server
	mu       sync.Mutex
	got      []record
	auth     []string
	status   atomic.Int32
	attempts atomic.Int32
}

func newFakeWeb(t testing.TB) *fakeWeb {
	f := &fakeWeb{}
	f.status.Store(200)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.attempts.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/events/" {
			http.Error(w, "wrong "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		st := int(f.status.Load())
		if st != 200 {
			if st >= 300 && st < 400 {
				w.Header().Set("Location", "https://elsewhere.example/events/")
			}
			w.WriteHeader(st)
			return
		}
		var rec record
		if err := json.Unmarshal(body, &rec); err != nil {
			http.Error(w, "not json", 500) // graphite-web answers 500 here
			return
		}
		f.mu.Lock()
		f.got = append(f.got, rec)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.WriteHeader(200)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeWeb) events() []record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]record(nil), f.got...)
}

func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newPoster(t *testing.T, dir string, cfg config.Events, opts ...Option) *Poster {
	t.Helper()
	opts = append([]Option{WithLogger(quietLogger(io.Discard)), WithTimeout(2 * time.Second), WithBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)
	p, err := New(cfg, dir, func(k string) string {
		if k == "GW_PASS" {
			return "s3cr3t-pass"
		}
		return ""
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func queueLen(t *testing.T, p *Poster, i int) int {
	t.Helper()
	files, err := queued(p.targets[i].dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPostEventReachesEveryURLWithTagsAndAuth(t *testing.T) {
	a, b := newFakeWeb(t), newFakeWeb(t)
	p := newPoster(t, t.TempDir(), config.Events{
		GraphiteWebURLs: []string{a.URL, b.URL + "/"},
		Tags:            []string{"cdnmetrics"},
		Username:        "gw", PasswordEnv: "GW_PASS",
	})
	when := time.Unix(1795381779, 700_000_000) // sub-second part is dropped
	if err := p.PostEvent(context.Background(), Event{What: "deploy", Tags: []string{"deploy", "svc1 prod", "deploy"}, Data: "v123", When: when}); err != nil {
		t.Fatal(err)
	}
	want := record{What: "deploy", Tags: []string{"deploy", "svc1", "prod", "cdnmetrics"}, Data: "v123", When: 1795381779}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("gw:s3cr3t-pass"))
	for i, f := range []*fakeWeb{a, b} {
		got := f.events()
		if len(got) != 1 {
			t.Fatalf("web %d got %d events, want 1", i, len(got))
		}
		if fmt.Sprint(got[0]) != fmt.Sprint(want) {
			t.Errorf("web %d got %+v, want %+v", i, got[0], want)
		}
		if f.auth[0] != wantAuth {
			t.Errorf("web %d auth %q", i, f.auth[0])
		}
		if n := queueLen(t, p, i); n != 0 {
			t.Errorf("queue %d has %d files after 2xx, want 0", i, n)
		}
	}
}

func TestDownURLKeepsEventUntilRunDelivers(t *testing.T) {
	up, down := newFakeWeb(t), newFakeWeb(t)
	down.status.Store(503)
	dir := t.TempDir()
	p := newPoster(t, dir, config.Events{GraphiteWebURLs: []string{up.URL, down.URL}})
	if err := p.PostEvent(context.Background(), Event{What: "deploy", Tags: []string{"deploy"}, When: time.Unix(1000, 0)}); err != nil {
		t.Fatalf("PostEvent must succeed once queued: %v", err)
	}
	if len(up.events()) != 1 || queueLen(t, p, 0) != 0 {
		t.Fatal("the healthy graphite-web did not get the event")
	}
	if queueLen(t, p, 1) != 1 {
		t.Fatal("event for the failing graphite-web was not kept")
	}
	res := p.Drain(context.Background())
	if res.Delivered() || res.Pending() != 1 || res.URLs[1].Err == nil || !strings.Contains(res.URLs[1].Err.Error(), "503") {
		t.Fatalf("Drain while down: %+v", res)
	}
	if !strings.Contains(res.String(), "NOT DELIVERED 1") {
		t.Errorf("result text does not say what is pending: %q", res.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	down.status.Store(200)
	waitFor(t, "retry by Run", func() bool { return len(down.events()) == 1 })
	waitFor(t, "queue emptied", func() bool { return queueLen(t, p, 1) == 0 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
	if len(up.events()) != 1 {
		t.Errorf("healthy web got %d events, want exactly 1 (no re-post)", len(up.events()))
	}
}

func TestQueueSurvivesRestartAndClosedPort(t *testing.T) {
	// Reserve a port, close it: connections are refused, as with a
	// graphite-web that is down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := config.Events{GraphiteWebURLs: []string{"http://" + addr}}
	p := newPoster(t, dir, cfg)
	ev, res, err := p.Send(context.Background(), Event{What: "deploy", Tags: []string{"deploy"}, Data: "v1", When: time.Unix(2000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered() || res.Pending() != 1 || ev.When.Unix() != 2000 {
		t.Fatalf("send to closed port: %+v %+v", ev, res)
	}

	// graphite-web comes back on the same address; a new process (new
	// Poster on the same directory) delivers the queued event.
	f := newFakeWeb(t)
	f.Close()
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	srv := &http.Server{Handler: f.Config.Handler}
	go srv.Serve(l2)
	defer srv.Close()
	p2 := newPoster(t, dir, cfg)
	res = p2.Drain(context.Background())
	if !res.Delivered() || res.URLs[0].Sent != 1 {
		t.Fatalf("drain after restart: %+v", res)
	}
	if got := f.events(); len(got) != 1 || got[0].Data != "v1" || got[0].When != 2000 {
		t.Fatalf("delivered %+v", got)
	}
}

func TestRejectedEventMovedAsideNotBlocking(t *testing.T) {
	f := newFakeWeb(t)
	f.status.Store(400)
	p := newPoster(t, t.TempDir(), config.Events{GraphiteWebURLs: []string{f.URL}})
	_ = p.PostEvent(context.Background(), Event{What: "bad"})
	if queueLen(t, p, 0) != 0 {
		t.Fatal("a 400 must not stay at the head of the queue")
	}
	rej, _ := queued(filepath.Join(p.targets[0].dir, "rejected"))
	if len(rej) != 1 {
		t.Fatalf("rejected/ holds %d files, want 1", len(rej))
	}
	f.status.Store(200)
	res := p.Drain(context.Background())
	_ = p.PostEvent(context.Background(), Event{What: "good"})
	if len(f.events()) != 1 || f.events()[0].What != "good" || !res.Delivered() {
		t.Fatalf("later event not delivered: %+v", f.events())
	}
}

func TestNotRemovedWithoutA2xx(t *testing.T) {
	for _, st := range []int{302, 401, 404, 500} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			f := newFakeWeb(t)
			f.status.Store(int32(st))
			var log strings.Builder
			p := newPoster(t, t.TempDir(), config.Events{GraphiteWebURLs: []string{f.URL}, Username: "u", PasswordEnv: "GW_PASS"}, WithLogger(quietLogger(&log)))
			_, res, err := p.Send(context.Background(), Event{What: "deploy"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Delivered() || res.Pending() != 1 || queueLen(t, p, 0) != 1 {
				t.Fatalf("status %d: %+v", st, res)
			}
			if msg := res.String() + log.String(); strings.Contains(msg, "s3cr3t-pass") || !strings.Contains(log.String(), "kept queued") {
				t.Fatalf("password in result or log, or failure not logged: %s", msg)
			}
		})
	}
}

func TestConnectionDroppedMidAnswerKeepsEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer srv.Close()
	p := newPoster(t, t.TempDir(), config.Events{GraphiteWebURLs: []string{srv.URL}})
	_, res, _ := p.Send(context.Background(), Event{What: "deploy"})
	if res.Delivered() || queueLen(t, p, 0) != 1 {
		t.Fatalf("%+v", res)
	}
}

func TestTwoPostersSharingAQueueDeliverOnce(t *testing.T) {
	f := newFakeWeb(t)
	dir := t.TempDir()
	cfg := config.Events{GraphiteWebURLs: []string{f.URL}}
	f.status.Store(503)
	p1, p2 := newPoster(t, dir, cfg), newPoster(t, dir, cfg)
	const n = 20
	for i := range n {
		if _, err := p1.Enqueue(Event{What: "deploy", Data: fmt.Sprint(i), When: time.Unix(int64(1000+i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	f.status.Store(200)
	var wg sync.WaitGroup
	for _, p := range []*Poster{p1, p2, p1, p2} {
		wg.Add(1)
		go func() { defer wg.Done(); p.Drain(context.Background()) }()
	}
	wg.Wait()
	got := f.events()
	if len(got) != n {
		t.Fatalf("graphite-web got %d events, want %d (each exactly once)", len(got), n)
	}
	for i, r := range got { // queue order is enqueue order
		if r.Data != fmt.Sprint(i) {
			t.Fatalf("event %d is %q: order lost", i, r.Data)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  config.Events
		want string
	}{
		{"no urls", config.Events{}, "graphite_web_urls is empty"},
		{"creds in url", config.Events{GraphiteWebURLs: []string{"http://u:hunter2@127.0.0.1:1"}}, "credentials in the URL"},
		{"scheme", config.Events{GraphiteWebURLs: []string{"ftp://127.0.0.1"}}, "scheme"},
		{"unset password env", config.Events{GraphiteWebURLs: []string{"http://127.0.0.1:1"}, Username: "u", PasswordEnv: "NOPE"}, "NOPE"},
		{"password without user", config.Events{GraphiteWebURLs: []string{"http://127.0.0.1:1"}, PasswordEnv: "GW_PASS"}, "username is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, t.TempDir(), func(k string) string {
				if k == "GW_PASS" {
					return "x"
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("err = %v, want it to contain %q and no password", err, c.want)
			}
		})
	}
}

func TestOrphanQueueReported(t *testing.T) {
	dir := t.TempDir()
	old := newFakeWeb(t)
	old.status.Store(503)
	p := newPoster(t, dir, config.Events{GraphiteWebURLs: []string{old.URL}})
	_, _ = p.Enqueue(Event{What: "deploy"})
	var log strings.Builder
	other := newFakeWeb(t)
	newPoster(t, dir, config.Events{GraphiteWebURLs: []string{other.URL}}, WithLogger(quietLogger(&log)))
	if !strings.Contains(log.String(), "no longer configured") || !strings.Contains(log.String(), "pending=1") {
		t.Fatalf("orphan queue not reported: %s", log.String())
	}
}

func TestEnqueueNeedsWhatAndDefaultsWhen(t *testing.T) {
	f := newFakeWeb(t)
	now := time.Unix(1795381779, 0)
	p := newPoster(t, t.TempDir(), config.Events{GraphiteWebURLs: []string{f.URL}}, WithClock(func() time.Time { return now }))
	if _, err := p.Enqueue(Event{What: "  "}); err == nil {
		t.Fatal("event without what accepted")
	}
	ev, err := p.Enqueue(Event{What: "deploy"})
	if err != nil || ev.When.Unix() != 1795381779 {
		t.Fatalf("%v %v", ev, err)
	}
	entries, _ := os.ReadDir(p.targets[0].dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".lock" {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestMetricPoints(t *testing.T) {
	ev := Event{What: "deploy", Tags: []string{"deploy", "prod.eu", "svc1 svc1"}, When: time.Unix(1795381779, 0)}
	got := MetricPoints("ops.cdn", ev)
	want := []string{"ops.cdn.events.deploy.deploy", "ops.cdn.events.deploy.prod_eu", "ops.cdn.events.deploy.svc1", "ops.cdn.events.deploy.all"}
	if len(got) != len(want) {
		t.Fatalf("got %d points %+v, want %d", len(got), got, len(want))
	}
	for i, p := range got {
		if p.Path != want[i] || p.Value != 1 || p.Time != 1795381779 {
			t.Errorf("point %d = %+v, want %s 1 1795381779", i, p, want[i])
		}
	}
}
