package gcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const (
	// defaultPageSize is the points per page asked for (view FULL: the
	// page size counts points). Google allows up to 100,000; smaller
	// pages keep each answer small.
	defaultPageSize = 10000
	// maxPages bounds nextPageToken paging per metric and window.
	maxPages = 1000
)

// Collector reads Cloud CDN metrics from Cloud Monitoring.
type Collector struct {
	http     *httpx.Client
	base     string // {api_url}/v3/projects/{project}/timeSeries
	tokens   oauth2.TokenSource
	tokenURL string
	// newTokens builds a fresh token source (the key file read again):
	// used once when the API refuses a token the source still holds
	// (revoked, or the key rotated).
	newTokens func() (oauth2.TokenSource, string, error)
	backends  []Backend // configured; empty means every url map
	only      collectors.Selection
	env       collectors.Env
	logger    *slog.Logger
	pageSize  int

	mu      sync.Mutex
	secrets []string // access tokens seen, scrubbed from errors
}

// New builds a collector from validated options. The credentials file is
// read now; no token is fetched before the first Collect.
func New(o *Options, env collectors.Env) (*Collector, error) {
	return build(o, env)
}

// build is New with extra client options (tests shorten the backoff).
func build(o *Options, env collectors.Env, extra ...httpx.Option) (*Collector, error) {
	base, err := collectors.BaseURL(provider, "api_url", o.APIURL)
	if err != nil {
		return nil, err
	}
	project := strings.TrimSpace(o.Project)
	if project == "" {
		return nil, errors.New("gcp: project is empty")
	}
	logger := env.CollectorLogger(provider)
	// The token request is a vendor request too: request_timeout bounds it.
	hc := env.TimedHTTPClient(o.RequestDeadline())
	if o.CredentialsFile != "" {
		env.WarnSecretFile("gcp.credentials_file", o.CredentialsFile)
	}
	newTokens := func() (oauth2.TokenSource, string, error) {
		return tokens(context.Background(), o.CredentialsFile, hc)
	}
	ts, tokenURL, err := newTokens()
	if err != nil {
		return nil, err
	}
	// timeSeries.list is rate limited per project (6,000 reads a minute by
	// default); four metrics a window need far less.
	opts := append([]httpx.Option{httpx.WithRate(10, 20)}, extra...)
	return &Collector{
		http:      env.VendorClient(provider, logger, o.RequestDeadline(), opts...),
		base:      base + "/v3/projects/" + url.PathEscape(project) + "/timeSeries",
		tokens:    ts,
		tokenURL:  tokenURL,
		newTokens: newTokens,
		backends:  append([]Backend(nil), o.Backends...),
		env:       env,
		logger:    logger,
		pageSize:  defaultPageSize,
	}, nil
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gcp: credentials_file: %w", collectors.Readable(path))
	}
	return b, nil
}

// Collect reads the four metrics over w for every url map (one query per
// metric for all of them) and emits one batch per url map. A window is
// emitted only when every page of every metric arrived: inside a minute,
// a group without a point counts as zero, which a missing page would
// make a lie.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	var filter []string
	for _, b := range c.backends {
		if c.env.Includes(b.ID, b.label()) && c.only.Has(b.ID, b.label()) {
			filter = append(filter, b.ID)
		}
	}
	if len(c.backends) > 0 && len(filter) == 0 {
		return nil // this instance collects none of the configured url maps
	}
	col := newCollected()
	for m := range numMetrics {
		if err := c.list(ctx, m, filter, w, col); err != nil {
			return err
		}
	}
	c.report(col, w)
	names := c.names(col.urlMaps())
	recs := mapCells(col, func(u string) string { return names[u] })
	byService := map[string][]schema.Record{}
	var order []string
	for _, r := range recs {
		if _, ok := byService[r.Service]; !ok {
			order = append(order, r.Service)
		}
		byService[r.Service] = append(byService[r.Service], r)
	}
	for _, svc := range order {
		if err := e.Emit(ctx, collectors.Batch{Records: byService[svc]}); err != nil {
			return fmt.Errorf("gcp: emit url map %s: %w", svc, err)
		}
	}
	if col.points == 0 {
		return collectors.ErrNoData
	}
	return nil
}

