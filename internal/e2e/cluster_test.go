package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/akamai/akamaisim"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/shard"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// TestShardedCollectorsIntoGraphiteCluster is the "outgrowing one machine"
// set-up end to end: carbon-c-relay (consistent hashing) in front of two
// carbon-caches, one graphite-web reading both (CLUSTER=2
// scripts/graphite-up), and two `cdnmetrics collect --shard i/2` instances
// against the simulator writing into the relay. Each shard writes through a
// loopback tap that records the lines it sent. It checks that
//   - every service is collected by exactly one shard, the one
//     internal/shard assigns (for the vendors whose ids we know here),
//   - together the shards sent every series the vendors' Expect gives,
//   - the relay spread the series over both caches, each on exactly one,
//   - graphite-web renders every series whole, with the served values.
func TestShardedCollectorsIntoGraphiteCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: real Graphite is not started under -short")
	}
	c := graphitetest.StartCluster(t)

	model := traffic.Default(7)
	srv, err := simulate.Start(simulate.Options{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// The window of collect_test.go: two hours back, inside whisper's 10 s
	// archive, aligned to every vendor's step.
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := collectors.Window{Start: end.Add(-30 * time.Minute), End: end}
	const prefix = "e2ecl"

	// What the shards should write together: every vendor's Expect.
	want := map[string]map[int64]float64{} // path -> time -> value
	wantSvc := map[string]bool{}           // "provider.service"
	for _, name := range srv.Vendors() {
		f, _ := simulate.Lookup(name)
		if f.Expect == nil {
			continue
		}
		for _, p := range schema.Points(prefix, f.Expect(model, w), nil) {
			if want[p.Path] == nil {
				want[p.Path] = map[int64]float64{}
			}
			want[p.Path][p.Time] = p.Value
			wantSvc[svcOf(prefix, p.Path)] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("no vendor Expect gave points")
	}

	getenv := simGetenv
	dir := t.TempDir()
	sent := make([]map[string]bool, 2) // per shard: paths it wrote
	for i := range 2 {
		spec := fmt.Sprintf("%d/2", i+1)
		tap := startTap(t, c.CarbonAddr)
		text, err := srv.Config(simulate.Core{StateDir: filepath.Join(dir, fmt.Sprintf("state%d", i+1)), GraphiteAddr: tap.addr, Prefix: prefix}, filepath.Join(dir, "sim"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, fmt.Sprintf("config%d.toml", i+1))
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := app.Main(context.Background(), []string{"collect", "--config", cfg, "--shard", spec,
			"--from", strconv.FormatInt(w.Start.Unix(), 10), "--to", strconv.FormatInt(w.End.Unix(), 10)},
			app.IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
		if code != 0 {
			t.Fatalf("collect --shard %s: exit %d\nstdout: %s\nstderr: %s", spec, code, out.String(), errb.String())
		}
		// collect flushed and closed its connection before returning; the
		// tap has seen every line once the connection's EOF arrived.
		sent[i] = tap.paths(t, prefix)
		t.Logf("shard %s sent %d series: %s", spec, len(sent[i]), strings.TrimSpace(out.String()))
	}

	// Every service by exactly one shard; together, every expected series.
	owner := map[string]int{} // "provider.service" -> shard (1-based)
	for i, paths := range sent {
		for p := range paths {
			svc := svcOf(prefix, p)
			if o, ok := owner[svc]; ok && o != i+1 {
				t.Errorf("service %s collected by shard %d and shard %d (e.g. %s)", svc, o, i+1, p)
			}
			owner[svc] = i + 1
		}
	}
	for svc := range wantSvc {
		if owner[svc] == 0 {
			t.Errorf("service %s collected by no shard", svc)
		}
	}
	for p := range want {
		if !sent[0][p] && !sent[1][p] {
			t.Errorf("series %s sent by no shard", p)
		}
	}
	// The owner is the one internal/shard names (FNV-1a of provider/id),
	// for the vendors whose simulated ids are known here.
	for i, s := range model.Services {
		checkOwner(t, owner, prefix, "fastly", s.ID, s.Name)
		checkOwner(t, owner, prefix, "akamai", strconv.FormatInt(akamaisim.CPCode(i), 10), s.Name)
	}
	shards := map[int]int{}
	for _, o := range owner {
		shards[o]++
	}
	t.Logf("services per shard: 1/2 → %d, 2/2 → %d", shards[1], shards[2])

	// Every expected series on exactly one cache, and both caches used.
	files := waitWhisper(c.Dir, want, 30*time.Second)
	per := map[string]int{}
	for p := range want {
		switch where := files[p]; len(where) {
		case 1:
			per[where[0]]++
		case 0:
			t.Errorf("series %s is in no cache's whisper dir", p)
		default:
			t.Errorf("series %s is in %d caches: %v", p, len(where), where)
		}
	}
	t.Logf("series per cache: a → %d, b → %d", per["a"], per["b"])
	if per["a"] == 0 || per["b"] == 0 {
		t.Errorf("the relay did not spread the series over both caches: a %d, b %d", per["a"], per["b"])
	}

	// graphite-web renders every series whole from whichever cache has it.
	found, missing := c.WaitValues(t, want, 30*time.Second)
	t.Logf("%d points rendered as served, %d missing or different", found, missing)
	if missing != 0 {
		t.Errorf("%d of %d points not rendered as served", missing, found+missing)
	}
}

// svcOf returns "provider.service" of a path under prefix.
func svcOf(prefix, path string) string {
	parts := strings.SplitN(strings.TrimPrefix(path, prefix+"."), ".", 3)
	if len(parts) < 2 {
		return path
	}
	return parts[0] + "." + parts[1]
}

func checkOwner(t *testing.T, owner map[string]int, prefix, provider, id, name string) {
	t.Helper()
	svc := svcOf(prefix, schema.Path(prefix, provider, name, "all", "requests"))
	got, ok := owner[svc]
	if !ok {
		return // the vendor is not served by this build's simulator
	}
	if want := shard.Of(provider, id, 2); got != want {
		t.Errorf("%s (id %s) collected by shard %d, internal/shard assigns %d", svc, id, got, want)
	}
}

// waitWhisper polls both caches' whisper dirs until every wanted series has
// a file (carbon creates them asynchronously) or timeout, and returns, per
// path, the caches ("a", "b") holding it.
func waitWhisper(dir string, want map[string]map[int64]float64, timeout time.Duration) map[string][]string {
	deadline := time.Now().Add(timeout)
	for {
		files := map[string][]string{}
		for _, cache := range []string{"a", "b"} {
			root := filepath.Join(dir, "storage", "cache-"+cache, "whisper")
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".wsp") {
					return nil
				}
				rel, _ := filepath.Rel(root, strings.TrimSuffix(p, ".wsp"))
				path := strings.ReplaceAll(rel, string(filepath.Separator), ".")
				files[path] = append(files[path], cache)
				return nil
			})
		}
		all := true
		for p := range want {
			if len(files[p]) == 0 {
				all = false
				break
			}
		}
		if all || time.Now().After(deadline) {
			return files
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tap is a loopback carbon forwarder that records every line it passes on.
type tap struct {
	addr  string
	mu    sync.Mutex
	lines bytes.Buffer
	wg    sync.WaitGroup
	ln    net.Listener
}

// startTap listens on a free loopback port and copies every connection to
// upstream, keeping a copy of the bytes. It stops at cleanup.
func startTap(t *testing.T, upstream string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{addr: ln.Addr().String(), ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			tp.wg.Add(1)
			go func() {
				defer tp.wg.Done()
				defer in.Close()
				out, err := net.DialTimeout("tcp", upstream, 5*time.Second)
				if err != nil {
					return // the client sees EOF and reconnects
				}
				defer out.Close()
				var buf bytes.Buffer
				_, _ = io.Copy(io.MultiWriter(out, &buf), in)
				tp.mu.Lock()
				tp.lines.Write(buf.Bytes())
				tp.mu.Unlock()
			}()
		}
	}()
	return tp
}

// paths stops accepting, waits (bounded) for open connections to end and
// returns the distinct paths under prefix.<provider> that passed through.
func (tp *tap) paths(t *testing.T, prefix string) map[string]bool {
	t.Helper()
	tp.ln.Close()
	done := make(chan struct{})
	go func() { tp.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("tap: a carbon connection is still open 10 s after collect returned")
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(tp.lines.Bytes()))
	for sc.Scan() {
		path, _, _ := strings.Cut(sc.Text(), " ")
		if !strings.HasPrefix(path, prefix+".") || strings.HasPrefix(path, prefix+".cdnmetrics.") ||
			strings.HasPrefix(path, prefix+".events.") || strings.HasPrefix(path, prefix+".beacons.") ||
			strings.HasPrefix(path, prefix+".anomaly.") {
			continue
		}
		out[path] = true
	}
	return out
}
