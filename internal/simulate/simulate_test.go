package simulate_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all/sim"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
)

// The written config must load without a single problem and name every
// vendor the simulator serves; a request without the credential must be
// refused, as the vendor would.
func TestConfigPointsEveryCollectorAtTheSimulator(t *testing.T) {
	srv, err := simulate.Start(simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if len(srv.Vendors()) < 3 {
		t.Fatalf("serving %v", srv.Vendors())
	}
	dir := t.TempDir()
	text, err := srv.Config(simulate.Core{StateDir: dir, GraphiteAddr: "127.0.0.1:2003"}, filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, probs := config.Parse("sim.toml", []byte(text), func(k string) string {
		if k == collectors.SimSecretEnv {
			return collectors.SimSecret
		}
		return ""
	})
	if len(probs.Errors()) != 0 {
		t.Fatalf("problems: %v\n%s", probs, text)
	}
	got := map[string]bool{}
	for _, c := range cfg.Collectors {
		got[c.Name] = true
	}
	for _, v := range srv.Vendors() {
		f, _ := simulate.Lookup(v)
		if f.Config != nil && !got[v] {
			t.Errorf("config lacks %s", v)
		}
	}
	resp, err := http.Get(srv.URL + "/fastly/service")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), collectors.SimSecret) {
		t.Fatalf("unauthenticated request: %d %s", resp.StatusCode, body)
	}
}
