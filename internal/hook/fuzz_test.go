package hook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzGeneric feeds arbitrary bodies to the generic parser: it must never
// panic, and an accepted event must respect the limits.
func FuzzGeneric(f *testing.F) {
	for _, s := range []string{`{}`, `{"what":"deploy","tags":"a b","when":1795381779,"id":"x"}`,
		`{"tags":["a","b c"],"when":"2026-11-20T10:00:00Z","delivery_id":5}`, `{"when":1e400}`, `{"when":"NaN"}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, id, err := fromGeneric(body, now)
		if err != nil {
			return
		}
		checkEvent(t, ev.What, ev.Tags, ev.Data)
		if ev.When.Before(minWhen) || ev.When.After(now.Add(maxFuture)) {
			t.Fatalf("when %v out of range", ev.When)
		}
		_ = checkID(id)
	})
}

// FuzzGitHub feeds arbitrary payloads under each handled event type.
func FuzzGitHub(f *testing.F) {
	files, _ := filepath.Glob("testdata/github-*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), b)
		f.Add(uint8(1), b)
		f.Add(uint8(2), b)
	}
	kinds := []string{"deployment", "deployment_status", "push", "ping"}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		ev, ignore, err := fromGitHub(kinds[int(k)%len(kinds)], body, now)
		if err != nil || ignore != "" {
			return
		}
		checkEvent(t, ev.What, ev.Tags, ev.Data)
	})
}

func checkEvent(t *testing.T, what string, tags []string, data string) {
	t.Helper()
	if what == "" || len(what) > maxWhat || len(tags) == 0 || len(tags) > maxTags || len(data) > maxData {
		t.Fatalf("accepted event outside limits: what %q tags %d data %d", what, len(tags), len(data))
	}
	for _, tag := range tags {
		if tag == "" || strings.ContainsAny(tag, " \t\n") || !utf8.ValidString(tag) {
			t.Fatalf("bad tag %q", tag)
		}
	}
}

// FuzzHandler feeds arbitrary credentials, GitHub headers and bodies
// through the whole authenticated handler. It must never panic, never
// call back for a request that does not prove the secret (judged here
// independently: a right bearer token or a right HMAC, and nothing wrong
// presented), answer every request with one line, never show the secret,
// and answer within 3 s (a bound for a loaded machine; a parse takes
// microseconds).
func FuzzHandler(f *testing.F) {
	body := []byte(`{"what":"deploy","tags":"a b","id":"x"}`)
	gh, _ := os.ReadFile(filepath.Join("testdata", "github-deployment.json"))
	for _, s := range []struct {
		auth, sig, event, delivery string
		body                       []byte
	}{
		{"Bearer " + secret, "", "", "", body},
		{"", sign(body, secret), "", "", body},
		{"", sign(gh, secret), "deployment", "d-1", gh},
		{"Bearer wrong", "", "", "", body},
		{"Bearer " + secret, sign(body, "other"), "", "", body},
		{"Basic " + secret, "", "", "", body},
		{"", "sha256=", "", "", nil},
		{"", strings.ToUpper(sign(body, secret)), "push", "", body},
		{"Bearer  " + secret + " ", "", "ping", "", []byte(`{}`)},
	} {
		f.Add(s.auth, s.sig, s.event, s.delivery, s.body)
	}
	dir := f.TempDir()
	var calls int
	h, err := New(config.Hook{SecretEnv: "S", MaxBodyBytes: 4096, DedupeWindow: config.Duration(10 * time.Minute)},
		func(string) string { return secret }, dir,
		func(context.Context, schema.Event) error { calls++; return nil },
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(func() time.Time { return now }))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth, sig, event, delivery string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		for k, v := range map[string]string{"Authorization": auth, "X-Hub-Signature-256": sig, "X-GitHub-Event": event, "X-GitHub-Delivery": delivery} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		before := calls
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("answer took %v", d)
		}
		out := w.Body.String()
		if strings.Contains(out, secret) || strings.Count(strings.TrimSuffix(out, "\n"), "\n") != 0 {
			t.Fatalf("answer %q shows the secret or is not one line", out)
		}
		if !proves(auth, sig, body) {
			if calls != before || w.Code < 400 {
				t.Fatalf("unauthenticated request (auth %q sig %q) answered %d, callbacks %d", auth, sig, w.Code, calls-before)
			}
		}
		if calls != before && w.Code != http.StatusAccepted {
			t.Fatalf("callback called but answer %d", w.Code)
		}
	})
}

// proves is the fuzzer's own judgement of authentication, written apart
// from the handler's: every credential presented is right and there is one.
func proves(auth, sig string, body []byte) bool {
	presented := false
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		if strings.TrimSpace(tok) != secret {
			return false
		}
		presented = true
	}
	if sig != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		if !strings.EqualFold(sig, "sha256="+hex.EncodeToString(m.Sum(nil))) || !strings.HasPrefix(sig, "sha256=") {
			return false
		}
		presented = true
	}
	return presented
}
