package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/backoff"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphiteweb"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// Event is an annotation for graphite-web's events API.
type Event = schema.Event

// Defaults of a Poster; each can be changed with an Option.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMinBackoff = 2 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// rescanInterval is how often Run looks at a queue it was not woken
	// for: events queued by another process (the CLI) sharing state_dir.
	rescanInterval = time.Minute
)

// Option changes a Poster built by New.
type Option func(*Poster)

// WithLogger sets the logger. By default, slog.Default() is used.
func WithLogger(l *slog.Logger) Option { return func(p *Poster) { p.log = l } }

// WithTimeout bounds one POST to one graphite-web. By default,
// DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(p *Poster) { p.timeout = d } }

// WithBackoff sets the first and the longest retry delay of Run after a
// graphite-web failed. By default, DefaultMinBackoff and DefaultMaxBackoff.
func WithBackoff(min, max time.Duration) Option {
	return func(p *Poster) { p.minBackoff, p.maxBackoff = min, max }
}

// WithClock sets the clock that stamps events without a time. By default,
// time.Now.
func WithClock(now func() time.Time) Option { return func(p *Poster) { p.now = now } }

// Poster posts events to every configured graphite-web through durable
// per-URL queues. It is safe for concurrent use, and several processes may
// share one queue directory (a file lock serialises deliveries).
type Poster struct {
	targets    []*target
	tags       []string
	username   string
	password   string
	client     *http.Client // shared by every target's graphiteweb.Client
	log        *slog.Logger
	timeout    time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	now        func() time.Time
}

// target is one graphite-web and its queue.
type target struct {
	endpoint string // <base>/events/
	name     string // the base URL as logged (never holds credentials)
	dir      string
	wake     chan struct{}
	web      *graphiteweb.Client

	mu       sync.Mutex
	failures int
	next     time.Time            // no automatic attempt before this
	retry    *backoff.Exponential // made on the first failure; Reset on success
}

// New builds a Poster for the [events] section cfg, queueing under dir
// (state_dir/events). getenv reads cfg.PasswordEnv. It creates the queue
// directories and reports queues left by URLs no longer configured.
func New(cfg config.Events, dir string, getenv func(string) string, opts ...Option) (*Poster, error) {
	p := &Poster{
		tags:       normTags(cfg.Tags),
		username:   cfg.Username,
		timeout:    DefaultTimeout,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		now:        time.Now,
		log:        slog.Default(),
	}
	for _, o := range opts {
		o(p)
	}
	// No global timeout (each request is bounded by p.timeout), and never
	// follow redirects: a POST turned into a GET by a redirect would answer
	// 200 without storing anything.
	p.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	p.log = p.log.With("component", "events")

	if len(cfg.GraphiteWebURLs) == 0 {
		return nil, errors.New("events: graphite_web_urls is empty")
	}
	if cfg.PasswordEnv != "" {
		if cfg.Username == "" {
			return nil, errors.New("events: password_env is set but username is empty")
		}
		p.password = getenv(cfg.PasswordEnv)
		if p.password == "" {
			return nil, fmt.Errorf("events: environment variable %s (events.password_env) is not set", cfg.PasswordEnv)
		}
		if strings.TrimSpace(p.password) == "" {
			return nil, fmt.Errorf("events: environment variable %s (events.password_env) holds only white space", cfg.PasswordEnv)
		}
		// A graphite-web that echoes the request (a 400 page listing
		// the headers) must not get the password into a log line.
		redact.AddBasicAuth(cfg.Username, p.password)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("events: queue directory: %w", err)
	}
	seen := map[string]bool{}
	for i, raw := range cfg.GraphiteWebURLs {
		t, err := newTarget(raw, dir)
		if err != nil {
			return nil, fmt.Errorf("events: graphite_web_urls[%d]: %w", i, err)
		}
		if seen[t.dir] {
			continue
		}
		seen[t.dir] = true
		if t.web, err = graphiteweb.New(t.name, p.username, p.password, p.client); err != nil {
			return nil, fmt.Errorf("events: graphite_web_urls[%d]: %w", i, err)
		}
		p.targets = append(p.targets, t)
	}
	p.reportOrphans(dir, seen)
	return p, nil
}

