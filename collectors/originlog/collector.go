package originlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// LocationOrigin is the location element of every originlog path.
const LocationOrigin = "origin"

const (
	fpMax       = 256       // bytes hashed to fingerprint a file
	readBuf     = 256 << 10 // read chunk; also the longest line counted
	maxDebug    = 20        // unmatched lines logged at debug per file and run
	gaugesBatch = 10000     // gauges per Emit
)

// Collector tails access logs and counts origin requests per provider.
type Collector struct {
	opts      *Options
	log       *slog.Logger
	prefix    string
	step      int64
	hold      time.Duration
	statePath string // "" keeps state in memory
	files     []*logFile
	beacon    *regexp.Regexp
	beaconSrc int
	beaconLit []byte // literal every beacon match contains: a cheap pre-check
	allowed   map[string]bool
	now       func() time.Time
	clock     collectors.Clock // lines stamped beyond our clock are rejected and counted

	mu      sync.Mutex // one run at a time
	mem     *state
	held    map[string]*heldFile // daemon: the file each path was last read from
	buf     []byte
	nameFor map[string]string // raw header value → provider name
}

type logFile struct {
	path  string
	split splitter
	tp    timeParser
	bytes bool // the pattern yields a byte count
}

type heldFile struct {
	f        *os.File
	dev, ino uint64
}

// New builds the collector from validated options.
func New(o *Options, env collectors.Env) (*Collector, error) {
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Collector{
		opts:    o,
		log:     log.With("collector", Name),
		prefix:  env.Prefix,
		step:    int64(o.Step / time.Second),
		hold:    o.Hold,
		now:     time.Now,
		clock:   env.Clock,
		held:    map[string]*heldFile{},
		nameFor: map[string]string{},
		allowed: map[string]bool{},
	}
	if c.step <= 0 {
		return nil, fmt.Errorf("originlog: step %v", o.Step)
	}
	if env.StateDir != "" {
		c.statePath = filepath.Join(env.StateDir, Name+".state.json")
	}
	for _, p := range o.Providers {
		c.allowed[p] = true
	}
	for _, f := range o.Files {
		lf := &logFile{path: f.Path, split: fastSplitter{}, tp: timeParser{DefaultTimeFormat}, bytes: true}
		if f.TimeFormat != "" {
			lf.tp.layout = f.TimeFormat
		}
		if f.Pattern != "" {
			r, err := compilePattern(f.Pattern)
			if err != nil {
				return nil, fmt.Errorf("originlog: %s: %w", f.Path, err)
			}
			lf.split, lf.bytes = r, r.iBytes >= 0
		}
		c.files = append(c.files, lf)
	}
	if o.Beacons.Pattern != "" {
		re, err := regexp.Compile(o.Beacons.Pattern)
		if err != nil {
			return nil, fmt.Errorf("originlog: beacons: %w", err)
		}
		c.beacon, c.beaconSrc = re, re.SubexpIndex("source")
		if c.beaconSrc < 0 {
			return nil, errors.New("originlog: beacons: pattern has no (?P<source>…) group")
		}
		lit, _ := re.LiteralPrefix()
		c.beaconLit = []byte(lit)
	}
	return c, nil
}

// run is the bookkeeping of one Collect.
type run struct {
	st        *state
	byStart   map[int64]*interval
	touched   map[int64]bool
	last      *interval
	provNames map[string]bool
	srcNames  map[string]bool
	futureAt  int64
	sp        spans // reused: a local would escape through the interface call
	// per-file counters, reset for every file
	lines, unmatched, late, future int64
	badBytes                       int64 // lines kept without their impossible byte count
}

// Collect reads what was appended to each log since the last run and emits
// the whole counts of every interval that received lines (see doc.go for
// the re-emission rule). It ignores w: the log says what is new.
func (c *Collector) Collect(ctx context.Context, _ collectors.Window, e collectors.Emitter) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	st, unlock, err := c.loadState()
	if err != nil {
		return err
	}
	defer unlock()
	now := c.now()
	r := &run{st: st, byStart: map[int64]*interval{}, touched: map[int64]bool{},
		provNames: map[string]bool{}, srcNames: map[string]bool{},
		// No line's clock is trusted beyond ours (plus the tolerance).
		futureAt: min(now.Add(c.hold).Unix(), c.clock.Limit(now).Unix()+1)}
	for _, iv := range st.Intervals {
		r.byStart[iv.Start] = iv
		for p := range iv.Providers {
			r.provNames[p] = true
		}
		for s := range iv.Beacons {
			r.srcNames[s] = true
		}
	}

	var errs []error
	configured := map[string]bool{}
	for _, lf := range c.files {
		configured[lf.path] = true
		if err := c.collectFile(ctx, lf, r); err != nil {
			errs = append(errs, err)
		}
	}
	for p := range st.Files {
		if !configured[p] {
			delete(st.Files, p) // no longer in the config: forget its offset
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("originlog: %w", err)
	}
	if err := c.emit(ctx, r, e); err != nil {
		// Nothing is saved: the next run reads the same lines again.
		return fmt.Errorf("originlog: emit: %w", err)
	}
	c.prune(r, now)
	if err := c.saveState(r.st); err != nil {
		errs = append(errs, fmt.Errorf("originlog: %w", err))
	}
	return errors.Join(errs...)
}

