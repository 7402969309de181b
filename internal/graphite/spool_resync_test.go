package graphite

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Issue #16 item 2: one damaged record in a spool segment must cost that
// record, not the rest of the segment, and the points it held must be
// counted and logged once.

// bigRecords returns the payloads of recs batches of lines lines each,
// like the sink's (about 45 bytes a line, ~4.4 MB in all for 96 × 1000),
// and each record's first line, unique in the segment.
func bigRecords(recs, lines int) (payloads [][]byte) {
	for r := range recs {
		var b bytes.Buffer
		for i := range lines {
			fmt.Fprintf(&b, "cdn.fastly.r%03d.m%04d.requests %d %d\n", r, i, r*lines+i, 1700000000+60*r)
		}
		payloads = append(payloads, b.Bytes())
	}
	return payloads
}

// logRecorder keeps the JSON lines a logger writes (from any goroutine).
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logRecorder) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// events returns the logged lines whose msg is msg.
func (l *logRecorder) events(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if ev["msg"] == msg {
			out = append(out, ev)
		}
	}
	return out
}

const skippedMsg = "graphite spool skipped damaged record"

// replayAll replays the spool the way the sink does (peek, deliver, ack)
// and returns the lines delivered.
func replayAll(t testing.TB, sp *spool) []string {
	t.Helper()
	var got []string
	for range 1 << 20 {
		p, n, ok, err := sp.peek()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
		lines := strings.SplitAfter(string(p), "\n")
		lines = lines[:len(lines)-1] // after the last newline
		got = append(got, lines...)
		sp.ack(n, len(lines))
	}
	t.Fatal("replay did not end")
	return nil
}

func linesOf(payloads ...[]byte) []string {
	var out []string
	for _, p := range payloads {
		l := strings.SplitAfter(string(p), "\n")
		out = append(out, l[:len(l)-1]...)
	}
	return out
}

// spoolRecords writes payloads to a fresh spool in one segment and returns
// the spool and the segment's path.
func spoolRecords(t *testing.T, dir string, log *slog.Logger, payloads [][]byte) (*spool, string) {
	t.Helper()
	sp, err := openSpool(dir, 256<<20, log) // one segment up to 64 MiB
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads {
		if err := sp.append(p, bytes.Count(p, []byte{'\n'})); err != nil {
			t.Fatal(err)
		}
	}
	if len(sp.segs) != 1 {
		t.Fatalf("%d segments, want 1", len(sp.segs))
	}
	return sp, sp.segs[0].path
}

// payloadAt returns where payload starts in the segment file data: found by
// its bytes (unique by construction), not by the spool's own arithmetic.
func payloadAt(t *testing.T, data, payload []byte) int {
	t.Helper()
	i := bytes.Index(data, payload)
	if i < 0 {
		t.Fatal("payload not found in segment")
	}
	return i
}

func flipAt(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff // never makes or unmakes a newline in text
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// checkLost asserts the replay delivered exactly want, counted corrupt
// points and logged one skip per damaged record at offsets.
func checkLost(t *testing.T, sp *spool, got, want []string, corrupt uint64, logs *logRecorder, path string, offsets ...int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("delivered %d points, want %d (%d lost, %d counted corrupt)", len(got), len(want), len(want)-len(got), sp.corrupt)
	} else {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("point %d delivered as %q, want %q", i, got[i], want[i])
			}
		}
	}
	if sp.corrupt != corrupt {
		t.Errorf("corrupt points counted %d, want %d", sp.corrupt, corrupt)
	}
	if !sp.empty() || sp.points != 0 {
		t.Errorf("after replay: empty %v, points %d", sp.empty(), sp.points)
	}
	checkSkipLogged(t, logs, path, offsets...)
}

