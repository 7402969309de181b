package fastly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const (
	// refreshEvery bounds how stale discovery and version tracking get.
	refreshEvery = 10 * time.Minute
	// publishLag is how late Fastly documents minute data can appear ("usually
	// two minutes after the end of the minute, but can take up to 15"). An
	// empty answer for a window younger than that is "not yet", not "none".
	publishLag = 15 * time.Minute
	// maxPages bounds service-list paging.
	maxPages = 1000
	// rtLongPoll bounds one real-time attempt: rt.fastly.com holds the
	// request open until it has a new second to return, so an attempt may
	// legitimately last that long before the answer's bytes flow.
	rtLongPoll = 40 * time.Second
)

// Collector is the Fastly collector: Collect reads the historical stats
// API, Stream follows the real-time API.
type Collector struct {
	o      *Options
	env    collectors.Env
	http   *httpx.Client // api_url: service list and historical stats
	rt     *httpx.Client // rt_url: long-polling real-time channel
	token  string
	logger *slog.Logger

	// rtTransport is rt's own transport (nil for a test's round tripper);
	// Stream sizes its HTTP/2 stream window once, before the first request
	// (see rtStreamWindow).
	rtTransport *http.Transport
	rtSized     sync.Once

	now     func() time.Time
	sleep   func(context.Context, time.Duration)
	refresh time.Duration // Stream's service refresh period
	idle    time.Duration // pause after a "no data" answer

	mu       sync.Mutex
	services []service // resolved and filtered; nil before the first listing
	listedAt time.Time
	versions map[string]int    // service id → active version last seen
	apiNames map[string]string // service id → name from the last good listing
	only     collectors.Selection
	insp     *inspectState // Origin/Domain Inspector bookkeeping (inspect_stream.go)
}

type service struct {
	id, name string
	version  int
}

// New builds the collector from validated options.
func New(o *Options, env collectors.Env) (*Collector, error) {
	tok, err := env.Secret("fastly", "token_file", o.TokenFile, o.TokenEnv)
	if err != nil {
		return nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.Default()
	}
	hopts := []httpx.Option{httpx.WithLogger(logger), httpx.WithRateHeaders(rateHeaders)}
	if env.HTTPClient != nil {
		hopts = append(hopts, httpx.WithHTTPClient(env.HTTPClient))
	}
	c := &Collector{
		o: o, env: env, token: tok, logger: logger,
		now: time.Now, sleep: sleepCtx, refresh: refreshEvery, idle: time.Second,
		versions: map[string]int{}, apiNames: map[string]string{},
		insp: newInspectState(),
	}
	c.http = httpx.New("fastly", append(hopts, httpx.WithRate(10, 20), httpx.WithDeadline(o.RequestDeadline()))...)
	// The real-time API long-polls and is polled every second per service:
	// its own client, a timeout above the long poll, one retry (the stream
	// loop does its own backoff), and a budget of its own. Its deadline is
	// one long poll plus request_timeout: a request that is held open and
	// then trickles is cut, a quiet service's long poll is not.
	var rtClient *http.Client
	rtClient, c.rtTransport = rtHTTPClient(env.HTTPClient)
	c.rt = httpx.New("fastly", append(hopts, httpx.WithHTTPClient(rtClient), httpx.WithTimeout(rtLongPoll), httpx.WithRetries(1), httpx.WithMaxBody(32<<20),
		httpx.WithDeadline(rtLongPoll+o.RequestDeadline()))...)
	return c, nil
}

// rateHeaders reads Fastly-RateLimit-Remaining / -Reset (Unix seconds):
// when the budget is spent, wait until the reset.
func rateHeaders(h http.Header, now time.Time) (time.Duration, bool) {
	rem := h.Get("Fastly-RateLimit-Remaining")
	if rem == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(rem); err != nil || n > 0 {
		return 0, false
	}
	reset, err := strconv.ParseInt(h.Get("Fastly-RateLimit-Reset"), 10, 64)
	if err != nil {
		return time.Minute, true
	}
	return time.Unix(reset, 0).Sub(now), true
}

