package graphitetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireEnv makes missing Graphite packages a test failure instead of a skip.
const RequireEnv = "CDNMETRICS_REQUIRE_GRAPHITE"

// RetentionsEnv overrides the retentions of cdn.* metrics in test servers.
// By default, 10s:1d,1m:7d: the same steps as production with files a
// quarter the size (every whisper file is fully allocated).
const RetentionsEnv = "CDNMETRICS_GRAPHITE_RETENTIONS"

// Server is one running carbon-cache + graphite-web.
type Server struct {
	CarbonAddr string // carbon plaintext receiver, "127.0.0.1:port"
	WebURL     string // graphite-web, "http://127.0.0.1:port"
	Dir        string // state dir: configs, whisper files, logs

	up, down string // script paths
	env      []string
	client   *http.Client
}

// Series is one rendered target.
type Series struct {
	Target string
	Points []DataPoint
}

// DataPoint is one value of a series; Value is nil where graphite has null.
type DataPoint struct {
	Value *float64
	Time  int64
}

// Start runs scripts/graphite-up in a temp state dir on free loopback ports
// and stops it at Cleanup. It skips the test under `go test -short`; it
// FAILS (not skips) when the packages are missing and
// CDNMETRICS_REQUIRE_GRAPHITE=1 (set by `make test`).
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, false, false)
}

// StartTagged is Start with graphite-web's tag database fed by carbon
// (graphite-up TAGS=1, its default): tagged series are found by
// seriesByTag. Start leaves it off, so the other tests do not pay for
// carbon posting every new series to graphite-web.
func StartTagged(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, false, true)
}

// StartCluster is Start with CLUSTER=2: carbon-c-relay (consistent
// hashing) on CarbonAddr in front of two carbon-caches, whose whisper files
// are under Dir/storage/cache-a and cache-b, and one graphite-web reading
// both.
func StartCluster(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, true, false)
}

func start(tb testing.TB, cluster, tags bool) *Server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("graphitetest: real Graphite is not started under -short")
	}
	if !installed(cluster) && os.Getenv(RequireEnv) != "1" {
		tb.Skipf("graphitetest: graphite-carbon/graphite-web/carbon-c-relay not installed (set %s=1 to install and require them)", RequireEnv)
	}
	root, err := repoRoot()
	if err != nil {
		tb.Fatalf("graphitetest: %v", err)
	}
	s := &Server{
		Dir:    tb.TempDir(),
		up:     filepath.Join(root, "scripts", "graphite-up"),
		down:   filepath.Join(root, "scripts", "graphite-down"),
		client: &http.Client{Timeout: 10 * time.Second},
	}
	ret := os.Getenv(RetentionsEnv)
	if ret == "" {
		ret = "10s:1d,1m:7d"
	}
	mode := "CLUSTER=1"
	if cluster {
		mode = "CLUSTER=2"
	}
	tagsEnv := "TAGS=0"
	if tags {
		tagsEnv = "TAGS=1"
	}
	// Ports are checked free, released and handed to the script; another
	// process may take one in between, so a failed start is retried.
	var out []byte
	for attempt := 0; attempt < 3; attempt++ {
		carbon, pickle, query, web, err := pickPorts(cluster)
		if err != nil {
			tb.Fatalf("graphitetest: %v", err)
		}
		s.env = append(os.Environ(),
			"CARBON_PORT="+strconv.Itoa(carbon), "PICKLE_PORT="+strconv.Itoa(pickle),
			"CACHE_QUERY_PORT="+strconv.Itoa(query), "WEB_PORT="+strconv.Itoa(web),
			"RETENTIONS="+ret, mode, tagsEnv)
		out, err = s.run(s.up, s.Dir)
		if err == nil {
			s.CarbonAddr = "127.0.0.1:" + strconv.Itoa(carbon)
			s.WebURL = "http://127.0.0.1:" + strconv.Itoa(web)
			break
		}
		_, _ = s.run(s.down, s.Dir)
		if !bytes.Contains(out, []byte("already in use")) {
			break
		}
	}
	if s.CarbonAddr == "" {
		tb.Fatalf("graphitetest: %s scripts/graphite-up failed:\n%s", mode, out)
	}
	tb.Cleanup(func() {
		if out, err := s.run(s.down, s.Dir); err != nil {
			tb.Errorf("graphitetest: scripts/graphite-down: %v\n%s", err, out)
		}
	})
	tb.Logf("graphitetest: %s, carbon %s, graphite-web %s, dir %s", mode, s.CarbonAddr, s.WebURL, s.Dir)
	return s
}

