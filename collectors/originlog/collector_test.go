package originlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// t0 is 2026-11-22 10:00:00 UTC (date -u -d '2026-11-22 10:00:00' +%s).
const t0 = 1795341600

// ll is one access-log line stamped t0+sec.
func ll(sec int, status int, size, prov string) string {
	return llReq(sec, status, size, prov, "GET /index.html")
}

func llReq(sec int, status int, size, prov, req string) string {
	ts := time.Unix(t0+int64(sec), 0).UTC().Format(DefaultTimeFormat)
	return fmt.Sprintf(`203.0.113.7 - - [%s] "%s HTTP/1.1" %d %s "-" "Mozilla/5.0 (X11; Linux)" "%s"`+"\n", ts, req, status, size, prov)
}

// whisper keeps the last value sent per path and time, like carbon does.
type whisper map[string]float64

func key(path string, ts int64) string { return fmt.Sprintf("%s@%d", path, ts) }

func (w whisper) apply(b collectors.Batch) {
	for _, p := range schema.Points("cdn", b.Records, b.Gauges) {
		w[key(p.Path, p.Time)] = p.Value
	}
	for _, p := range b.Points {
		w[key(p.Path, p.Time)] = p.Value
	}
}

// recorder keeps what a collector emits, with this package's views of it.
type recorder struct{ collectorstest.Recorder }

func (r *recorder) whisper() whisper {
	w := whisper{}
	for _, b := range r.Batches() {
		w.apply(b)
	}
	return w
}

type fixture struct {
	t     *testing.T
	dir   string
	log   string
	state string
	logs  *syncBuffer
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	st := filepath.Join(dir, "state")
	if err := os.Mkdir(st, 0o700); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, log: filepath.Join(dir, "cdn_access.log"), state: st,
		logs: &syncBuffer{}, now: time.Unix(t0+5*60, 0)}
}

