package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freeLoopbackAddr returns a loopback address with a port nobody listens
// on now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func adminConfig(t *testing.T, carbon, adminListen string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nspool_max_bytes = 0\nself_metrics_interval = \"1s\"\n"+
		"[admin]\nlisten = %q\n[fakecdn]\ntoken_env = \"FAKECDN_TOKEN\"\nschedule = \"@every 1s\"\n", filepath.Join(dir, "state"), carbon, adminListen)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// `run` serves /healthz and /metrics on [admin] listen while it runs, and
// stops serving when it stops.
func TestRunServesHealthzAndMetrics(t *testing.T) {
	fc := newFakeCarbon(t)
	addr := freeLoopbackAddr(t)
	cfg := adminConfig(t, fc.ln.Addr().String(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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

	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (int, string, string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	// Healthy once fakecdn has run and the sink has connected to carbon. A
	// collector that has not run yet is healthy too (within its grace), so
	// poll until the report shows the first success, with a deadline.
	var code int
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, _, body = get("/healthz"); code == http.StatusOK && !strings.Contains(body, `"last_success": null`) {
			break
		}
	}
	if code != http.StatusOK {
		t.Fatalf("/healthz never 200: last %d %s\nstderr:\n%s", code, body, errb.String())
	}
	var rep struct {
		Status     string
		Collectors map[string]struct {
			OK          bool    `json:"ok"`
			LastSuccess *string `json:"last_success"`
		}
		Sink struct{ State string }
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if c := rep.Collectors["fakecdn"]; rep.Status != "ok" || !c.OK || c.LastSuccess == nil || rep.Sink.State != "connected" {
		t.Fatalf("report %s", body)
	}

	code, ct, metrics := get("/metrics")
	m := regexp.MustCompile(`(?m)^cdnmetrics_collector_points_total\{collector="fakecdn"\} (\S+)$`).FindStringSubmatch(metrics)
	if code != http.StatusOK || ct != "text/plain; version=0.0.4; charset=utf-8" || m == nil ||
		!strings.Contains(metrics, "\ncdnmetrics_sink_connected 1\n") {
		t.Fatalf("/metrics %d %q:\n%s", code, ct, metrics)
	}
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || v <= 0 {
		t.Fatalf("fakecdn points %q, want > 0", m[1])
	}

	cancel()
	select {
	case c := <-exit:
		if c != 0 {
			t.Fatalf("run exit %d:\n%s", c, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("admin port still taken after run stopped: %v", err)
	}
	l.Close()
}

// An admin address that cannot bind ends the daemon at start, naming it.
func TestRunFailsWhenAdminPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	cfg := adminConfig(t, "127.0.0.1:1", addr)
	start := time.Now()
	code, errs := runFor(t, 5*time.Second, "run", "--config", cfg)
	if code == 0 || !strings.Contains(errs, "admin.listen") || !strings.Contains(errs, addr) {
		t.Fatalf("run: exit %d, want non-zero and a message naming admin.listen %s:\n%s", code, addr, errs)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("run took %v to refuse: it started before binding", time.Since(start))
	}
}

// A dry run serves no endpoints: trying a config beside the daemon that
// holds its admin port must not fail on that port.
func TestRunDryRunLeavesAdminPortAlone(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := adminConfig(t, "127.0.0.1:1", taken.Addr().String())
	code, errs := runFor(t, 2*time.Second, "run", "--dry-run", "--config", cfg)
	if code != 0 || strings.Contains(errs, "admin") {
		t.Fatalf("run --dry-run: exit %d, want 0 without a word of the admin listener:\n%s", code, errs)
	}
}
