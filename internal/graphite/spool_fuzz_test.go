package graphite

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// The spool's files are read back by the real replay path (openSpool's
// adoption, then peek and ack as the sink calls them), so that is what the
// fuzzers drive.

// replayFile writes data as the only segment of a fresh spool, opens it and
// replays it. It fails if the replay does not end or a count goes negative,
// and returns the payloads delivered and the spool.
func replayFile(t *testing.T, data []byte) ([][]byte, *spool) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segName(1)), data, 0o640); err != nil {
		t.Fatal(err)
	}
	sp, err := openSpool(dir, 1<<30, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	var got [][]byte
	// Each delivered record is at least one byte: a bound with room.
	for range len(data) + 2 {
		p, n, ok, err := sp.peek()
		if err != nil {
			t.Fatal(err)
		}
		if sp.points < 0 {
			t.Fatalf("points waiting = %d", sp.points)
		}
		if !ok {
			if !sp.empty() || sp.points != 0 {
				t.Fatalf("replay ended with %d points waiting", sp.points)
			}
			return got, sp
		}
		if n <= 0 || len(p) == 0 {
			t.Fatalf("record of %d bytes, payload %d", n, len(p))
		}
		got = append(got, append([]byte(nil), p...))
		sp.ack(n, bytes.Count(p, []byte{'\n'}))
	}
	t.Fatalf("replay of %d bytes did not end", len(data))
	return nil, nil
}

// FuzzSpoolFile: any file in the spool directory must replay without a
// panic, an endless loop or a negative count.
func FuzzSpoolFile(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(segMagicV2))
	f.Add(appendRecordV2([]byte(segMagicV2), []byte("a.b 1 2\n"), 1, 0))
	two := appendRecordV2(appendRecordV2([]byte(segMagicV2), []byte("a 1 1\n"), 1, 0), []byte("b 2 2\nc 3 3\n"), 2, 1)
	f.Add(two)
	f.Add(two[:len(two)-3])
	f.Add(appendRecordV1(appendRecordV1([]byte(segMagicV1), []byte("a 1 1\n")), []byte("b 2 2\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := replayFile(t, data)
		for _, p := range got {
			if !bytes.Contains(data, p) {
				t.Fatal("delivered a payload that is not in the file")
			}
		}
	})
}

// fuzzRecords turns fuzz bytes into record payloads like the sink's: text
// lines (bytes 0x20-0x7e and newlines, as Graphite's plaintext protocol
// has), one record per NUL-separated chunk, each ending with a newline.
func fuzzRecords(text []byte) [][]byte {
	var recs [][]byte
	for _, chunk := range bytes.Split(text, []byte{0}) {
		if len(chunk) == 0 {
			continue
		}
		p := make([]byte, 0, len(chunk)+1)
		for _, b := range chunk {
			if b != '\n' {
				b = 0x20 + b%95
			}
			p = append(p, b)
		}
		if p[len(p)-1] != '\n' {
			p = append(p, '\n')
		}
		recs = append(recs, p)
	}
	return recs
}

// FuzzSpoolReplay: a segment of well-formed records (version 1 or 2) with
// bytes flipped and its tail maybe cut, replayed. The rule for a reader
// that resynchronises:
//   - every record delivered is byte-identical to an intact one written
//     (none of its bytes changed or cut), in the order written, none twice;
//   - every intact record is delivered, even when the segment's magic is
//     damaged (the records are found by their markers or checksums);
//   - version 2 with the last record intact and nothing cut: points
//     delivered + points counted corrupt = points written.
//
// mutations holds 3-byte flips: a little-endian uint16 offset (modulo the
// file size) and the byte to XOR there.
func FuzzSpoolReplay(f *testing.F) {
	f.Add([]byte("a.b 1 2\nc.d 3 4\x00e.f 5 6\n"), []byte{40, 0, 1}, uint16(0), false)
	f.Add([]byte("a 1 1\x00b 2 2\nc 3 3\x00d 4 4\n"), []byte{9, 0, 0xff, 60, 0, 0x10}, uint16(0), true)
	f.Add([]byte("x 1 1\x00y 2 2\x00z 3 3\n"), []byte{}, uint16(5), false)
	f.Fuzz(func(t *testing.T, text, mutations []byte, cut uint16, v1 bool) {
		recs := fuzzRecords(text)
		version, hl := 2, headerV2
		seg := []byte(segMagicV2)
		if v1 {
			version, hl, seg = 1, headerV1, []byte(segMagicV1)
		}
		var written int64
		starts := make([]int, len(recs)) // where each record's header starts
		for i, p := range recs {
			starts[i] = len(seg)
			n := int64(bytes.Count(p, []byte{'\n'}))
			if v1 {
				seg = appendRecordV1(seg, p)
			} else {
				seg = appendRecordV2(seg, p, n, written)
			}
			written += n
		}
		orig := append([]byte(nil), seg...)
		for ; len(mutations) >= 3; mutations = mutations[3:] {
			at := int(binary.LittleEndian.Uint16(mutations)) % len(seg)
			seg[at] ^= mutations[2]
		}
		cutBytes := int(cut) % len(seg)
		seg = seg[:len(seg)-cutBytes]
		// intact: no byte in [from, to) differs from what was written
		// or was cut off.
		intact := func(from, to int) bool {
			return to <= len(seg) && bytes.Equal(seg[from:to], orig[from:to])
		}
		recIntact := func(i int) bool { return intact(starts[i], starts[i]+hl+len(recs[i])) }

		got, sp := replayFile(t, seg)

		// Damaged records are never delivered (the checksums would have
		// to collide), so a delivered payload is matched to the next
		// intact record, and every intact record skipped on the way is a
		// loss.
		next := 0
		var delivered int64
		for _, p := range got {
			for next < len(recs) && !(recIntact(next) && bytes.Equal(recs[next], p)) {
				if recIntact(next) {
					t.Fatalf("record %d intact but not delivered (v%d)", next, version)
				}
				next++
			}
			if next == len(recs) {
				t.Fatalf("delivered %q: not an intact record written (or out of order, or twice)", p)
			}
			delivered += int64(bytes.Count(p, []byte{'\n'}))
			next++
		}
		for ; next < len(recs); next++ {
			if recIntact(next) {
				t.Fatalf("record %d intact but not delivered (v%d)", next, version)
			}
		}
		if version == 2 && len(recs) > 0 && recIntact(len(recs)-1) && cutBytes == 0 {
			if delivered+int64(sp.corrupt) != written {
				t.Fatalf("delivered %d + corrupt %d != written %d", delivered, sp.corrupt, written)
			}
		}
	})
}