func newTarget(raw, dir string) (*target, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse quotes the input in its error, which may hold a
		// password: say what is wrong without it.
		return nil, errors.New("not a valid URL")
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL are not allowed; use events.username and events.password_env")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	u.RawQuery, u.Fragment = "", ""
	base := strings.TrimRight(u.String(), "/")
	sum := sha256.Sum256([]byte(base))
	key := schema.Sanitize(u.Host + u.Path)
	if len(key) > 48 {
		key = key[:48]
	}
	t := &target{
		endpoint: base + "/events/",
		name:     base,
		dir:      filepath.Join(dir, key+"-"+hex.EncodeToString(sum[:6])),
		wake:     make(chan struct{}, 1),
	}
	if err := os.MkdirAll(t.dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue directory: %w", err)
	}
	// The URL file lets an operator (and reportOrphans) tell which
	// graphite-web a queue belongs to.
	if old, err := os.ReadFile(filepath.Join(t.dir, "url")); err != nil || string(old) != base+"\n" {
		if err := state.WriteFileAtomic(filepath.Join(t.dir, "url"), []byte(base+"\n"), 0o640); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// reportOrphans warns about events still queued for a URL that is no longer
// configured: they are kept, not deleted, and not posted anywhere.
func (p *Poster) reportOrphans(dir string, configured map[string]bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() || configured[sub] {
			continue
		}
		files, _ := queued(sub)
		if len(files) == 0 {
			continue
		}
		u, _ := os.ReadFile(filepath.Join(sub, "url"))
		p.log.Warn("events queued for a graphite-web that is no longer configured; add it back to deliver them or delete the directory",
			"url", strings.TrimSpace(string(u)), "pending", len(files), "dir", sub)
	}
}

// URLs returns the configured graphite-web base URLs, in order.
func (p *Poster) URLs() []string {
	out := make([]string, len(p.targets))
	for i, t := range p.targets {
		out[i] = t.name
	}
	return out
}

// record is an event as queued on disk; it is also exactly the JSON body
// posted to graphite-web.
type record struct {
	What string   `json:"what"`
	Tags []string `json:"tags"`
	Data string   `json:"data"`
	When int64    `json:"when"`
}

// Normalize returns ev as the Poster posts it: the configured tags added,
// tags split on white space and deduplicated (graphite-web stores tags as
// one space-separated string), and a zero When set to now, truncated to the
// second (graphite-web keeps seconds).
func (p *Poster) Normalize(ev Event) Event {
	tags := normTags(append(append([]string{}, ev.Tags...), p.tags...))
	when := ev.When
	if when.IsZero() {
		when = p.now()
	}
	return Event{What: strings.TrimSpace(ev.What), Tags: tags, Data: ev.Data, When: time.Unix(when.Unix(), 0).UTC()}
}

// Enqueue writes ev (normalised) durably to every graphite-web's queue and
// wakes Run. It returns the event as queued. When a queue cannot be
// written, the error names it; the other queues keep their copy.
func (p *Poster) Enqueue(ev Event) (Event, error) {
	ev = p.Normalize(ev)
	if ev.What == "" {
		return ev, errors.New("events: event has no \"what\"")
	}
	data, err := json.Marshal(record{What: ev.What, Tags: ev.Tags, Data: ev.Data, When: ev.When.Unix()})
	if err != nil {
		return ev, fmt.Errorf("events: %w", err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	// Names sort in queue order: the enqueue time first, then a random
	// part so two processes never pick the same name.
	name := fmt.Sprintf("%020d-%s.json", time.Now().UnixNano(), hex.EncodeToString(rnd[:]))
	var errs []error
	for _, t := range p.targets {
		if err := state.WriteFileAtomic(filepath.Join(t.dir, name), data, 0o640); err != nil {
			errs = append(errs, fmt.Errorf("events: queue for %s: %w", t.name, err))
			continue
		}
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	return ev, errors.Join(errs...)
}

// Send queues ev and then drains every queue once (the one-shot CLI).
func (p *Poster) Send(ctx context.Context, ev Event) (Event, Result, error) {
	ev, err := p.Enqueue(ev)
	if err != nil {
		return ev, Result{}, err
	}
	return ev, p.Drain(ctx), nil
}

// Drain tries every queue once, ignoring backoff, and reports per URL what
// was delivered and what is still queued. Nothing is lost on failure: the
// events stay queued for the next Drain or for the daemon's Run.
func (p *Poster) Drain(ctx context.Context) Result {
	res := Result{URLs: make([]URLResult, len(p.targets))}
	var wg sync.WaitGroup
	for i, t := range p.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.URLs[i] = p.flush(ctx, t)
			p.account(t, res.URLs[i])
		}()
	}
	wg.Wait()
	return res
}

// Run delivers the queues until ctx is done, retrying a failing
// graphite-web with exponential backoff (with jitter) between the
// configured bounds. The daemon owns the goroutine; Run returns ctx's error.
func (p *Poster) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runTarget(ctx, t)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (p *Poster) runTarget(ctx context.Context, t *target) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
		}
		wait := rescanInterval
		if t.due(p.now()) {
			r := p.flush(ctx, t)
			if ctx.Err() != nil {
				return
			}
			p.account(t, r)
		}
		if d := t.until(p.now()); d > 0 && d < wait {
			wait = d
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

func (t *target) due(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !now.Before(t.next)
}

func (t *target) until(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next.Sub(now)
}

// account updates t's backoff from one flush and logs the outcome.
func (p *Poster) account(t *target, r URLResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.Err == nil {
		if t.failures > 0 && r.Sent > 0 {
			p.log.Info("graphite-web events API is back", "url", t.name, "delivered", r.Sent)
		}
		t.failures, t.next = 0, time.Time{}
		if t.retry != nil {
			t.retry.Reset()
		}
		return
	}
	t.failures++
	if t.retry == nil {
		// ±20% jitter so several daemons do not retry in step.
		t.retry = backoff.New(p.minBackoff, p.maxBackoff, 0.8, 1.2)
	}
	d := t.retry.NextBackOff()
	t.next = p.now().Add(d)
	p.log.Warn("events not delivered; kept queued", "url", t.name, "pending", r.Pending,
		"retry_in", d.Round(time.Millisecond), "err", r.Err)
}

// Result is the outcome of Drain, one entry per configured graphite-web.
type Result struct {
	URLs []URLResult
}

// URLResult is the outcome of delivering one graphite-web's queue.
type URLResult struct {
	URL string
	// Queue is the directory holding this graphite-web's pending events.
	Queue string
	// Sent is the number of events that graphite-web accepted (2xx).
	Sent int
	// Pending is the number of events still queued for it.
	Pending int
	// Rejected is the number of events graphite-web refused as invalid
	// (400, 413, 422); they are moved to the queue's rejected/ directory
	// instead of being retried forever.
	Rejected int
	// Err is why delivery stopped; nil when the queue is empty.
	Err error
}

// Delivered reports whether every queue is empty and nothing was rejected.
func (r Result) Delivered() bool {
	for _, u := range r.URLs {
		if u.Err != nil || u.Pending > 0 || u.Rejected > 0 {
			return false
		}
	}
	return true
}

// Pending is the number of queued events over all graphite-webs.
func (r Result) Pending() int {
	n := 0
	for _, u := range r.URLs {
		n += u.Pending
	}
	return n
}

// String is one line per graphite-web, for the CLI.
func (r Result) String() string {
	var b strings.Builder
	for _, u := range r.URLs {
		switch {
		case u.Err == nil && u.Rejected == 0:
			fmt.Fprintf(&b, "%s: delivered %d event(s)\n", u.URL, u.Sent)
		case u.Err == nil:
			fmt.Fprintf(&b, "%s: delivered %d event(s), REJECTED %d (kept under rejected/)\n", u.URL, u.Sent, u.Rejected)
		default:
			fmt.Fprintf(&b, "%s: delivered %d, NOT DELIVERED %d event(s), kept queued in %s for the daemon or the next run: %v\n", u.URL, u.Sent, u.Pending, u.Queue, u.Err)
		}
	}
	return b.String()
}

// queued lists the queue files of dir in order.
func queued(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		// Dot files are temp files of an atomic write in progress.
		if e.Type().IsRegular() && !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".json") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// flush posts t's queue in order until it is empty or graphite-web fails.
func (p *Poster) flush(ctx context.Context, t *target) URLResult {
	r := URLResult{URL: t.name, Queue: t.dir}
	unlock, err := lockDir(ctx, t.dir)
	if err != nil {
		files, _ := queued(t.dir)
		r.Pending, r.Err = len(files), fmt.Errorf("events: lock queue of %s: %w", t.name, err)
		return r
	}
	defer unlock()
	files, err := queued(t.dir)
	if err != nil {
		r.Err = fmt.Errorf("events: read queue of %s: %w", t.name, err)
		return r
	}
	for i, f := range files {
		path := filepath.Join(t.dir, f)
		body, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered by another process before we locked
		}
		if err == nil && !json.Valid(body) {
			err = errors.New("not JSON")
		}
		if err != nil {
			p.reject(t, f, fmt.Errorf("unreadable queue file: %w", err))
			r.Rejected++
			continue
		}
		err = p.post(ctx, t, body)
		var perm *permanentError
		switch {
		case err == nil:
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				// Delivered but still on disk: it would be posted
				// again, so stop and say so.
				r.Sent++
				r.Pending = len(files) - i - 1
				r.Err = fmt.Errorf("events: remove delivered %s: %w", path, err)
				return r
			}
			syncDir(t.dir)
			r.Sent++
		case errors.As(err, &perm):
			p.reject(t, f, err)
			r.Rejected++
		default:
			r.Pending = len(files) - i
			r.Err = err
			return r
		}
	}
	return r
}