// list pages through timeSeries.list for metric m over w into col.
func (c *Collector) list(ctx context.Context, m metric, urlMaps []string, w collectors.Window, col *collected) error {
	token := ""
	renewed := false
	// Every token answered so far: a cycle (A, B, A…) is a repeat too.
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if n == maxPages {
			return fmt.Errorf("gcp: timeSeries.list %s: still a nextPageToken after %d pages", m, maxPages)
		}
		auth, err := c.authorization()
		if err != nil {
			return err
		}
		h := http.Header{}
		h.Set("Authorization", auth)
		h.Set("Accept", "application/json")
		resp, err := c.http.Do(ctx, httpx.Request{
			Method: http.MethodGet, URL: c.base + "?" + listQuery(m, urlMaps, w.Start, w.End, c.pageSize, token),
			Header: h, Endpoint: "GET timeSeries.list " + m.String(),
		})
		var he *httpx.Error
		if err != nil && errors.As(err, &he) && he.Status == http.StatusUnauthorized && !renewed {
			// A token the source still deems valid was refused (revoked,
			// or the key rotated): build the source afresh and ask again.
			renewed = true
			c.logger.Warn("access token refused by the API, fetching a new one", "endpoint", "timeSeries.list", "token_endpoint", c.tokenURL)
			if rerr := c.renewTokens(); rerr != nil {
				return errors.Join(c.scrub(err), rerr)
			}
			n--
			continue
		}
		if err != nil {
			return c.scrub(err)
		}
		p, err := parsePage(resp.Body)
		if err != nil {
			return fmt.Errorf("gcp: timeSeries.list %s page %d: %w", m, n+1, err)
		}
		if len(p.ExecutionErrors) > 0 {
			// Some of the data could not be read: the groups would not add up.
			ee := p.ExecutionErrors[0]
			return fmt.Errorf("gcp: timeSeries.list %s page %d: %d execution error(s), first: code %d: %s",
				m, n+1, len(p.ExecutionErrors), ee.Code, redact.String(snip(ee.Message)))
		}
		col.add(m, p, w.Start, w.End)
		if p.NextPageToken == "" {
			return nil
		}
		if p.NextPageToken == token || seen[p.NextPageToken] {
			return fmt.Errorf("gcp: timeSeries.list %s: the same nextPageToken twice", m)
		}
		seen[p.NextPageToken] = true
		token = p.NextPageToken
	}
}

// renewTokens replaces the token source by a fresh one.
func (c *Collector) renewTokens() error {
	if c.newTokens == nil {
		return nil
	}
	ts, tokenURL, err := c.newTokens()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.tokens, c.tokenURL = ts, tokenURL
	c.mu.Unlock()
	return nil
}

// authorization returns the Authorization header value, fetching or
// refreshing the access token when needed.
func (c *Collector) authorization() (string, error) {
	c.mu.Lock()
	ts, tokenURL := c.tokens, c.tokenURL
	c.mu.Unlock()
	tok, err := ts.Token()
	if err != nil {
		return "", c.scrub(tokenError(tokenURL, err))
	}
	c.remember(tok.AccessToken)
	return tok.Type() + " " + tok.AccessToken, nil
}

// remember adds an access token to the strings scrubbed from errors.
func (c *Collector) remember(tok string) {
	if tok == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.secrets {
		if s == tok {
			return
		}
	}
	// Registered too, so that redact removes it in every shape a server
	// may echo it (base64, URL- or JSON-escaped), from errors and logs.
	redact.AddSecret(tok)
	if len(c.secrets) >= 8 {
		c.secrets = c.secrets[1:]
	}
	c.secrets = append(c.secrets, tok)
}

// scrub removes every access token seen from an error's text.
func (c *Collector) scrub(err error) error {
	if err == nil {
		return nil
	}
	c.mu.Lock()
	secrets := append([]string(nil), c.secrets...)
	c.mu.Unlock()
	msg := redact.String(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// report logs and counts what the window's answers held that is not
// emitted: shapes skipped, values rejected, minutes after the window.
func (c *Collector) report(col *collected, w collectors.Window) {
	if len(col.bad) > 0 {
		c.env.Clock.Count(collectors.RejectedValues, len(col.bad))
		c.logger.Warn("skipped bad series or points from vendor", "endpoint", "timeSeries.list", "count", len(col.bad), "first", col.bad[0])
	}
	if len(col.rejected) > 0 {
		c.env.Clock.Count(collectors.RejectedValues, len(col.rejected))
		c.logger.Warn("impossible values from vendor rejected; that metric's minute left out for the url map", "endpoint", "timeSeries.list",
			"count", len(col.rejected), "first", col.rejected[0])
	}
	if col.before > 0 {
		c.logger.Debug("vendor points before the window left out", "count", col.before, "window_start", w.Start.UTC().Format(time.RFC3339))
	}
	if len(col.after) > 0 {
		f := c.env.Clock.RejectFuture(col.after)
		if f.N > 0 {
			c.logger.Warn("vendor points stamped ahead of our clock rejected", f.Attrs()...)
		}
		if late := len(col.after) - f.N; late > 0 {
			c.logger.Debug("vendor points after the window left out", "count", late, "window_end", w.End.UTC().Format(time.RFC3339))
		}
	}
}

// names maps each url map in the answers to its service name: the
// configured name, or for discovered url maps (no [[gcp.backend]]) the
// url map's own name, kept apart from other paths by env.Paths. Url maps
// this instance does not collect map to "".
func (c *Collector) names(urlMaps []string) map[string]string {
	out := map[string]string{}
	if len(c.backends) > 0 {
		for _, b := range c.backends {
			if c.env.Includes(b.ID, b.label()) && c.only.Has(b.ID, b.label()) {
				out[b.ID] = b.pathName()
			}
		}
		return out
	}
	var refs []collectors.ServiceRef
	for _, u := range urlMaps {
		if c.env.Includes(u, u) && c.only.Has(u, u) {
			refs = append(refs, collectors.ServiceRef{ID: u, Name: u})
		}
	}
	for i, n := range c.env.PathNames(provider, refs) {
		out[refs[i].ID] = n
	}
	return out
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	// Discovered url maps are matched when they are read.
	var err error
	c.only, err = collectors.SelectConfigured(provider, "backend", ids, c.backends,
		func(b Backend) collectors.ServiceRef { return collectors.ServiceRef{ID: b.ID, Name: b.label()} })
	return err
}