func (c *Collector) header() http.Header {
	return http.Header{"Fastly-Key": {c.token}, "Accept": {"application/json"}}
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.only = collectors.NewSelection(ids)
	c.services = nil
	return nil
}

// resolve returns the services to collect: the configured ones (named from
// the API when the config gives no name) or every discovered one, filtered
// by SelectServices and env.Include. It lists at most every refresh period
// unless force is set, and posts a cdn-config event when a service's active
// version changed.
//
// A service's name is part of its Graphite paths, so it must not flip
// between the id and the API name with the API's availability: a
// configured service without a name whose API name was never learned is an
// error (retried next run), not a series under another path.
func (c *Collector) resolve(ctx context.Context, force bool) ([]service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.services != nil && !force && c.now().Sub(c.listedAt) < c.refresh {
		return c.services, nil
	}
	listed, err := c.list(ctx)
	c.listedAt = c.now()
	if err != nil {
		if len(c.o.Service) == 0 {
			if c.services != nil {
				c.logger.Warn("fastly service discovery failed; keeping the last list", "err", err)
				return c.services, nil
			}
			return nil, err
		}
		c.logger.Warn("fastly service list failed; using the configured services", "err", err)
	}
	for _, s := range listed {
		c.apiNames[s.id] = s.name
	}
	var out []service
	if len(c.o.Service) > 0 {
		byID := make(map[string]service, len(listed))
		for _, s := range listed {
			byID[s.id] = s
		}
		var unnamed []string
		for i, cs := range c.o.Service {
			s := byID[cs.ID]
			s.id, s.name = cs.ID, cs.Name
			if s.name == "" {
				s.name = c.apiNames[cs.ID]
			}
			if s.name == "" && err == nil {
				s.name = cs.ID // listed, but Fastly does not know it: the id is all there is
			}
			if s.name == "" {
				unnamed = append(unnamed, fmt.Sprintf("service[%d] (%s)", i, cs.ID))
				continue
			}
			out = append(out, s)
		}
		if len(unnamed) > 0 {
			c.services = nil // retry the listing next time
			return nil, fmt.Errorf("fastly: cannot name %s without the service list (set fastly.service[].name for stable paths): %w", strings.Join(unnamed, ", "), err)
		}
	} else {
		out = listed
	}
	// Every listed service claims its path, not only the included ones:
	// shards then agree on who keeps a clashing name. Filters still see
	// the name the user knows.
	refs := make([]collectors.ServiceRef, len(out))
	for i, s := range out {
		refs[i] = collectors.ServiceRef{ID: s.id, Name: s.name}
	}
	pathNames := c.env.PathNames("fastly", refs)
	kept := []service{}
	for i, s := range out {
		if !c.only.Has(s.id, s.name) {
			continue
		}
		if !c.env.Includes(s.id, s.name) {
			continue
		}
		s.name = pathNames[i]
		kept = append(kept, s)
		c.noteVersion(ctx, s)
	}
	c.services = kept
	return kept, nil
}

// noteVersion posts an event when s's active version moved.
func (c *Collector) noteVersion(ctx context.Context, s service) {
	if s.version == 0 {
		return
	}
	old, seen := c.versions[s.id]
	c.versions[s.id] = s.version
	if !seen || old == s.version {
		return
	}
	c.logger.Info("fastly service version changed", "service", s.name, "from", old, "to", s.version)
	if c.env.Events == nil {
		return
	}
	ev := schema.Event{
		What: "cdn-config",
		Tags: []string{"cdn-config", "fastly", s.name},
		Data: fmt.Sprintf("fastly %s: version %d → %d", s.name, old, s.version),
		When: c.now(),
	}
	if err := c.env.Events.PostEvent(ctx, ev); err != nil {
		c.logger.Warn("cdn-config event not posted", "service", s.name, "err", err)
	}
}