// collector builds a fresh collector, as a cron run does.
func (f *fixture) collector(mutate func(*Options)) *Collector {
	f.t.Helper()
	o := DefaultOptions()
	o.Service = "www"
	o.Files = []FileOptions{{Path: f.log}}
	o.Beacons.Pattern = `GET /beacon\.gif\?source=(?P<source>[A-Za-z0-9_-]+)`
	if mutate != nil {
		mutate(o)
	}
	env := collectors.Env{Prefix: "cdn", StateDir: f.state,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if ps := o.Validate(env); len(ps) > 0 {
		f.t.Fatalf("validate: %v", ps)
	}
	c, err := New(o, env)
	if err != nil {
		f.t.Fatal(err)
	}
	c.now = func() time.Time { return f.now }
	return c
}

func (f *fixture) write(name string, s string) {
	f.t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) appendTo(name string, s string) {
	f.t.Helper()
	fh, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	defer fh.Close()
	if _, err := io.WriteString(fh, s); err != nil {
		f.t.Fatal(err)
	}
}

func collect(t *testing.T, c *Collector, rec *recorder) {
	t.Helper()
	if err := c.Collect(context.Background(), collectors.Window{}, rec); err != nil {
		t.Fatalf("collect: %v", err)
	}
}

// want checks origin metrics for one provider and interval: requests,
// bytes, 2xx, 3xx, 4xx, 5xx.
func want(t *testing.T, w whisper, prov string, start int64, v ...float64) {
	t.Helper()
	names := []string{"origin_requests", "origin_bytes", "status_2xx", "status_3xx", "status_4xx", "status_5xx"}
	for i, n := range names {
		p := "cdn." + prov + ".www.origin." + n
		got, ok := w[key(p, start)]
		if !ok {
			t.Errorf("%s@%d missing", p, start)
			continue
		}
		if got != v[i] {
			t.Errorf("%s@%d = %v, want %v", p, start, got, v[i])
		}
	}
}

const (
	minA = t0      // 10:00
	minB = t0 + 60 // 10:01
)

func TestCollectTornLineOutOfOrderAndReemit(t *testing.T) {
	f := newFixture(t)
	torn := ll(30, 200, "1000", "fastly")
	f.write(f.log, ll(5, 200, "100", "fastly")+
		ll(50, 200, "200", "Fastly")+ // same provider after sanitising
		ll(10, 503, "50", "akamai")+ // earlier than the line before it
		ll(59, 404, "-", "-")+ // no header: direct, "-" bytes = 0
		"garbage that is not a log line\n"+
		ll(61, 301, "10", "fastly")+ // 10:01
		torn[:40]) // torn: no newline yet
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	w := rec.whisper()
	// 10:00 fastly: 2 lines, 100+200 bytes, both 2xx
	want(t, w, "fastly", minA, 2, 300, 2, 0, 0, 0)
	want(t, w, "akamai", minA, 1, 50, 0, 0, 0, 1)
	want(t, w, "direct", minA, 1, 0, 0, 0, 1, 0)
	want(t, w, "fastly", minB, 1, 10, 0, 1, 0, 0)
	if len(w) != 4*6 {
		t.Errorf("%d points, want 24: %v", len(w), w)
	}
	if !strings.Contains(f.logs.String(), "did not match") {
		t.Error("unmatched line not logged")
	}

	// The torn line is completed, more lines arrive for both minutes.
	f.appendTo(f.log, torn[40:]+ll(20, 200, "5", "akamai")+ll(119, 500, "7", "fastly"))
	rec2 := &recorder{}
	collect(t, f.collector(nil), rec2)
	w2 := rec2.whisper()
	// Run 2 re-sends whole intervals, not increments:
	// 10:00 fastly 2+1 lines, 300+1000 bytes; akamai 1+1, 50+5, one 2xx one 5xx.
	want(t, w2, "fastly", minA, 3, 1300, 3, 0, 0, 0)
	want(t, w2, "akamai", minA, 2, 55, 1, 0, 0, 1)
	want(t, w2, "direct", minA, 1, 0, 0, 0, 1, 0)
	// 10:01 fastly 1+1 lines, 10+7 bytes, one 3xx one 5xx.
	want(t, w2, "fastly", minB, 2, 17, 0, 1, 0, 1)
	// Overwriting run 1's points with run 2's gives the same totals.
	w.apply(rec2.Batches()[0])
	want(t, w, "fastly", minA, 3, 1300, 3, 0, 0, 0)

	// Nothing new: nothing emitted.
	rec3 := &recorder{}
	collect(t, f.collector(nil), rec3)
	if len(rec3.Batches()) != 0 {
		t.Errorf("run without new lines emitted %v", rec3.Batches())
	}
}

func TestRotationByRename(t *testing.T) {
	for _, daemon := range []bool{false, true} {
		t.Run(fmt.Sprintf("daemon=%v", daemon), func(t *testing.T) {
			f := newFixture(t)
			c := f.collector(nil)
			f.write(f.log, ll(1, 200, "1", "fastly")+ll(2, 200, "2", "fastly"))
			rec := &recorder{}
			collect(t, c, rec)
			// Written after the run, before rotation: must not be lost.
			f.appendTo(f.log, ll(3, 200, "4", "fastly")+ll(4, 500, "8", "akamai"))
			rotated := f.log + ".1"
			if daemon {
				// A name findOld does not look for: only the held file finds it.
				rotated = filepath.Join(f.dir, "elsewhere.log")
			}
			if err := os.Rename(f.log, rotated); err != nil {
				t.Fatal(err)
			}
			f.write(f.log, ll(5, 200, "16", "fastly"))
			if !daemon {
				c = f.collector(nil) // a new process, as from cron
			}
			collect(t, c, rec)
			w := rec.whisper()
			// fastly: 1+2 from run 1, +4 (old tail) +16 (new file) = 4 lines, 23 bytes
			want(t, w, "fastly", minA, 4, 23, 4, 0, 0, 0)
			want(t, w, "akamai", minA, 1, 8, 0, 0, 0, 1)
			// The new file is followed from where run 2 left it.
			f.appendTo(f.log, ll(6, 200, "32", "fastly"))
			collect(t, c, rec)
			want(t, rec.whisper(), "fastly", minA, 5, 55, 5, 0, 0, 0)
			_ = c.Close()
		})
	}
}

func TestRotationBeforeNewFileExists(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly"))
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	f.appendTo(f.log, ll(2, 200, "2", "fastly"))
	if err := os.Rename(f.log, f.log+".1"); err != nil {
		t.Fatal(err)
	}
	// The writer still appends to the renamed file until it reopens.
	f.appendTo(f.log+".1", ll(3, 200, "4", "fastly"))
	collect(t, f.collector(nil), rec)
	want(t, rec.whisper(), "fastly", minA, 3, 7, 3, 0, 0, 0)
	f.appendTo(f.log+".1", ll(4, 200, "8", "fastly"))
	f.write(f.log, ll(5, 200, "16", "fastly"))
	collect(t, f.collector(nil), rec)
	// 1+2+4 then the old file's last line 8 and the new file's 16.
	want(t, rec.whisper(), "fastly", minA, 5, 31, 5, 0, 0, 0)
}

func TestCopyTruncate(t *testing.T) {
	for _, withCopy := range []bool{true, false} {
		t.Run(fmt.Sprintf("copy=%v", withCopy), func(t *testing.T) {
			f := newFixture(t)
			f.write(f.log, ll(1, 200, "1", "fastly")+ll(2, 200, "2", "fastly")+ll(3, 200, "4", "fastly"))
			rec := &recorder{}
			collect(t, f.collector(nil), rec)
			f.appendTo(f.log, ll(4, 404, "8", "fastly"))
			if withCopy {
				b, err := os.ReadFile(f.log)
				if err != nil {
					t.Fatal(err)
				}
				f.write(f.log+".1", string(b))
			}
			if err := os.Truncate(f.log, 0); err != nil {
				t.Fatal(err)
			}
			// Fewer bytes than the saved offset: a truncation.
			f.appendTo(f.log, ll(5, 200, "16", "akamai"))
			collect(t, f.collector(nil), rec)
			w := rec.whisper()
			if withCopy {
				// 3 lines (7 bytes) + the tail from the copy (404, 8 bytes)
				want(t, w, "fastly", minA, 4, 15, 3, 0, 1, 0)
			} else {
				// The tail went with an unfound copy: lost, and said so.
				want(t, w, "fastly", minA, 3, 7, 3, 0, 0, 0)
				if !strings.Contains(f.logs.String(), "lost") {
					t.Error("lost tail not logged")
				}
			}
			want(t, w, "akamai", minA, 1, 16, 1, 0, 0, 0)
		})
	}
}

func TestEmitFailureRereads(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly")+ll(2, 200, "2", "fastly"))
	bad := &recorder{collectorstest.Recorder{Err: errors.New("sink closed")}}
	if err := f.collector(nil).Collect(context.Background(), collectors.Window{}, bad); err == nil {
		t.Fatal("emit failure not reported")
	}
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	// Counted once: 2 lines, 3 bytes.
	want(t, rec.whisper(), "fastly", minA, 2, 3, 2, 0, 0, 0)
}

func TestLateLinesAfterHoldAreDropped(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly"))
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	f.now = f.now.Add(30 * time.Minute) // 10:35
	// A run with nothing new forgets 10:00 (ended more than hold ago).
	// Pruning happens after reading, so lines read late after an outage
	// still count while their interval is held.
	collect(t, f.collector(nil), &recorder{})
	f.appendTo(f.log, ll(2, 200, "2", "fastly")+ll(35*60, 200, "4", "fastly"))
	rec2 := &recorder{}
	c := f.collector(nil)
	counted := map[string]int{}
	c.clock = collectors.Clock{Reject: func(reason string, n int) { counted[reason] += n }}
	collect(t, c, rec2)
	// Dropped is counted too, not only logged.
	if counted[collectors.RejectedTooOld] != 1 {
		t.Errorf("counted %v, want %s: 1", counted, collectors.RejectedTooOld)
	}
	w := rec2.whisper()
	if _, ok := w[key("cdn.fastly.www.origin.origin_requests", minA)]; ok {
		t.Error("late line re-emitted a forgotten interval with a partial count")
	}
	want(t, w, "fastly", t0+35*60, 1, 4, 1, 0, 0, 0)
	if !strings.Contains(f.logs.String(), "late=1") {
		t.Errorf("late line not logged: %s", f.logs.String())
	}
}

func TestBeacons(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, llReq(1, 200, "43", "fastly", "GET /beacon.gif?source=checkout")+
		llReq(2, 200, "43", "akamai", "GET /beacon.gif?source=checkout")+
		llReq(70, 200, "43", "-", "GET /beacon.gif?source=Search-Page")+
		ll(3, 200, "1", "fastly"))
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	w := rec.whisper()
	for k, v := range map[string]float64{
		key("cdn.beacons.checkout.failures", minA):    2,
		key("cdn.beacons.search-page.failures", minB): 1,
	} {
		if w[k] != v {
			t.Errorf("%s = %v, want %v", k, w[k], v)
		}
	}
	// Beacon requests are origin requests too: fastly 1 beacon + 1 page.
	want(t, w, "fastly", minA, 2, 44, 2, 0, 0, 0)
}

