package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGraphiteWeb answers compare's and graph's requests like graphite-web
// 1.1 and, when user is set, only with that basic auth (401 otherwise, as
// graphite-web behind an authenticating proxy does).
type fakeGraphiteWeb struct {
	user, pass string
	renderJSON string // /render?format=json answer
	pngBody    string // /render?format=png answer

	mu       sync.Mutex
	requests []*http.Request
}

func (g *fakeGraphiteWeb) start(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests = append(g.requests, r)
		g.mu.Unlock()
		if g.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != g.user || p != g.pass {
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case r.URL.Path == "/metrics/find":
			fmt.Fprint(w, `[{"text":"fastly","expandable":1},{"text":"akamai","expandable":1}]`)
		case r.URL.Path == "/render" && r.URL.Query().Get("format") == "png":
			fmt.Fprint(w, g.pngBody)
		case r.URL.Path == "/render":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, g.renderJSON)
		case r.URL.Path == "/events/":
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (g *fakeGraphiteWeb) lastRender(t *testing.T) *http.Request {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.requests) - 1; i >= 0; i-- {
		if g.requests[i].URL.Path == "/render" {
			return g.requests[i]
		}
	}
	t.Fatal("no /render request")
	return nil
}

const webPass = "gw-pa55-word"

// configWithWeb is writeConfig's config with [graphite] web_url = u.
func configWithWeb(t *testing.T, u string) string {
	t.Helper()
	p := writeConfig(t, "127.0.0.1:1", "")
	b, err := os.ReadFile(p)
	if err == nil {
		err = os.WriteFile(p, []byte(strings.Replace(string(b), "[graphite]\n", "[graphite]\nweb_url = \""+u+"\"\n", 1)), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runEnv runs the command with exactly the environment env.
func runWithEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// readBackConfig is a config with a Fastly section whose token variable is
// not set, a graphite-web that takes basic auth, and the events API.
func readBackConfig(t *testing.T, carbon, webURL string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`state_dir = %q
[graphite]
address = %q
prefix = "cdn"
spool_max_bytes = 0
web_url = %q
username = "viewer"
password_env = "GRAPHITE_WEB_PASSWORD"
[events]
graphite_web_urls = [%q]
[fastly]
token_env = "FASTLY_TOKEN_NOT_SET_IN_CI"
`, filepath.Join(dir, "state"), carbon, webURL, webURL)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// compare, graph and event need only [graphite]/[events]: an unset vendor
// token does not stop them (a CI gate holds no CDN secret), while validate
// still refuses the file. Every request to graphite-web carries the basic
// auth of [graphite] username/password_env.
func TestReadBackCommandsNeedOnlyTheirSectionsAndAuthenticate(t *testing.T) {
	web := &fakeGraphiteWeb{user: "viewer", pass: webPass, renderJSON: "[]", pngBody: "\x89PNG\r\n\x1a\nfake"}
	url := web.start(t)
	fc := newFakeCarbon(t)
	cfg := readBackConfig(t, fc.ln.Addr().String(), url)
	env := map[string]string{"GRAPHITE_WEB_PASSWORD": webPass}

	code, out, errs := runWithEnv(t, env, "compare", "--config", cfg, "--from", "-1h", "--format", "json")
	// Two providers, no data: a verdict (1), neither a config (2) nor a
	// graphite-web (3) failure.
	if code != 1 || !strings.Contains(out, `"akamai"`) {
		t.Errorf("compare: exit %d, want 1 with a report\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	png := filepath.Join(t.TempDir(), "g.png")
	if code, out, errs := runWithEnv(t, env, "graph", "--config", cfg, "--out", png); code != 0 {
		t.Errorf("graph: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if b, _ := os.ReadFile(png); string(b) != web.pngBody {
		t.Errorf("graph wrote %q, want graphite-web's PNG", b)
	}
	if code, out, errs := runWithEnv(t, env, "event", "--config", cfg, "--what", "deploy"); code != 0 {
		t.Errorf("event: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, _, errs = runWithEnv(t, env, "validate", "--config", cfg)
	if code != 2 || !strings.Contains(errs, "FASTLY_TOKEN_NOT_SET_IN_CI") {
		t.Errorf("validate: exit %d, want 2 naming the unset token\nstderr:\n%s", code, errs)
	}
	// Without the password graphite-web refuses: a backend answer not
	// usable (3), and the message says which keys to check.
	code, _, errs = runWithEnv(t, map[string]string{"GRAPHITE_WEB_PASSWORD": "wrong"}, "compare", "--config", cfg)
	if code != 3 || !strings.Contains(errs, "password_env") || strings.Contains(errs, webPass) {
		t.Errorf("compare with a wrong password: exit %d, want 3 naming password_env\nstderr:\n%s", code, errs)
	}
}

// graph resolves --from/--until with the parser every command uses (so
// graphite-web gets Unix seconds, and "-30m" is 30 minutes as in compare)
// and quotes --events text so that quotes, commas and parentheses stay
// inside their string argument.
func TestGraphTimesAndEventsTarget(t *testing.T) {
	web := &fakeGraphiteWeb{pngBody: "\x89PNG\r\n\x1a\nfake"}
	url := web.start(t)
	cfg := configWithWeb(t, url)
	png := filepath.Join(t.TempDir(), "g.png")
	before := time.Now()
	code, out, errs := run(t, "graph", "--config", cfg, "--out", png, "--from", "-30m", "--until", "now-1min", "--events", `it's (v1,2)`)
	after := time.Now()
	if code != 0 {
		t.Fatalf("graph: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	q := web.lastRender(t).URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	until, err2 := strconv.ParseInt(q.Get("until"), 10, 64)
	if err1 != nil || err2 != nil || from < before.Add(-30*time.Minute).Unix()-1 || from > after.Add(-30*time.Minute).Unix() ||
		until < before.Add(-time.Minute).Unix()-1 || until > after.Add(-time.Minute).Unix() {
		t.Errorf("from=%q until=%q, want Unix seconds 30 min and 1 min ago", q.Get("from"), q.Get("until"))
	}
	// graphite-web strips the quotes of a string argument and unescapes
	// nothing: the tag with ' goes in "…", the other in '…'.
	want := `alias(drawAsInfinite(events("it's",'(v1,2)')),"it's (v1,2)")`
	targets := q["target"]
	if len(targets) != 2 || targets[1] != want {
		t.Errorf("targets %q, want the events target %s", targets, want)
	}
	// A text holding both quotes cannot be written as a target: refused.
	code, _, errs = run(t, "graph", "--config", cfg, "--out", png, "--events", `a'b"c`)
	if code != 2 || !strings.Contains(errs, "--events") {
		t.Errorf("--events with both quotes: exit %d, want 2\n%s", code, errs)
	}
	code, _, errs = run(t, "graph", "--config", cfg, "--out", png, "--from", "yesterday-ish")
	if code != 2 || !strings.Contains(errs, "--from") {
		t.Errorf("--from yesterday-ish: exit %d, want 2\n%s", code, errs)
	}
}

// Asked-for help is output: stdout, exit 0; --version is version; every
// command, anomaly-eval included, takes --config and --log-level.
func TestHelpVersionAndCommonFlags(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"compare", "--help"}, {"help", "graph"}, {"anomaly-eval", "--config", "x.toml", "--help"}} {
		code, out, errs := run(t, args...)
		if code != 0 || !strings.Contains(out, "Usage: cdnmetrics") || errs != "" {
			t.Errorf("%q: exit %d, want 0 with usage on stdout only\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"version", "--config", "x.toml", "--log-level", "debug"}} {
		code, out, _ := run(t, args...)
		if code != 0 || !strings.HasPrefix(out, "cdnmetrics dev (") {
			t.Errorf("%q: exit %d stdout %q, want the version", args, code, out)
		}
	}
	// anomaly-eval with --config goes on to the corpus: a missing one is
	// a failed run (1), not an unknown flag (2).
	code, _, errs := run(t, "anomaly-eval", "--config", "x.toml", "--log-level", "warn", filepath.Join(t.TempDir(), "no-nab"))
	if code != 1 {
		t.Errorf("anomaly-eval --config: exit %d, want 1 (no corpus)\n%s", code, errs)
	}
	// A bad flag is a usage error and its usage goes to stderr.
	code, out, errs := run(t, "compare", "--nonsense")
	if code != 2 || out != "" || !strings.Contains(errs, "Usage: cdnmetrics compare") {
		t.Errorf("compare --nonsense: exit %d, want 2 with usage on stderr\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

// One exit-status scheme for every command (README "Exit codes"): 0 ok,
// 1 a verdict or run failed, 2 usage or config error, 3 a backend
// unreachable or its answer unusable.
func TestExitCodeTable(t *testing.T) {
	unusable := &fakeGraphiteWeb{renderJSON: "<html>oops</html>", pngBody: "<html>not an image</html>"}
	unusableURL := unusable.start(t)
	good := &fakeGraphiteWeb{renderJSON: "[]", pngBody: "\x89PNG\r\n\x1a\nfake"}
	goodURL := good.start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()
	cfgFor := func(u string) string { return configWithWeb(t, u) }
	badCfg := writeConfig(t, "127.0.0.1:1", "log_format = \"xml\"\n")
	authCfg := writeConfig(t, "127.0.0.1:1", "")
	if b, err := os.ReadFile(authCfg); err == nil {
		os.WriteFile(authCfg, []byte(strings.Replace(string(b), "[graphite]\n", "[graphite]\nweb_url = \""+goodURL+"\"\nusername = \"viewer\"\npassword_env = \"UNSET_GRAPHITE_PASSWORD\"\n", 1)), 0o600)
	}
	png := filepath.Join(t.TempDir(), "g.png")
	for _, tc := range []struct {
		situation string
		args      []string
		code      int
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"version", []string{"version"}, 0},
		{"validate, good config", []string{"validate", "--config", cfgFor(goodURL)}, 0},
		{"validate, bad log_format", []string{"validate", "--config", badCfg}, 2},
		{"compare, bad flag", []string{"compare", "--nonsense"}, 2},
		{"compare, bad --log-level", []string{"compare", "--log-level", "loud"}, 2},
		{"compare, missing config", []string{"compare", "--config", filepath.Join(t.TempDir(), "none.toml")}, 2},
		{"compare, verdict fails", []string{"compare", "--config", cfgFor(goodURL)}, 1},
		{"compare, graphite-web unreachable", []string{"compare", "--config", cfgFor(closedURL)}, 3},
		{"compare, graphite-web answer unusable", []string{"compare", "--config", cfgFor(unusableURL)}, 3},
		{"graph, ok", []string{"graph", "--config", cfgFor(goodURL), "--out", png}, 0},
		{"graph, graphite-web unreachable", []string{"graph", "--config", cfgFor(closedURL), "--out", png}, 3},
		{"graph, answer not a PNG", []string{"graph", "--config", cfgFor(unusableURL), "--out", png}, 3},
		{"graph, bad --from", []string{"graph", "--config", cfgFor(goodURL), "--from", "soon", "--out", png}, 2},
		{"compare, graphite.password_env not set", []string{"compare", "--config", authCfg}, 2},
		{"event, bad --when", []string{"event", "--config", cfgFor(goodURL), "--when", "soon"}, 2},
		{"anomaly-eval, no corpus", []string{"anomaly-eval", filepath.Join(t.TempDir(), "none")}, 1},
	} {
		code, out, errs := run(t, tc.args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.situation, code, tc.code, out, errs)
		}
	}
}

// log_format = "json" gives one JSON object per line; --log-level
// overrides log_level.
func TestLogFormatJSON(t *testing.T) {
	var buf bytes.Buffer
	l := newCommandLogger(&buf, "debug", "json")
	l.Info("hello", "n", 1)
	l.Debug("detail", "token", "x")
	checkJSONLines(t, buf.String(), 2)

	// The simulator command logs through the config's format.
	cfg := writeConfig(t, "127.0.0.1:1", "log_format = \"json\"\n")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte("log_format = \"json\"\n"+strings.Replace(string(b), "log_format = \"json\"\n", "", 1)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, log, and return at once
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"simulate", "--config", cfg, "--listen", "127.0.0.1:0"}, IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return secret }})
	if code != 0 {
		t.Fatalf("simulate: exit %d\n%s", code, errb.String())
	}
	checkJSONLines(t, errb.String(), 1)
	if !strings.Contains(errb.String(), `"msg":"simulator serving"`) {
		t.Errorf("no simulator serving line:\n%s", errb.String())
	}
	// --log-level error silences info.
	errb.Reset()
	Main(ctx, []string{"simulate", "--config", cfg, "--listen", "127.0.0.1:0", "--log-level", "error"}, IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return secret }})
	if errb.Len() != 0 {
		t.Errorf("--log-level error still logged:\n%s", errb.String())
	}
}

func checkJSONLines(t *testing.T, s string, atLeast int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) < atLeast {
		t.Fatalf("%d line(s), want at least %d:\n%s", len(lines), atLeast, s)
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
			t.Errorf("not a JSON log line (%v): %s", err, line)
		}
	}
}

// A simulated dry run (the demo's first step) leaves no .state/ behind in
// the directory it runs in.
func TestSimulateDryRunWritesNoStateInCwd(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, errs := run(t, "collect", "--simulate", "--dry-run", "--config", filepath.Join(dir, "absent.toml"), "--collector", "fastly")
	if code != 0 || !strings.Contains(out, "cdn.fastly.") {
		t.Fatalf("exit %d, want 0 with fastly lines\nstderr:\n%s", code, errs)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the dry run left %v in its working directory", names)
	}
}
