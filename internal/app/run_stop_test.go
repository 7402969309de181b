package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A daemon stopped before its first self_metrics_interval (1h here) still
// sends its self-metrics once, at the stop: the counts of a short run are
// not lost.
func TestRunSendsSelfMetricsAtStop(t *testing.T) {
	fc := newFakeCarbon(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nspool_max_bytes = 0\nself_metrics_interval = \"1h\"\n"+
		"[admin]\nlisten = \"\"\n[fakecdn]\ntoken_env = \"FAKECDN_TOKEN\"\nschedule = \"@every 1s\"\n", filepath.Join(dir, "state"), fc.ln.Addr().String())
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "FAKECDN_TOKEN" {
			return secret
		}
		return ""
	}
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, []string{"run", "--config", cfg}, IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	}()
	// Let fakecdn run at least once (its points reach carbon), then stop.
	for deadline := time.Now().Add(10 * time.Second); !fc.has("cdn.fakecdn.www.all.requests "); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("fakecdn's points never reached carbon:\n%s", errb.String())
		}
	}
	cancel()
	select {
	case c := <-exit:
		if c != 0 {
			t.Fatalf("run exit %d:\n%s", c, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	for deadline := time.Now().Add(5 * time.Second); !fc.has("cdn.cdnmetrics.collector.fakecdn.points "); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			t.Fatalf("no self-metrics sent at the stop; carbon got:\n%s", strings.Join(fc.lines, "\n"))
		}
	}
}
