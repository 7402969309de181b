package bunny

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const (
	statsPath = "/statistics"
	zonesPath = "/pullzone"
	// discoveryTTL is how long a discovered pull zone list is reused.
	discoveryTTL = 15 * time.Minute
	// maxZonePages bounds pull zone list paging.
	maxZonePages = 100
	zonesPerPage = 1000
)

// Collector reads Bunny pull zone statistics.
type Collector struct {
	http   *httpx.Client
	base   string
	token  string
	zones  []PullZone           // configured; empty means discover
	only   collectors.Selection // backfill --service
	env    collectors.Env
	logger *slog.Logger

	discovered collectors.Discovery[PullZone]
}

// New builds a collector from validated options.
func New(o *Options, env collectors.Env) (*Collector, error) {
	return build(o, env)
}

// build is New with extra client options (tests shorten the backoff).
func build(o *Options, env collectors.Env, extra ...httpx.Option) (*Collector, error) {
	tok, err := env.Secret(provider, "token_file", o.TokenFile, o.TokenEnv)
	if err != nil {
		return nil, err
	}
	base, err := collectors.BaseURL(provider, "api_url", o.APIURL)
	if err != nil {
		return nil, err
	}
	logger := env.CollectorLogger(provider)
	// Bunny publishes no rate limit for its core API; one pull zone a run
	// every 15 minutes is far from any, this only smooths bursts of many
	// zones.
	opts := append([]httpx.Option{httpx.WithRate(5, 10)}, extra...)
	return &Collector{
		http:   env.VendorClient(provider, logger, o.RequestDeadline(), opts...),
		base:   base,
		token:  tok,
		zones:  append([]PullZone(nil), o.PullZones...),
		env:    env,
		logger: logger,
	}, nil
}

func (c *Collector) header() http.Header {
	h := http.Header{}
	h.Set("AccessKey", c.token)
	h.Set("Accept", "application/json")
	return h
}

// Collect reads every pull zone over w and emits one batch per zone.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	// Only whole hours that have ended by our clock are written: the
	// current one is partial and is read again by later runs.
	complete := c.env.Clock.Time().Truncate(bucket * time.Second)
	if !complete.After(w.Start) {
		return collectors.ErrNoData
	}
	// A window in which no hour starts (collect --from/--to inside one
	// hour) has nothing of Bunny's: its hour belongs to the window holding
	// its start. Said, not "no data yet", which would keep it waiting.
	if first := ceilHour(w.Start); !first.Before(w.End) {
		c.logger.Warn("window holds no start of a Bunny hour: nothing to collect (Bunny's buckets are hourly)",
			"window", w.String(), "next_hour", first.UTC().Format(time.RFC3339))
		return nil
	}
	zones, err := c.zoneList(ctx)
	if err != nil {
		return err
	}
	return collectors.ServiceRun[PullZone]{Provider: provider, Kind: "pull zone",
		Name: func(z PullZone) (collectors.ServiceRef, string) { return z.ref(), z.pathName() },
		// No complete hour mapped for any zone is no data yet.
		Collect: func(z PullZone) (collectors.Batch, int, error) {
			recs, err := c.collectZone(ctx, z, w, complete)
			return collectors.Batch{Records: recs}, len(recs), err
		},
	}.Run(ctx, c.env, c.only, zones, e)
}

// ceilHour is the first whole hour at or after t.
func ceilHour(t time.Time) time.Time {
	h := t.Truncate(bucket * time.Second)
	if h.Before(t) {
		h = h.Add(bucket * time.Second)
	}
	return h
}

