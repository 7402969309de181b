package collectors

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
)

// What a collector that calls a vendor's API builds in New, the same way
// for every vendor: its logger, its httpx client, its API base. Kept here
// so that a new vendor cannot forget the shared transport or the
// request_timeout deadline.

// CollectorLogger returns the logger a collector of provider logs to:
// env.Logger, which the app has already named after the collector, or,
// without one (tests, tools), the default logger with a "collector"
// attribute.
func (env Env) CollectorLogger(provider string) *slog.Logger {
	if env.Logger != nil {
		return env.Logger
	}
	return slog.Default().With("collector", provider)
}

// VendorClient returns the httpx client a collector of provider calls its
// vendor with: it logs to logger, bounds each request as a whole by
// deadline (request_timeout, see Common.RequestDeadline) and goes through
// env.HTTPClient when the program set one (proxies, loopback in tests).
// opts come after those and win: the vendor's budget and retries, and the
// shorter waits tests ask for.
func (env Env) VendorClient(provider string, logger *slog.Logger, deadline time.Duration, opts ...httpx.Option) *httpx.Client {
	all := []httpx.Option{httpx.WithLogger(logger), httpx.WithDeadline(deadline)}
	if env.HTTPClient != nil {
		all = append(all, httpx.WithHTTPClient(env.HTTPClient))
	}
	return httpx.New(provider, append(all, opts...)...)
}

// TimedHTTPClient returns a copy of env.HTTPClient (or a default client)
// whose Timeout is d. It is for libraries that take a plain *http.Client,
// such as OAuth2 token sources: a token request is a vendor request too,
// so it goes through the same transport and request_timeout bounds it,
// body included.
func (env Env) TimedHTTPClient(d time.Duration) *http.Client {
	if env.HTTPClient == nil {
		return &http.Client{Timeout: d}
	}
	cp := *env.HTTPClient
	cp.Timeout = d
	return &cp
}

// BaseURL checks the API base URL configured under key (CheckURL; errors
// name provider and key) and returns it without trailing slashes, ready
// for paths to be appended.
func BaseURL(provider, key, raw string) (string, error) {
	if err := CheckURL(raw); err != nil {
		return "", fmt.Errorf("%s: %s: %w", provider, key, err)
	}
	return strings.TrimRight(raw, "/"), nil
}