func (c *Collector) loadState() (*state, func(), error) {
	if c.statePath == "" {
		if c.mem == nil {
			c.mem = &state{Version: stateVersion, Step: c.step, Files: map[string]*fileState{}}
		}
		// Work on a copy so a failed emit leaves the held state untouched.
		return c.mem.clone(), func() {}, nil
	}
	lf, err := os.OpenFile(c.statePath+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("originlog: lock state: %w", err)
	}
	if err := lockFile(lf); err != nil {
		_ = lf.Close()
		return nil, nil, fmt.Errorf("originlog: another run holds %s: %w", lf.Name(), err)
	}
	unlock := func() { _ = lf.Close() }
	st, err := loadState(c.statePath)
	if errors.Is(err, errCorrupt) {
		// Failing every run until someone deletes the file helps nobody:
		// keep it for inspection and start afresh (from start_at).
		aside := c.statePath + ".corrupt"
		c.log.Error("state file unusable; moved aside, starting afresh", "state", c.statePath, "moved_to", aside, "err", err)
		if rerr := os.Rename(c.statePath, aside); rerr != nil {
			unlock()
			return nil, nil, fmt.Errorf("originlog: %w (and moving it aside failed: %w)", err, rerr)
		}
		st, err = loadState(c.statePath)
	}
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("originlog: %w", err)
	}
	if st.Version != stateVersion || (st.Step != 0 && st.Step != c.step) {
		c.log.Warn("state from another version or step; starting the held intervals afresh",
			"state", c.statePath, "version", st.Version, "step", st.Step)
		st.Intervals, st.Watermark = nil, 0
	}
	st.Version, st.Step = stateVersion, c.step
	return st, unlock, nil
}

func (c *Collector) saveState(st *state) error {
	if c.statePath == "" {
		c.mem = st
		return nil
	}
	return saveState(c.statePath, st)
}

// fingerprint hashes the first min(fpMax, size) bytes of f.
func fingerprint(f *os.File, size int64) (int, uint64, error) {
	n := int64(fpMax)
	if size < n {
		n = size
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, err
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return int(n), h.Sum64(), nil
}

// sameStart reports whether f starts with the bytes prev was fingerprinted
// from.
func sameStart(f *os.File, prev *fileState) bool {
	if prev.FPLen == 0 {
		return true
	}
	n, sum, err := fingerprint(f, int64(prev.FPLen))
	return err == nil && n == prev.FPLen && sum == prev.FPSum
}

func (c *Collector) collectFile(ctx context.Context, lf *logFile, r *run) error {
	prev := r.st.Files[lf.path]
	f, err := os.Open(lf.path)
	if err != nil {
		if prev != nil && errors.Is(err, os.ErrNotExist) {
			// Renamed away and not yet re-created: keep reading the old
			// file where it went, and stay with it until the new appears.
			if old, oid, done := c.findOld(lf.path, prev, [2]uint64{}); old != nil {
				defer done()
				off, rerr := c.readLines(ctx, old, prev.Offset, false, lf, r)
				np := *prev
				np.Offset, np.Dev, np.Ino = off, oid[0], oid[1]
				r.st.Files[lf.path] = &np
				return rerr
			}
		}
		return fmt.Errorf("originlog: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("originlog: %w", err)
	}
	dev, ino := fileID(fi)
	size := fi.Size()
	fpLen, fpSum, err := fingerprint(f, size)
	if err != nil {
		f.Close()
		return fmt.Errorf("originlog: read %s: %w", lf.path, err)
	}

	var offset int64
	var errs []error
	switch {
	case prev == nil:
		if c.opts.StartAt == "end" {
			offset = lastLineEnd(f, size)
		}
	case prev.Dev == dev && prev.Ino == ino && size >= prev.Offset && sameStart(f, prev):
		offset = prev.Offset
	default:
		// The file at the path is not the one read last time: renamed away
		// (rotation by rename), truncated in place (copytruncate) or
		// replaced. Finish the old file's tail first, then this one from 0.
		old, _, done := c.findOld(lf.path, prev, [2]uint64{dev, ino})
		if old != nil {
			if _, err := c.readLines(ctx, old, prev.Offset, true, lf, r); err != nil {
				errs = append(errs, err)
			}
			c.log.Info("log rotated; read the rest of the old file", "file", lf.path, "old", old.Name())
			done()
		} else {
			c.log.Warn("log rotated and its old file was not found beside it; lines written after the last run and before the rotation are lost",
				"file", lf.path, "offset", prev.Offset)
		}
	}
	off, err := c.readLines(ctx, f, offset, false, lf, r)
	if err != nil {
		errs = append(errs, err)
	}
	r.st.Files[lf.path] = &fileState{Dev: dev, Ino: ino, Offset: off, FPLen: fpLen, FPSum: fpSum}
	c.hold1(lf.path, f, dev, ino)
	return errors.Join(errs...)
}

// hold1 keeps the file each path was last read from open, so a daemon can
// finish its tail after a rename even when the rotated copy is not named
// in a way findOld looks for.
func (c *Collector) hold1(path string, f *os.File, dev, ino uint64) {
	if h := c.held[path]; h != nil {
		if h.dev == dev && h.ino == ino && (dev != 0 || ino != 0) {
			f.Close()
			return
		}
		h.f.Close()
	}
	c.held[path] = &heldFile{f: f, dev: dev, ino: ino}
}

// Close releases the files a daemon holds open.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, h := range c.held {
		h.f.Close()
		delete(c.held, p)
	}
	return nil
}

