package hook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const secret = "hook-secret-do-not-leak-7f3a"

// now is the fixed clock of the tests: 2026-11-25T12:05:00Z.
var now = time.Date(2026, 11, 25, 12, 5, 0, 0, time.UTC)

type recorder struct {
	mu     sync.Mutex
	events []schema.Event
	fail   error
}

func (r *recorder) cb(_ context.Context, ev schema.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

type fixture struct {
	h   *Handler
	rec *recorder
	log *bytes.Buffer
	dir string
}

func newFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	f := &fixture{rec: &recorder{}, log: &bytes.Buffer{}, dir: dir}
	h, err := New(config.Hook{SecretEnv: "HOOK_SECRET", MaxBodyBytes: 4096},
		func(k string) string {
			if k == "HOOK_SECRET" {
				return secret
			}
			return ""
		}, dir, f.rec.cb,
		WithLogger(slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func sign(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (f *fixture) do(t *testing.T, method string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, Path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	out := w.Body.String()
	if strings.Contains(out, secret) || strings.Contains(f.log.String(), secret) {
		t.Fatalf("secret leaked: response %q log %q", out, f.log.String())
	}
	if strings.Count(strings.TrimSuffix(out, "\n"), "\n") != 0 {
		t.Errorf("response is not one line: %q", out)
	}
	return w.Code, out
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRejectionsChangeNothing(t *testing.T) {
	good := []byte(`{"what":"deploy","tags":"deploy svc1","id":"r-1"}`)
	cases := []struct {
		name   string
		method string
		body   []byte
		hdr    map[string]string
		code   int
		msg    string
	}{
		{"no credentials", "POST", good, nil, 401, "unauthorized"},
		{"wrong signature", "POST", good, map[string]string{"X-Hub-Signature-256": sign(good, "not-the-secret")}, 401, "signature does not match"},
		{"signature of another body", "POST", good, map[string]string{"X-Hub-Signature-256": sign([]byte(`{}`), secret)}, 401, "signature does not match"},
		{"signature not hex", "POST", good, map[string]string{"X-Hub-Signature-256": "sha256=zz"}, 401, "not sha256=<hex>"},
		{"sha1 scheme only", "POST", good, map[string]string{"X-Hub-Signature-256": "sha1=" + strings.Repeat("0", 40)}, 401, "not sha256=<hex>"},
		{"wrong bearer", "POST", good, map[string]string{"Authorization": "Bearer nope"}, 401, "wrong bearer"},
		{"secret prefix as bearer", "POST", good, map[string]string{"Authorization": "Bearer " + secret[:10]}, 401, "wrong bearer"},
		{"good bearer but bad signature", "POST", good, map[string]string{"Authorization": "Bearer " + secret, "X-Hub-Signature-256": sign(good, "x")}, 401, "signature"},
		{"basic auth is not ours", "POST", good, map[string]string{"Authorization": "Basic " + secret}, 401, "unauthorized"},
		{"GET", "GET", nil, map[string]string{"Authorization": "Bearer " + secret}, 405, "use POST"},
		{"PUT", "PUT", good, map[string]string{"Authorization": "Bearer " + secret}, 405, "use POST"},
		{"oversized", "POST", bytes.Repeat([]byte("x"), 4097), map[string]string{"Authorization": "Bearer " + secret}, 413, "larger than 4096"},
		{"malformed JSON", "POST", []byte(`{"what":`), map[string]string{"Authorization": "Bearer " + secret}, 400, "invalid JSON"},
		{"empty body", "POST", nil, map[string]string{"Authorization": "Bearer " + secret}, 400, "empty body"},
		{"unknown field", "POST", []byte(`{"what":"deploy","tag":"x"}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "unknown field"},
		{"two values", "POST", []byte(`{} {}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "more than one"},
		{"tags wrong type", "POST", []byte(`{"tags":5}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "tags"},
		{"when milliseconds", "POST", []byte(`{"when":1795381779000}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "milliseconds"},
		{"when garbage", "POST", []byte(`{"when":"yesterday"}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "neither epoch"},
		{"when far future", "POST", []byte(`{"when":"2027-01-01T00:00:00Z"}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "future"},
		{"when before 2000", "POST", []byte(`{"when":5}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "before 2000"},
		{"empty what", "POST", []byte(`{"what":" "}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "empty"},
		{"id with newline", "POST", []byte(`{"id":"a\nb"}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "delivery id"},
		{"ids differ", "POST", []byte(`{"id":"a","delivery_id":"b"}`), map[string]string{"Authorization": "Bearer " + secret}, 400, "differ"},
		{"github deployment without sha", "POST", []byte(`{"deployment":{}}`), map[string]string{"Authorization": "Bearer " + secret, "X-GitHub-Event": "deployment"}, 400, "deployment.sha"},
		{"github not JSON", "POST", []byte(`<xml/>`), map[string]string{"Authorization": "Bearer " + secret, "X-GitHub-Event": "push"}, 400, "invalid JSON"},
		{"github event not a name", "POST", []byte(`1`), map[string]string{"Authorization": "Bearer " + secret, "X-GitHub-Event": "push\nforged: line"}, 400, "not an event name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFixture(t, dir)
			code, msg := f.do(t, c.method, c.body, c.hdr)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", code, msg, c.code, c.msg)
			}
			if f.rec.n() != 0 {
				t.Fatalf("callback called %d times for a rejected request", f.rec.n())
			}
			if _, err := os.Stat(filepath.Join(dir, "deliveries")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("delivery id recorded for a rejected request")
			}
		})
	}
}

func TestGenericBodyAccepted(t *testing.T) {
	cases := []struct {
		name string
		body string
		want schema.Event
	}{
		{"defaults", `{}`, schema.Event{What: "deploy", Tags: []string{"deploy"}, When: now}},
		{"tag string, epoch when", `{"what":"deploy","tags":"deploy svc1","data":"v123","when":1795381779}`,
			schema.Event{What: "deploy", Tags: []string{"deploy", "svc1"}, Data: "v123", When: time.Unix(1795381779, 0)}},
		{"tag list, RFC 3339 when", `{"what":"cdn-config","tags":["cdn-config","fastly"],"when":"2026-11-20T10:00:00+01:00"}`,
			schema.Event{What: "cdn-config", Tags: []string{"cdn-config", "fastly"}, When: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}},
		{"fractional epoch string", `{"when":"1795381779.9"}`, schema.Event{What: "deploy", Tags: []string{"deploy"}, When: time.Unix(1795381779, 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			code, msg := f.do(t, "POST", []byte(c.body), map[string]string{"Authorization": "Bearer " + secret})
			if code != 202 || !strings.HasPrefix(msg, "accepted") {
				t.Fatalf("got %d %q", code, msg)
			}
			got := f.rec.events[0]
			if got.What != c.want.What || strings.Join(got.Tags, " ") != strings.Join(c.want.Tags, " ") || got.Data != c.want.Data || !got.When.Equal(c.want.When) {
				t.Fatalf("event %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSignatureAccepted(t *testing.T) {
	f := newFixture(t, t.TempDir())
	body := []byte(`{"what":"deploy","id":42}`)
	code, msg := f.do(t, "POST", body, map[string]string{"X-Hub-Signature-256": sign(body, secret)})
	if code != 202 || f.rec.n() != 1 {
		t.Fatalf("%d %q", code, msg)
	}
}

func TestReplayIgnoredAlsoAfterRestart(t *testing.T) {
	dir := t.TempDir()
	body := readFile(t, "github-deployment.json")
	hdr := map[string]string{"X-GitHub-Event": "deployment", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-Hub-Signature-256": sign(body, secret)}
	f := newFixture(t, dir)
	if code, msg := f.do(t, "POST", body, hdr); code != 202 {
		t.Fatalf("first delivery: %d %q", code, msg)
	}
	code, msg := f.do(t, "POST", body, hdr)
	if code != 200 || !strings.Contains(msg, "already received") || f.rec.n() != 1 {
		t.Fatalf("replay: %d %q, callbacks %d", code, msg, f.rec.n())
	}
	// A generic body's id is its own namespace and works the same way.
	gb := []byte(`{"what":"deploy","delivery_id":"ci-run-9"}`)
	ga := map[string]string{"Authorization": "Bearer " + secret}
	if code, _ := f.do(t, "POST", gb, ga); code != 202 {
		t.Fatal("generic first delivery refused")
	}

	// Restart: a new handler from the same state dir.
	f2 := newFixture(t, dir)
	if code, msg := f2.do(t, "POST", body, hdr); code != 200 || f2.rec.n() != 0 {
		t.Fatalf("replay after restart: %d %q, callbacks %d", code, msg, f2.rec.n())
	}
	if code, _ := f2.do(t, "POST", gb, ga); code != 200 || f2.rec.n() != 0 {
		t.Fatal("generic replay after restart accepted")
	}
	// A new delivery id is accepted.
	hdr["X-GitHub-Delivery"] = "another"
	if code, _ := f2.do(t, "POST", body, hdr); code != 202 || f2.rec.n() != 1 {
		t.Fatal("new delivery refused")
	}
}

func TestFailedCallbackDoesNotBurnTheID(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.rec.fail = errors.New("disk full")
	body := []byte(`{"id":"x1"}`)
	hdr := map[string]string{"Authorization": "Bearer " + secret}
	if code, msg := f.do(t, "POST", body, hdr); code != 500 || !strings.Contains(msg, "retry") {
		t.Fatalf("%d %q", code, msg)
	}
	f.rec.fail = nil
	if code, _ := f.do(t, "POST", body, hdr); code != 202 || f.rec.n() != 1 {
		t.Fatal("retry after a failed callback was not accepted")
	}
}

func TestReplaySetIsBoundedAndCompacts(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	h, err := New(config.Hook{SecretEnv: "S", MaxBodyBytes: 1024}, func(string) string { return secret }, dir, rec.cb,
		WithMaxDeliveries(3), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h, rec: rec, log: &bytes.Buffer{}}
	hdr := map[string]string{"Authorization": "Bearer " + secret}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		if code, _ := f.do(t, "POST", []byte(`{"id":"`+id+`"}`), hdr); code != 202 {
			t.Fatalf("id %s refused", id)
		}
	}
	// Bound 3: a..d were evicted, e,f,g remembered. The file was compacted
	// when it would exceed 2*3 lines: after a..f (6 lines) the 7th append
	// rewrites it with the 3 remembered ids.
	data, _ := os.ReadFile(filepath.Join(dir, "deliveries"))
	if got := string(data); got != "generic:e\ngeneric:f\ngeneric:g\n" {
		t.Fatalf("deliveries file %q", got)
	}
	if code, _ := f.do(t, "POST", []byte(`{"id":"g"}`), hdr); code != 200 {
		t.Fatal("remembered id accepted again")
	}
	if code, _ := f.do(t, "POST", []byte(`{"id":"a"}`), hdr); code != 202 {
		t.Fatal("evicted id not accepted")
	}
}

func TestGitHubPayloads(t *testing.T) {
	cases := []struct {
		file, kind string
		code       int
		what, tags string
		when       time.Time
		data       []string
	}{
		{"github-deployment.json", "deployment", 202, "deploy", "deploy production example-org/edge-site github",
			time.Date(2026, 11, 20, 10, 15, 30, 0, time.UTC), []string{"example-org/edge-site main@9b1c3f0e5d7a to production by release-bot: release 2026.11.3"}},
		{"github-deployment-status-success.json", "deployment_status", 202, "deploy", "deploy production example-org/edge-site github",
			time.Date(2026, 11, 20, 10, 21, 5, 0, time.UTC), []string{"main@9b1c3f0e5d7a", "release 2026.11.3", "https://ci.example.org/runs/77"}},
		{"github-deployment-status-in-progress.json", "deployment_status", 200, "", "", time.Time{}, nil},
		// pushed_at 1795608000 = 2026-11-25T12:00:00Z
		{"github-push.json", "push", 202, "deploy", "deploy example-org/edge-site github push main",
			time.Unix(1795608000, 0), []string{"example-org/edge-site refs/heads/main@2a3b4c5d6e7f by dana: Raise TTL of /static"}},
		{"github-push-deleted-tag.json", "push", 200, "", "", time.Time{}, nil},
		{"github-push.json", "ping", 200, "", "", time.Time{}, nil},
		{"github-push.json", "issues", 200, "", "", time.Time{}, nil},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.file, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			body := readFile(t, c.file)
			code, msg := f.do(t, "POST", body, map[string]string{"X-GitHub-Event": c.kind, "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": sign(body, secret)})
			if code != c.code {
				t.Fatalf("got %d %q, want %d", code, msg, c.code)
			}
			if c.code != 202 {
				if f.rec.n() != 0 || !strings.HasPrefix(msg, "ignored") {
					t.Fatalf("ignored delivery reached the callback or said %q", msg)
				}
				return
			}
			ev := f.rec.events[0]
			if ev.What != c.what || strings.Join(ev.Tags, " ") != c.tags || !ev.When.Equal(c.when) {
				t.Fatalf("event %+v", ev)
			}
			for _, d := range c.data {
				if !strings.Contains(ev.Data, d) {
					t.Errorf("data %q lacks %q", ev.Data, d)
				}
			}
		})
	}
}

func TestNewRefusesWithoutSecret(t *testing.T) {
	for _, cfg := range []config.Hook{{SecretEnv: ""}, {SecretEnv: "UNSET"}} {
		_, err := New(cfg, func(string) string { return "" }, t.TempDir(), func(context.Context, schema.Event) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "never runs unauthenticated") {
			t.Fatalf("cfg %+v: err %v", cfg, err)
		}
	}
}

// TestNewRefusesBlankSecret: a secret of white space only is as guessable
// as none.
func TestNewRefusesBlankSecret(t *testing.T) {
	_, err := New(config.Hook{SecretEnv: "HOOK_SECRET"}, func(string) string { return " \t\n" }, t.TempDir(), func(context.Context, schema.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "HOOK_SECRET") || !strings.Contains(err.Error(), "white space") {
		t.Fatalf("err %v, want a refusal naming HOOK_SECRET as white space", err)
	}
}

func TestServeRoutesAndShutsDown(t *testing.T) {
	f := newFixture(t, t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, l, f.h, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	base := "http://" + l.Addr().String()
	req, _ := http.NewRequest("POST", base+Path, strings.NewReader(`{"what":"deploy"}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("hook answered %d", resp.StatusCode)
	}
	resp, err = http.Post(base+"/other", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("other path answered %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}

// TestREADMEOpenSSLSignature checks the README's curl example: the
// signature below was computed with
// printf '%s' "$body" | openssl dgst -sha256 -hmac k3y | awk '{print $NF}'.
func TestREADMEOpenSSLSignature(t *testing.T) {
	rec := &recorder{}
	h, err := New(config.Hook{SecretEnv: "S", MaxBodyBytes: 1 << 20}, func(string) string { return "k3y" }, t.TempDir(), rec.cb,
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"what":"deploy","tags":["deploy","svc1"],"data":"v123","id":"ci-run-4711"}`
	req := httptest.NewRequest("POST", Path, strings.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256=9a860a71d09047c1b59eb1124eeb9f9ba4cb196c422a64ceb0bfe0d91681e81a")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 202 || rec.n() != 1 || rec.events[0].Data != "v123" {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}
