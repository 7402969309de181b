package collectors

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The token client is a copy: setting its timeout must not change the
// shared transport's client every other collector uses.
func TestTimedHTTPClient(t *testing.T) {
	shared := &http.Client{Timeout: 7 * time.Second}
	got := Env{HTTPClient: shared}.TimedHTTPClient(90 * time.Second)
	if got == shared || got.Timeout != 90*time.Second || shared.Timeout != 7*time.Second {
		t.Fatalf("timeout %v (shared %v, same client %v), want a copy with 1m30s", got.Timeout, shared.Timeout, got == shared)
	}
	if got := (Env{}).TimedHTTPClient(time.Second); got == nil || got.Timeout != time.Second {
		t.Fatalf("without a transport: %+v, want a client with a 1s timeout", got)
	}
}

// BaseURL names the key in its errors and drops trailing slashes, since
// paths that start with "/" are appended to it.
func TestBaseURL(t *testing.T) {
	if got, err := BaseURL("vendor", "api_url", "https://api.example.test/v1//"); err != nil || got != "https://api.example.test/v1" {
		t.Fatalf("got %q, %v; want https://api.example.test/v1", got, err)
	}
	_, err := BaseURL("vendor", "api_url", "ftp://api.example.test")
	if err == nil || err.Error() != `vendor: api_url: "ftp://api.example.test" is not an http(s)://host[/path] URL` {
		t.Fatalf("err = %v", err)
	}
}

// A ServiceError names its service, or none for the account, and never
// shows the secret an answer echoed.
func TestServiceError(t *testing.T) {
	inner := errors.New("vendorx: GET /stats: HTTP 500: bad key s3cr3t")
	e := &ServiceError{Provider: "vendorx", Kind: "pull zone", Name: "img", ID: "42", Secret: "s3cr3t", Err: inner}
	if got, want := e.Error(), "vendorx: pull zone img (42): GET /stats: HTTP 500: bad key [redacted]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e.Name, e.ID = "", ""
	if got, want := e.Error(), "vendorx: GET /stats: HTTP 500: bad key [redacted]"; got != want {
		t.Errorf("account-wide: got %q, want %q", got, want)
	}
	if !errors.Is(e, inner) {
		t.Error("does not unwrap to its cause")
	}
}
