package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// TestEveryBlankSecretIsRefused: a credential that is only white space
// (an `export TOKEN=" "`, a token file holding a newline) is refused by
// `validate` for every option that names one, as run refuses it when it
// trims the value: the problem names the option and the variable or file,
// never the value.
func TestEveryBlankSecretIsRefused(t *testing.T) {
	const blank = " \t\r\n "
	dir := t.TempDir()
	sec := filepath.Join(dir, "blank-secret")
	if err := os.WriteFile(sec, []byte(blank), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every variable is set, to white space only.
	getenv := func(string) string { return blank }
	for _, c := range secretConfigs(dir, sec) {
		cfgPath := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(cfgPath, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, probs := config.Load(cfgPath, getenv)
		refused := map[string]string{}
		for _, p := range probs {
			if !p.Warning {
				refused[p.Key] = p.Message
			}
		}
		for _, k := range c.keys {
			msg, ok := refused[k]
			if !ok {
				t.Errorf("%s: a white-space-only secret is not refused", k)
				continue
			}
			if !strings.Contains(msg, "white space") && !strings.Contains(msg, "empty") {
				t.Errorf("%s: %q does not say the secret is blank", k, msg)
			}
		}
	}
}

// secretConfig is a config naming secrets and the keys that name them.
type secretConfig struct {
	text string
	keys []string
}

// secretConfigs are two configs that between them name every secret
// option: by environment variable, then by file sec.
func secretConfigs(dir, sec string) []secretConfig {
	return []secretConfig{
		{fmt.Sprintf(`state_dir = %q
[graphite]
username = "u"
password_env = "GRAPHITE_PASSWORD"
[events]
graphite_web_urls = ["http://127.0.0.1:1"]
username = "u"
password_env = "EVENTS_PASSWORD"
[hook]
listen = "127.0.0.1:1"
secret_env = "HOOK_SECRET"
[fastly]
[cloudflare]
[cloudfront]
access_key_id = "AKIDEXAMPLE"
secret_key_env = "AWS_SECRET"
[edgecast]
account = "1234"
[bunny]
[gcore]
[azure]
[[steering.source]]
service = "www"
kind = "http"
url = "http://127.0.0.1:1/w"
token_env = "STEER_TOKEN"
[[steering.source]]
service = "api"
kind = "route53"
hosted_zone_id = "Z123"
record_name = "api.example.com."
record_type = "A"
providers = { "a" = "fastly" }
access_key_id = "AKIDEXAMPLE"
secret_key_env = "STEER_SECRET"
`, dir), []string{"graphite.password_env", "events.password_env", "hook.secret_env",
			"fastly.token_env", "cloudflare.token_env", "cloudfront.secret_key_env", "edgecast.token_env",
			"bunny.token_env", "gcore.token_env", "azure.client_secret_env",
			"steering.source[0].token_env", "steering.source[1].secret_key_env"}},
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
[edgecast.oauth]
client_id = "id"
client_secret_file = %[2]q
[bunny]
token_file = %[2]q
[gcore]
token_file = %[2]q
[azure]
client_secret_file = %[2]q
[[steering.source]]
service = "www"
kind = "http"
url = "http://127.0.0.1:1/w"
token_file = %[2]q
`, dir, sec), []string{"fastly.token_file", "cloudflare.token_file", "cloudfront.secret_key_file",
			"edgecast.oauth.client_secret_file", "bunny.token_file", "gcore.token_file",
			"azure.client_secret_file", "steering.source[0].token_file"}},
	}
}
