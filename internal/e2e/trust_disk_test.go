package e2e

// Issue 16 items 3 and 5 through real carbon-cache: a full disk under the
// spool while carbon is down, and what `collect` says about delivery.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// fullTmpfs mounts a 256 KiB tmpfs on dir (unmounted when the test ends)
// and fills it, so every spool write there fails with ENOSPC. It needs
// root; internal/graphite's TestSpoolFull* inject ENOSPC portably.
func fullTmpfs(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; internal/graphite TestSpoolFull* cover a full disk with an injected ENOSPC")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount tmpfs on %s as root: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for i := 0; ; i++ {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
		if i > 1000 {
			t.Fatalf("%s took 4 MiB and is not full", dir)
		}
	}
}

// collectOnce runs `collect --collector fastly` over the windows since the
// checkpoint (no --from/--to: checkpoints move), giving up after limit.
func collectOnce(t *testing.T, cfg string, limit time.Duration) (collectRun, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out, errb bytes.Buffer
	start := time.Now()
	code := app.Main(ctx, []string{"collect", "--config", cfg, "--collector", "fastly"},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: simGetenv})
	return collectRun{code: code, out: out.String(), errOut: errb.String()}, time.Since(start)
}

// TestTrustDiskFullCarbonDown: carbon is down and the disk under the spool
// is full. collect must end within 60 s with exit 1 and a message naming
// the spool path and ENOSPC, and leave the checkpoint where it was. Carbon
// then comes back, the disk stays full: the next collect delivers, moves
// the checkpoint, and every point since the first run's checkpoint is in
// graphite-web (the failed window was collected again).
func TestTrustDiskFullCarbonDown(t *testing.T) {
	g := graphitetest.Start(t)
	m := faultModel(16, 2)
	sim := faultSim(t, m, nil)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "state", "spool")
	fullTmpfs(t, spoolDir)
	cfg := faultConfig(t, dir, sim.URL, g.CarbonAddr, m, 0)

	st, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	cp0 := time.Now().Truncate(time.Minute).Add(-20 * time.Minute).UTC()
	if err := st.Set("fastly", state.Checkpoint{End: cp0, Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}

	g.StopCarbon(t)
	r1, took := collectOnce(t, cfg, 100*time.Second)
	t.Logf("carbon down, disk full: exit %d after %v\n%s", r1.code, took.Round(time.Second), r1.out)
	if r1.code != 1 || took > 60*time.Second {
		t.Fatalf("collect with carbon down and the spool's disk full: exit %d after %v, want exit 1 within 60s\nstdout: %s\nstderr: %s",
			r1.code, took, r1.out, grepLines(r1.errOut, "graphite"))
	}
	for _, want := range []string{spoolDir, syscall.ENOSPC.Error()} {
		if !strings.Contains(r1.out, want) {
			t.Errorf("summary does not name %q:\n%s", want, r1.out)
		}
	}
	if cp, ok, err := st.Get("fastly"); err != nil || !ok || !cp.End.Equal(cp0) {
		t.Fatalf("checkpoint after the failed run = %v (ok %v, err %v), want it unmoved at %v", cp.End, ok, err, cp0)
	}

	g.StartCarbon(t) // the disk stays full
	r2, took := collectOnce(t, cfg, 100*time.Second)
	t.Logf("carbon up, disk still full: exit %d after %v\n%s", r2.code, took.Round(time.Second), r2.out)
	if r2.code != 0 {
		t.Fatalf("collect with carbon up and the disk full: exit %d\nstdout: %s\nstderr: %s", r2.code, r2.out, grepLines(r2.errOut, "graphite"))
	}
	cp, ok, err := st.Get("fastly")
	if err != nil || !ok || !cp.End.After(cp0) {
		t.Fatalf("checkpoint after the good run = %v (ok %v, err %v), want past %v", cp.End, ok, err, cp0)
	}
	want, n := fastlyWant(t, m, collectors.Window{Start: cp0, End: cp.End})
	found, missing := g.WaitValues(t, want, 60*time.Second)
	t.Logf("window %s..%s: %d points expected, %d found", cp0.Format(time.TimeOnly), cp.End.Format(time.TimeOnly), n, found)
	if missing != 0 {
		t.Errorf("%d of %d points since the first run's checkpoint are missing from graphite-web", missing, n)
	}
}

// deliveryLine is the sink part of collect's summary.
var deliveryLine = regexp.MustCompile(`sink: (\d+) points \((\d+) collected, (\d+) self-metrics\): (\d+) delivered, (\d+) spooled(, not delivered[^,]*)?, (\d+) dropped`)

type deliveryFigures struct{ total, collected, self, delivered, spooled, dropped int }

func parseDelivery(t *testing.T, summary string) deliveryFigures {
	t.Helper()
	m := deliveryLine.FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("summary does not say delivered / spooled / dropped:\n%s", summary)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return deliveryFigures{n(1), n(2), n(3), n(4), n(5), n(7)}
}

