package gcp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/collectors/gcp/gcpsim"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
)

// tokenStand is a token endpoint that checks the JWT bearer grant the way
// Google's does: the assertion's RS256 signature against the public half
// of the service account's key, its issuer, scope and audience. It issues
// tokens living expiresIn seconds and tells the API which are valid.
type tokenStand struct {
	pub       *rsa.PublicKey
	email     string
	expiresIn int
	// valid is how long the API accepts a token (its real lifetime).
	valid time.Duration

	mu         sync.Mutex
	issued     map[string]time.Time
	n          int
	assertions []string
	used       []string // tokens the API saw, in order
}

func (s *tokenStand) verify(assertion, aud string) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, h[:], sig); err != nil {
		return err
	}
	var hdr struct{ Alg string }
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "RS256" {
		return errors.New("alg")
	}
	var c struct {
		Iss, Scope, Aud string
		Exp, Iat        int64
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(cb, &c); err != nil {
		return err
	}
	if c.Iss != s.email || c.Scope != Scope || c.Aud != aud || c.Exp < time.Now().Unix() || c.Iat > time.Now().Unix()+5 {
		return fmt.Errorf("claims %+v", c)
	}
	return nil
}

func (s *tokenStand) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	a := r.PostForm.Get("assertion")
	s.mu.Lock()
	s.assertions = append(s.assertions, a)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || s.verify(a, "http://"+r.Host+r.URL.Path) != nil {
		w.WriteHeader(http.StatusBadRequest)
		// Google's answer to a bad signature; the echoed assertion is what
		// a careless proxy might add, and must never be printed.
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature.","debug":%q}`, a)
		return
	}
	s.mu.Lock()
	s.n++
	tok := fmt.Sprintf("ya29.test-token-%d-%d", s.n, time.Now().UnixNano())
	if s.issued == nil {
		s.issued = map[string]time.Time{}
	}
	s.issued[tok] = time.Now().Add(s.valid)
	s.mu.Unlock()
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer"}`, tok, s.expiresIn)
}

// api answers timeSeries.list with an empty page and a nextPageToken on
// the first page (so that each Collect reads two pages per metric), 401
// for a token the token endpoint did not issue or that expired.
func (s *tokenStand) api(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, ok := s.issued[tok]
	s.used = append(s.used, tok)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok || time.Now().After(exp) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	if r.URL.Query().Get("pageToken") == "" {
		fmt.Fprint(w, `{"nextPageToken":"p2"}`)
		return
	}
	fmt.Fprint(w, `{}`)
}

type authSetup struct {
	stand    *tokenStand
	srv      *httptest.Server
	keyFile  string
	tokenURL string
	logs     *collectorstest.SyncBuffer
	pemKey   string
}

