// Package redact removes credentials from text that came from outside (a
// response body, a URL, a header) before it reaches an error, a log line or
// the terminal. String is the one function every such path uses; Handler
// applies it to every log record; AddSecret teaches it the literal values
// of the configured secrets, which it then removes wherever they appear,
// in whatever shape a server echoes them.
package redact

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Mask replaces every redacted value.
const Mask = "[redacted]"

// minSecret is the shortest literal value removed: shorter ones would
// blank out ordinary words, and the patterns still catch them in headers.
const minSecret = 6

var (
	// authScheme is an HTTP authorization value wherever it appears
	// (an echoed header, a Django META dump, an HTML table cell): the
	// scheme stays, the credential goes.
	authScheme = regexp.MustCompile(`(?i)\b(basic|bearer|digest|negotiate|ntlm|aws4-hmac-sha256|eg1-hmac-sha256)(\s+)[^\s"'<>,;&\]\}\)]{8,}`)

	// keyValue is a credential-bearing name followed by = or : (header,
	// query parameter, JSON or Python dict field, form field). Names may
	// carry a prefix (HTTP_AUTHORIZATION, HTTP_X_AUTH_TOKEN,
	// client_secret) and - or _ between words.
	keyValue = regexp.MustCompile(`(?i)((?:proxy[-_])?authorization|set[-_]cookie|cookie|fastly[-_]key|x[-_]auth[-_](?:key|token|email)|x[-_]api[-_]key|(?:api|access|auth|secret|private)[-_]?key|accesskey|[a-z_]*token|passw(?:or)?d|pwd|[a-z_]*secret|signature(?:[-_]256)?|sessionid)` +
		`(["']?\s*(?:=|:)\s*[\["']?)` +
		// The value: a quoted or bare run. Cookies hold "a=b; c=d", so
		// their value runs to the end of the line or quote.
		`([^\s"'&,;<>\]\}\)]+)`)

	// cookieValue is the rest of a Cookie/Set-Cookie header line.
	cookieValue = regexp.MustCompile(`(?i)((?:set[-_])?cookie["']?\s*[:=]\s*["']?)([^\r\n"'<]+)`)

	// schemeOnly is an authorization scheme name alone.
	schemeOnly = regexp.MustCompile(`(?i)^(basic|bearer|digest|negotiate|ntlm|aws4-hmac-sha256|eg1-hmac-sha256)$`)

	// userinfo is user:password@ in a URL.
	userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@:"'<>]*):([^/\s@"'<>]*)@`)
)

var known struct {
	sync.RWMutex
	values []string        // registered secrets, longest first, so one containing another goes whole
	set    map[string]bool // the same, for dedupe
	re     *regexp.Regexp  // every form of every value in values; nil while none
	// anchors are lower-case substrings one of which every form of every
	// value holds: a text (lower-cased) without any is skipped unmatched,
	// since the combined matcher is slow (a few hundred ns a byte).
	anchors []string
}

// AddSecret registers a credential value: String removes it from every
// text from now on in every shape a server is known to echo it: literal
// in any letter case, base64 (standard, raw, URL), URL-encoded, hex (either
// case), and JSON-escaped ("\/" and "\u00XX" for any non-alphanumeric
// character, as PHP and Django write them, mixed freely with plain ones).
// Values shorter than 6 bytes are not registered (see minSecret).
func AddSecret(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minSecret {
		return
	}
	known.Lock()
	defer known.Unlock()
	if known.set == nil {
		known.set = map[string]bool{}
	}
	if known.set[v] {
		return
	}
	known.set[v] = true
	known.values = append(known.values, v)
	known.anchors = append(known.anchors, secretAnchors(v)...)
	sort.SliceStable(known.values, func(i, j int) bool { return len(known.values[i]) > len(known.values[j]) })
	// One combined pattern, rebuilt on the rare registration, so String
	// makes one pass over a text whatever the number of secrets.
	alts := make([]string, 0, len(known.values))
	for _, s := range known.values {
		alts = append(alts, secretPattern(s))
	}
	known.re = regexp.MustCompile(`(?i)` + strings.Join(alts, "|"))
}

// secretPattern is the alternation of every form of v (matched case-
// insensitively, except for the base64 forms whose case is significant).
func secretPattern(v string) string {
	b := []byte(v)
	forms := []string{
		escapedPattern(v),
		regexp.QuoteMeta(hex.EncodeToString(b)),
		regexp.QuoteMeta(url.QueryEscape(v)),
		regexp.QuoteMeta(url.PathEscape(v)),
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		forms = append(forms, `(?-i:`+regexp.QuoteMeta(enc.EncodeToString(b))+`)`)
	}
	return strings.Join(forms, "|")
}