// collectZone reads one pull zone's statistics over w and returns its
// complete hours; errors name the zone.
func (c *Collector) collectZone(ctx context.Context, z PullZone, w collectors.Window, complete time.Time) ([]schema.Record, error) {
	name := z.pathName()
	zerr := func(err error) error { return c.zoneError(name, z.id(), err) }
	q := url.Values{}
	q.Set("pullZone", z.id())
	q.Set("dateFrom", w.Start.UTC().Format(timeLayout))
	// dateTo is inclusive at Bunny: the last second of the window.
	q.Set("dateTo", w.End.Add(-time.Second).UTC().Format(timeLayout))
	for _, kv := range statsQuery {
		q.Set(kv[0], kv[1])
	}
	resp, err := c.http.Do(ctx, httpx.Request{Method: http.MethodGet, URL: c.base + statsPath + "?" + q.Encode(),
		Header: c.header(), Endpoint: "GET " + statsPath})
	if err != nil {
		return nil, zerr(err)
	}
	st, err := parseStats(resp.Body)
	if err != nil {
		return nil, zerr(fmt.Errorf("GET %s: %w", statsPath, err))
	}
	if st.daily() || st.midnightOnly(w.Start, w.End) {
		// hourly=true ignored: daily counts stamped as hours would be 24
		// times too high per bucket.
		return nil, zerr(fmt.Errorf("GET %s: answer has daily buckets although hourly=true was asked", statsPath))
	}
	recs, bad, after, before, partial := mapStats(name, st, w.Start, w.End, complete)
	bad = append(st.bad, bad...)
	if len(bad) > 0 {
		// Keys that are not a time, values that are not a number, buckets
		// off the hour: each a value left out.
		c.env.Clock.Count(collectors.RejectedValues, len(bad))
		c.logger.Warn("skipped bad chart entries from vendor", "pull_zone", name, "endpoint", "GET "+statsPath, "count", len(bad), "first", bad[0])
	}
	if before > 0 {
		c.logger.Debug("vendor chart values before the window left out", "pull_zone", name, "count", before,
			"window_start", w.Start.UTC().Format(time.RFC3339))
	}
	if len(st.rejected) > 0 {
		c.env.Clock.Count(collectors.RejectedValues, len(st.rejected))
		c.logger.Warn("impossible values from vendor rejected; the hour's other charts kept", "pull_zone", name,
			"endpoint", "GET "+statsPath, "count", len(st.rejected), "first", st.rejected[0])
	}
	if partial > 0 {
		c.logger.Debug("current hour is partial: left for a later run", "pull_zone", name, "buckets", partial,
			"complete_until", complete.UTC().Format(time.RFC3339))
	}
	c.afterWindow(name, after, w)
	return recs, nil
}

// afterWindow deals with buckets stamped at or after the window's end.
// Those ahead of our clock (beyond the clock_skew_tolerance) are a vendor
// clock or unit mistake: counted in rejected_future with one warning. The
// others are merely later than asked for: left out at debug level, the run
// that asks for their window collects them.
func (c *Collector) afterWindow(zone string, after []int64, w collectors.Window) {
	if len(after) == 0 {
		return
	}
	f := c.env.Clock.RejectFuture(after)
	if f.N > 0 {
		c.logger.Warn("vendor buckets stamped ahead of our clock rejected", append([]any{"pull_zone", zone}, f.Attrs()...)...)
	}
	if late := len(after) - f.N; late > 0 {
		c.logger.Debug("vendor buckets after the window left out", "pull_zone", zone, "count", late,
			"window_end", w.End.UTC().Format(time.RFC3339))
	}
}

// zoneError names the pull zone a failure belongs to (none for the
// account); its message never holds the API key.
func (c *Collector) zoneError(name, id string, err error) error {
	return &collectors.ServiceError{Provider: provider, Kind: "pull zone", Name: name, ID: id, Secret: c.token, Err: err}
}

// zoneList returns the configured pull zones, or the account's (discovered,
// cached for discoveryTTL; a failed refresh reuses the last list).
func (c *Collector) zoneList(ctx context.Context) ([]PullZone, error) {
	if len(c.zones) > 0 {
		return c.zones, nil
	}
	return c.discovered.List(discoveryTTL, c.env.Clock.Time, func() ([]PullZone, error) {
		zs, err := c.discover(ctx)
		if err != nil {
			return nil, c.zoneError("", "", err)
		}
		collectors.ClaimPaths(c.env, provider, zs, PullZone.ref, func(z *PullZone, p string) { z.path = p })
		return zs, nil
	}, func(err error, n int) {
		c.logger.Warn("pull zone discovery failed, reusing the last list", "err", err, "pull_zones", n)
	})
}

// discover pages through GET /pullzone.
func (c *Collector) discover(ctx context.Context) ([]PullZone, error) {
	var all []PullZone
	seen := map[int64]bool{}
	for page := 1; page <= maxZonePages; page++ {
		q := url.Values{}
		q.Set("page", strconv.Itoa(page))
		q.Set("perPage", strconv.Itoa(zonesPerPage))
		q.Set("includeCertificate", "false")
		resp, err := c.http.Do(ctx, httpx.Request{Method: http.MethodGet, URL: c.base + zonesPath + "?" + q.Encode(),
			Header: c.header(), Endpoint: "GET " + zonesPath})
		if err != nil {
			return nil, err
		}
		zs, more, bad, err := parseZoneList(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", zonesPath, err)
		}
		if len(bad) > 0 {
			c.logger.Warn("skipped pull zones without an id", "endpoint", "GET "+zonesPath, "count", len(bad), "first", bad[0])
		}
		added := 0
		for _, z := range zs {
			if !seen[z.ID] {
				seen[z.ID] = true
				all = append(all, z)
				added++
			}
		}
		if !more || added == 0 {
			c.logger.Debug("discovered pull zones", "pull_zones", len(all))
			return all, nil
		}
	}
	return nil, fmt.Errorf("GET %s: more than %d pages of pull zones", zonesPath, maxZonePages)
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	var err error
	c.only, err = collectors.SelectConfigured(provider, "pull zone", ids, c.zones, PullZone.ref)
	return err
}
