package gcp

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// Scope is the OAuth scope asked for: read-only Cloud Monitoring.
const Scope = "https://www.googleapis.com/auth/monitoring.read"

// keyFile is what is checked of a service-account JSON key. Its private
// key is never printed, nor are the other values, save the token URI.
type keyFile struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// parseKeyFile checks a service-account key the way the token source will
// use it, so that `validate` refuses what `run` would: a service_account
// JSON with a client_email, a PEM RSA private key and, when set, an
// http(s) token_uri. Errors never quote the file's values.
func parseKeyFile(b []byte) (keyFile, error) {
	var k keyFile
	if err := json.Unmarshal(b, &k); err != nil {
		return k, errors.New("not a JSON service-account key")
	}
	if k.Type != "service_account" {
		return k, fmt.Errorf("type is %q, want \"service_account\" (user or external-account credentials go through Application Default Credentials: leave credentials_file empty)", snip(k.Type))
	}
	if k.ClientEmail == "" {
		return k, errors.New("client_email is empty")
	}
	blk, _ := pem.Decode([]byte(k.PrivateKey))
	if blk == nil {
		return k, errors.New("private_key is not a PEM block")
	}
	// PKCS#8 holds EC and Ed25519 keys too, which cannot sign the RS256
	// assertion: the token source would refuse them only at the first run.
	if pk, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if _, ok := pk.(*rsa.PrivateKey); !ok {
			return k, errors.New("private_key is not an RSA private key (PKCS#8 or PKCS#1)")
		}
	} else if _, err1 := x509.ParsePKCS1PrivateKey(blk.Bytes); err1 != nil {
		return k, errors.New("private_key is not an RSA private key (PKCS#8 or PKCS#1)")
	}
	if k.TokenURI != "" {
		if collectors.CheckURL(k.TokenURI) != nil {
			// Not quoted: the file's values stay out of messages.
			return k, errors.New("token_uri is not an http(s)://host[/path] URL without credentials, query or fragment")
		}
	}
	return k, nil
}

// tokens builds the token source: the service-account key's JWT flow
// (signed assertion to its token_uri) or Application Default Credentials.
// hc carries every token request (loopback in tests, the simulator's stand-
// in). The source caches a token until shortly before it expires. It
// returns the token endpoint, for errors.
func tokens(ctx context.Context, credentialsFile string, hc *http.Client) (oauth2.TokenSource, string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	if credentialsFile == "" {
		creds, err := google.FindDefaultCredentials(ctx, Scope)
		if err != nil {
			return nil, "", fmt.Errorf("gcp: Application Default Credentials: %w", redact.Error(err))
		}
		return creds.TokenSource, "Application Default Credentials", nil
	}
	b, err := readFile(credentialsFile)
	if err != nil {
		return nil, "", err
	}
	if _, err := parseKeyFile(b); err != nil {
		return nil, "", fmt.Errorf("gcp: credentials_file %s: %v", credentialsFile, err)
	}
	cfg, err := google.JWTConfigFromJSON(b, Scope)
	if err != nil {
		return nil, "", fmt.Errorf("gcp: credentials_file %s: not a usable service-account key", credentialsFile)
	}
	// jwt.Config.TokenSource reuses a token until 10 s before its expiry.
	return cfg.TokenSource(ctx), cfg.TokenURL, nil
}

// tokenError describes a failed token request by its endpoint, status
// and OAuth error code and description only: the body of an identity
// service may echo the request (the signed assertion).
func tokenError(endpoint string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := ""
		if re.Response != nil {
			msg = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// The JWT flow does not decode the error body; its fields are
			// {"error": ..., "error_description": ...}.
			var body struct {
				Error       any    `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				if s, ok := body.Error.(string); ok {
					code = s
				}
				desc = body.Description
			}
		}
		if code != "" {
			msg += " " + snip(code)
		}
		if desc != "" {
			msg += ": " + snip(desc)
		}
		return fmt.Errorf("gcp: oauth token from %s: %s", endpoint, redact.String(strings.TrimSpace(msg)))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is named already
	}
	return fmt.Errorf("gcp: oauth token from %s: %w", endpoint, redact.Error(err))
}