// findOld looks for the file prev describes after a rotation: the file this
// process still holds open, else a file named <path>.* or <path>-* with
// prev's inode (renamed) or, for a copytruncate copy, prev's first bytes and
// at least prev.Offset bytes. cur is the identity now at path. It returns
// the file, its identity and the function that releases it, or a nil file.
func (c *Collector) findOld(path string, prev *fileState, cur [2]uint64) (*os.File, [2]uint64, func()) {
	pid := [2]uint64{prev.Dev, prev.Ino}
	renamed := pid != cur && pid != [2]uint64{}
	if h := c.held[path]; h != nil && renamed && [2]uint64{h.dev, h.ino} == pid && sameStart(h.f, prev) {
		// Still open from the last run: readLines uses ReadAt, so the hold
		// needs no seeking and is released by hold1.
		return h.f, pid, func() {}
	}
	var cands []string
	for _, pat := range []string{path + ".*", path + "-*"} {
		m, _ := filepath.Glob(pat)
		cands = append(cands, m...)
	}
	sort.Strings(cands)
	var byContent *os.File
	var byContentID [2]uint64
	for i, name := range cands {
		if i >= 64 {
			break
		}
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		d, n := fileID(fi)
		id := [2]uint64{d, n}
		switch {
		case renamed && id == pid && sameStart(f, prev):
			if byContent != nil {
				byContent.Close()
			}
			return f, id, func() { f.Close() }
		case byContent == nil && id != cur && fi.Size() >= prev.Offset && prev.FPLen > 0 && sameStart(f, prev):
			byContent, byContentID = f, id
		default:
			f.Close()
		}
	}
	if byContent == nil {
		return nil, byContentID, func() {}
	}
	return byContent, byContentID, func() { byContent.Close() }
}

// lastLineEnd is the offset just after the last newline in f's first size
// bytes (looking back at most one read buffer), so a start at the end
// never begins inside a line.
func lastLineEnd(f *os.File, size int64) int64 {
	from := size - readBuf
	if from < 0 {
		from = 0
	}
	b := make([]byte, size-from)
	n, _ := f.ReadAt(b, from)
	if i := bytes.LastIndexByte(b[:n], '\n'); i >= 0 {
		return from + int64(i) + 1
	}
	return from
}