func (s *Server) run(script string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Env = s.env
	return cmd.CombinedOutput()
}

// StopCarbon stops carbon-cache with SIGTERM (it writes its cache to
// whisper first) and waits until it exited; graphite-web keeps running.
func (s *Server) StopCarbon(tb testing.TB) {
	tb.Helper()
	if out, err := s.run(s.down, "--only", "carbon", s.Dir); err != nil {
		tb.Fatalf("graphitetest: stop carbon: %v\n%s", err, out)
	}
}

// StartCarbon starts carbon-cache again on the same ports and waits until
// it listens.
func (s *Server) StartCarbon(tb testing.TB) {
	tb.Helper()
	if out, err := s.run(s.up, s.Dir); err != nil {
		tb.Fatalf("graphitetest: start carbon: %v\n%s", err, out)
	}
}

// RestartCarbon is StopCarbon then StartCarbon (for fault tests).
func (s *Server) RestartCarbon(tb testing.TB) {
	tb.Helper()
	s.StopCarbon(tb)
	s.StartCarbon(tb)
}

// Render returns graphite-web's JSON render of target between from and
// until (Unix seconds; 0 leaves graphite's default). ±Inf, which graphite
// writes as ±1e9999, becomes ±Inf; null becomes a nil Value.
func (s *Server) Render(ctx context.Context, target string, from, until int64) ([]Series, error) {
	return s.render(ctx, []string{target}, from, until)
}

// renderBatch is how many plain paths WaitValues renders per request.
const renderBatch = 40

// isPath reports whether target is a plain metric path (no glob, no
// function), which graphite-web returns under its own name.
func isPath(target string) bool { return !strings.ContainsAny(target, "*?[]{}(),'\" ") }

