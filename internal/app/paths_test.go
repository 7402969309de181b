package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFastly serves GET /service (the list in *listing) and GET
// /stats/service/{id} (one minute, pathTestMinute, whose requests are
// requests[id]).
// pathTestMinute is a whole minute an hour ago: inside Fastly's retention,
// which the emitter's clock guard enforces.
var pathTestMinute = time.Now().Add(-time.Hour).Truncate(time.Minute).Unix()

func fakeFastly(t *testing.T, listing *atomic.Value, requests map[string]int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /service", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, listing.Load().(string))
	})
	mux.HandleFunc("GET /stats/service/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"success","msg":null,"data":[{"start_time":%d,"requests":%d}]}`, pathTestMinute, requests[r.PathValue("id")])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runEnv(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	return code, out.String(), errb.String()
}

func fastlyEnv(k string) string {
	if k == "FASTLY_API_TOKEN" {
		return secret
	}
	return ""
}

// Two discovered Fastly services whose names give the same path node
// ("www" and "WWW") must not write the same series. The one seen first
// (b2, alone in the first listing) keeps cdn.fastly.www for good, also
// after a restart when a1 — whose id sorts first — appears: a1 gets
// cdn.fastly.www_a1, is reported once and counted.
func TestDiscoveredPathClashDisambiguatedAndStableAcrossRestart(t *testing.T) {
	var listing atomic.Value
	listing.Store(`[{"id":"b2","name":"www","version":1}]`)
	srv := fakeFastly(t, &listing, map[string]int{"a1": 10, "b2": 20})
	fc := newFakeCarbon(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nspool_max_bytes = 0\n[fastly]\napi_url = %q\nrt_url = %q\nregions = []\n",
		filepath.Join(dir, "state"), fc.ln.Addr().String(), srv.URL, srv.URL)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	collect := func() string {
		code, out, errs := runEnv(t, fastlyEnv, "collect", "--config", cfg, "--from", strconv.FormatInt(pathTestMinute, 10), "--to", strconv.FormatInt(pathTestMinute+60, 10))
		if code != 0 {
			t.Fatalf("collect exit %d: %s %s", code, out, errs)
		}
		return errs
	}
	waitFor := func(line string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !fc.has(line) {
			if time.Now().After(deadline) {
				fc.mu.Lock()
				defer fc.mu.Unlock()
				t.Fatalf("carbon never got %q; got:\n%s", line, strings.Join(fc.lines, "\n"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	collect()
	waitFor(fmt.Sprintf("cdn.fastly.www.all.requests 20 %d", pathTestMinute))

	// A restart (a new process reads state) with a1 listed too, first.
	listing.Store(`[{"id":"a1","name":"WWW","version":1},{"id":"b2","name":"www","version":1}]`)
	for run := 0; run < 2; run++ {
		fc.mu.Lock()
		fc.lines = nil
		fc.mu.Unlock()
		logs := collect()
		waitFor(fmt.Sprintf("cdn.fastly.www.all.requests 20 %d", pathTestMinute))
		waitFor(fmt.Sprintf("cdn.fastly.www_a1.all.requests 10 %d", pathTestMinute))
		waitFor("cdn.cdnmetrics.collector.fastly.path_clashes 1 ")
		if fc.has("cdn.fastly.www.all.requests 10 ") {
			t.Fatal("a1's requests were written over b2's path")
		}
		if n := strings.Count(logs, "clashes with another service's Graphite path"); n != 1 {
			t.Fatalf("clash logged %d times, want once:\n%s", n, logs)
		}
	}
}

// validate refuses configured services whose names give one path, in every
// section that names services: fastly (new) and cloudflare (already).
func TestValidateRefusesConfiguredPathClash(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`state_dir = %q
[graphite]
address = "127.0.0.1:2003"
prefix = "cdn"
[fastly]
[[fastly.service]]
id = "S1"
name = "www.prod"
[[fastly.service]]
id = "S2"
name = "www prod"
[[fastly.service]]
id = "S3"
name = "WWW_PROD"
[[fastly.service]]
id = "S4"
[cloudflare]
token_env = "FASTLY_API_TOKEN"
[[cloudflare.zone]]
id = "z1"
name = "shop"
[[cloudflare.zone]]
id = "z2"
name = "SHOP"
`, filepath.Join(dir, "state"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runEnv(t, fastlyEnv, "validate", "--config", cfg)
	if code != 2 {
		t.Fatalf("validate exit %d, want 2:\n%s", code, errs)
	}
	for _, want := range []string{"fastly.service[1].name", "fastly.service[2].name", "cloudflare.zone[1].name"} {
		if !strings.Contains(errs, want) {
			t.Errorf("validate does not name %s:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, ": fastly.service[0].name:") || strings.Contains(errs, "fastly.service[3]") {
		t.Errorf("the first of the clashing names, or the unnamed service, is blamed:\n%s", errs)
	}
}