// readLines counts the complete lines of f from offset and returns the
// offset after the last complete line: a torn last line is left for the
// next run. With final (a rotated file that gets no more lines) a last line
// without a newline is counted too.
func (c *Collector) readLines(ctx context.Context, f *os.File, offset int64, final bool, lf *logFile, r *run) (int64, error) {
	if c.buf == nil {
		c.buf = make([]byte, readBuf)
	}
	buf := c.buf
	r.lines, r.unmatched, r.late, r.future, r.badBytes = 0, 0, 0, 0, 0
	defer c.logFileStats(lf.path, r)
	pos := offset // file offset of buf[0]
	have := 0     // bytes in buf
	skipping := false
	for {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		n, err := f.ReadAt(buf[have:], pos+int64(have))
		have += n
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return pos, fmt.Errorf("originlog: read %s: %w", lf.path, err)
		}
		start := 0
		for {
			i := bytes.IndexByte(buf[start:have], '\n')
			if i < 0 {
				break
			}
			if skipping {
				skipping = false
			} else {
				c.line(ctx, buf[start:start+i], lf, r)
			}
			start += i + 1
		}
		pos += int64(start)
		copy(buf, buf[start:have])
		have -= start
		if have == len(buf) {
			// A line longer than the buffer: drop it (counted once).
			if !skipping {
				c.unmatched(ctx, buf[:80], lf, r)
			}
			skipping = true
			pos += int64(have)
			have = 0
			continue
		}
		if eof || n == 0 {
			if final && have > 0 {
				if !skipping {
					c.line(ctx, buf[:have], lf, r)
				}
				pos += int64(have)
			}
			return pos, nil
		}
	}
}

func (c *Collector) logFileStats(path string, r *run) {
	if r.unmatched > 0 {
		c.log.Info("lines did not match the pattern", "file", path, "unmatched", r.unmatched, "lines", r.lines)
	}
	if r.late > 0 {
		c.log.Warn("lines older than the held intervals dropped (their intervals were already emitted whole)",
			"file", path, "late", r.late, "hold", c.hold)
	}
	if r.future > 0 {
		c.log.Warn("lines stamped ahead of our clock dropped", "file", path, "future", r.future)
		c.clock.Count(collectors.RejectedFuture, int(r.future))
	}
	if r.badBytes > 0 {
		c.log.Warn("impossible byte counts rejected (negative, not a number or over 18 digits); their lines' requests and statuses kept",
			"file", path, "count", r.badBytes)
		c.clock.Count(collectors.RejectedValues, int(r.badBytes))
	}
	c.log.Debug("read log", "file", path, "lines", r.lines)
}

func (c *Collector) unmatched(ctx context.Context, line []byte, lf *logFile, r *run) {
	r.unmatched++
	if r.unmatched <= maxDebug && c.log.Enabled(ctx, slog.LevelDebug) {
		if len(line) > 120 {
			line = line[:120]
		}
		c.log.Debug("line did not match", "file", lf.path, "n", r.unmatched, "line", string(line))
	}
}

// line counts one log line.
func (c *Collector) line(ctx context.Context, line []byte, lf *logFile, r *run) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	r.lines++
	s := &r.sp
	if !lf.split.split(line, s) {
		c.unmatched(ctx, line, lf, r)
		return
	}
	status, err1 := parseStatus(s.status)
	size, err2 := parseBytes(s.bytes)
	ts, err3 := lf.tp.parse(s.time)
	if err1 != nil || err3 != nil {
		c.unmatched(ctx, line, lf, r)
		return
	}
	if err2 != nil {
		// A negative or overflowing byte count is one impossible value,
		// not a line that is not a request: the request and its status
		// count, its bytes are rejected (rejected_values, see logFileStats).
		r.badBytes++
		size = 0
	}
	start := ts - mod(ts, c.step)
	if start < r.st.Watermark {
		r.late++
		return
	}
	if ts >= r.futureAt {
		r.future++
		return
	}
	iv := r.last
	if iv == nil || iv.Start != start {
		iv = r.byStart[start]
		if iv == nil {
			iv = &interval{Start: start, Providers: map[string]*provCounts{}}
			r.byStart[start] = iv
			r.st.Intervals = append(r.st.Intervals, iv)
		}
		r.last = iv
	}
	r.touched[start] = true
	name := c.providerName(s.provider)
	pc := iv.Providers[name]
	if pc == nil {
		if !r.provNames[name] && len(r.provNames) >= c.opts.MaxProviders && !c.allowed[name] {
			name = "other"
			pc = iv.Providers[name]
		}
		if pc == nil {
			r.provNames[name] = true
			pc = &provCounts{}
			if iv.Providers == nil {
				iv.Providers = map[string]*provCounts{}
			}
			iv.Providers[name] = pc
		}
	}
	pc.Requests++
	pc.Bytes += size
	if k := status/100 - 2; k >= 0 && k < 4 {
		pc.Status[k]++
	}
	if c.beacon != nil && (len(c.beaconLit) == 0 || bytes.Contains(line, c.beaconLit)) {
		if m := c.beacon.FindSubmatchIndex(line); m != nil && m[2*c.beaconSrc] >= 0 {
			src := schema.Sanitize(string(line[m[2*c.beaconSrc]:m[2*c.beaconSrc+1]]))
			if !r.srcNames[src] {
				if len(r.srcNames) >= c.opts.Beacons.MaxSources {
					src = "other"
				}
				r.srcNames[src] = true
			}
			if iv.Beacons == nil {
				iv.Beacons = map[string]int64{}
			}
			iv.Beacons[src]++
		}
	}
}

