package originlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// refSplitter is the general path compiled from DefaultPattern: the
// reference the hand-written parser must agree with.
func refSplitter(t testing.TB) *regexpSplitter {
	t.Helper()
	r, err := compilePattern(DefaultPattern)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type splitResult struct {
	ok                            bool
	time, status, bytes, provider string
}

func splitWith(sp splitter, line []byte) splitResult {
	var s spans
	if !sp.split(line, &s) {
		return splitResult{}
	}
	return splitResult{true, string(s.time), string(s.status), string(s.bytes), string(s.provider)}
}

var splitCases = []struct {
	name string
	line string
	want splitResult
}{
	{"nginx combined+provider",
		`203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /a.png HTTP/1.1" 200 2326 "-" "Mozilla/5.0 (X11)" "fastly"`,
		splitResult{true, "10/Oct/2000:13:55:36 -0700", "200", "2326", "fastly"}},
	{"no header",
		`203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 304 0 "https://example.com/" "curl/8" "-"`,
		splitResult{true, "10/Oct/2000:13:55:36 -0700", "304", "0", "-"}},
	{"apache dash bytes and escaped quote",
		`2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "GET /q?a=\"b\" HTTP/1.1" 404 - "-" "ua \"x\"" "Akamai"`,
		splitResult{true, "10/Oct/2000:13:55:36 +0000", "404", "-", "Akamai"}},
	{"nginx hex escape", `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01" 400 157 "-" "-" "-"`,
		splitResult{true, "10/Oct/2000:13:55:36 -0700", "400", "157", "-"}},
	{"extra fields after provider",
		`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/2.0" 502 12 "-" "-" "cloudflare" 0.123 "upstream"`,
		splitResult{true, "10/Oct/2000:13:55:36 -0700", "502", "12", "cloudflare"}},
	{"plain combined (no provider field)",
		`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 12 "-" "-"`, splitResult{}},
	{"junk after provider without space",
		`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 12 "-" "-" "fastly"x`, splitResult{}},
	{"two-digit status", `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 20 12 "-" "-" "fastly"`, splitResult{}},
	{"tab instead of space", "1.2.3.4\t- - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 12 \"-\" \"-\" \"fastly\"", splitResult{}},
	{"unterminated quote", `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 12 "-" "-" "fastly\"`, splitResult{}},
	{"empty", ``, splitResult{}},
}

func TestSplitFastEqualsRegexp(t *testing.T) {
	ref := refSplitter(t)
	for _, tc := range splitCases {
		t.Run(tc.name, func(t *testing.T) {
			got := splitWith(fastSplitter{}, []byte(tc.line))
			if got != tc.want {
				t.Errorf("fast: got %+v, want %+v", got, tc.want)
			}
			if r := splitWith(ref, []byte(tc.line)); r != tc.want {
				t.Errorf("regexp: got %+v, want %+v", r, tc.want)
			}
		})
	}
}

func TestParseCLFTime(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		// 2000-10-10 13:55:36 -0700 = 20:55:36 UTC = 971211336 (date -d)
		{"10/Oct/2000:13:55:36 -0700", 971211336, true},
		// the same instant written in UTC and +0530: 20:55:36Z = 02:25:36+0530 next day
		{"10/Oct/2000:20:55:36 +0000", 971211336, true},
		{"11/Oct/2000:02:25:36 +0530", 971211336, true},
		// leap day 2024-02-29 00:00:00Z: 19782 days * 86400 = 1709164800
		{"29/Feb/2024:00:00:00 +0000", 1709164800, true},
		{"29/Feb/2023:00:00:00 +0000", 0, false},
		{"10/oct/2000:13:55:36 -0700", 971211336, true}, // time.Parse ignores month case: fallback agrees
		{"10/Oct/2000:24:00:00 +0000", 0, false},
		{"10/Oct/2000 13:55:36", 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		got, err := parseCLFTime([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseCLFTime(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		// The fast path must agree with time.Parse on every input.
		ref, rerr := time.Parse(DefaultTimeFormat, tc.in)
		if (rerr == nil) != (err == nil) || (rerr == nil && ref.Unix() != got) {
			t.Errorf("parseCLFTime(%q) disagrees with time.Parse: %d,%v vs %v,%v", tc.in, got, err, ref.Unix(), rerr)
		}
	}
}

func TestParseFields(t *testing.T) {
	if v, err := parseStatus([]byte("503")); err != nil || v != 503 {
		t.Errorf("parseStatus(503) = %d, %v", v, err)
	}
	for _, bad := range []string{"099", "5x3", "5030", ""} {
		if _, err := parseStatus([]byte(bad)); err == nil {
			t.Errorf("parseStatus(%q) accepted", bad)
		}
	}
	if v, err := parseBytes([]byte("-")); err != nil || v != 0 {
		t.Errorf("parseBytes(-) = %d, %v", v, err)
	}
	if v, err := parseBytes([]byte("1234567")); err != nil || v != 1234567 {
		t.Errorf("parseBytes(1234567) = %d, %v", v, err)
	}
	if _, err := parseBytes([]byte("1234567890123456789")); err == nil {
		t.Error("19-digit byte count accepted")
	}
	if v, err := (timeParser{"unix"}).parse([]byte("971211336.250")); err != nil || v != 971211336 {
		t.Errorf("unix time = %d, %v", v, err)
	}
}

func TestCompilePatternNeedsGroups(t *testing.T) {
	if _, err := compilePattern(`^(?P<time>\S+) (?P<status>\d+)$`); err == nil {
		t.Error("pattern without provider group accepted")
	}
	if _, err := compilePattern(`(`); err == nil {
		t.Error("broken pattern accepted")
	}
}

// benchLines is a realistic mix: four providers, several statuses, long
// user agents.
func benchLines(n int) [][]byte {
	provs := []string{"fastly", "akamai", "cloudflare", "-"}
	uas := []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "curl/8.5.0"}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `198.51.100.%d - - [22/Nov/2026:10:%02d:%02d +0000] "GET /assets/app.%d.js HTTP/1.1" %d %d "https://www.example.com/page/%d" "%s" "%s"`,
			i%250, (i/60)%60, i%60, i%97, []int{200, 200, 200, 304, 404, 503}[i%6], 1000+i%50000, i%13, uas[i%2], provs[i%4])
	}
	return out
}

func benchSplit(b *testing.B, sp splitter) {
	lines := benchLines(4096)
	var total int
	for _, l := range lines {
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	var s spans
	for i := 0; i < b.N; i++ {
		if !sp.split(lines[i%len(lines)], &s) {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkSplitFast measures the hand-written parser (one core).
func BenchmarkSplitFast(b *testing.B) { benchSplit(b, fastSplitter{}) }

// BenchmarkSplitRegexp measures the same lines through DefaultPattern.
func BenchmarkSplitRegexp(b *testing.B) { benchSplit(b, refSplitter(b)) }

// BenchmarkCountLine measures the whole per-line work of a run: split,
// status, bytes, time, bucket, provider lookup, counting and the beacon
// pre-check.
func BenchmarkCountLine(b *testing.B) {
	o := DefaultOptions()
	o.Service = "www"
	o.Files = []FileOptions{{Path: "bench.log"}}
	o.Beacons.Pattern = `GET /beacon\.gif\?source=(?P<source>[A-Za-z0-9_-]+)`
	c, err := New(o, testEnv(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	lines := benchLines(4096)
	r := &run{st: &state{Files: map[string]*fileState{}}, byStart: map[int64]*interval{}, touched: map[int64]bool{},
		provNames: map[string]bool{}, srcNames: map[string]bool{}, futureAt: 1 << 40}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.line(ctx, lines[i%len(lines)], c.files[0], r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if r.unmatched != 0 {
		b.Fatalf("%d unmatched", r.unmatched)
	}
}

// BenchmarkCollectFile measures a whole cron run over a 100 000-line log:
// open, fingerprint, read, count, emit, save state.
func BenchmarkCollectFile(b *testing.B) {
	dir := b.TempDir()
	path := dir + "/access.log"
	var buf bytes.Buffer
	const n = 100000
	for _, l := range benchLines(n) {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	o := DefaultOptions()
	o.Service = "www"
	o.Files = []FileOptions{{Path: path}}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := New(o, collectors.Env{Prefix: "cdn", StateDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		c.now = func() time.Time { return time.Unix(t0+3600, 0) }
		if err := c.Collect(context.Background(), collectors.Window{}, collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil })); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
