package gcpsim

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/jws"

	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The stand-in's token endpoint refuses an assertion signed by another
// key the way Google does, and its API refuses requests without a token
// it issued.
func TestStandInRefusesWrongKeyAndNoToken(t *testing.T) {
	mux := http.NewServeMux()
	Serve(mux, simulate.Env{Model: traffic.Default(1)})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, key := range map[string]*rsa.PrivateKey{"other key": other} {
		a, err := jws.Encode(&jws.Header{Algorithm: "RS256", Typ: "JWT"}, &jws.ClaimSet{Iss: ClientEmail, Scope: Scope, Aud: srv.URL + TokenPath,
			Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()}, key)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.PostForm(srv.URL+TokenPath, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: token endpoint answered %d, want 400", name, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+strings.Replace(ListPath, "{project}", Project, 1)+"?filter=x", nil)
	req.Header.Set("Authorization", "Bearer ya29.made-up")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API answered %d to a made-up token, want 401", resp.StatusCode)
	}
}
