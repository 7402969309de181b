package gcore

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const (
	seriesPath    = "/cdn/statistics/series"
	resourcesPath = "/cdn/resources"
	// discoveryTTL is how long a discovered resource list is reused.
	discoveryTTL = 15 * time.Minute
)

// Collector reads Gcore CDN resource statistics.
type Collector struct {
	http        *httpx.Client
	base        string
	token       string
	granularity string
	step        int64                // seconds
	resources   []Resource           // configured; empty means discover
	only        collectors.Selection // backfill --service
	env         collectors.Env
	logger      *slog.Logger
	now         func() time.Time

	discovered collectors.Discovery[Resource]
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
	if _, ok := granularities[o.Granularity]; !ok {
		return nil, fmt.Errorf("gcore: granularity %q: must be one of %s", o.Granularity, granularityNames())
	}
	logger := env.CollectorLogger(provider)
	// Gcore does not publish a limit for the statistics API; a few requests
	// a second is far more than one run needs.
	opts := append([]httpx.Option{httpx.WithRate(5, 10)}, extra...)
	return &Collector{
		http:        env.VendorClient(provider, logger, o.RequestDeadline(), opts...),
		base:        base,
		token:       tok,
		granularity: o.Granularity,
		step:        int64(o.step() / time.Second),
		resources:   append([]Resource(nil), o.Resources...),
		env:         env,
		logger:      logger,
		now:         time.Now,
	}, nil
}

// header carries the token the way Gcore's API reference asks: the
// Authorization header holding the word APIKey, one space, the token (the
// scheme as Gcore's own SDKs send it; the reference spells it apikey, and
// schemes are case-insensitive).
func (c *Collector) header() http.Header {
	h := http.Header{}
	h.Set("Authorization", "APIKey "+c.token)
	h.Set("Accept", "application/json")
	return h
}

// Collect reads every resource over w and emits one batch per resource.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	rs, err := c.resourceList(ctx)
	if err != nil {
		return err
	}
	return collectors.ServiceRun[Resource]{Provider: provider, Kind: "resource",
		Name: func(r Resource) (collectors.ServiceRef, string) { return r.ref(), r.pathName() },
		// No points for any resource is no data yet.
		Collect: func(r Resource) (collectors.Batch, int, error) {
			recs, points, err := c.collectResource(ctx, r, w)
			return collectors.Batch{Records: recs}, points, err
		},
	}.Run(ctx, c.env, c.only, rs, e)
}

// seriesQuery is the query of one series request: one resource, grouped by
// resource and region, the window as RFC 3339 UTC times.
func (c *Collector) seriesQuery(r Resource, w collectors.Window) string {
	q := url.Values{}
	q.Set("service", "CDN")
	q.Set("from", w.Start.UTC().Format(time.RFC3339))
	q.Set("to", w.End.UTC().Format(time.RFC3339))
	q.Set("granularity", c.granularity)
	q.Set("metrics", strings.Join(metrics, ","))
	q.Add("group_by", "resource")
	q.Add("group_by", "region")
	q.Set("resource", r.idString())
	return q.Encode()
}

// collectResource returns the resource's records over w, the number of
// pairs Gcore returned, and an error naming the resource for whatever
// failed.
func (c *Collector) collectResource(ctx context.Context, r Resource, w collectors.Window) ([]schema.Record, int, error) {
	name := r.pathName()
	resp, err := c.http.Do(ctx, httpx.Request{Method: http.MethodGet, URL: c.base + seriesPath + "?" + c.seriesQuery(r, w),
		Header: c.header(), Endpoint: "GET " + seriesPath})
	if err != nil {
		return nil, 0, c.resourceError(name, r.idString(), err)
	}
	a, err := parseSeries(resp.Body)
	if err != nil {
		return nil, 0, c.resourceError(name, r.idString(), fmt.Errorf("GET %s: %w", seriesPath, err))
	}
	recs, res := mapSeries(name, r.idString(), a, c.step, w.Start.Unix(), w.End.Unix())
	c.report(name, res, w)
	return recs, res.points, nil
}

// report logs and counts what mapSeries left out: malformed items and
// impossible values in rejected_values (one warning each kind), times
// ahead of our clock in rejected_future; times merely after the window
// are left to the run that asks for them.
func (c *Collector) report(resource string, res mapResult, w collectors.Window) {
	clock := c.env.Clock
	if len(res.bad) > 0 {
		clock.Count(collectors.RejectedValues, len(res.bad))
		c.logger.Warn("malformed items from vendor rejected", "resource", resource, "endpoint", "GET "+seriesPath,
			"count", len(res.bad), "first", res.bad[0])
	}
	if res.rejected > 0 {
		clock.Count(collectors.RejectedValues, res.rejected)
		c.logger.Warn("impossible values from vendor rejected; the bucket's other counts kept", "resource", resource,
			"endpoint", "GET "+seriesPath, "count", res.rejected, "first", res.why)
	}
	if len(res.after) == 0 {
		return
	}
	f := clock.RejectFuture(res.after)
	if f.N > 0 {
		c.logger.Warn("vendor buckets stamped ahead of our clock rejected", append([]any{"resource", resource}, f.Attrs()...)...)
	}
	if late := len(res.after) - f.N; late > 0 {
		c.logger.Debug("vendor buckets after the window left out", "resource", resource, "count", late,
			"window_end", w.End.UTC().Format(time.RFC3339))
	}
}

// resourceError names the resource a failure belongs to (none for the
// account); its message never holds the token.
func (c *Collector) resourceError(name, id string, err error) error {
	return &collectors.ServiceError{Provider: provider, Kind: "resource", Name: name, ID: id, Secret: c.token, Err: err}
}

// resourceList returns the configured resources, or the account's
// (discovered, cached for discoveryTTL; a failed refresh reuses the last
// list).
func (c *Collector) resourceList(ctx context.Context) ([]Resource, error) {
	if len(c.resources) > 0 {
		return c.resources, nil
	}
	return c.discovered.List(discoveryTTL, c.now, func() ([]Resource, error) {
		rs, err := c.discover(ctx)
		if err != nil {
			return nil, c.resourceError("", "", err)
		}
		collectors.ClaimPaths(c.env, provider, rs, Resource.ref, func(r *Resource, p string) { r.path = p })
		c.logger.Debug("discovered resources", "resources", len(rs))
		return rs, nil
	}, func(err error, n int) {
		c.logger.Warn("resource discovery failed, reusing the last list", "err", err, "resources", n)
	})
}

// discover reads GET /cdn/resources (one answer holds every resource).
func (c *Collector) discover(ctx context.Context) ([]Resource, error) {
	q := url.Values{}
	q.Set("deleted", "false")
	resp, err := c.http.Do(ctx, httpx.Request{Method: http.MethodGet, URL: c.base + resourcesPath + "?" + q.Encode(),
		Header: c.header(), Endpoint: "GET " + resourcesPath})
	if err != nil {
		return nil, err
	}
	rs, err := parseResources(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", resourcesPath, err)
	}
	return rs, nil
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	var err error
	c.only, err = collectors.SelectConfigured(provider, "resource", ids, c.resources, Resource.ref)
	return err
}
