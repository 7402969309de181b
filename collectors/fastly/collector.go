package fastly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Collector is the Fastly collector.
type Collector struct {
	o      *Options
	env    collectors.Env
	http   *httpx.Client
	rt     *httpx.Client
	token  string
	logger *slog.Logger

	mu       sync.Mutex
	services []service // resolved, filtered
	listedAt time.Time
	versions map[string]int // service id → active version last seen
	only     map[string]bool
}

type service struct {
	id, name string
	version  int
}

// refreshEvery bounds how stale discovery and version tracking get.
const refreshEvery = 10 * time.Minute

// New builds the collector.
func New(o *Options, env collectors.Env) (*Collector, error) {
	tok, err := o.token(env)
	if err != nil {
		return nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.Default()
	}
	hopts := []httpx.Option{httpx.WithLogger(logger), httpx.WithRateHeaders(rateHeaders), httpx.WithRate(10, 20)}
	if env.HTTPClient != nil {
		hopts = append(hopts, httpx.WithHTTPClient(env.HTTPClient))
	}
	c := &Collector{o: o, env: env, token: tok, logger: logger, versions: map[string]int{}}
	c.http = httpx.New("fastly", hopts...)
	// The real-time API long-polls: give it its own client and budget.
	c.rt = httpx.New("fastly", append(hopts[:2:2], httpx.WithTimeout(30*time.Second), httpx.WithRetries(1))...)
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
	c.only = map[string]bool{}
	for _, id := range ids {
		c.only[id] = true
	}
	c.listedAt = time.Time{}
	return nil
}

// resolve returns the services to collect: the configured ones (names from
// the API when not configured) or every discovered one, filtered by shard
// and allow/block lists. It lists at most every refreshEvery and posts a
// cdn-config event when an active version changed.
func (c *Collector) resolve(ctx context.Context) ([]service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.services != nil && time.Since(c.listedAt) < refreshEvery {
		return c.services, nil
	}
	listed, err := c.list(ctx)
	if err != nil && len(c.o.Service) == 0 {
		if c.services != nil {
			c.logger.Warn("service discovery failed; keeping the last list", "err", err)
			return c.services, nil
		}
		return nil, err
	}
	if err != nil {
		c.logger.Warn("service list failed; using configured services without version tracking", "err", err)
	}
	byID := map[string]service{}
	for _, s := range listed {
		byID[s.id] = s
	}
	var out []service
	if len(c.o.Service) > 0 {
		for _, cs := range c.o.Service {
			s := byID[cs.ID]
			s.id = cs.ID
			if cs.Name != "" {
				s.name = cs.Name
			}
			if s.name == "" {
				s.name = cs.ID
			}
			out = append(out, s)
		}
	} else {
		out = listed
	}
	var kept []service
	for _, s := range out {
		if c.only != nil && !c.only[s.id] && !c.only[s.name] {
			continue
		}
		if !c.env.Includes(s.id, s.name) {
			continue
		}
		kept = append(kept, s)
		c.noteVersion(ctx, s)
	}
	c.services, c.listedAt = kept, time.Now()
	if kept == nil {
		c.services = []service{}
	}
	return c.services, nil
}

// noteVersion posts an event when s's active version moved.
func (c *Collector) noteVersion(ctx context.Context, s service) {
	if s.version == 0 {
		return
	}
	old, seen := c.versions[s.id]
	c.versions[s.id] = s.version
	if !seen || old == s.version || c.env.Events == nil {
		return
	}
	ev := collectors.Event{
		What: "cdn-config",
		Tags: []string{"cdn-config", "fastly", schema.Sanitize(s.name)},
		Data: fmt.Sprintf("fastly %s: version %d → %d", s.name, old, s.version),
		When: time.Now(),
	}
	if err := c.env.Events.PostEvent(ctx, ev); err != nil {
		c.logger.Warn("cdn-config event not posted", "service", s.name, "err", err)
	}
}

type apiService struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Version   int     `json:"version"`
	DeletedAt *string `json:"deleted_at"`
}

