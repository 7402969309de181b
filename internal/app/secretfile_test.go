package app

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// TestEverySecretFileReadableByOthersIsWarned: every option that names a
// file holding a credential gets the same `validate` warning when its
// group or others can read it, and none when the file is 0600 — as
// .edgerc always did.
func TestEverySecretFileReadableByOthersIsWarned(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	edgerc := "[default]\nhost = akab-h.luna.akamaiapis.net\nclient_token = akab-ct\nclient_secret = cs-0123456789\naccess_token = akab-at\n"
	for _, mode := range []os.FileMode{0o644, 0o640, 0o600} {
		sec := write(fmt.Sprintf("secret-%o", mode), "s3cr3t-value\n", mode)
		rc := write(fmt.Sprintf("edgerc-%o", mode), edgerc, mode)
		// Edgecast takes a token file or OAuth, not both: two configs.
		for _, c := range []struct {
			text string
			keys []string
		}{
			{fmt.Sprintf(`state_dir = %q
[fastly]
token_file = %[2]q
[cloudflare]
token_file = %[2]q
[cloudfront]
access_key_id = "AKIDEXAMPLE"
secret_key_file = %[2]q
[edgecast]
account = "1234"
token_file = %[2]q
[akamai]
edgerc = %[3]q
`, dir, sec, rc), []string{"fastly.token_file", "cloudflare.token_file", "cloudfront.secret_key_file", "edgecast.token_file", "akamai.edgerc"}},
			{fmt.Sprintf(`state_dir = %q
[edgecast]
account = "1234"
[edgecast.oauth]
client_id = "id"
client_secret_file = %q
`, dir, sec), []string{"edgecast.oauth.client_secret_file"}},
		} {
			_, probs := config.Load(write("c.toml", c.text, 0o600), func(string) string { return "" })
			warned := map[string]bool{}
			for _, p := range probs {
				if p.Warning && strings.Contains(p.Message, "accessible to others") && strings.Contains(p.Message, "chmod 600") {
					warned[p.Key] = true
				}
				if strings.Contains(p.String(), "s3cr3t-value") || strings.Contains(p.String(), "cs-0123456789") {
					t.Errorf("problem quotes the secret: %s", p)
				}
			}
			for _, k := range c.keys {
				if want := mode&0o077 != 0; warned[k] != want {
					t.Errorf("mode %o: %s warned %v, want %v (problems: %v)", mode, k, warned[k], want, probs)
				}
			}
		}
	}
}

// TestSecretFileReadableByOthersLoggedAtStart: the warning is logged when
// a collector reads the file, so a daemon started without `validate`
// says it too.
func TestSecretFileReadableByOthersLoggedAtStart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(p, []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	env := collectors.Env{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if _, err := env.Secret("fastly", "token_file", p, ""); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "fastly.token_file") || strings.Contains(out, "s3cr3t-value") {
		t.Errorf("log = %q, want one warning naming fastly.token_file and not the secret", out)
	}
}