// TestRegexpPathEqualsFastPath counts the same log with the hand-written
// parser and with DefaultPattern given as a custom pattern (regexp path).
func TestRegexpPathEqualsFastPath(t *testing.T) {
	f := newFixture(t)
	var b strings.Builder
	for _, l := range benchLines(500) {
		b.Write(l)
		b.WriteByte('\n')
	}
	b.WriteString("not a line\n")
	f.write(f.log, b.String())
	f.now = time.Unix(t0+3600, 0)
	fast := &recorder{}
	collect(t, f.collector(nil), fast)
	f.state = t.TempDir()
	slow := &recorder{}
	collect(t, f.collector(func(o *Options) { o.Files[0].Pattern = DefaultPattern }), slow)
	wf, ws := fast.whisper(), slow.whisper()
	if len(wf) == 0 || len(wf) != len(ws) {
		t.Fatalf("fast %d points, regexp %d", len(wf), len(ws))
	}
	for k, v := range wf {
		if ws[k] != v {
			t.Errorf("%s: fast %v, regexp %v", k, v, ws[k])
		}
	}
}

func TestProvidersAllowListAndCap(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly")+ll(2, 200, "2", "evil.example")+ll(3, 200, "4", "-"))
	rec := &recorder{}
	collect(t, f.collector(func(o *Options) { o.Providers = []string{"fastly", "akamai"} }), rec)
	w := rec.whisper()
	want(t, w, "fastly", minA, 1, 1, 1, 0, 0, 0)
	want(t, w, "other", minA, 1, 2, 1, 0, 0, 0)
	want(t, w, "direct", minA, 1, 4, 1, 0, 0, 0)
	want(t, w, "akamai", minA, 0, 0, 0, 0, 0, 0) // listed, sent nothing: a true 0

	g := newFixture(t)
	g.write(g.log, ll(1, 200, "1", "a")+ll(2, 200, "2", "b")+ll(3, 200, "4", "c"))
	rec2 := &recorder{}
	collect(t, g.collector(func(o *Options) { o.MaxProviders = 2 }), rec2)
	want(t, rec2.whisper(), "other", minA, 1, 4, 1, 0, 0, 0)
}

