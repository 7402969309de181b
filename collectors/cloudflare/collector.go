package cloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const (
	graphqlPath = "/client/v4/graphql"
	zonesPath   = "/client/v4/zones"
	// maxRows is the largest limit Cloudflare accepts per node.
	maxRows = 10000
	// discoveryTTL is how long a discovered zone list is reused.
	discoveryTTL = 15 * time.Minute
	// maxZonePages bounds zone-list paging.
	maxZonePages = 1000
	zonesPerPage = 50
)

// Collector reads Cloudflare zone analytics.
type Collector struct {
	http    *httpx.Client
	base    string
	token   string
	account string
	perColo bool
	zones   []Zone               // configured; empty means discover
	only    collectors.Selection // backfill --service
	env     collectors.Env
	logger  *slog.Logger
	now     func() time.Time
	// rowLimit is the per-node row limit sent in queries; tests lower it.
	rowLimit int

	discovered collectors.Discovery[Zone]
}

// New builds a collector from validated options.
func New(o *Options, env collectors.Env) (*Collector, error) {
	return build(o, env)
}

// build is New with extra client options (tests shorten the backoff).
func build(o *Options, env collectors.Env, extra ...httpx.Option) (*Collector, error) {
	tok, err := env.Secret("cloudflare", "token_file", o.TokenFile, o.TokenEnv)
	if err != nil {
		return nil, err
	}
	base, err := collectors.BaseURL(provider, "api_url", o.APIURL)
	if err != nil {
		return nil, err
	}
	logger := env.CollectorLogger(provider)
	// Cloudflare allows about 300 GraphQL queries per 5 minutes per user;
	// stay a little under it.
	opts := append([]httpx.Option{httpx.WithRate(0.9, 10)}, extra...)
	return &Collector{
		http:     env.VendorClient(provider, logger, o.RequestDeadline(), opts...),
		base:     base,
		token:    tok,
		account:  strings.TrimSpace(o.AccountID),
		perColo:  o.PerColo,
		zones:    append([]Zone(nil), o.Zones...),
		env:      env,
		logger:   logger,
		now:      time.Now,
		rowLimit: maxRows,
	}, nil
}

func (c *Collector) header() http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.token)
	h.Set("Accept", "application/json")
	return h
}

// Collect reads every zone over w and emits one batch per zone.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	zones, err := c.zoneList(ctx)
	if err != nil {
		return err
	}
	return collectors.ServiceRun[Zone]{Provider: provider, Kind: "zone",
		Name: func(z Zone) (collectors.ServiceRef, string) { return z.ref(), z.pathName() },
		// No rows for any zone is no data yet.
		Collect: func(z Zone) (collectors.Batch, int, error) {
			recs, rows, err := c.collectZone(ctx, z, w)
			return collectors.Batch{Records: recs}, rows, err
		},
	}.Run(ctx, c.env, c.only, zones, e)
}

// collectZone returns the zone's records over w, the number of rows the
// vendor returned, and an error naming the zone for whatever failed.
func (c *Collector) collectZone(ctx context.Context, z Zone, w collectors.Window) ([]schema.Record, int, error) {
	name := z.pathName()
	zerr := func(err error) error { return c.zoneError(name, z.ID, err) }
	a, err := c.query(ctx, z.ID, true, c.perColo, w.Start, w.End)
	if err != nil {
		return nil, 0, zerr(err)
	}
	var errs []error
	var recs []schema.Record
	rowsSeen := len(a.totals)
	totalsErr, colosErr := false, false
	for _, ge := range a.errs {
		switch ge.node() {
		case nodeTotal:
			totalsErr = true
		case nodeColo:
			colosErr = true
		default:
			totalsErr, colosErr = true, true
		}
		errs = append(errs, zerr(fmt.Errorf("POST %s: error at %s: %s", graphqlPath, orDash(ge.where()), redact.String(ge.Message))))
	}
	if !totalsErr && a.hasTotals {
		if len(a.totals) >= c.rowLimit {
			// MaxWindow keeps this far away (60 rows an hour); say so if a
			// longer window ever arrives rather than drop minutes silently.
			errs = append(errs, zerr(fmt.Errorf("%s answer fills the %d-row limit: later minutes may be missing", nodeTotal, c.rowLimit)))
		}
		rs, bad, after, rejected := mapTotals(name, a.totals, w.Start, w.End)
		c.logBad(name, nodeTotal, bad)
		c.statusRejected(name, rejected)
		c.afterWindow(name, nodeTotal, after, w)
		recs = append(recs, rs...)
	}
	if c.perColo && !colosErr && a.hasColos {
		colos := a.colos
		if len(colos) >= c.rowLimit {
			// Possibly truncated: read the colos again in smaller windows.
			colos, err = c.colosSplit(ctx, z.ID, w.Start, w.End, 0)
			if err != nil {
				errs = append(errs, zerr(err))
			}
		}
		rowsSeen += len(colos)
		rs, maxSample, bad, after := mapColos(name, colos, w.Start, w.End)
		c.logBad(name, nodeColo, bad)
		c.afterWindow(name, nodeColo, after, w)
		if maxSample > 1 {
			c.logger.Debug("per-colo data is sampled; counts are Cloudflare's estimates", "zone", name, "max_sample_interval", maxSample)
		}
		recs = append(recs, rs...)
	}
	return recs, rowsSeen, errors.Join(errs...)
}

