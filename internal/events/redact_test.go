package events

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// TestEchoedCredentialsNeverPrinted: a graphite-web (or a proxy in front of
// it) that repeats the request's headers in its error page must not get
// the events password into the log, the error or the summary: not in
// clear, not base64-encoded as basic auth sends it.
func TestEchoedCredentialsNeverPrinted(t *testing.T) {
	const user, pass = "ops", "s3cr3t-pass"
	pair := user + ":" + pass
	leaks := []string{pass, base64.StdEncoding.EncodeToString([]byte(pair)), base64.StdEncoding.EncodeToString([]byte(pass))}

	for _, echo := range []struct {
		name   string
		status int
		write  func(w http.ResponseWriter, r *http.Request)
	}{
		{"header lines", 400, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			for k, v := range r.Header {
				fmt.Fprintf(w, "%s=%s\n", k, strings.Join(v, ","))
			}
		}},
		{"go map", 400, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, "bad request %v", r.Header)
		}},
		{"django META", 400, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, "{'HTTP_AUTHORIZATION': '%s', 'HTTP_USER_AGENT': 'x'}", r.Header.Get("Authorization"))
		}},
		{"decoded credentials", 400, func(w http.ResponseWriter, r *http.Request) {
			u, p, _ := r.BasicAuth()
			w.WriteHeader(400)
			fmt.Fprintf(w, "user %s with password %s may not post events", u, p)
		}},
		{"redirect with credentials", 302, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "https://"+pair+"@elsewhere.example/events/?access_token="+pass)
			w.WriteHeader(302)
		}},
	} {
		t.Run(echo.name, func(t *testing.T) {
			web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				echo.write(w, r)
			}))
			defer web.Close()
			var logs collectorstest.SyncBuffer
			p := newPoster(t, t.TempDir(), config.Events{GraphiteWebURLs: []string{web.URL}, Username: user, PasswordEnv: "GW_PASS"},
				WithLogger(quietLogger(&logs)))
			_, res, err := p.Send(context.Background(), Event{What: "deploy"})
			if err != nil {
				t.Fatal(err)
			}
			printed := logs.String() + res.String()
			for _, u := range res.URLs {
				if u.Err != nil {
					printed += u.Err.Error()
				}
			}
			// The answer did reach the output, so the check below is not
			// vacuous.
			if want := map[int]string{400: "REJECTED", 302: "redirect"}[echo.status]; !strings.Contains(printed, want) {
				t.Fatalf("output does not report the answer (%q): %s", want, printed)
			}
			for _, leak := range leaks {
				if bytes.Contains([]byte(printed), []byte(leak)) {
					t.Errorf("output holds %q:\n%s", leak, printed)
				}
			}
		})
	}
}
