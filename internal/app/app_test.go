package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// fakecdn is a vendor registered only in these tests: it emits one POP
// record per minute of the window, with a value derived from the minute,
// and fails windows that contain failAt.
type fakeOpts struct {
	TokenEnv string `toml:"token_env"`
	Sched    string `toml:"schedule"`
	FailAt   int64  `toml:"fail_at"`
	// RefuseNew makes New fail with this message: a refusal only building
	// the collector finds.
	RefuseNew string `toml:"refuse_new"`
}

func (o *fakeOpts) Validate(env collectors.Env) []collectors.Problem {
	if env.Getenv(o.TokenEnv) == "" {
		return []collectors.Problem{{Key: "fakecdn.token_env", Message: "environment variable " + o.TokenEnv + " is not set"}}
	}
	return nil
}
func (o *fakeOpts) Schedule() string { return o.Sched }

type fakeCollector struct {
	o     *fakeOpts
	token string
}

func (c *fakeCollector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	if c.o.FailAt != 0 && w.Start.Unix() <= c.o.FailAt && c.o.FailAt < w.End.Unix() {
		// A careless vendor client could leak the token here; ours must not.
		return errors.New("fakecdn: HTTP 500 from /stats")
	}
	var b collectors.Batch
	for t := w.Start; t.Before(w.End); t = t.Add(time.Minute) {
		r := schema.Record{Provider: "fakecdn", Service: "www", Location: "lhr", Start: t.Unix(), Step: 60}
		r.Set(schema.Requests, float64(t.Unix()/60%1000))
		r.Set(schema.Hits, float64(t.Unix()/60%100))
		r.Set(schema.Misses, 10)
		b.Records = append(b.Records, r)
	}
	return e.Emit(ctx, b)
}

func init() {
	collectors.Register(collectors.Factory{
		Name: "fakecdn",
		Decode: func(s collectors.Section) (collectors.Options, error) {
			o := &fakeOpts{TokenEnv: "FAKECDN_TOKEN", Sched: "@every 1m"}
			return o, s.Decode(o)
		},
		New: func(o collectors.Options, env collectors.Env) (collectors.Collector, error) {
			fo := o.(*fakeOpts)
			if fo.RefuseNew != "" {
				return nil, errors.New(fo.RefuseNew)
			}
			return &fakeCollector{o: fo, token: env.Getenv(fo.TokenEnv)}, nil
		},
		Timing: func(collectors.Options) collectors.Timing {
			return collectors.Timing{Step: time.Minute, Lookback: 10 * time.Minute, MaxWindow: 5 * time.Minute}
		},
	})
}

const secret = "s3cr3t-token-value"

func writeConfig(t *testing.T, carbon string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	// The admin listener is off unless a test asks for it: the default
	// port (127.0.0.1:9107) may be held by a daemon on the machine.
	admin := "[admin]\nlisten = \"\"\n"
	if strings.Contains(extra, "[admin]") {
		admin = ""
	}
	text := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nspool_max_bytes = 0\n%s[fakecdn]\ntoken_env = \"FAKECDN_TOKEN\"\n%s", filepath.Join(dir, "state"), carbon, admin, extra)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "FAKECDN_TOKEN" {
			return secret
		}
		return ""
	}
	code = Main(context.Background(), args, IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	return code, out.String(), errb.String()
}

func TestCollectDryRunPrintsLinesStampedWithIntervalStart(t *testing.T) {
	cfg := writeConfig(t, "127.0.0.1:1", "")
	// 1700000000 = 22:13:20; aligned down to the minute: 1699999980.
	code, out, errs := run(t, "collect", "--config", cfg, "--dry-run", "--from", "1700000000", "--to", "1700000120")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// Minutes 1699999980, 1700000040, 1700000100 (3 windows of 1 min).
	// Requests at 1699999980: 1699999980/60 = 28333333 → %1000 = 333.
	if !strings.Contains(out, "cdn.fakecdn.www.lhr.requests 333 1699999980\n") {
		t.Fatalf("missing requests line in:\n%s", out)
	}
	// all = sum of one POP; hit ratio = hits/(hits+misses) = 33/(33+10).
	if !strings.Contains(out, fmt.Sprintf("cdn.fakecdn.www.all.hit_ratio %v 1699999980\n", 33.0/43)) {
		t.Fatalf("missing all.hit_ratio line in:\n%s", out)
	}
	if strings.Contains(out+errs, secret) {
		t.Fatal("token leaked into dry-run output")
	}
}

// fakeCarbon accepts plaintext lines and records them.
type fakeCarbon struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
}

func newFakeCarbon(t *testing.T) *fakeCarbon {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCarbon{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fc.mu.Lock()
					fc.lines = append(fc.lines, sc.Text())
					fc.mu.Unlock()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return fc
}

func (fc *fakeCarbon) has(prefix string) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, l := range fc.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestCollectFailureExitsNonZeroKeepsGoodWindowsAndLeaksNothing(t *testing.T) {
	fc := newFakeCarbon(t)
	cfg := writeConfig(t, fc.ln.Addr().String(), "fail_at = 1700000400\n")
	code, out, errs := run(t, "collect", "--config", cfg, "--from", "1700000040", "--to", "1700000640")
	if code != 1 {
		t.Fatalf("exit %d, want 1; out=%s err=%s", code, out, errs)
	}
	if !strings.Contains(out, "fakecdn FAILED") || !strings.Contains(out, "1 failed") {
		t.Fatalf("summary = %q", out)
	}
	if strings.Contains(out+errs, secret) {
		t.Fatal("token leaked")
	}
	// Chunks of 5 min: [040,340) is good, [340,640) holds fail_at 400.
	// The good chunk reached carbon.
	deadline := time.Now().Add(5 * time.Second)
	for !fc.has("cdn.fakecdn.www.lhr.requests ") {
		if time.Now().After(deadline) {
			t.Fatal("points of the good window never reached carbon")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestValidateExitCodes(t *testing.T) {
	cfg := writeConfig(t, "127.0.0.1:2003", "schedule = \"every tuesday\"\ntokn_env = \"X\"\n")
	code, _, errs := run(t, "validate", "--config", cfg)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, key := range []string{"fakecdn.schedule", "fakecdn.tokn_env"} {
		if !strings.Contains(errs, key) {
			t.Errorf("validate output does not name %s:\n%s", key, errs)
		}
	}
	ok := writeConfig(t, "127.0.0.1:2003", "")
	if code, out, errs := run(t, "validate", "--config", ok); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("good config: exit %d out=%q err=%q", code, out, errs)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for name := range commands {
		// Asked-for help is output (stdout), not a diagnostic (#18).
		code, out, errs := run(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: cdnmetrics "+name) || errs != "" {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", name, code, out, errs)
		}
	}
	if code, _, _ := run(t, "nonsense"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

func TestAggregateOnlyDropsLocations(t *testing.T) {
	cfg := writeConfig(t, "127.0.0.1:1", "[filters.fakecdn]\naggregate_only = true\n")
	code, out, errs := run(t, "collect", "--config", cfg, "--dry-run", "--from", "1700000040", "--to", "1700000100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out, ".lhr.") || !strings.Contains(out, "cdn.fakecdn.www.all.requests ") {
		t.Fatalf("aggregate_only output:\n%s", out)
	}
}

func TestBadShardFlag(t *testing.T) {
	cfg := writeConfig(t, "127.0.0.1:1", "")
	if code, _, errs := run(t, "collect", "--config", cfg, "--dry-run", "--shard", "3/2"); code == 0 || !strings.Contains(errs, "3/2") {
		t.Fatalf("exit %d err %q", code, errs)
	}
}
