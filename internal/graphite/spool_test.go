package graphite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// record returns a payload of exactly 992 bytes holding 8 lines of 124
// bytes for record number r, so a framed record is 1000 bytes.
func record(r int) []byte {
	var b bytes.Buffer
	for i := range 8 {
		head := fmt.Sprintf("r%04d.l%d ", r, i)
		// line = head + path filler + " 1 1\n"; 124 bytes in all.
		b.WriteString(head + strings.Repeat("x", 124-len(head)-5) + " 1 1\n")
	}
	if b.Len() != 992 {
		panic(b.Len())
	}
	return b.Bytes()
}

func recordNo(p []byte) string { return string(p[:5]) }

func TestSpoolDropsOldestSegment(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 12288, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	// max 12288 → segMax = max(12288/4, 4096) = 4096. A segment is 8 bytes
	// of magic plus 1000-byte records and rotates once it reaches 4096, so
	// it holds 5 records (5008 bytes). Two full segments are 10016 bytes; a
	// third pushes the total over 12288 after its third record (13024):
	// records 1-5 are dropped after record 13, 6-10 after 18, 11-15 after
	// 23 and 16-20 after 28. 30 records leave 21-30 and 4*5*8 = 160
	// dropped points.
	for r := 1; r <= 30; r++ {
		if err := sp.append(record(r), 8); err != nil {
			t.Fatal(err)
		}
	}
	if sp.dropped != 160 || sp.points != 80 || sp.total != 10016 || len(sp.segs) != 2 {
		t.Fatalf("dropped=%d points=%d total=%d segs=%d, want 160, 80, 10016, 2", sp.dropped, sp.points, sp.total, len(sp.segs))
	}
	var got []string
	for {
		p, n, ok, err := sp.peek()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, recordNo(p))
		sp.ack(n, 8)
	}
	if len(got) != 10 || got[0] != "r0021" || got[9] != "r0030" {
		t.Fatalf("replayed %v, want r0021..r0030", got)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix)); len(files) != 0 || sp.points != 0 {
		t.Fatalf("after replay: files %v, points %d", files, sp.points)
	}
}

func TestSpoolDropCountedBySink(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	// Each batch is one Send of 100 points, spooled as its own record.
	s := newSink(t, f.addr, WithSpool(dir, 8192), WithBatch(100, 1<<20))
	for i := range 10 {
		p, _ := points(fmt.Sprintf("t.drop%d", i), 100, 100, 1)
		if err := s.Send(ctxT(t, 5e9), p); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctxT(t, 5e9)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	// Every point is either waiting in the spool or counted as dropped.
	if st.SpooledPoints != 1000 || st.SpoolDroppedPoints == 0 || uint64(st.SpoolPoints)+st.SpoolDroppedPoints != 1000 || st.SpoolBytes > 8192+4096 {
		t.Fatalf("stats = %+v: want 1000 spooled = waiting + dropped, some dropped, bytes near 8192", st)
	}
}

func TestSpoolCorruptTail(t *testing.T) {
	for name, damage := range map[string]func(path string, size int64){
		"truncated payload": func(p string, n int64) { os.Truncate(p, n-5) },
		"truncated header":  func(p string, n int64) { os.Truncate(p, n-1000+3) },
		"flipped byte": func(p string, n int64) {
			b, _ := os.ReadFile(p)
			b[n-10] ^= 0xff
			os.WriteFile(p, b, 0o640)
		},
		"garbage appended": func(p string, n int64) {
			fh, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			fh.Write([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2})
			fh.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			sp, err := openSpool(dir, 1<<20, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			for r := 1; r <= 3; r++ {
				if err := sp.append(record(r), 8); err != nil {
					t.Fatal(err)
				}
			}
			path := sp.segs[0].path
			sp.close()
			damage(path, 8+3*1000)
			sp2, err := openSpool(dir, 1<<20, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			// Damage to record 3 keeps records 1 and 2 (16 points,
			// 2008 bytes); appended garbage keeps all three.
			want := []string{"r0001", "r0002"}
			if name == "garbage appended" {
				want = append(want, "r0003")
			}
			if sp2.points != int64(8*len(want)) {
				t.Fatalf("points = %d, want %d", sp2.points, 8*len(want))
			}
			if st, _ := os.Stat(path); st.Size() != int64(8+1000*len(want)) {
				t.Fatalf("file not cut to the good prefix: %d bytes", st.Size())
			}
			var got []string
			for {
				p, n, ok, err := sp2.peek()
				if err != nil || !ok {
					break
				}
				got = append(got, recordNo(p))
				sp2.ack(n, 8)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("replayed %v, want %v", got, want)
			}
		})
	}
}

func TestSpoolEmptyAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, segName(1)), nil, 0o640)                // crash right after create
	os.WriteFile(filepath.Join(dir, segName(2)), []byte("not ours"), 0o640) // foreign
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o640)
	sp, err := openSpool(dir, 1<<20, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if !sp.empty() || sp.nextID != 3 {
		t.Fatalf("empty=%v nextID=%d, want true, 3", sp.empty(), sp.nextID)
	}
	if _, err := os.Stat(filepath.Join(dir, segName(2)+".bad")); err != nil {
		t.Fatalf("foreign segment not set aside: %v", err)
	}
}

// FuzzSegment: the reader of spool files must never panic or over-read,
// and its good prefix must re-encode to exactly the same bytes.
func FuzzSegment(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(segMagic))
	f.Add(appendRecord([]byte(segMagic), []byte("a.b 1 2\n")))
	two := appendRecord(appendRecord([]byte(segMagic), []byte("a 1 1\n")), []byte("b 2 2\nc 3 3\n"))
	f.Add(two)
	f.Add(two[:len(two)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, good, err := decodeSegment(data)
		if good < 0 || good > len(data) {
			t.Fatalf("good = %d of %d", good, len(data))
		}
		if err == nil && len(data) > 0 && good != len(data) {
			t.Fatalf("no error but good %d != %d", good, len(data))
		}
		if good == 0 {
			if len(recs) != 0 {
				t.Fatal("records without a good prefix")
			}
			return
		}
		re := []byte(segMagic)
		for _, r := range recs {
			re = appendRecord(re, r)
		}
		if !bytes.Equal(re, data[:good]) {
			t.Fatal("re-encoded records differ from the good prefix")
		}
	})
}

// TestSeedCorpus checks the hand-made segment images in
// testdata/fuzz/FuzzSegment decode as their names say.
func TestSeedCorpus(t *testing.T) {
	for name, want := range map[string]struct {
		recs int
		err  error
	}{
		"good_two_records": {2, nil},
		"truncated_tail":   {1, errTruncated},
		"bad_checksum":     {1, errChecksum},
		"huge_length":      {0, errTooLong},
		"zero_length":      {0, errTooLong},
		"bad_magic":        {0, errBadMagic},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzSegment", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		lit := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
		data, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs, _, err := decodeSegment([]byte(data))
		if len(recs) != want.recs || err != want.err {
			t.Errorf("%s: %d records, err %v; want %d, %v", name, len(recs), err, want.recs, want.err)
		}
	}
}