// list pages through GET /service following the Link header's rel="next".
// The token is only ever sent to api_url's host: a next link elsewhere is
// an error, not a redirect of the credential.
func (c *Collector) list(ctx context.Context) ([]service, error) {
	base, err := url.Parse(strings.TrimRight(c.o.APIURL, "/") + "/service?page=1&per_page=100")
	if err != nil {
		return nil, fmt.Errorf("fastly: api_url: %w", err)
	}
	var out []service
	seen := map[string]bool{}
	next := base
	for page := 0; next != nil; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("fastly: GET /service: more than %d pages", maxPages)
		}
		seen[next.String()] = true
		resp, err := c.http.Do(ctx, httpx.Request{URL: next.String(), Header: c.header(), Endpoint: "GET /service"})
		if err != nil {
			return nil, err
		}
		svcs, err := decodeServiceList(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("fastly: GET /service: %w", err)
		}
		for _, s := range svcs {
			if s.ID == "" || (len(s.DeletedAt) > 0 && string(s.DeletedAt) != "null") {
				continue
			}
			name := s.Name
			if name == "" {
				name = s.ID
			}
			out = append(out, service{id: s.ID, name: name, version: s.Version})
		}
		next = nil
		if ref := linkNext(resp.Header.Values("Link")); ref != "" {
			u, err := resolveNext(base, ref)
			if err != nil {
				return nil, err
			}
			if !seen[u.String()] {
				next = u
			}
		}
	}
	return out, nil
}

// resolveNext resolves a next link and checks it stays on api_url's host.
func resolveNext(base *url.URL, ref string) (*url.URL, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("fastly: GET /service: bad Link next %q: %w", ref, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return nil, fmt.Errorf("fastly: GET /service: Link next points to %s://%s, not the api_url host; not following it with the token", u.Scheme, u.Host)
	}
	return u, nil
}

// linkNext returns the target of the rel="next" link of RFC 5988 Link
// header values (several links per value, comma separated; rel may list
// several relation types).
func linkNext(values []string) string {
	for _, v := range values {
		for v != "" {
			lt := strings.IndexByte(v, '<')
			if lt < 0 {
				break
			}
			gt := strings.IndexByte(v[lt:], '>')
			if gt < 0 {
				break
			}
			target := v[lt+1 : lt+gt]
			rest := v[lt+gt+1:]
			params := rest
			if i := strings.IndexByte(rest, '<'); i >= 0 {
				params = rest[:i]
			}
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(p), ",")), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
			v = rest
		}
	}
	return ""
}

// Collect implements collectors.Collector with the historical stats API:
// per service, Fastly's all-regions total and each configured region.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	svcs, err := c.resolve(ctx, false)
	if err != nil {
		return err
	}
	type result struct {
		recs []schema.Record
		rows int
		err  error
	}
	results := make([]result, len(svcs))
	sem := make(chan struct{}, max(c.o.Concurrency, 1))
	var wg sync.WaitGroup
	for i, s := range svcs {
		if c.o.Concurrency <= 1 {
			// One at a time, in the configured order: a predictable
			// request sequence (and the vendor sees one caller).
			r := &results[i]
			r.recs, r.rows, r.err = c.historical(ctx, s, w)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			r := &results[i]
			r.recs, r.rows, r.err = c.historical(ctx, s, w)
		}()
	}
	wg.Wait()
	var errs []error
	emitted, rows := 0, 0
	for i, r := range results {
		if len(r.recs) > 0 {
			if err := e.Emit(ctx, collectors.Batch{Records: r.recs}); err != nil {
				return fmt.Errorf("fastly: emit: %w", err)
			}
			emitted += len(r.recs)
		}
		rows += r.rows
		if r.err != nil {
			errs = append(errs, fmt.Errorf("service %s (%s): %w", svcs[i].name, svcs[i].id, r.err))
		}
	}
	errs = append(errs, c.collectInspectors(ctx, svcs, w, e)...) // inspect_hist.go
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if emitted == 0 && rows == 0 && len(svcs) > 0 && c.now().Sub(w.End) < publishLag {
		return collectors.ErrNoData
	}
	return nil
}