// checkSkipLogged asserts one skip was logged per damaged stretch, with
// the file and the offset of its first record.
func checkSkipLogged(t *testing.T, logs *logRecorder, path string, offsets ...int) {
	t.Helper()
	evs := logs.events(t, skippedMsg)
	if len(evs) != len(offsets) {
		t.Fatalf("%d %q log lines, want %d:\n%s", len(evs), skippedMsg, len(offsets), logs.String())
	}
	for i, ev := range evs {
		if ev["file"] != path || ev["offset"] != float64(offsets[i]) {
			t.Errorf("log %d: file %v offset %v, want %s %d", i, ev["file"], ev["offset"], path, offsets[i])
		}
	}
}

// TestSpoolFlippedByteLosesOnlyItsRecord is the case: 96 000
// points in a 4.4 MB segment, one byte flipped at 20 %. Before the fix the
// replay stopped there and delivered 19 000 points.
func TestSpoolFlippedByteLosesOnlyItsRecord(t *testing.T) {
	payloads := bigRecords(96, 1000)
	for _, reopen := range []bool{true, false} {
		name := "same process"
		if reopen {
			name = "next process"
		}
		t.Run(name, func(t *testing.T) {
			var logs logRecorder
			dir := t.TempDir()
			sp, path := spoolRecords(t, dir, logs.logger(), payloads)
			data, _ := os.ReadFile(path)
			// The first byte of a payload at or after 20 %, and the
			// record it belongs to.
			at := len(data) / 5
			k := 0
			for k < len(payloads) && payloadAt(t, data, payloads[k])+len(payloads[k]) <= at {
				k++
			}
			start := payloadAt(t, data, payloads[k])
			at = max(at, start)
			if data[at] == '\n' {
				at++
			}
			flipAt(t, path, at)
			if reopen {
				sp.close()
				var err error
				if sp, err = openSpool(dir, 256<<20, logs.logger()); err != nil {
					t.Fatal(err)
				}
			}
			got := replayAll(t, sp)
			want := linesOf(append(append([][]byte{}, payloads[:k]...), payloads[k+1:]...)...)
			t.Logf("flipped byte %d of %d (record %d); delivered %d of %d points, %d counted corrupt", at, len(data), k, len(got), 96000, sp.corrupt)
			checkLost(t, sp, got, want, 1000, &logs, path, start-headerV2)
		})
	}
}

// TestSpoolDamagedHeader: a flipped byte in any field of a record's header
// (marker, length, points, points-before, payload CRC, header CRC) costs
// that record only, and its points are still counted exactly; likewise in
// the first and the last record, and two damaged records in one segment.
func TestSpoolDamagedHeader(t *testing.T) {
	payloads := bigRecords(20, 100)
	for _, tc := range []struct {
		name  string
		recs  []int // damaged records
		field int   // byte in the 24-byte header; -1: a payload byte
	}{
		{"marker", []int{7}, 1},
		{"length", []int{7}, 5},
		{"length high byte", []int{7}, 7},
		{"points", []int{7}, 8},
		{"points before", []int{7}, 12},
		{"payload crc", []int{7}, 17},
		{"header crc", []int{7}, 22},
		{"first record", []int{0}, 5},
		{"last record header", []int{19}, 5},
		{"last record payload", []int{19}, -1},
		{"two records", []int{3, 12}, -1},
		// One damaged stretch, one log line (at its start) for both.
		{"adjacent records", []int{3, 4}, 5},
	} {
		for _, reopen := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/reopen=%v", tc.name, reopen), func(t *testing.T) {
				var logs logRecorder
				dir := t.TempDir()
				sp, path := spoolRecords(t, dir, logs.logger(), payloads)
				data, _ := os.ReadFile(path)
				var offsets []int
				lost := map[int]bool{}
				for _, k := range tc.recs {
					start := payloadAt(t, data, payloads[k])
					offsets = append(offsets, start-headerV2)
					lost[k] = true
					if tc.field < 0 {
						flipAt(t, path, start+len(payloads[k])/2)
					} else {
						flipAt(t, path, start-headerV2+tc.field)
					}
				}
				if reopen {
					sp.close()
					var err error
					if sp, err = openSpool(dir, 256<<20, logs.logger()); err != nil {
						t.Fatal(err)
					}
				}
				var kept [][]byte
				for k, p := range payloads {
					if !lost[k] {
						kept = append(kept, p)
					}
				}
				if tc.name == "adjacent records" {
					offsets = offsets[:1]
				}
				got := replayAll(t, sp)
				checkLost(t, sp, got, linesOf(kept...), uint64(100*len(tc.recs)), &logs, path, offsets...)
			})
		}
	}
}