// newAuthSetup writes a key file signed by signer whose token_uri is a
// stand-in that verifies assertions with verifier's public half.
func newAuthSetup(t *testing.T, signer, verifier *rsa.PrivateKey, expiresIn int, valid time.Duration) (*authSetup, *Collector) {
	t.Helper()
	st := &tokenStand{pub: &verifier.PublicKey, email: gcpsim.ClientEmail, expiresIn: expiresIn, valid: valid}
	mux := http.NewServeMux()
	mux.Handle("POST /token", st)
	mux.HandleFunc("GET /v3/projects/my-project/timeSeries", st.api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b, err := gcpsim.KeyFile(signer, srv.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		PrivateKey string `json:"private_key"`
	}
	_ = json.Unmarshal(b, &kf)
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &collectorstest.SyncBuffer{}
	env := collectors.Env{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), HTTPClient: srv.Client()}
	o := defaultOptions()
	o.Project, o.CredentialsFile, o.APIURL = "my-project", path, srv.URL
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatalf("options: %v", ps)
	}
	c, err := build(o, env, httpx.WithBackoff(time.Millisecond, 4*time.Millisecond), httpx.WithRate(1000, 1000), httpx.WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	return &authSetup{stand: st, srv: srv, keyFile: path, tokenURL: srv.URL + "/token", logs: logs, pemKey: kf.PrivateKey}, c
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func window() collectors.Window {
	end := time.Now().Truncate(time.Minute).Add(-10 * time.Minute)
	return collectors.Window{Start: end.Add(-5 * time.Minute), End: end}
}

// The right key: one token, fetched through the configured HTTP client
// from the key file's token_uri, serves every page of every metric and
// several runs (cached until shortly before it expires).
func TestTokenFromKeyFileCached(t *testing.T) {
	k := rsaKey(t)
	a, c := newAuthSetup(t, k, k, 3600, time.Hour)
	for range 3 {
		if err := c.Collect(context.Background(), window(), &collectorstest.Recorder{}); !errors.Is(err, collectors.ErrNoData) {
			t.Fatalf("Collect: %v (want no data: the pages are empty)", err)
		}
	}
	if a.stand.n != 1 || len(a.stand.used) != 3*4*2 {
		t.Fatalf("tokens issued %d (want 1), API calls %d (want 24)", a.stand.n, len(a.stand.used))
	}
}

// A key the token endpoint does not know (the wrong private half): the
// error names the vendor and the token endpoint and says why; neither the
// error nor the logs hold the private key, the signed assertion or any
// part of them.
func TestWrongKeyClearErrorNoSecret(t *testing.T) {
	a, c := newAuthSetup(t, rsaKey(t), rsaKey(t), 3600, time.Hour)
	err := c.Collect(context.Background(), window(), &collectorstest.Recorder{})
	if err == nil || errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("Collect: %v, want an auth error", err)
	}
	msg := err.Error()
	for _, s := range []string{"gcp", a.tokenURL, "HTTP 400", "invalid_grant", "Invalid JWT Signature."} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not say %q", msg, s)
		}
	}
	if len(a.stand.assertions) == 0 || len(a.stand.used) != 0 {
		t.Fatalf("assertions %d, API calls %d", len(a.stand.assertions), len(a.stand.used))
	}
	out := msg + "\n" + a.logs.String()
	assertion := a.stand.assertions[0]
	secrets := []string{assertion, strings.Split(assertion, ".")[2], "PRIVATE KEY"}
	for _, line := range strings.Split(a.pemKey, "\n") {
		if len(line) > 20 {
			secrets = append(secrets, line)
		}
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("output holds a secret (%.20s…):\n%s", s, out)
		}
	}
	t.Logf("error: %s", msg)
}

// A token that expires mid-run: the token source refreshes it before its
// expiry (less 10 s), so no request goes out with a stale token.
func TestExpiredTokenRefreshedMidRun(t *testing.T) {
	k := rsaKey(t)
	// expires_in 11: the token counts as expiring 1 s after it was issued;
	// the API refuses it 1.5 s after.
	a, c := newAuthSetup(t, k, k, 11, 1500*time.Millisecond)
	if err := c.Collect(context.Background(), window(), &collectorstest.Recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("first run: %v", err)
	}
	first := a.stand.n
	time.Sleep(1600 * time.Millisecond) // the first token is now refused by the API
	if err := c.Collect(context.Background(), window(), &collectorstest.Recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("second run (token expired in between): %v", err)
	}
	if first != 1 || a.stand.n < 2 {
		t.Fatalf("tokens issued: %d in the first run, %d in all; want 1 then a refresh", first, a.stand.n)
	}
	a.stand.mu.Lock()
	defer a.stand.mu.Unlock()
	if a.stand.used[0] == a.stand.used[len(a.stand.used)-1] {
		t.Fatal("the second run used the first token")
	}
	if bytes.Contains([]byte(a.logs.String()), []byte("ya29.")) {
		t.Fatal("an access token is in the logs")
	}
}