// colosSplit reads the per-colo groups over [start, end), halving the span
// (on minute boundaries) while an answer fills the row limit.
func (c *Collector) colosSplit(ctx context.Context, zoneID string, start, end time.Time, depth int) ([]json.RawMessage, error) {
	minutes := int64(end.Sub(start) / time.Minute)
	if minutes <= 1 || depth > 20 {
		return nil, fmt.Errorf("per-colo groups from %s fill the %d-row limit even for one minute: colo data for that minute is left out",
			start.UTC().Format(time.RFC3339), c.rowLimit)
	}
	mid := start.Add(time.Duration(minutes/2) * time.Minute)
	var out []json.RawMessage
	var errs []error
	for _, span := range [2][2]time.Time{{start, mid}, {mid, end}} {
		a, err := c.query(ctx, zoneID, false, true, span[0], span[1])
		if err == nil && len(a.errs) > 0 {
			ge := a.errs[0]
			err = fmt.Errorf("POST %s: error at %s: %s", graphqlPath, orDash(ge.where()), redact.String(ge.Message))
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(a.colos) >= c.rowLimit {
			rs, err := c.colosSplit(ctx, zoneID, span[0], span[1], depth+1)
			out = append(out, rs...)
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		out = append(out, a.colos...)
	}
	return out, errors.Join(errs...)
}

// query sends one GraphQL query for one zone.
func (c *Collector) query(ctx context.Context, zoneID string, totals, colos bool, start, end time.Time) (answer, error) {
	body, err := json.Marshal(gqlRequest{Query: queryText(totals, colos, c.rowLimit), Variables: queryVars(zoneID, start, end)})
	if err != nil {
		return answer{}, fmt.Errorf("encode query: %w", err)
	}
	h := c.header()
	h.Set("Content-Type", "application/json")
	// Cloudflare answers GraphQL errors with 200 and, for some, 400 with
	// the same body: read both and let the body speak.
	resp, err := c.http.Do(ctx, httpx.Request{
		Method: http.MethodPost, URL: c.base + graphqlPath, Header: h, Body: body,
		Endpoint: "POST " + graphqlPath, OK: []int{http.StatusOK, http.StatusBadRequest},
	})
	if err != nil {
		return answer{}, err
	}
	a, err := parseAnswer(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("POST %s: HTTP %d: %w", graphqlPath, resp.Status, err)
	}
	if resp.Status != http.StatusOK && len(a.errs) == 0 {
		return answer{}, fmt.Errorf("POST %s: HTTP %d without errors in the body", graphqlPath, resp.Status)
	}
	return a, nil
}

func (c *Collector) logBad(zone, node string, bad []string) {
	if len(bad) == 0 {
		return
	}
	c.logger.Warn("skipped bad rows from vendor", "zone", zone, "endpoint", "POST "+graphqlPath, "node", node, "count", len(bad), "first", bad[0])
}

// zoneError names the zone a failure belongs to (none for the account);
// its message never holds the token.
func (c *Collector) zoneError(name, id string, err error) error {
	return &collectors.ServiceError{Provider: provider, Kind: "zone", Name: name, ID: id, Secret: c.token, Err: err}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// zoneList returns the configured zones, or the account's zones
// (discovered, cached for discoveryTTL; a failed refresh reuses the last
// list).
func (c *Collector) zoneList(ctx context.Context) ([]Zone, error) {
	if len(c.zones) > 0 {
		return c.zones, nil
	}
	return c.discovered.List(discoveryTTL, c.now, func() ([]Zone, error) {
		zs, err := c.discover(ctx)
		if err != nil {
			return nil, c.zoneError("", "", err)
		}
		// Zone names are unique in an account, but not once sanitised for
		// paths: every discovered zone claims its path.
		collectors.ClaimPaths(c.env, provider, zs, Zone.ref, func(z *Zone, p string) { z.path = p })
		return zs, nil
	}, func(err error, n int) {
		c.logger.Warn("zone discovery failed, reusing the last list", "err", err, "zones", n)
	})
}

// discover pages through GET /client/v4/zones?account.id=….
func (c *Collector) discover(ctx context.Context) ([]Zone, error) {
	var all []Zone
	seen := map[string]bool{}
	for page := 1; page <= maxZonePages; page++ {
		q := url.Values{}
		q.Set("account.id", c.account)
		q.Set("page", fmt.Sprint(page))
		q.Set("per_page", fmt.Sprint(zonesPerPage))
		resp, err := c.http.Do(ctx, httpx.Request{Method: http.MethodGet, URL: c.base + zonesPath + "?" + q.Encode(), Header: c.header(), Endpoint: "GET " + zonesPath})
		if err != nil {
			return nil, err
		}
		zs, pages, err := parseZoneList(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("cloudflare: GET %s: %w", zonesPath, err)
		}
		for _, z := range zs {
			if !seen[z.ID] {
				seen[z.ID] = true
				all = append(all, z)
			}
		}
		if page >= pages || len(zs) == 0 {
			c.logger.Debug("discovered zones", "account", c.account, "zones", len(all))
			return all, nil
		}
	}
	return nil, fmt.Errorf("cloudflare: GET %s: more than %d pages of zones", zonesPath, maxZonePages)
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	var err error
	c.only, err = collectors.SelectConfigured(provider, "zone", ids, c.zones, Zone.ref)
	return err
}
