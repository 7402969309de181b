package compare

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestGraphiteWebEchoRedacted: a graphite-web that repeats the request's
// headers (here the basic auth of [graphite] username and password_env)
// in an error page or a non-JSON answer must not get them into the error.
func TestGraphiteWebEchoRedacted(t *testing.T) {
	const pass = "w3b-pa55word"
	leak := base64.StdEncoding.EncodeToString([]byte("viewer:" + pass))
	for _, status := range []int{400, 200} {
		web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprintf(w, "{'HTTP_AUTHORIZATION': '%s'} %v", r.Header.Get("Authorization"), r.Header)
		}))
		c, err := newClient(Options{WebURL: web.URL, Username: "viewer", Password: pass})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.find(context.Background(), "cdn.*")
		if err == nil {
			t.Fatalf("HTTP %d: want an error", status)
		}
		_, rerr := c.render(context.Background(), []string{"a"}, time.Unix(0, 0), time.Unix(60, 0))
		for _, e := range []error{err, rerr} {
			if e == nil || !strings.Contains(e.Error(), "Basic") {
				t.Fatalf("HTTP %d: error does not quote the answer: %v", status, e)
			}
			if strings.Contains(e.Error(), leak) || strings.Contains(e.Error(), pass) {
				t.Errorf("HTTP %d: error holds the credentials: %v", status, e)
			}
		}
		web.Close()
	}
}
