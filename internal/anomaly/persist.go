package anomaly

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
)

// A Set's state can be saved and loaded, so a detector fed by `collect`
// from cron (one process per run) keeps learning across runs instead of
// starting every series anew.
//
// Format: magic, the fingerprint of the Params, the number of series, then
// per series its path, bookkeeping and every field of its Detector as
// little-endian fixed-size values. State saved under other Params (another
// version of the detector) is not loaded: the series start anew.

const stateMagic = "cdnmetrics-anomaly-v1\n"

// maxPathLen bounds a path read back from a state file.
const maxPathLen = 4096

// stateFormat is the version of the per-detector layout below; it is part
// of the fingerprint, so a state saved by a build with another layout is
// refused as ErrStateMismatch even when the Params look alike. 2 added the
// stuck-value run, 3 the value of the longest run and a Set's pending
// confirmation.
const stateFormat = 3

// fingerprint identifies p and the state layout (and so whether saved
// detectors fit them).
func fingerprint(p Params) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%+v|%d|%d|%d|format %d", p, maxRates, maxShort, seasonBuckets, stateFormat)
	return h.Sum64()
}

// ErrStateMismatch is returned by Load for a state saved under other
// Params; nothing is loaded.
var ErrStateMismatch = errors.New("anomaly state was saved by a different detector version")

// Save writes every series' state to w.
func (s *Set) Save(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bw := bufio.NewWriterSize(w, 64<<10)
	// Each series is encoded into one buffer and written at once: one
	// Write per series, not one per field (at 100 000 series, ~30 M
	// Writes through an interface were most of the save time).
	var e encoder
	e.bytes([]byte(stateMagic))
	e.u64(fingerprint(s.p))
	e.u64(uint64(len(s.series)))
	for path, sr := range s.series {
		e.u64(uint64(len(path)))
		e.bytes([]byte(path))
		e.i64(sr.last)
		e.i64(sr.reported)
		e.f64(sr.score)
		sr.pend.encode(&e)
		sr.d.encode(&e)
		if _, err := bw.Write(e.b); err != nil {
			return err
		}
		e.b = e.b[:0]
	}
	if _, err := bw.Write(e.b); err != nil { // the header of an empty set
		return err
	}
	return bw.Flush()
}

// Load replaces the Set's series with those saved in r. On any error the
// Set is left empty of loaded series (as before the call).
func (s *Set) Load(r io.Reader) error {
	d := decoder{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(stateMagic))
	d.read(magic)
	if d.err != nil || string(magic) != stateMagic {
		return fmt.Errorf("not an anomaly state file")
	}
	if d.u64() != fingerprint(s.p) {
		return ErrStateMismatch
	}
	n := d.u64()
	if d.err == nil && n > uint64(s.o.MaxSeries) {
		return fmt.Errorf("anomaly state holds %d series, more than the limit %d", n, s.o.MaxSeries)
	}
	loaded := make(map[string]*series, min(n, 1<<16))
	// After its path, every series is a record of the same size: it is
	// read whole and decoded from memory (one read per series, not one
	// per field).
	size := seriesRecordSize(s.p)
	rec := make([]byte, size)
	for i := uint64(0); i < n && d.err == nil; i++ {
		l := d.u64()
		if l == 0 || l > maxPathLen {
			return fmt.Errorf("anomaly state: series %d: bad path length %d", i, l)
		}
		path := make([]byte, l)
		d.read(path)
		d.read(rec)
		if d.err != nil {
			break
		}
		m := decoder{b: rec}
		sr := &series{d: New(s.p)}
		sr.last, sr.reported, sr.score = m.i64(), m.i64(), m.f64()
		sr.pend.decode(&m)
		sr.d.decode(&m)
		if m.err != nil {
			return fmt.Errorf("anomaly state: series %d: %w", i, m.err)
		}
		loaded[string(path)] = sr
	}
	if d.err != nil {
		return fmt.Errorf("anomaly state: %w", d.err)
	}
	s.mu.Lock()
	s.series = loaded
	s.mu.Unlock()
	return nil
}

