package akamaisim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
)

// The stand-in has to check signatures the way Akamai does, and the
// official package only signs; so the verification algorithm is written
// here (and checked against Akamai's published test vectors), never used to
// sign the collector's own requests.

// Creds are what a verifier knows of a client.
type Creds struct {
	ClientToken, ClientSecret, AccessToken string
	MaxBody                                int
}

// signingData is the message EdgeGrid signs: method, scheme, host,
// path?query, canonical headers, content hash, and the auth header prefix.
func signingData(method, scheme, host, pathQuery, canonHeaders string, body []byte, maxBody int, authPrefix string) string {
	hash := ""
	if method == "POST" && len(body) > 0 {
		if len(body) > maxBody {
			body = body[:maxBody]
		}
		sum := sha256.Sum256(body)
		hash = base64.StdEncoding.EncodeToString(sum[:])
	}
	return strings.Join([]string{method, scheme, host, pathQuery, canonHeaders, hash, authPrefix}, "\t")
}

func hmacB64(key, msg string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// signature computes the EG1-HMAC-SHA256 signature of data.
func signature(secret, timestamp, data string) string {
	return hmacB64(hmacB64(secret, timestamp), data)
}

var authRe = regexp.MustCompile(`^EG1-HMAC-SHA256 client_token=([^;]*);access_token=([^;]*);timestamp=([^;]*);nonce=([^;]*);signature=(.*)$`)

var errBadAuth = errors.New("the signature does not match")

// Verify checks an Authorization header for a request.
func Verify(c Creds, auth, method, scheme, host, pathQuery string, body []byte) error {
	m := authRe.FindStringSubmatch(auth)
	if m == nil {
		return errors.New("missing or malformed EG1-HMAC-SHA256 Authorization header")
	}
	if m[1] != c.ClientToken || m[2] != c.AccessToken {
		return errors.New("unknown client_token or access_token")
	}
	prefix := auth[:strings.LastIndex(auth, "signature=")]
	data := signingData(method, scheme, host, pathQuery, "", body, c.MaxBody, prefix)
	want := signature(c.ClientSecret, m[3], data)
	if subtle.ConstantTimeCompare([]byte(want), []byte(m[5])) != 1 {
		return errBadAuth
	}
	return nil
}