// TestTrustSummarySaysSpooled: collect while carbon is down spools every
// point: exit 0 (they are durable), but the summary says 0 delivered, all
// spooled, not delivered, and a WARN line names the spool. The next collect
// with carbon up says what it delivered of its own and of the spool.
func TestTrustSummarySaysSpooled(t *testing.T) {
	g := graphitetest.Start(t)
	m := faultModel(17, 2)
	sim := faultSim(t, m, nil)
	dir := t.TempDir()
	cfg := faultConfig(t, dir, sim.URL, g.CarbonAddr, m, 0)
	end := pastHour(2)
	w1 := collectors.Window{Start: end.Add(-10 * time.Minute), End: end}
	w2 := collectors.Window{Start: end, End: end.Add(5 * time.Minute)}
	want1, n1 := fastlyWant(t, m, w1)

	g.StopCarbon(t)
	r1 := runCollect(cfg, w1)
	t.Logf("carbon down: exit %d\n%s%s", r1.code, r1.out, grepLines(r1.errOut, "WARN"))
	if r1.code != 0 {
		t.Fatalf("collect with carbon down: exit %d, want 0 (every point is durable in the spool)\n%s", r1.code, r1.errOut)
	}
	d1 := parseDelivery(t, r1.out)
	if d1.collected != n1 || d1.total != n1+d1.self || d1.delivered != 0 || d1.spooled != d1.total || d1.dropped != 0 {
		t.Errorf("carbon down: figures %+v, want %d collected, 0 delivered, all %d+self spooled, 0 dropped", d1, n1, n1)
	}
	if !strings.Contains(r1.out, "not delivered") {
		t.Errorf("summary does not say the points were not delivered:\n%s", r1.out)
	}
	spoolDir := filepath.Join(dir, "state", "spool")
	if warn := grepLines(r1.errOut, "WARN"); !strings.Contains(warn, strconv.Itoa(d1.spooled)+" points spooled under "+spoolDir) {
		t.Errorf("no WARN line naming %d points spooled under %s; stderr WARN lines:\n%s", d1.spooled, spoolDir, warn)
	}

	g.StartCarbon(t)
	_, n2 := fastlyWant(t, m, w2)
	r2 := runCollect(cfg, w2)
	t.Logf("carbon up: exit %d\n%s", r2.code, r2.out)
	if r2.code != 0 {
		t.Fatalf("collect with carbon up: exit %d\n%s", r2.code, r2.errOut)
	}
	d2 := parseDelivery(t, r2.out)
	if d2.collected != n2 || d2.delivered != d2.total || d2.spooled != 0 || d2.dropped != 0 {
		t.Errorf("carbon up: figures %+v, want %d collected, all delivered, 0 spooled, 0 dropped", d2, n2)
	}
	carried := "earlier runs' spool: " + strconv.Itoa(d1.spooled) + " points, " + strconv.Itoa(d1.spooled) + " delivered, 0 dropped, 0 still spooled"
	if !strings.Contains(r2.out, carried) {
		t.Errorf("summary does not say %q:\n%s", carried, r2.out)
	}
	if found, missing := g.WaitValues(t, want1, 60*time.Second); missing != 0 {
		t.Errorf("%d of %d spooled points of the first window missing from graphite-web (%d found)", missing, n1, found)
	}
}

// TestTrustDiskFullDaemonDeliversWhenCarbonBack: the daemon starts with
// carbon down and the disk under the spool full. Its catch-up must fail
// within 60 s with an error naming the spool and ENOSPC, and leave the
// checkpoint alone; when carbon comes back (the disk still full) the
// caught-up points must reach graphite-web without a restart.
func TestTrustDiskFullDaemonDeliversWhenCarbonBack(t *testing.T) {
	g := graphitetest.Start(t)
	m := faultModel(18, 2)
	var (
		mu      sync.Mutex
		windows []collectors.Window // historical windows asked for, in order
	)
	sim := faultSim(t, m, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/stats/service/") {
				from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
				to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
				if err1 == nil && err2 == nil {
					w := collectors.Window{Start: time.Unix(from, 0), End: time.Unix(to, 0)}
					mu.Lock()
					if len(windows) == 0 || windows[len(windows)-1] != w {
						windows = append(windows, w)
					}
					mu.Unlock()
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "state", "spool")
	fullTmpfs(t, spoolDir)
	cfg := daemonConfig(t, dir, sim.URL, g.CarbonAddr, m, 10*time.Second)

	g.StopCarbon(t)
	var stdout, stderr collectorstest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	started := time.Now()
	go func() {
		exit <- app.Main(ctx, []string{"run", "--config", cfg}, app.IO{Stdout: &stdout, Stderr: &stderr, Getenv: simGetenv})
	}()
	defer func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(90 * time.Second):
			t.Error("daemon did not stop within 90s")
		}
	}()
	failed := ""
	for deadline := started.Add(60 * time.Second); failed == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		failed = grepLines(stderr.String(), "catch-up before streaming failed")
	}
	if failed == "" {
		t.Fatalf("no catch-up failure reported within 60s of the start; sink log:\n%s", grepLines(stderr.String(), "graphite"))
	}
	t.Logf("reported after %v: %s", time.Since(started).Round(time.Second), failed)
	for _, want := range []string{spoolDir, syscall.ENOSPC.Error()} {
		if !strings.Contains(failed, want) {
			t.Errorf("the catch-up error does not name %q", want)
		}
	}
	if st, err := state.Open(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	} else if cp, ok, _ := st.Get("fastly"); ok {
		t.Errorf("checkpoint moved to %v though nothing was delivered or spooled", cp.End)
	}

	mu.Lock()
	if len(windows) == 0 {
		mu.Unlock()
		t.Fatal("the daemon asked for no historical window")
	}
	catchUp := windows[0]
	mu.Unlock()
	want, n := fastlyWant(t, m, catchUp)
	g.StartCarbon(t) // the disk stays full
	back := time.Now()
	found, missing := g.WaitValues(t, want, 60*time.Second)
	t.Logf("catch-up window %s: %d points expected, %d in graphite-web %v after carbon came back", catchUp, n, found, time.Since(back).Round(time.Second))
	if missing != 0 {
		t.Errorf("%d of %d caught-up points never reached carbon after it came back; sink log:\n%s", missing, n, grepLines(stderr.String(), "graphite"))
	}
}