// historical reads one service's window: the total, then each region. It
// returns the records, the number of rows Fastly returned inside w, and an
// error naming every failed request.
func (c *Collector) historical(ctx context.Context, s service, w collectors.Window) ([]schema.Record, int, error) {
	var recs []schema.Record
	var errs []error
	rows := 0
	for _, region := range append([]string{""}, c.o.Regions...) {
		q := url.Values{"from": {strconv.FormatInt(w.Start.Unix(), 10)}, "to": {strconv.FormatInt(w.End.Unix(), 10)}, "by": {"minute"}}
		loc := schema.LocationAll
		if region != "" {
			q.Set("region", region)
			loc = region
		}
		u := strings.TrimRight(c.o.APIURL, "/") + "/stats/service/" + url.PathEscape(s.id) + "?" + q.Encode()
		resp, err := c.http.Do(ctx, httpx.Request{URL: u, Header: c.header(), Endpoint: "GET /stats/service/{id}"})
		if err != nil {
			errs = append(errs, fmt.Errorf("region %q: %w", loc, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		got, n, skipped, after, err := parseHistoricalRows(resp.Body, s.name, loc, w)
		c.rejectFutureRows(s.name, loc, after)
		if err != nil {
			errs = append(errs, fmt.Errorf("fastly: GET /stats/service/{id} region %q: %w", loc, err))
			continue
		}
		if len(skipped) > 0 {
			c.logger.Warn("fastly historical rows skipped", "service", s.name, "region", loc, "count", len(skipped), "first", skipped[0])
			c.env.Clock.Count(collectors.RejectedValues, len(skipped))
		}
		rows += n
		recs = append(recs, got...)
	}
	return recs, rows, errors.Join(errs...)
}

// parseHistorical maps a historical answer to records at location loc,
// keeping rows inside w. It returns the rows inside w (good or bad) and a
// reason for each bad row it skipped; an error means the answer as a whole
// is unusable.
func parseHistorical(body []byte, svc, loc string, w collectors.Window) (recs []schema.Record, inWindow int, skipped []string, err error) {
	recs, inWindow, skipped, _, err = parseHistoricalRows(body, svc, loc, w)
	return recs, inWindow, skipped, err
}

// parseHistoricalRows is parseHistorical that also returns the start of
// every row stamped at or after the window's end (see rejectFutureRows).
func parseHistoricalRows(body []byte, svc, loc string, w collectors.Window) (recs []schema.Record, inWindow int, skipped []string, after []int64, err error) {
	a, err := decodeHistorical(body)
	if err != nil {
		return nil, 0, nil, nil, fmt.Errorf("decode: %w (body starts %q)", err, head(body))
	}
	if a.hasStatus && a.status != "success" {
		return nil, 0, nil, nil, fmt.Errorf("status %q: msg %s", a.status, nameOr(a.msg, "null"))
	}
	if !a.hasData {
		return nil, 0, nil, nil, fmt.Errorf("no data in answer (status %q, msg %s)", a.status, nameOr(a.msg, "null"))
	}
	lo, hi := w.Start.Unix(), w.End.Unix()
	for i := range a.rows {
		r := &a.rows[i]
		switch {
		case r.bad != "":
			skipped = append(skipped, fmt.Sprintf("row %d: %s", i, r.bad))
			continue
		case !r.hasStart:
			skipped = append(skipped, fmt.Sprintf("row %d has no %s", i, keyStartTime))
			continue
		case r.start >= hi:
			after = append(after, r.start)
			continue
		case r.start < lo:
			continue
		}
		inWindow++
		if r.start%60 != 0 {
			skipped = append(skipped, fmt.Sprintf("row %d: %s %d is not on a minute", i, keyStartTime, r.start))
			continue
		}
		if err := r.st.check(); err != nil {
			skipped = append(skipped, fmt.Sprintf("row %d (%s %d): %v", i, keyStartTime, r.start, err))
			continue
		}
		rec := schema.Record{Provider: "fastly", Service: svc, Location: loc, Start: r.start, Step: 60}
		r.st.addHistorical(&rec.Counts)
		if rec.Empty() {
			continue
		}
		recs = append(recs, rec)
	}
	return recs, inWindow, skipped, after, nil
}

func nameOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