var linkNext = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// list pages through GET /service by the Link header's rel="next".
func (c *Collector) list(ctx context.Context) ([]service, error) {
	next := strings.TrimRight(c.o.APIURL, "/") + "/service?page=1&per_page=100"
	var out []service
	for page := 0; next != "" && page < 1000; page++ {
		resp, err := c.http.Do(ctx, httpx.Request{URL: next, Header: c.header(), Endpoint: "GET /service"})
		if err != nil {
			return nil, err
		}
		var svcs []apiService
		if err := json.Unmarshal(resp.Body, &svcs); err != nil {
			return nil, fmt.Errorf("fastly: GET /service: decode: %w", err)
		}
		for _, s := range svcs {
			if s.ID == "" || s.DeletedAt != nil {
				continue
			}
			name := s.Name
			if name == "" {
				name = s.ID
			}
			out = append(out, service{id: s.ID, name: name, version: s.Version})
		}
		next = ""
		if m := linkNext.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
			next = m[1]
		}
	}
	return out, nil
}

// Collect implements collectors.Collector with the historical stats API.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	svcs, err := c.resolve(ctx)
	if err != nil {
		return err
	}
	var errs []error
	any := false
	for _, s := range svcs {
		recs, err := c.historical(ctx, s, w)
		if len(recs) > 0 {
			any = true
			if eerr := e.Emit(ctx, collectors.Batch{Records: recs}); eerr != nil {
				return eerr
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s (%s): %w", s.name, s.id, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if !any && len(svcs) > 0 && time.Since(w.End) < 2*time.Duration(c.o.Delay)+time.Minute {
		return collectors.ErrNoData
	}
	return nil
}

// historical reads one service's window: the total, then each region.
func (c *Collector) historical(ctx context.Context, s service, w collectors.Window) ([]schema.Record, error) {
	var recs []schema.Record
	var errs []error
	for _, region := range append([]string{""}, c.o.Regions...) {
		q := url.Values{"from": {strconv.FormatInt(w.Start.Unix(), 10)}, "to": {strconv.FormatInt(w.End.Unix(), 10)}, "by": {"minute"}}
		loc := schema.LocationAll
		if region != "" {
			q.Set("region", region)
			loc = region
		}
		u := strings.TrimRight(c.o.APIURL, "/") + "/stats/service/" + url.PathEscape(s.id) + "?" + q.Encode()
		resp, err := c.http.Do(ctx, httpx.Request{URL: u, Header: c.header(), Endpoint: "GET /stats/service"})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got, skipped, err := parseHistorical(resp.Body, s.name, loc, w)
		if err != nil {
			errs = append(errs, fmt.Errorf("GET /stats/service region %q: %w", nameOr(region, "all"), err))
			continue
		}
		for _, sk := range skipped {
			c.logger.Warn("bad interval skipped", "service", s.name, "region", nameOr(region, "all"), "reason", sk)
		}
		recs = append(recs, got...)
	}
	return recs, errors.Join(errs...)
}

func nameOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// parseHistorical maps a historical answer to records at location loc,
// keeping rows inside w. Bad rows are skipped and described.
func parseHistorical(body []byte, svc, loc string, w collectors.Window) ([]schema.Record, []string, error) {
	var a historicalAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&a); err != nil {
		return nil, nil, fmt.Errorf("decode: %w (body starts %q)", err, head(body))
	}
	if a.Status != "" && a.Status != "success" {
		return nil, nil, fmt.Errorf("status %q: %v", a.Status, a.Msg)
	}
	var recs []schema.Record
	var skipped []string
	for i, raw := range a.Data {
		var rr row
		if err := json.Unmarshal(raw, &rr); err != nil {
			skipped = append(skipped, fmt.Sprintf("row %d: %v", i, err))
			continue
		}
		r := &rr
		if r.StartTime == nil {
			skipped = append(skipped, fmt.Sprintf("row %d has no start_time", i))
			continue
		}
		st := *r.StartTime
		if st < w.Start.Unix() || st >= w.End.Unix() {
			continue
		}
		if st%60 != 0 {
			skipped = append(skipped, fmt.Sprintf("row %d start_time %d is not on a minute", i, st))
			continue
		}
		if err := r.check(); err != nil {
			skipped = append(skipped, fmt.Sprintf("row %d (start_time %d): %v", i, st, err))
			continue
		}
		rec := schema.Record{Provider: "fastly", Service: svc, Location: loc, Start: st, Step: 60}
		r.add(&rec.Counts)
		recs = append(recs, rec)
	}
	return recs, skipped, nil
}

func head(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}
