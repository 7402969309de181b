package graphite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// record returns a payload of exactly 976 bytes holding 8 lines of 122
// bytes for record number r, so a framed record (24-byte header) is 1000
// bytes.
func record(r int) []byte {
	var b bytes.Buffer
	for i := range 8 {
		head := fmt.Sprintf("r%04d.l%d ", r, i)
		// line = head + path filler + " 1 1\n"; 122 bytes in all.
		b.WriteString(head + strings.Repeat("x", 122-len(head)-5) + " 1 1\n")
	}
	if b.Len() != 976 {
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
			// 2008 bytes); appended garbage keeps all three. A record cut
			// short is a write a crash interrupted (never reported
			// durable) and is not counted; the flipped byte leaves record
			// 3 whole but damaged: its 8 points are counted as corrupt.
			want := []string{"r0001", "r0002"}
			if name == "garbage appended" {
				want = append(want, "r0003")
			}
			wantCorrupt := uint64(0)
			if name == "flipped byte" {
				wantCorrupt = 8
			}
			if sp2.points != int64(8*len(want)) || sp2.corrupt != wantCorrupt {
				t.Fatalf("points = %d, corrupt = %d; want %d, %d", sp2.points, sp2.corrupt, 8*len(want), wantCorrupt)
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
