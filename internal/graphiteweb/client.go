// Package graphiteweb is the one client of graphite-web's HTTP API that
// compare, graph and events use: base URL, basic auth, timeouts, bounded answers,
// and errors with credentials redacted. Every error it returns means
// graphite-web was unreachable or its answer unusable (the commands' exit
// status 3), except those of New, which are configuration errors.
package graphiteweb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// MaxBody bounds one answer; a render of a long window over many services
// is a few MB, so this only stops a runaway server.
const MaxBody = 256 << 20

// DefaultTimeout bounds one request when the caller gives no http.Client.
const DefaultTimeout = 2 * time.Minute

// Client talks to one graphite-web.
type Client struct {
	base               *url.URL
	username, password string
	http               *http.Client
}

// New returns a client for webURL ([graphite] web_url). username and
// password, when username is set, are sent as basic auth; a credential in
// the URL itself is refused, as config validation refuses it. hc nil means
// a client with DefaultTimeout.
func New(webURL, username, password string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(webURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("graphite web_url %q is not an http(s) URL", redact.String(webURL))
	}
	if u.User != nil {
		return nil, errors.New("graphite web_url: credentials in the URL are not allowed; use [graphite] username and password_env")
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	if username != "" && password != "" {
		// A server that echoes the Authorization header back in an
		// error page must not get the password into our output.
		redact.AddBasicAuth(username, password)
	}
	return &Client{base: u, username: username, password: password, http: hc}, nil
}

// Get fetches path?q and returns the body of a 200 answer and its
// Content-Type.
func (c *Client) Get(ctx context.Context, path string, q url.Values) ([]byte, string, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("graphite-web %s: %w", path, err)
	}
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", redact.Error(fmt.Errorf("graphite-web %s: %w", path, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, "", redact.Error(fmt.Errorf("graphite-web %s: read answer: %w", path, err))
	}
	if len(body) > MaxBody {
		return nil, "", fmt.Errorf("graphite-web %s: answer larger than %d bytes", path, MaxBody)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, "", fmt.Errorf("graphite-web %s: %s; check [graphite] username and password_env", path, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("graphite-web %s: HTTP %d: %s", path, resp.StatusCode, ErrorText(body))
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// PostAnswer is graphite-web's answer to a Post: the status, the Location
// of a redirect and the start of the body, credentials redacted.
type PostAnswer struct {
	StatusCode int
	Status     string
	Location   string
	Body       string
}

// postBodyCap is how much of a Post answer is kept for an error message;
// the rest (up to 1 MB) is read and dropped so the connection can be reused.
const postBodyCap = 512

// Post sends body to path with contentType and returns graphite-web's
// answer whatever its status; judging the status is the caller's job. An
// error means no answer (a transport failure or ctx done). Redirects are
// followed only if the http.Client given to New does so.
func (c *Client) Post(ctx context.Context, path string, body []byte, contentType string) (PostAnswer, error) {
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return PostAnswer{}, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "cdnmetrics")
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return PostAnswer{}, redact.Error(err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, postBodyCap))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	auth := req.Header.Get("Authorization")
	return PostAnswer{
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		Location:   redact.String(resp.Header.Get("Location"), auth),
		Body:       redact.Bytes(snippet, auth),
	}, nil
}

// PNG fetches /render?q (format=png is set) and checks the answer is an image.
func (c *Client) PNG(ctx context.Context, q url.Values) ([]byte, error) {
	q.Set("format", "png")
	body, ctype, err := c.Get(ctx, "/render", q)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(string(body[:min(len(body), 4)]), "\x89PNG") {
		return nil, fmt.Errorf("graphite-web /render: answer is %s, not a PNG: %s", ctype, ErrorText(body))
	}
	return body, nil
}

// ErrorText shortens a graphite-web error page (Django's HTML debug page
// or a plain traceback) to something that fits on one line, credentials
// redacted.
func ErrorText(body []byte) string {
	s := strings.Join(strings.Fields(redact.Bytes(body)), " ")
	if i := strings.Index(s, "<title>"); i >= 0 {
		if j := strings.Index(s[i:], "</title>"); j > 0 {
			return s[i+7 : i+j]
		}
	}
	const n = 120
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
