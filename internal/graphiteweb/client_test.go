package graphiteweb

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Basic auth goes with every request; a refusal names the keys to check;
// an answer that echoes the Authorization header does not get the
// password into the error; a password in the URL is refused.
func TestClientAuthAndRedaction(t *testing.T) {
	const user, pass = "viewer", "gw-cl13nt-pass"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("echo") != "" {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "headers: %v", r.Header)
			return
		}
		fmt.Fprint(w, "[]")
	}))
	defer srv.Close()

	c, err := New(srv.URL+"/", user, pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := c.Get(context.Background(), "/render", url.Values{"format": {"json"}})
	if err != nil || string(body) != "[]" {
		t.Fatalf("with auth: %q, %v", body, err)
	}
	_, _, err = c.Get(context.Background(), "/render", url.Values{"echo": {"1"}})
	leak := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") || strings.Contains(err.Error(), leak) || strings.Contains(err.Error(), pass) {
		t.Errorf("echoed auth: %v", err)
	}

	anon, err := New(srv.URL, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := anon.Get(context.Background(), "/render", nil); err == nil || !strings.Contains(err.Error(), "password_env") {
		t.Errorf("without auth: %v, want a 401 naming password_env", err)
	}
	if _, err := New(strings.Replace(srv.URL, "http://", "http://"+user+":"+pass+"@", 1), "", "", nil); err == nil || strings.Contains(err.Error(), pass) {
		t.Errorf("password in web_url: %v, want refused without quoting it", err)
	}
}

// Post sends the body, its type and basic auth, hands back any status
// (here a redirect, not followed by a no-redirect client) with the
// Location and the echoed body redacted.
func TestPostAnswerRedacted(t *testing.T) {
	const user, pass = "poster", "gw-p0st-pass"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/events/" || r.Header.Get("Content-Type") != "application/json" || u != user || p != pass {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		w.Header().Set("Location", "https://elsewhere.example/?k="+pass)
		w.WriteHeader(http.StatusFound)
		fmt.Fprintf(w, "headers: %v", r.Header)
	}))
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c, err := New(srv.URL+"/", user, pass, noRedirect)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := c.Post(context.Background(), "/events/", []byte(`{"what":"x"}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if ans.StatusCode != http.StatusFound || !strings.HasPrefix(ans.Location, "https://elsewhere.example/") {
		t.Fatalf("answer %+v, want the 302 with its Location", ans)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, s := range []string{ans.Location, ans.Body} {
		if strings.Contains(s, pass) || strings.Contains(s, basic) {
			t.Fatalf("credential in answer: %q", s)
		}
	}
}