// A key file that is no service-account key is refused by validate
// (as by New), naming the file, quoting none of its values.
func TestValidateKeyFile(t *testing.T) {
	dir := t.TempDir()
	k := rsaKey(t)
	good, _ := gcpsim.KeyFile(k, "https://oauth2.googleapis.com/token")
	cases := map[string]struct {
		body string
		want string
	}{
		"user":     {`{"type":"authorized_user","client_id":"x","client_secret":"s3cr3t-value-123","refresh_token":"r"}`, `type is "authorized_user"`},
		"garbage":  {`not json s3cr3t-value-123`, "not a JSON service-account key"},
		"nokey":    {`{"type":"service_account","client_email":"a@b","private_key":"s3cr3t-value-123"}`, "private_key is not a PEM block"},
		"badtoken": {strings.Replace(string(good), "https://oauth2.googleapis.com/token", "ftp://x/token?s3cr3t-value-123", 1), "token_uri"},
		"good":     {string(good), ""},
	}
	for name, tc := range cases {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		o := defaultOptions()
		o.Project, o.CredentialsFile = "my-project", path
		ps := o.Validate(collectors.Env{Getenv: func(string) string { return "" }})
		got := fmt.Sprint(ps)
		if tc.want == "" {
			if len(ps) != 0 {
				t.Errorf("%s: %v", name, ps)
			}
			continue
		}
		if !strings.Contains(got, "gcp.credentials_file") || !strings.Contains(got, tc.want) || !strings.Contains(got, path) {
			t.Errorf("%s: problems %v, want %q naming the file", name, ps, tc.want)
		}
		if strings.Contains(got, "s3cr3t-value-123") {
			t.Errorf("%s: a value of the file is quoted: %v", name, ps)
		}
		if _, err := New(o, collectors.Env{}); err == nil {
			t.Errorf("%s: New accepted what validate refuses", name)
		}
	}
}

// Without credentials_file, Application Default Credentials: here the
// key GOOGLE_APPLICATION_CREDENTIALS names, its token_uri honoured and
// fetched through the configured HTTP client.
func TestApplicationDefaultCredentials(t *testing.T) {
	k := rsaKey(t)
	a, _ := newAuthSetup(t, k, k, 3600, time.Hour)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", a.keyFile)
	env := collectors.Env{HTTPClient: a.srv.Client(), Getenv: os.Getenv}
	o := defaultOptions()
	o.Project, o.APIURL = "my-project", a.srv.URL
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatalf("options: %v", ps)
	}
	c, err := New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Collect(context.Background(), window(), &collectorstest.Recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("Collect: %v", err)
	}
	if a.stand.n != 1 || len(a.stand.used) != 8 {
		t.Fatalf("tokens %d, API calls %d", a.stand.n, len(a.stand.used))
	}
}

// A token the API refuses while the source still holds it (revoked): the
// collector fetches a new one once and goes on; a second refusal is an
// error.
func TestRevokedTokenRenewedOnce(t *testing.T) {
	k := rsaKey(t)
	a, c := newAuthSetup(t, k, k, 3600, time.Hour)
	if err := c.Collect(context.Background(), window(), &collectorstest.Recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("first run: %v", err)
	}
	a.stand.mu.Lock()
	for tok := range a.stand.issued {
		a.stand.issued[tok] = time.Now().Add(-time.Second) // revoked
	}
	a.stand.mu.Unlock()
	if err := c.Collect(context.Background(), window(), &collectorstest.Recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("run after revocation: %v", err)
	}
	if a.stand.n != 2 || !strings.Contains(a.logs.String(), "access token refused by the API") {
		t.Fatalf("tokens issued %d, want 2; logs:\n%s", a.stand.n, a.logs.String())
	}
	// The API refuses every token from now on: an error naming the call.
	a.stand.mu.Lock()
	a.stand.valid = -time.Second
	for tok := range a.stand.issued {
		a.stand.issued[tok] = time.Now().Add(-time.Second)
	}
	a.stand.mu.Unlock()
	err := c.Collect(context.Background(), window(), &collectorstest.Recorder{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "ya29.") {
		t.Fatalf("err = %v, want a 401 naming no token", err)
	}
}

// A service-account JSON whose private_key is a PKCS#8 key of another
// kind (EC) cannot sign the RS256 assertion: the token source fails on the
// first Collect, so validate must refuse it beforehand.
func TestValidateRefusesNonRSAKey(t *testing.T) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "sa@my-project.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":   "https://oauth2.googleapis.com/token",
	})
	path := filepath.Join(t.TempDir(), "ec.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	o := defaultOptions()
	o.Project, o.CredentialsFile = "my-project", path
	ps := o.Validate(collectors.Env{Getenv: func(string) string { return "" }})
	if got := fmt.Sprint(ps); !strings.Contains(got, "gcp.credentials_file") || !strings.Contains(got, "RSA") {
		t.Errorf("validate accepted an EC key: %v", ps)
	}
}