// reject moves a queue file that graphite-web will never accept out of the
// queue, keeping it for the operator.
func (p *Poster) reject(t *target, name string, why error) {
	rej := filepath.Join(t.dir, "rejected")
	_ = os.MkdirAll(rej, 0o750)
	if err := os.Rename(filepath.Join(t.dir, name), filepath.Join(rej, name)); err != nil {
		p.log.Error("cannot move rejected event out of the queue", "url", t.name, "file", name, "err", err)
		return
	}
	syncDir(t.dir)
	p.log.Error("graphite-web rejected an event; kept under rejected/, not retried", "url", t.name, "file", filepath.Join(rej, name), "err", why)
}

// permanentError is an answer that retrying the same body cannot change.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

func (p *Poster) post(ctx context.Context, t *target, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ans, err := t.web.Post(ctx, "/events/", body, "application/json")
	if err != nil {
		return fmt.Errorf("events: post to %s: %w", t.name, err)
	}
	switch c := ans.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusBadRequest || c == http.StatusRequestEntityTooLarge || c == http.StatusUnprocessableEntity:
		return &permanentError{fmt.Sprintf("events: %s answered %s: %s", t.endpoint, ans.Status, oneLine(ans.Body))}
	case c >= 300 && c < 400:
		return fmt.Errorf("events: %s answered %s (redirect to %q); configure the final URL", t.endpoint, ans.Status, ans.Location)
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		return fmt.Errorf("events: %s answered %s; check events.username and events.password_env", t.endpoint, ans.Status)
	default:
		return fmt.Errorf("events: %s answered %s", t.endpoint, ans.Status)
	}
}

// oneLine shortens a response body, already redacted (before it is cut,
// so that no credential is cut short of recognition), for an error message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// normTags splits tags on white space, drops empty ones and duplicates,
// keeping the first occurrence's order.
func normTags(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range in {
		for _, f := range strings.Fields(t) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// MetricPoints is the metric form of ev: value 1 at ev.When for
// <prefix>.events.<what>.<tag> for every tag, and for
// <prefix>.events.<what>.all, so that
// drawAsInfinite(<prefix>.events.deploy.<tag>) draws the line on any
// Graphite, and .all draws every event of that kind. Elements are
// sanitised by schema.Path (a tag "prod.eu" becomes "prod_eu").
func MetricPoints(prefix string, ev Event) []schema.Point {
	what := strings.TrimSpace(ev.What)
	if what == "" {
		what = "event"
	}
	ts := ev.When.Unix()
	seen := map[string]bool{}
	var pts []schema.Point
	for _, tag := range append(normTags(ev.Tags), schema.LocationAll) {
		path := schema.Path(prefix, schema.NamespaceEvents, what, tag)
		if seen[path] {
			continue
		}
		seen[path] = true
		pts = append(pts, schema.Point{Path: path, Value: 1, Time: ts})
	}
	return pts
}