func (d *Detector) encode(e *encoder) {
	e.i64(int64(d.n))
	e.f64(d.min, d.max, d.last)
	d.hi.encode(e)
	d.lo.encode(e)
	e.i64(d.first)
	for i := range d.levels {
		e.f64(d.levels[i].mean, d.levels[i].vari, d.diffs[i].mean, d.diffs[i].vari)
	}
	d.lik.encode(e)
	e.i64(int64(d.quiet))
	e.f64(d.alarms)
	e.u64(d.ctx)
	for _, w := range d.seen {
		e.u64(w)
	}
	for i := range d.season {
		e.f64(d.season[i].mean, d.season[i].vari)
		e.u64(uint64(d.visits[i]))
	}
	d.slik.encode(e)
	seen := uint64(0)
	if d.runSeen {
		seen = 1
	}
	e.u64(uint64(uint32(d.run))<<1 | seen)
	e.u64(uint64(uint32(d.maxRun)))
	e.f64(d.runVal, d.base.mean, d.base.vari)
	e.u64(b2u(d.stuckNow))
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (d *Detector) decode(r *decoder) {
	d.n = int(r.i64())
	d.min, d.max, d.last = r.f64(), r.f64(), r.f64()
	d.hi.decode(r)
	d.lo.decode(r)
	d.first = r.i64()
	for i := range d.levels {
		d.levels[i].mean, d.levels[i].vari = r.f64(), r.f64()
		d.diffs[i].mean, d.diffs[i].vari = r.f64(), r.f64()
	}
	d.lik.decode(r)
	d.quiet = int(r.i64())
	d.alarms = r.f64()
	d.ctx = r.u64()
	for i := range d.seen {
		d.seen[i] = r.u64()
	}
	for i := range d.season {
		d.season[i].mean, d.season[i].vari = r.f64(), r.f64()
		d.visits[i] = uint16(min(r.u64(), math.MaxUint16))
	}
	d.slik.decode(r)
	u := r.u64()
	d.run, d.runSeen = int32(min(u>>1, math.MaxInt32)), u&1 == 1
	d.maxRun = int32(min(r.u64(), math.MaxInt32))
	d.runVal, d.base.mean, d.base.vari = r.f64(), r.f64(), r.f64()
	d.stuckNow = r.u64() == 1
	if d.n < 0 || d.quiet < 0 {
		r.fail(errors.New("negative counter"))
	}
}

func (c *pending) encode(e *encoder) {
	e.i64(int64(c.left))
	e.i64(c.at)
	e.f64(c.value, c.score, c.base, c.dir, c.need)
}

func (c *pending) decode(r *decoder) {
	c.left, c.at = int(r.i64()), r.i64()
	c.value, c.score, c.base, c.dir, c.need = r.f64(), r.f64(), r.f64(), r.f64(), r.f64()
	if c.left < 0 || c.left > maxConfirm {
		r.fail(errors.New("bad pending confirmation"))
	}
}

func (x *extreme) encode(e *encoder) {
	e.f64(x.v)
	at := uint64(0)
	if x.at {
		at = 1
	}
	e.u64(uint64(x.visits)<<1 | at)
}

func (x *extreme) decode(r *decoder) {
	x.v = r.f64()
	u := r.u64()
	x.visits, x.at = int32(min(u>>1, math.MaxInt32)), u&1 == 1
}

func (l *likelihood) encode(e *encoder) {
	e.f64(l.short[:]...)
	e.f64(l.sum, l.long.mean, l.long.vari)
}

func (l *likelihood) decode(r *decoder) {
	for i := range l.short {
		l.short[i] = r.f64()
	}
	l.sum, l.long.mean, l.long.vari = r.f64(), r.f64(), r.f64()
}

// seriesRecordSize is the encoded size of one series after its path (last,
// reported, score and the detector): fixed, whatever the series holds.
func seriesRecordSize(p Params) int {
	var e encoder
	e.i64(0)
	e.i64(0)
	e.f64(0)
	var pd pending
	pd.encode(&e)
	New(p).encode(&e)
	return len(e.b)
}

// encoder appends little-endian words to b.
type encoder struct {
	b []byte
}

func (e *encoder) bytes(b []byte) { e.b = append(e.b, b...) }

func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *encoder) i64(v int64) { e.u64(uint64(v)) }

func (e *encoder) f64(vs ...float64) {
	for _, v := range vs {
		e.u64(math.Float64bits(v))
	}
}

// decoder reads little-endian words from r, or from b when r is nil (one
// series' record, read whole).
type decoder struct {
	r   io.Reader
	b   []byte
	buf [8]byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) read(b []byte) {
	if d.err != nil {
		return
	}
	if d.r == nil {
		if len(d.b) < len(b) {
			d.fail(fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF))
			return
		}
		d.b = d.b[copy(b, d.b):]
		return
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail(fmt.Errorf("truncated: %w", err))
	}
}

func (d *decoder) u64() uint64 {
	if d.r == nil && d.err == nil && len(d.b) >= 8 {
		v := binary.LittleEndian.Uint64(d.b)
		d.b = d.b[8:]
		return v
	}
	d.read(d.buf[:])
	if d.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(d.buf[:])
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }
