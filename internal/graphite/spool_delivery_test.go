package graphite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// spoolBatches sends batches of points through a sink whose carbon at
// addr is down, one Send and Flush per batch so each batch is one spool
// record, and closes it; the points stay in the spool in dir.
func spoolBatches(t *testing.T, addr, dir string, batches [][]schema.Point) {
	t.Helper()
	s, err := New(addr, WithLogger(testLog(t)), WithSpool(dir, 64<<20), WithBatch(len(batches[0]), 1<<20),
		WithRetryWindow(20*time.Millisecond), WithBackoff(10*time.Millisecond, 50*time.Millisecond), WithClose(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := s.Send(ctxT(t, 5*time.Second), b); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	n := len(batches) * len(batches[0])
	if st := s.Stats(); st.SpooledPoints != uint64(n) || st.SpoolPoints != int64(n) {
		t.Fatalf("stats = %+v, want %d spooled and waiting", st, n)
	}
	if err := s.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// damageSpooledLine flips a byte in the middle of line in the only spool
// segment in dir and returns the segment's path and the offset of the
// record holding it (line being the first line of its record).
func damageSpooledLine(t *testing.T, dir, line string) (string, int) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte(line))
	if at < 0 {
		t.Fatalf("line %q not in the spool", line)
	}
	flipAt(t, segs[0], at+len(line)/2)
	return segs[0], at - headerV2
}

// TestSpoolDamagedRecordThroughSink: the sink spools 20 batches while
// carbon is down; a byte of batch 5 is flipped on disk; the next process
// delivers the 19 other batches, counts batch 5's 100 points in
// spool_corrupt_points and logs the skip once.
func TestSpoolDamagedRecordThroughSink(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	var batches [][]schema.Point
	var lines [][]string
	for b := range 20 {
		p, w := points(fmt.Sprintf("t.corrupt.b%02d", b), 100, 10, 9000)
		batches, lines = append(batches, p), append(lines, w)
	}
	spoolBatches(t, f.addr, dir, batches)
	path, off := damageSpooledLine(t, dir, lines[5][0]+"\n")

	f.start()
	var logs logRecorder
	s := newSink(t, f.addr, WithSpool(dir, 64<<20), WithLogger(logs.logger()))
	var want []string
	for b, w := range lines {
		if b != 5 {
			want = append(want, w...)
		}
	}
	f.waitAll(want, 10*time.Second)
	st := statsWhen(s, func(st Stats) bool { return st.SpoolPoints == 0 && st.ReplayedPoints == 1900 })
	if st.ReplayedPoints != 1900 || st.SpoolCorruptPoints != 100 || st.SpoolDroppedPoints != 0 || st.SpoolPoints != 0 {
		t.Fatalf("stats = %+v, want 1900 replayed, 100 corrupt, none dropped or waiting", st)
	}
	if m := f.missing(lines[5]); m != 100 {
		t.Fatalf("%d of the damaged batch's points delivered", 100-m)
	}
	var self float64 = -1
	for _, p := range s.SelfPoints("cdn", time.Unix(1700000000, 0)) {
		if p.Path == "cdn.cdnmetrics.sink.spool_corrupt_points" {
			self = p.Value
		}
	}
	if self != 100 {
		t.Fatalf("self-metric spool_corrupt_points = %v, want 100", self)
	}
	checkSkipLogged(t, &logs, path, off)
}

// TestRealCarbonSpoolDamagedRecord: points spooled while carbon is down,
// a byte flipped in one record, then carbon up: graphite-web has every
// point but that record's, and that record's are not there.
func TestRealCarbonSpoolDamagedRecord(t *testing.T) {
	srv := graphitetest.Start(t)
	down, err := graphitetest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const nBatches, metrics, damaged = 20, 50, 4
	// One 10 s whisper bucket per batch, an hour back (inside the 1 d
	// archive), so no point overwrites another.
	base := time.Now().Add(-time.Hour).Unix() / 10 * 10
	want := map[string]map[int64]float64{}
	var batches [][]schema.Point
	var firstLine string
	for i := range nBatches {
		pts := make([]schema.Point, 0, metrics)
		for m := range metrics {
			p := schema.Point{Path: fmt.Sprintf("cdn.spooltest.svc.m%02d.requests", m), Value: float64(i*1000 + m), Time: base + int64(10*i)}
			pts = append(pts, p)
			if i == damaged {
				if m == 0 {
					firstLine = fmt.Sprintf("%s %d %d\n", p.Path, int(p.Value), p.Time)
				}
				continue
			}
			if want[p.Path] == nil {
				want[p.Path] = map[int64]float64{}
			}
			want[p.Path][p.Time] = p.Value
		}
		batches = append(batches, pts)
	}
	spoolBatches(t, down, dir, batches)
	damageSpooledLine(t, dir, firstLine)

	s := newSink(t, srv.CarbonAddr, WithSpool(dir, 64<<20))
	waitFor(t, "the spool to drain", func() bool { st := s.Stats(); return st.SpoolPoints == 0 && st.Connected })
	found, missing := srv.WaitValues(t, want, 30*time.Second)
	st := s.Stats()
	t.Logf("points spooled %d, found in graphite-web %d, missing %d; sink: replayed %d corrupt %d dropped %d",
		nBatches*metrics, found, missing, st.ReplayedPoints, st.SpoolCorruptPoints, st.SpoolDroppedPoints)
	if missing != 0 || found != (nBatches-1)*metrics || st.SpoolCorruptPoints != metrics || st.ReplayedPoints != (nBatches-1)*metrics {
		t.Fatalf("want %d found, 0 missing, %d replayed, %d counted corrupt", (nBatches-1)*metrics, (nBatches-1)*metrics, metrics)
	}
	// The damaged record's points were not delivered: its bucket is null
	// in a series that has its neighbours.
	ss, err := srv.Render(ctxT(t, 10*time.Second), "cdn.spooltest.svc.m00.requests", base-60, base+10*nBatches)
	if err != nil {
		t.Fatal(err)
	}
	neighbours := 0
	for _, sr := range ss {
		for _, p := range sr.Points {
			switch {
			case p.Time == base+10*damaged && p.Value != nil:
				t.Fatalf("bucket of the damaged record holds %v", *p.Value)
			case (p.Time == base+10*(damaged-1) || p.Time == base+10*(damaged+1)) && p.Value != nil:
				neighbours++
			}
		}
	}
	if neighbours != 2 {
		t.Fatalf("render of m00 has %d of the damaged bucket's 2 neighbours: %+v", neighbours, ss)
	}
}

// TestSpoolCarriedDamageAccounting (review finding 4): a record damaged in
// the spool an earlier process left is that process's loss, counted before
// this one reports anything: spool_corrupt_points is 100 right after New,
// with carbon still down and nothing replayed, and this process's own
// points are 50 delivered, 0 dropped. Earlier runs' figures add up:
// 2000 found = 1900 replayed + 100 corrupt + 0 left.
func TestSpoolCarriedDamageAccounting(t *testing.T) {
	f := downFakeCarbon(t)
	dir := t.TempDir()
	var batches [][]schema.Point
	var lines [][]string
	for b := range 20 {
		p, w := points(fmt.Sprintf("t.carried.b%02d", b), 100, 10, 9000)
		batches, lines = append(batches, p), append(lines, w)
	}
	spoolBatches(t, f.addr, dir, batches)
	damageSpooledLine(t, dir, lines[5][0]+"\n")

	s := newSink(t, f.addr, WithSpool(dir, 64<<20))
	self := map[string]float64{}
	for _, p := range s.SelfPoints("cdn", time.Unix(1700000000, 0)) {
		self[p.Path] = p.Value
	}
	if got := self["cdn.cdnmetrics.sink.spool_corrupt_points"]; got != 100 {
		t.Fatalf("spool_corrupt_points at start = %v, want 100", got)
	}
	if got := self["cdn.cdnmetrics.sink.spool_points"]; got != 1900 {
		t.Fatalf("spool_points at start = %v, want 1900", got)
	}
	f.start()
	own, ownLines := points("t.carried.own", 50, 10, 9100)
	if err := s.Send(ctxT(t, 5*time.Second), own); err != nil {
		t.Fatal(err)
	}
	var want []string
	for b, w := range lines {
		if b != 5 {
			want = append(want, w...)
		}
	}
	f.waitAll(append(want, ownLines...), 10*time.Second)
	if err := s.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	delivered, spooled, dropped, inMemory := st.Own()
	if delivered != 50 || spooled != 0 || dropped != 0 || inMemory != 0 {
		t.Fatalf("own: %d delivered, %d spooled, %d dropped, %d in memory; want 50, 0, 0, 0 (stats %+v)", delivered, spooled, dropped, inMemory, st)
	}
	if st.CarriedPoints != 2000 || st.CarriedReplayed != 1900 || st.CarriedCorrupt != 100 || st.CarriedDropped != 0 || st.SpoolCorruptPoints != 100 {
		t.Fatalf("carried: %d found, %d replayed, %d corrupt, %d dropped (corrupt in all %d); want 2000, 1900, 100, 0 (100)",
			st.CarriedPoints, st.CarriedReplayed, st.CarriedCorrupt, st.CarriedDropped, st.SpoolCorruptPoints)
	}
}
