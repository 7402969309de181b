package originlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
const LocationOrigin = schema.LocationOrigin

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
	c.distrustFutureState(st, now)
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

// distrustFutureState resets what the state file holds ahead of our clock
// (+ tolerance) — a watermark, held intervals — left by a clock that was
// ahead or by an edit: a future watermark would drop every line as late
// until then, a future interval would be held forever. One warning,
// counted in rejected_future.
func (c *Collector) distrustFutureState(st *state, now time.Time) {
	lim := c.clock.Limit(now).Unix()
	n := 0
	watermark := st.Watermark
	if st.Watermark > lim {
		// What prune would have set at now; it only moves forward.
		cut := now.Add(-c.hold).Unix()
		st.Watermark = cut - mod(cut, c.step)
		n++
	}
	kept := st.Intervals[:0]
	for _, iv := range st.Intervals {
		if iv.Start > lim {
			n++
			continue
		}
		kept = append(kept, iv)
	}
	st.Intervals = kept
	if n > 0 {
		c.log.Warn("state ahead of our clock reset", "state", c.statePath, "watermark", watermark,
			"reset_items", n, "now", now.UTC().Format(time.RFC3339))
		c.clock.Count(collectors.RejectedFuture, n)
	}
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

func (c *Collector) logFileStats(path string, r *run) {
	if r.unmatched > 0 {
		// A line that does not match is a request we cannot count (or
		// not a request at all): rejected before any value exists, so it
		// adds to rejected_values, with the reason in this warning.
		c.log.Warn("lines did not match the pattern; not counted", "file", path, "unmatched", r.unmatched, "lines", r.lines)
		c.clock.Count(collectors.RejectedValues, int(r.unmatched))
	}
	if r.late > 0 {
		c.log.Warn("lines older than the held intervals dropped (their intervals were already emitted whole)",
			"file", path, "late", r.late, "hold", c.hold)
		// Older than what we keep, as a time past a vendor's retention is.
		c.clock.Count(collectors.RejectedTooOld, int(r.late))
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
