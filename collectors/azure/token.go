package azure

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// scope is the Azure Resource Manager audience: the metrics API is an ARM API.
const scope = "https://management.azure.com/.default"

// refreshBefore is how long before its expiry a token is replaced: Entra
// tokens live 60 to 90 minutes, and a token that expires between the check
// and ARM's reading of it is answered 401.
const refreshBefore = 2 * time.Minute

// tokens hands out an ARM bearer token from client credentials, reusing it
// until shortly before it expires. Unlike oauth2.ReuseTokenSource it can
// drop a token ARM refused (invalidate), so that a token revoked or expired
// early is replaced within the same run, and it judges expiry by the
// collector's clock.
type tokens struct {
	cc       *clientcredentials.Config
	ctx      context.Context // carries the HTTP client for the token endpoint
	url      string
	now      func() time.Time
	remember func(string) // adds an access token to the strings scrubbed from errors

	mu      sync.Mutex
	current string
	expires time.Time
	fetched int // tokens fetched, for tests and logs
}

// token returns a valid access token, fetching one when none is cached or
// the cached one is about to expire.
func (t *tokens) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.current != "" && now.Before(t.expires.Add(-refreshBefore)) {
		return t.current, nil
	}
	// The token request is bounded by the caller's context too.
	tctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	tok, err := t.cc.Token(tctx)
	if err != nil {
		return "", tokenError(t.url, err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("oauth token from %s: the answer holds no access_token", t.url)
	}
	t.remember(tok.AccessToken)
	redact.AddSecret(tok.AccessToken)
	t.current, t.fetched = tok.AccessToken, t.fetched+1
	// oauth2 stamps Expiry with the wall clock; keep the lifetime, judged
	// by ours.
	life := time.Hour
	if !tok.Expiry.IsZero() {
		life = time.Until(tok.Expiry)
	}
	t.expires = now.Add(life)
	return t.current, nil
}

// invalidate drops tok if it is the cached token (ARM refused it).
func (t *tokens) invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current == tok {
		t.current = ""
	}
}

// tokenError describes a failed token request by the endpoint, the HTTP
// status and the OAuth error code and description, never by the raw body;
// the description passes through redact, since an identity service may
// quote the request in it.
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		var b strings.Builder
		if re.Response != nil {
			fmt.Fprintf(&b, "HTTP %d", re.Response.StatusCode)
		}
		if re.ErrorCode != "" {
			fmt.Fprintf(&b, " %s", re.ErrorCode)
		}
		if d := strings.TrimSpace(re.ErrorDescription); d != "" {
			// Entra descriptions run to several lines with trace ids.
			if i := strings.IndexAny(d, "\r\n"); i > 0 {
				d = d[:i]
			}
			if len(d) > 300 {
				d = d[:300] + "…"
			}
			fmt.Fprintf(&b, ": %s", redact.String(d))
		}
		return fmt.Errorf("oauth token from %s: %s", tokenURL, strings.TrimSpace(b.String()))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is named already
	}
	return fmt.Errorf("oauth token from %s: %s", tokenURL, redact.String(err.Error()))
}
