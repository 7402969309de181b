package hook

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClockFixture(t *testing.T, dir string, clk *clock, window time.Duration) *fixture {
	t.Helper()
	f := &fixture{rec: &recorder{}, log: &bytes.Buffer{}, dir: dir}
	h, err := New(config.Hook{SecretEnv: "S", MaxBodyBytes: 4096, DedupeWindow: config.Duration(window)},
		func(string) string { return secret }, dir, f.rec.cb,
		WithLogger(slog.New(slog.NewTextHandler(f.log, nil))), WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// TestSameBodyWithoutIDDeduplicated: a body without a delivery id posted
// twice within dedupe_window (10 minutes here) makes one event, also across
// a restart; after the window the same deploy is a new event.
func TestSameBodyWithoutIDDeduplicated(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: now}
	f := newClockFixture(t, dir, clk, 10*time.Minute)
	body := []byte(`{"what":"deploy","tags":"deploy svc1","data":"v42"}`)
	signed := map[string]string{"X-Hub-Signature-256": sign(body, secret)}
	bearer := map[string]string{"Authorization": "Bearer " + secret}

	if code, msg := f.do(t, "POST", body, signed); code != 202 {
		t.Fatalf("first post: %d %q", code, msg)
	}
	clk.add(9 * time.Minute)
	// The same content, other credentials and other white space: a repeat.
	spaced := []byte("{ \"what\": \"deploy\",\n \"tags\": \"deploy svc1\", \"data\": \"v42\" }")
	if code, msg := f.do(t, "POST", spaced, bearer); code != 200 || !strings.Contains(msg, "ignored") || f.rec.n() != 1 {
		t.Fatalf("repeat within the window: %d %q, events %d (want 200 ignored, 1 event)", code, msg, f.rec.n())
	}
	// Other content is another event.
	if code, _ := f.do(t, "POST", []byte(`{"what":"deploy","tags":"deploy svc2"}`), bearer); code != 202 || f.rec.n() != 2 {
		t.Fatalf("other body: %d, events %d", code, f.rec.n())
	}

	// Restart within the window: still a repeat.
	f2 := newClockFixture(t, dir, clk, 10*time.Minute)
	if code, _ := f2.do(t, "POST", body, signed); code != 200 || f2.rec.n() != 0 {
		t.Fatalf("repeat after restart: %d, events %d", code, f2.rec.n())
	}

	// The window counts from the first delivery: past it, a new event.
	clk.add(time.Minute + time.Second)
	if code, msg := f2.do(t, "POST", body, signed); code != 202 || f2.rec.n() != 1 {
		t.Fatalf("same deploy after the window: %d %q, events %d (want 202, 1)", code, msg, f2.rec.n())
	}
}

// TestDedupeFailedCallbackAndOff: a delivery whose callback failed is not
// remembered (the retry is accepted), and dedupe_window = 0 turns the
// deduplication off.
func TestDedupeFailedCallbackAndOff(t *testing.T) {
	clk := &clock{t: now}
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	body := []byte(`{"what":"deploy"}`)
	f := newClockFixture(t, t.TempDir(), clk, 10*time.Minute)
	f.rec.fail = errors.New("queue full")
	if code, _ := f.do(t, "POST", body, bearer); code != 500 {
		t.Fatalf("failed callback: %d", code)
	}
	f.rec.fail = nil
	if code, _ := f.do(t, "POST", body, bearer); code != 202 || f.rec.n() != 1 {
		t.Fatalf("retry after a failed callback: %d, events %d", code, f.rec.n())
	}

	off := newClockFixture(t, t.TempDir(), clk, 0)
	for i := 0; i < 2; i++ {
		if code, _ := off.do(t, "POST", body, bearer); code != 202 {
			t.Fatalf("dedupe off, post %d: %d", i+1, code)
		}
	}
	if off.rec.n() != 2 {
		t.Fatalf("dedupe off: %d events, want 2", off.rec.n())
	}
}

// TestSameContentInAnotherKeyOrderDeduplicated: a JSON object means the
// same whatever the order of its keys (or how a string is escaped): a
// script re-posting the deploy through another JSON encoder is a repeat.
// Different values, or the same keys nested differently, stay apart.
func TestSameContentInAnotherKeyOrderDeduplicated(t *testing.T) {
	clk := &clock{t: now}
	f := newClockFixture(t, t.TempDir(), clk, 10*time.Minute)
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	if code, msg := f.do(t, "POST", []byte(`{"what":"deploy","tags":"deploy svc1","data":"v42 by ci"}`), bearer); code != 202 {
		t.Fatalf("first post: %d %q", code, msg)
	}
	for _, body := range []string{
		`{"data":"v42 by ci","tags":"deploy svc1","what":"deploy"}`,
		`{"tags":"deploy svc1","data":"v42 by \u0063i","what":"deploy"}`,
	} {
		if code, msg := f.do(t, "POST", []byte(body), bearer); code != 200 || !strings.Contains(msg, "ignored") || f.rec.n() != 1 {
			t.Errorf("%s: %d %q, events %d (want 200 ignored, 1 event)", body, code, msg, f.rec.n())
		}
	}
	if code, _ := f.do(t, "POST", []byte(`{"data":"v43 by ci","tags":"deploy svc1","what":"deploy"}`), bearer); code != 202 || f.rec.n() != 2 {
		t.Errorf("other value: %d, events %d (want 202, 2)", code, f.rec.n())
	}
}

// TestContentKeyIgnoresKeyOrder: the key itself, for bodies a hand-written
// canonical form would get wrong — nested arrays keep their order, numbers
// keep their text.
func TestContentKeyIgnoresKeyOrder(t *testing.T) {
	same := func(a, b string) bool { return contentKey("", []byte(a)) == contentKey("", []byte(b)) }
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[{"x":1,"y":2}]}`, `{"b":[{"y":2,"x":1}],"a":1}`, true},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{`{"a":1}`, `{"a":"1"}`, false},
		{`not json`, `not json`, true},
		{`not json`, `not  json`, false},
	} {
		if got := same(c.a, c.b); got != c.want {
			t.Errorf("%s vs %s: same key %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
