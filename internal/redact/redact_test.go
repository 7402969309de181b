package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

func TestStringRemovesCredentials(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("deployer:Tr0ub4dor&3"))
	for _, c := range []struct{ in, secret, want string }{
		// Each value to hide is written literally in the expected output's
		// absence; want is the exact expected text.
		{"Authorization=Basic " + basic, basic, "Authorization=Basic [redacted]"},
		{"map[Authorization:[Basic " + basic + "] User-Agent:[cdnmetrics]]", basic, "map[Authorization:[Basic [redacted]] User-Agent:[cdnmetrics]]"},
		{`'HTTP_AUTHORIZATION': 'Basic ` + basic + `', 'HTTP_USER_AGENT': 'x'`, basic, `'HTTP_AUTHORIZATION': 'Basic [redacted]', 'HTTP_USER_AGENT': 'x'`},
		{`<td>HTTP_AUTHORIZATION</td><td><pre>&#x27;Basic ` + basic + `&#x27;</pre>`, basic, `<td>HTTP_AUTHORIZATION</td><td><pre>&#x27;Basic [redacted]&#x27;</pre>`},
		{"Proxy-Authorization: Negotiate YIIBhgYGKwYBBQUC", "YIIBhgYGKwYBBQUC", "Proxy-Authorization: Negotiate [redacted]"},
		{"authorization: tok3n-without-scheme", "tok3n-without-scheme", "authorization: [redacted]"},
		{"Authorization=Basic%20" + basic, basic, "Authorization=[redacted]"},
		{"Cookie: sessionid=abc123; csrftoken=zzz999\nnext", "abc123", "Cookie: [redacted]\nnext"},
		{"Set-Cookie: sid=s3cr3tcookie; Path=/", "s3cr3tcookie", "Set-Cookie: [redacted]"},
		{"Fastly-Key: fk_0123456789abcdef", "fk_0123456789abcdef", "Fastly-Key: [redacted]"},
		{"HTTP_X_AUTH_TOKEN=tk-998877 HTTP_X_AUTH_KEY=xk-112233", "tk-998877", "HTTP_X_AUTH_TOKEN=[redacted] HTTP_X_AUTH_KEY=[redacted]"},
		{"AccessKey: ak-5566778899", "ak-5566778899", "AccessKey: [redacted]"},
		{"GET /render?target=a&api_key=k-123456&token=t-654321&access_token=at-1&password=pw-42&secret=sh-9", "k-123456",
			"GET /render?target=a&api_key=[redacted]&token=[redacted]&access_token=[redacted]&password=[redacted]&secret=[redacted]"},
		{`{"error":"bad","client_secret":"cs-777888","password": "hunter2"}`, "cs-777888", `{"error":"bad","client_secret":"[redacted]","password": "[redacted]"}`},
		{"dial https://admin:hunter2@graphite.example:8080/events/ failed", "hunter2", "dial https://admin:[redacted]@graphite.example:8080/events/ failed"},
		// Ordinary text stays as it is.
		{"HTTP 400: Bad Request: invalid tags; tokens: 5", "", "HTTP 400: Bad Request: invalid tags; tokens: 5"},
		{"wrong bearer token", "", "wrong bearer token"},
		{"testcdn.token: inline secrets are not accepted", "", "testcdn.token: inline secrets are not accepted"},
		{"X-Auth-Token: abcdefghijklmnopq", "abcdefghijklmnopq", "X-Auth-Token: [redacted]"},
		{`{"password": "short"}`, "short", `{"password": "[redacted]"}`},
		{"fastly: token_file: cannot read /etc/x: permission denied", "", "fastly: token_file: cannot read /etc/x: permission denied"},
	} {
		got := String(c.in)
		if got != c.want {
			t.Errorf("String(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if c.secret != "" && strings.Contains(got, c.secret) {
			t.Errorf("String(%q) keeps %q", c.in, c.secret)
		}
	}
}