// providerName maps the header value to the provider element of the path:
// "-" or empty (no header: the request did not come through a CDN) is
// "direct"; otherwise the sanitised value, or "other" when an allow-list
// is set and does not name it.
func (c *Collector) providerName(raw []byte) string {
	if n, ok := c.nameFor[string(raw)]; ok { // no allocation on a hit
		return n
	}
	var n string
	switch {
	case len(raw) == 0 || (len(raw) == 1 && raw[0] == '-'):
		n = "direct"
	default:
		n = schema.Sanitize(strings.ToLower(string(raw)))
		if len(c.allowed) > 0 && !c.allowed[n] && n != "direct" {
			n = "other"
		}
	}
	if len(c.nameFor) >= 4096 {
		clear(c.nameFor)
	}
	c.nameFor[string(raw)] = n
	return n
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// emit sends the whole counts of every interval touched by this run.
func (c *Collector) emit(ctx context.Context, r *run, e collectors.Emitter) error {
	starts := make([]int64, 0, len(r.touched))
	for s := range r.touched {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	var b collectors.Batch
	flush := func() error {
		if len(b.Gauges) == 0 && len(b.Points) == 0 {
			return nil
		}
		err := e.Emit(ctx, b)
		b = collectors.Batch{}
		return err
	}
	for _, s := range starts {
		b.Gauges = append(b.Gauges, c.gauges(r.byStart[s])...)
		b.Points = append(b.Points, c.beaconPoints(r.byStart[s])...)
		if len(b.Gauges)+len(b.Points) >= gaugesBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// originFields are the unified fields originlog fills, in emission order.
var originFields = []schema.Field{schema.OriginRequests, schema.OriginBytes,
	schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx}

// gauges returns the points of one interval as gauges at location
// "origin", so schema.Aggregate does not sum them into an "all".
func (c *Collector) gauges(iv *interval) []schema.Gauge {
	names := make([]string, 0, len(iv.Providers)+len(c.opts.Providers))
	for n := range iv.Providers {
		names = append(names, n)
	}
	for _, n := range c.opts.Providers {
		if iv.Providers[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []schema.Gauge
	for _, n := range names {
		pc := iv.Providers[n]
		if pc == nil {
			pc = &provCounts{} // a listed provider that sent nothing: a true 0
		}
		for _, f := range originFields {
			var v int64
			switch f {
			case schema.OriginRequests:
				v = pc.Requests
			case schema.OriginBytes:
				if !c.bytesKnown() {
					continue
				}
				v = pc.Bytes
			default:
				v = pc.Status[f-schema.Status2xx]
			}
			out = append(out, schema.Gauge{Provider: n, Service: c.opts.Service, Location: LocationOrigin,
				Metric: f.String(), Time: iv.Start, Value: float64(v)})
		}
	}
	return out
}

// bytesKnown is false when some file's pattern has no bytes group: the
// byte count is then unknown, not 0.
func (c *Collector) bytesKnown() bool {
	for _, lf := range c.files {
		if !lf.bytes {
			return false
		}
	}
	return true
}

func (c *Collector) beaconPoints(iv *interval) []schema.Point {
	srcs := make([]string, 0, len(iv.Beacons))
	for s := range iv.Beacons {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	out := make([]schema.Point, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, schema.Point{Path: schema.Path(c.prefix, "beacons", s, "failures"),
			Value: float64(iv.Beacons[s]), Time: iv.Start})
	}
	return out
}

// prune forgets intervals that ended more than hold ago and moves the
// watermark to the oldest interval still held.
func (c *Collector) prune(r *run, now time.Time) {
	cut := now.Add(-c.hold).Unix()
	wm := cut - mod(cut, c.step)
	if wm > r.st.Watermark {
		r.st.Watermark = wm
	}
	kept := r.st.Intervals[:0]
	for _, iv := range r.st.Intervals {
		if iv.Start >= r.st.Watermark {
			kept = append(kept, iv)
		}
	}
	r.st.Intervals = kept
}