func (s *Server) render(ctx context.Context, targets []string, from, until int64) ([]Series, error) {
	target := strings.Join(targets, " ")
	q := url.Values{"target": targets, "format": {"json"}}
	if from != 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if until != 0 {
		q.Set("until", strconv.FormatInt(until, 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.WebURL+"/render?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("graphitetest: render %s: %w", target, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("graphitetest: render %s: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("graphitetest: render %s: HTTP %d: %.300s", target, resp.StatusCode, body.String())
	}
	return ParseRender(body.Bytes())
}

// ParseRender decodes a graphite-web render?format=json body.
func ParseRender(body []byte) ([]Series, error) {
	var raw []struct {
		Target     string               `json:"target"`
		Datapoints [][2]json.RawMessage `json:"datapoints"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("graphitetest: decode render: %w", err)
	}
	out := make([]Series, len(raw))
	for i, r := range raw {
		out[i].Target = r.Target
		out[i].Points = make([]DataPoint, len(r.Datapoints))
		for j, dp := range r.Datapoints {
			ts, err := strconv.ParseFloat(string(dp[1]), 64)
			if err != nil {
				return nil, fmt.Errorf("graphitetest: decode render: %s: time %q", r.Target, dp[1])
			}
			out[i].Points[j].Time = int64(ts)
			v := strings.TrimSpace(string(dp[0]))
			if v == "null" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil && !(errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0)) {
				return nil, fmt.Errorf("graphitetest: decode render: %s: value %q", r.Target, v)
			}
			out[i].Points[j].Value = &f
		}
	}
	return out, nil
}

// valueAt returns the value of the bucket holding ts (whisper stamps a
// point with the start of its step), or nil.
func valueAt(ss []Series, ts int64) *float64 {
	for _, s := range ss {
		var best *DataPoint
		for k := range s.Points {
			if p := &s.Points[k]; p.Time <= ts && (best == nil || p.Time > best.Time) {
				best = p
			}
		}
		if best != nil && best.Value != nil && ts-best.Time < 3600 {
			return best.Value
		}
	}
	return nil
}

func same(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// WaitValue polls graphite-web until target has want at ts, and fails the
// test with the last value seen after timeout.
func (s *Server) WaitValue(tb testing.TB, target string, ts int64, want float64, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ss, err := s.Render(ctx, target, ts-600, ts+600)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case valueAt(ss, ts) == nil:
			last = "no value"
		case same(*valueAt(ss, ts), want):
			return
		default:
			last = strconv.FormatFloat(*valueAt(ss, ts), 'g', -1, 64)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("graphitetest: %s at %d: want %v, got %s after %v", target, ts, want, last, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitValues polls until every target has every wanted value (one render
// per target and round) or timeout passes, and returns how many values were
// found and missing; it logs a few missing ones but does not fail.
func (s *Server) WaitValues(tb testing.TB, want map[string]map[int64]float64, timeout time.Duration) (found, missing int) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	pending := make(map[string]map[int64]float64, len(want))
	total := 0
	for t, m := range want {
		pending[t] = make(map[int64]float64, len(m))
		for ts, v := range m {
			pending[t][ts] = v
			total++
		}
	}
	var examples []string
	for {
		examples = examples[:0]
		targets := make([]string, 0, len(pending))
		for t := range pending {
			targets = append(targets, t)
		}
		sort.Strings(targets)
		// Plain paths are rendered many per request (graphite-web names
		// each series by its path); anything else alone.
		for len(targets) > 0 {
			n := 1
			if isPath(targets[0]) {
				for n < len(targets) && n < renderBatch && isPath(targets[n]) {
					n++
				}
			}
			batch := targets[:n]
			targets = targets[n:]
			lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
			for _, t := range batch {
				for ts := range pending[t] {
					lo, hi = min(lo, ts), max(hi, ts)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			all, err := s.render(ctx, batch, lo-600, hi+600)
			cancel()
			if err != nil {
				examples = append(examples, err.Error())
				continue
			}
			for _, t := range batch {
				m := pending[t]
				ss := all
				if len(batch) > 1 {
					ss = nil
					for _, x := range all {
						if x.Target == t {
							ss = append(ss, x)
						}
					}
				}
				for ts, v := range m {
					if got := valueAt(ss, ts); got != nil && same(*got, v) {
						delete(m, ts)
					} else if len(examples) < 5 {
						g := "none"
						if got != nil {
							g = strconv.FormatFloat(*got, 'g', -1, 64)
						}
						examples = append(examples, fmt.Sprintf("%s@%d want %v got %s", t, ts, v, g))
					}
				}
				if len(m) == 0 {
					delete(pending, t)
				}
			}
		}
		missing = 0
		for _, m := range pending {
			missing += len(m)
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if missing > 0 {
		tb.Logf("graphitetest: %d of %d values missing after %v, e.g. %s", missing, total, timeout, strings.Join(examples, "; "))
	}
	return total - missing, missing
}

// installed reports whether the Debian packages' programs are present
// (carbon-c-relay too for a cluster).
func installed(cluster bool) bool {
	need := []string{"/usr/bin/carbon-cache", "/usr/bin/graphite-manage", "/usr/bin/python3"}
	if cluster {
		need = append(need, "/usr/bin/carbon-c-relay")
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// repoRoot walks up from the working directory to the one with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "scripts", "graphite-up")); err != nil {
				return "", fmt.Errorf("%s has no scripts/graphite-up", dir)
			}
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreeAddr returns a loopback address ("127.0.0.1:port") nothing listens
// on, below Linux's ephemeral range (32768+) like the ports pickPorts
// picks: a test that hands it to a server to bind later, or dials it while
// it is closed, cannot collide with a port the kernel is handing out to
// clients, nor be connected to itself.
func FreeAddr() (string, error) {
	for tries := 0; tries < 500; tries++ {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free loopback port in 20000-32000")
}

// pickPorts picks free loopback ports below Linux's ephemeral range
// (32768+; a client reconnecting to a stopped carbon on an ephemeral port
// can be connected to itself by the kernel): carbon's plaintext, pickle and
// carbonlink ports and graphite-web's. For a cluster, carbon is the relay
// and the caches take carbon+10..12 and carbon+20..22 (scripts/graphite-up),
// which must be free too.
func pickPorts(cluster bool) (carbon, pickle, query, web int, err error) {
	free := func(p int) bool {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}
	offsets := []int{0, 1, 2}
	if cluster {
		offsets = []int{0, 1, 2, 10, 11, 12, 20, 21, 22}
	}
	for tries := 0; tries < 500; tries++ {
		b := 20000 + rand.IntN(12000)
		ok := true
		for _, d := range offsets {
			if !free(b + d) {
				ok = false
				break
			}
		}
		w := 20000 + rand.IntN(12000)
		if ok && (w < b || w > b+offsets[len(offsets)-1]) && free(w) {
			return b, b + 1, b + 2, w, nil
		}
	}
	return 0, 0, 0, 0, errors.New("no free loopback ports in 20000-32000")
}