// appendRecordV1 frames payload as a version 1 record (length | CRC-32C |
// payload), the format written before issue #16.
func appendRecordV1(b, payload []byte) []byte {
	var h [8]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	return append(append(b, h[:]...), payload...)
}

// TestSpoolReadsVersion1Segments: a spool left by a version that wrote
// "cdnspl1" segments is replayed, before what this version appends; a
// flipped byte in one of its records costs that record only.
func TestSpoolReadsVersion1Segments(t *testing.T) {
	payloads := bigRecords(10, 100)
	for _, flip := range []string{"none", "payload", "length"} {
		t.Run(flip, func(t *testing.T) {
			var logs logRecorder
			dir := t.TempDir()
			seg := []byte("cdnspl1\n")
			for _, p := range payloads[:8] {
				seg = appendRecordV1(seg, p)
			}
			path := filepath.Join(dir, segName(3))
			if err := os.WriteFile(path, seg, 0o640); err != nil {
				t.Fatal(err)
			}
			kept := append([][]byte{}, payloads...)
			var offsets []int
			wantCorrupt := uint64(0)
			start := payloadAt(t, seg, payloads[4])
			switch flip {
			case "payload":
				flipAt(t, path, start+100)
			case "length":
				flipAt(t, path, start-8+1) // the length becomes ~64 KiB, past the end of the file
			}
			if flip != "none" {
				kept = append(kept[:4], kept[5:]...)
				offsets = append(offsets, start-8)
				// Version 1 estimates the loss from the newlines in the
				// skipped bytes; this test's headers hold none.
				if bytes.IndexByte(seg[start-8:start], '\n') >= 0 {
					t.Fatal("test data: a version 1 header holds a newline")
				}
				wantCorrupt = 100
			}
			sp, err := openSpool(dir, 256<<20, logs.logger())
			if err != nil {
				t.Fatal(err)
			}
			// A damaged record is counted when the segment is adopted, and
			// the segment is rewritten (as version 2) without it.
			wantVersion := 1
			if wantCorrupt > 0 {
				wantVersion = 2
			}
			if sp.points != 800-int64(wantCorrupt) || sp.corrupt != wantCorrupt || sp.nextID != 4 {
				t.Fatalf("adopted %d points (%d corrupt), next id %d; want %d (%d), 4", sp.points, sp.corrupt, sp.nextID, 800-wantCorrupt, wantCorrupt)
			}
			for _, p := range payloads[8:] {
				if err := sp.append(p, 100); err != nil {
					t.Fatal(err)
				}
			}
			if len(sp.segs) != 2 || sp.segs[0].version != wantVersion || sp.segs[1].version != 2 {
				t.Fatalf("segments %+v %+v, want the old version %d then a new version 2", sp.segs[0], sp.segs[len(sp.segs)-1], wantVersion)
			}
			got := replayAll(t, sp)
			checkLost(t, sp, got, linesOf(kept...), wantCorrupt, &logs, path, offsets...)
		})
	}
}