func TestAddSecretRemovesEveryForm(t *testing.T) {
	const pw = "correct horse+battery/staple"
	AddBasicAuth("ops", pw)
	for _, form := range []string{pw, base64.StdEncoding.EncodeToString([]byte(pw)),
		base64.StdEncoding.EncodeToString([]byte("ops:" + pw)), "correct+horse%2Bbattery%2Fstaple"} {
		in := "server said: <" + form + ">"
		if got := String(in); got != "server said: <[redacted]>" {
			t.Errorf("String(%q) = %q", in, got)
		}
	}
	if got := String("short: abc"); got != "short: abc" {
		t.Errorf("text without secrets changed: %q", got)
	}
}

func TestExtraValues(t *testing.T) {
	if got := String("echo: Fastly-Key-ish abcdef123456 end", "abcdef123456"); got != "echo: Fastly-Key-ish [redacted] end" {
		t.Errorf("got %q", got)
	}
}

func TestErrorKeepsChain(t *testing.T) {
	err := Error(&fs.PathError{Op: "open", Path: "https://u:p4ssw0rd@h/", Err: fs.ErrNotExist})
	if strings.Contains(err.Error(), "p4ssw0rd") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Error: %v (is ErrNotExist: %v)", err, errors.Is(err, fs.ErrNotExist))
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestHandlerRedactsEveryAttribute(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewTextHandler(&buf, nil)))
	log = log.With("url", "https://a:leaked-1@h/")
	log.WithGroup("g").Error("answer Authorization: Bearer leaked-2-xxxxxx",
		"err", errors.New("body: password=leaked-3"),
		"s", stringer{"token=leaked-4"},
		"n", 42,
		slog.Group("inner", "cookie", "Cookie: a=leaked-5"))
	out := buf.String()
	for _, leak := range []string{"leaked-1", "leaked-2", "leaked-3", "leaked-4", "leaked-5"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line holds %s: %s", leak, out)
		}
	}
	if !strings.Contains(out, "g.n=42") {
		t.Errorf("non-string attribute lost: %s", out)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := Writer(&buf)
	in := "collect: fastly FAILED (HTTP 400: \"Fastly-Key: leaked-6-abcdef\")\n"
	n, err := w.Write([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(in))
	}
	if want := "collect: fastly FAILED (HTTP 400: \"Fastly-Key: [redacted]\")\n"; buf.String() != want {
		t.Errorf("wrote %q, want %q", buf.String(), want)
	}
}

// TestAddSecretEchoedShapes: the shapes a server echoes a configured
// secret in beyond literal/base64/URL (finding 5 of the issue #16 review):
// JSON with "/" escaped (PHP, Django), \u00XX escapes of any punctuation,
// hex of either case, another letter case. Each expected text is written
// out by hand.
func TestAddSecretEchoedShapes(t *testing.T) {
	AddBasicAuth("cdnm", "pa/ss+w0rd-Secret")
	AddSecret("tok/en_with/slashes99")
	for _, c := range []struct{ in, want string }{
		{`{"detail":"login cdnm:pa\/ss+w0rd-Secret failed"}`, `{"detail":"login [redacted] failed"}`},
		{`{"detail":"bad pa\/ss+w0rd-Secret"}`, `{"detail":"bad [redacted]"}`},
		{`{"d":"pa\u002fss\u002Bw0rd\u002dSecret"}`, `{"d":"[redacted]"}`},
		{`{"d":"pa\/ss\u002bw0rd-Secret"}`, `{"d":"[redacted]"}`},
		{`echo PA/SS+W0RD-SECRET end`, `echo [redacted] end`},
		{`echo Pa/Ss+W0rd-secret end`, `echo [redacted] end`},
		{`hex 70612f73732b773072642d536563726574 end`, `hex [redacted] end`},
		{`hex 70612F73732B773072642D536563726574 end`, `hex [redacted] end`},
		{`{"token":"tok\/en_with\/slashes99"}`, `{"token":"[redacted]"}`},
		{`vendor said tok\/en_with\/slashes99.`, `vendor said [redacted].`},
		// Neighbours of a secret stay.
		{`pa/ss+w0rd-Secre`, `pa/ss+w0rd-Secre`},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
