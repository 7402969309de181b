package originlog

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// FuzzSplit checks that the hand-written parser and DefaultPattern cut
// every line the same way (lines never hold a newline: the reader splits
// on it), and that the general path with a custom pattern never panics.
func FuzzSplit(f *testing.F) {
	for _, tc := range splitCases {
		f.Add([]byte(tc.line))
	}
	for _, l := range benchLines(8) {
		f.Add(l)
	}
	// Negative and overflowing byte counts: matched, their bytes rejected.
	f.Add([]byte(`203.0.113.7 - - [22/Nov/2026:10:01:10 +0000] "GET / HTTP/1.1" 503 -5 "-" "-" "fastly"`))
	f.Add([]byte(`203.0.113.7 - - [22/Nov/2026:10:01:10 +0000] "GET / HTTP/1.1" 200 - "-" "-" "fastly"`))
	f.Add([]byte(`203.0.113.7 - - [22/Nov/2026:10:01:10 +0000] "GET / HTTP/1.1" 200 -- "-" "-" "fastly"`))
	ref := refSplitter(f)
	custom, err := compilePattern(`^(?P<time>\d+(?:\.\d+)?) (?P<provider>\S+) (?P<status>\d+)(?: (?P<bytes>\d+))?`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			t.Skip()
		}
		fast := splitWith(fastSplitter{}, line)
		slow := splitWith(ref, line)
		if fast != slow {
			t.Fatalf("fast %+v != regexp %+v for %q", fast, slow, line)
		}
		_ = splitWith(custom, line)
		if fast.ok {
			_, _ = parseStatus([]byte(fast.status))
			_, _ = parseBytes([]byte(fast.bytes))
			_, _ = parseCLFTime([]byte(fast.time))
		}
	})
}

// FuzzCLFTime checks the allocation-free time reader against time.Parse.
func FuzzCLFTime(f *testing.F) {
	for _, s := range []string{"10/Oct/2000:13:55:36 -0700", "29/Feb/2024:00:00:00 +0000", "31/Dec/9999:23:59:59 -2359",
		"01/Jan/0000:00:00:00 +0000", "10/oct/2000:13:55:36 -0700", "10/Oct/2000:13:55:60 -0700", "10/Oct/2000:13:55:36 +2400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseCLFTime([]byte(s))
		ref, rerr := time.Parse(DefaultTimeFormat, s)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%q: err %v, time.Parse err %v", s, err, rerr)
		}
		if err == nil && got != ref.Unix() {
			t.Fatalf("%q: %d, time.Parse %d", s, got, ref.Unix())
		}
	})
}

// FuzzCountLine runs arbitrary lines through the whole per-line path
// (both parsers, beacon pattern) and checks the counters stay consistent.
func FuzzCountLine(f *testing.F) {
	for _, tc := range splitCases {
		f.Add([]byte(tc.line))
	}
	f.Add([]byte(`1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] "GET /beacon.gif?source=checkout HTTP/1.1" 200 43 "-" "-" "fastly"`))
	o := DefaultOptions()
	o.Service = "www"
	o.Files = []FileOptions{{Path: "a.log"}, {Path: "b.log", Pattern: `^(?P<time>\S+) (?P<provider>\S+) (?P<status>\d+) (?P<bytes>\S+)`, TimeFormat: "unix"}}
	o.Beacons.Pattern = `GET /beacon\.gif\?source=(?P<source>[A-Za-z0-9_-]+)`
	c, err := New(o, testEnv(f, ""))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			t.Skip()
		}
		r := &run{st: &state{Files: map[string]*fileState{}}, byStart: map[int64]*interval{}, touched: map[int64]bool{},
			provNames: map[string]bool{}, srcNames: map[string]bool{}, futureAt: 1 << 40}
		for _, lf := range c.files {
			c.line(context.Background(), line, lf, r)
		}
		var reqs int64
		for _, iv := range r.byStart {
			for _, pc := range iv.Providers {
				reqs += pc.Requests
				var cls int64
				for _, v := range pc.Status {
					cls += v
				}
				if cls > pc.Requests || pc.Bytes < 0 {
					t.Fatalf("inconsistent counts %+v", pc)
				}
			}
		}
		if reqs+r.unmatched+r.late+r.future != r.lines {
			t.Fatalf("lines %d != counted %d + unmatched %d + late %d + future %d", r.lines, reqs, r.unmatched, r.late, r.future)
		}
	})
}