func TestStartAtEnd(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly")+ll(2, 200, "2", "fastly")+ll(3, 200, "4", "fastly")[:20])
	c := f.collector(func(o *Options) { o.StartAt = "end" })
	rec := &recorder{}
	collect(t, c, rec)
	if len(rec.Batches()) != 0 {
		t.Fatalf("start_at=end emitted old lines: %v", rec.Batches())
	}
	// The torn line at the end is completed: counted whole.
	f.appendTo(f.log, ll(3, 200, "4", "fastly")[20:])
	collect(t, c, rec)
	want(t, rec.whisper(), "fastly", minA, 1, 4, 1, 0, 0, 0)
}

func TestMissingFileDoesNotStopOthers(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly"))
	c := f.collector(func(o *Options) {
		o.Files = append(o.Files, FileOptions{Path: filepath.Join(f.dir, "absent.log")})
	})
	rec := &recorder{}
	err := c.Collect(context.Background(), collectors.Window{}, rec)
	if err == nil || !strings.Contains(err.Error(), "absent.log") {
		t.Fatalf("error %v does not name the missing file", err)
	}
	want(t, rec.whisper(), "fastly", minA, 1, 1, 1, 0, 0, 0)
}

func TestStateSurvivesAndIsAtomic(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly"))
	collect(t, f.collector(nil), &recorder{})
	st, err := loadState(filepath.Join(f.state, "originlog.state.json"))
	if err != nil {
		t.Fatal(err)
	}
	fs := st.Files[f.log]
	if fs == nil || fs.Offset != int64(len(ll(1, 200, "1", "fastly"))) || fs.Ino == 0 || fs.FPLen == 0 {
		t.Fatalf("file state %+v", fs)
	}
	if len(st.Intervals) != 1 || st.Intervals[0].Start != minA {
		t.Fatalf("intervals %+v", st.Intervals)
	}
	left, _ := filepath.Glob(filepath.Join(f.state, "*.tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestConcurrentRunIsRefused(t *testing.T) {
	f := newFixture(t)
	f.write(f.log, ll(1, 200, "1", "fastly"))
	lk, err := os.OpenFile(filepath.Join(f.state, "originlog.state.json.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := lockFile(lk); err != nil {
		t.Fatal(err)
	}
	err = f.collector(nil).Collect(context.Background(), collectors.Window{}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("second run while locked: %v", err)
	}
	lk.Close()
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	want(t, rec.whisper(), "fastly", minA, 1, 1, 1, 0, 0, 0)
}

func TestInMemoryStateWithoutStateDir(t *testing.T) {
	f := newFixture(t)
	f.state = ""
	f.write(f.log, ll(1, 200, "1", "fastly"))
	o := DefaultOptions()
	o.Service = "www"
	o.Files = []FileOptions{{Path: f.log}}
	c, err := New(o, collectors.Env{Prefix: "cdn", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return f.now }
	rec := &recorder{}
	collect(t, c, rec)
	f.appendTo(f.log, ll(2, 200, "2", "fastly"))
	collect(t, c, rec)
	want(t, rec.whisper(), "fastly", minA, 2, 3, 2, 0, 0, 0)
}

func TestCustomPatternAndUnixTime(t *testing.T) {
	f := newFixture(t)
	// "<epoch.ms> <provider> <status> <bytes>": t0+1.5 s and t0+61 s
	f.write(f.log, fmt.Sprintf("%d.500 fastly 200 10\n%d.000 - 502 5\n%d.000 fastly 304 -\nbroken\n", t0+1, t0+2, t0+61))
	rec := &recorder{}
	collect(t, f.collector(func(o *Options) {
		o.Files[0].Pattern = `^(?P<time>\S+) (?P<provider>\S+) (?P<status>\d{3}) (?P<bytes>\d+|-)$`
		o.Files[0].TimeFormat = "unix"
	}), rec)
	w := rec.whisper()
	want(t, w, "fastly", minA, 1, 10, 1, 0, 0, 0)
	want(t, w, "direct", minA, 1, 5, 0, 0, 0, 1)
	want(t, w, "fastly", minB, 1, 0, 0, 1, 0, 0)
}

func TestOverlongLineIsSkipped(t *testing.T) {
	f := newFixture(t)
	long := ll(2, 200, "1", "fastly")
	long = long[:len(long)-1] + strings.Repeat("x", readBuf+1000) + "\n"
	f.write(f.log, ll(1, 200, "1", "fastly")+long+ll(3, 200, "2", "fastly"))
	rec := &recorder{}
	collect(t, f.collector(nil), rec)
	// The two short lines count; the one longer than the read buffer does not.
	want(t, rec.whisper(), "fastly", minA, 2, 3, 2, 0, 0, 0)
	if !strings.Contains(f.logs.String(), "unmatched=1") {
		t.Errorf("overlong line not reported: %s", f.logs.String())
	}
}

func TestCorruptStateIsMovedAside(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":         "{not json",
		"negative offset": `{"version":1,"step":60,"files":{"x":{"offset":-5}}}`,
		"truncated":       `{"version":1,"step":60,"watermark":0,"files":{},"intervals":[{"start":1795341600,"provid`,
		// Counts no run writes: they would be added to and emitted.
		"negative status":  `{"version":1,"step":60,"files":{},"intervals":[{"start":1795341600,"providers":{"fastly":{"requests":0,"bytes":0,"status":[-5,0,0,0]}}}]}`,
		"negative beacons": `{"version":1,"step":60,"files":{},"intervals":[{"start":1795341600,"beacons":{"rum":-3}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.write(f.log, ll(1, 200, "1", "fastly"))
			sp := filepath.Join(f.state, "originlog.state.json")
			f.write(sp, content)
			rec := &recorder{}
			collect(t, f.collector(nil), rec)
			want(t, rec.whisper(), "fastly", minA, 1, 1, 1, 0, 0, 0)
			if _, err := os.Stat(sp + ".corrupt"); err != nil {
				t.Errorf("corrupt state not kept: %v", err)
			}
			if !strings.Contains(f.logs.String(), "unusable") {
				t.Error("corrupt state not logged")
			}
		})
	}
}