// TestSpoolDamagedMagic (review finding 3): a flipped byte in a segment's
// 8-byte magic cost the whole segment ("bad header", renamed .bad, nothing
// counted). The records are found by their own markers (version 2) or
// checksums (version 1) and delivered; damage beyond the magic costs only
// its records, counted; a file with nothing readable is set aside with its
// newlines counted as corrupt points.
func TestSpoolDamagedMagic(t *testing.T) {
	payloads := bigRecords(10, 100)
	for _, tc := range []struct {
		name        string
		v1          bool
		alsoRecord  int // a record whose payload is damaged too; -1 none
		wantCorrupt uint64
	}{
		{"v2 magic", false, -1, 0},
		{"v1 magic", true, -1, 0},
		{"v2 magic and first record", false, 0, 100},
		{"v2 magic and record 6", false, 6, 100},
		{"v1 magic and record 6", true, 6, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logRecorder
			dir := t.TempDir()
			seg := []byte(segMagicV2)
			var written int64
			for _, p := range payloads {
				if tc.v1 {
					seg = appendRecordV1(seg, p)
				} else {
					seg = appendRecordV2(seg, p, 100, written)
				}
				written += 100
			}
			if tc.v1 {
				copy(seg, segMagicV1)
			}
			path := filepath.Join(dir, segName(1))
			if err := os.WriteFile(path, seg, 0o640); err != nil {
				t.Fatal(err)
			}
			flipAt(t, path, 6) // the reviewer's byte: "cdnspl2" -> "cdnspl\xcd"
			kept := payloads
			if tc.alsoRecord >= 0 {
				flipAt(t, path, payloadAt(t, seg, payloads[tc.alsoRecord])+50)
				kept = append(append([][]byte{}, payloads[:tc.alsoRecord]...), payloads[tc.alsoRecord+1:]...)
			}
			sp, err := openSpool(dir, 256<<20, logs.logger())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + ".bad"); err == nil {
				t.Fatal("segment set aside as .bad")
			}
			// Counted at the start, before any replay.
			if sp.corrupt != tc.wantCorrupt || sp.points != 1000-int64(tc.wantCorrupt) {
				t.Fatalf("adopted %d points, %d corrupt; want %d, %d", sp.points, sp.corrupt, 1000-tc.wantCorrupt, tc.wantCorrupt)
			}
			// The next process (nothing replayed yet) finds a sound
			// segment: the damage is not counted twice.
			sp.close()
			var logs2 logRecorder
			if sp, err = openSpool(dir, 256<<20, logs2.logger()); err != nil {
				t.Fatal(err)
			}
			if sp.corrupt != 0 || sp.points != 1000-int64(tc.wantCorrupt) {
				t.Fatalf("reopened: %d points, %d corrupt; want %d, 0", sp.points, sp.corrupt, 1000-tc.wantCorrupt)
			}
			got := replayAll(t, sp)
			checkLost(t, sp, got, linesOf(kept...), 0, &logs2, path)
		})
	}
	t.Run("v2 magic turned into v1's", func(t *testing.T) {
		dir := t.TempDir()
		seg := []byte("cdnspl1\n") // two bits flipped in "cdnspl2\n"
		var written int64
		for _, p := range payloads {
			seg = appendRecordV2(seg, p, 100, written)
			written += 100
		}
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o640); err != nil {
			t.Fatal(err)
		}
		sp, err := openSpool(dir, 256<<20, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		if got := replayAll(t, sp); len(got) != 1000 || sp.corrupt != 0 {
			t.Fatalf("delivered %d of 1000 points, %d corrupt", len(got), sp.corrupt)
		}
	})
	t.Run("nothing readable", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, segName(1))
		// A damaged magic and 3 lines with no record framing.
		if err := os.WriteFile(path, []byte("cdnXpl2\na 1 1\nb 2 2\nc 3 3\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		sp, err := openSpool(dir, 256<<20, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path + ".bad"); err != nil {
			t.Fatalf("not set aside: %v", err)
		}
		if sp.corrupt != 3 || sp.points != 0 {
			t.Fatalf("%d corrupt, %d waiting; want 3, 0", sp.corrupt, sp.points)
		}
	})
}