// secretAnchors returns lower-case substrings such that each form of v
// (see secretPattern), lower-cased, holds one: its longest ASCII
// alphanumeric run (unchanged in the literal, escaped and URL-encoded
// forms), the start of its hex form and of its base64 forms (the first 4
// characters depend on the first 3 bytes only). A value without an
// alphanumeric character gets "", which every text holds.
func secretAnchors(v string) []string {
	run, best := 0, ""
	for i := 0; i <= len(v); i++ {
		if i < len(v) && (v[i] >= 'a' && v[i] <= 'z' || v[i] >= 'A' && v[i] <= 'Z' || v[i] >= '0' && v[i] <= '9') {
			run++
			continue
		}
		if run > len(best) {
			best = v[i-run : i]
		}
		run = 0
	}
	b := []byte(v)[:3] // v has at least minSecret bytes
	return []string{strings.ToLower(best), hex.EncodeToString(b),
		strings.ToLower(base64.StdEncoding.EncodeToString(b)), strings.ToLower(base64.URLEncoding.EncodeToString(b))}
}

// escapedPattern matches v literally or with any of its non-alphanumeric
// characters JSON-escaped ("\/", "\"", "\\", "\uXXXX", UTF-16 pairs
// for runes beyond the BMP).
func escapedPattern(v string) string {
	var p strings.Builder
	for _, r := range v {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			p.WriteRune(r)
			continue
		}
		alts := []string{regexp.QuoteMeta(string(r))}
		if r == '/' || r == '"' || r == '\\' {
			alts = append(alts, regexp.QuoteMeta(`\`+string(r)))
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			alts = append(alts, regexp.QuoteMeta(fmt.Sprintf(`\u%04x\u%04x`, r1, r2)))
		} else {
			alts = append(alts, regexp.QuoteMeta(fmt.Sprintf(`\u%04x`, r)))
		}
		p.WriteString(`(?:` + strings.Join(alts, "|") + `)`)
	}
	return p.String()
}

// AddBasicAuth registers a user name and password as HTTP basic auth
// sends them, so an echoed Authorization header is removed even when it
// appears without its scheme.
func AddBasicAuth(user, password string) {
	AddSecret(password)
	if password != "" {
		AddSecret(user + ":" + password)
	}
}

// String returns s with credentials replaced by Mask: the registered
// secrets and the extra literal values given (e.g. the header values of
// the request that got s as its answer), authorization values of any
// scheme, cookies, tokens, keys, passwords and secrets named in headers,
// query strings or JSON, and the password of user:password@ in URLs.
func String(s string, extra ...string) string {
	if s == "" {
		return s
	}
	for _, v := range extra {
		// The value given is a credential whatever its length; its
		// words ("Bearer", a scheme) only when long enough to be one.
		if v = strings.TrimSpace(v); v != "" {
			s = strings.ReplaceAll(s, v, Mask)
		}
		for _, part := range strings.Fields(v) {
			if len(part) >= minSecret {
				s = strings.ReplaceAll(s, part, Mask)
			}
		}
	}
	known.RLock()
	re, anchors := known.re, known.anchors
	known.RUnlock()
	if re != nil {
		lower := strings.ToLower(s)
		for _, a := range anchors {
			if strings.Contains(lower, a) {
				s = re.ReplaceAllLiteralString(s, Mask)
				break
			}
		}
	}
	s = userinfo.ReplaceAllString(s, "${1}${2}:"+Mask+"@")
	s = cookieValue.ReplaceAllString(s, "${1}"+Mask)
	s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
		sub := authScheme.FindStringSubmatch(m)
		return sub[1] + sub[2] + Mask
	})
	s = keyValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := keyValue.FindStringSubmatch(m)
		if strings.Contains(sub[2]+sub[3], Mask[:len(Mask)-1]) || schemeOnly.MatchString(sub[3]) {
			return m // already done by authScheme ("Authorization: Basic [redacted]")
		}
		if !strings.ContainsAny(sub[2], `="'[`) && !credentialLike(sub[3]) {
			// "name: word" is as often prose ("token: inline secrets are
			// not accepted") as a header; a bare word after a colon is
			// taken for a credential only when it looks like one.
			return m
		}
		return sub[1] + sub[2] + Mask
	})
	return s
}

// credentialLike reports a value that has a digit or is long: tokens and
// keys are, words of a sentence rarely.
func credentialLike(v string) bool {
	return len(v) >= 16 || strings.ContainsAny(v, "0123456789")
}

// Bytes is String for a body.
func Bytes(b []byte, extra ...string) string { return String(string(b), extra...) }

// Error returns err with its message redacted; errors.Is and errors.As
// still see the original chain. nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if r := String(msg); r != msg {
		return &redacted{msg: r, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
