package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/app"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
)

type ghEvent struct {
	When int64    `json:"when"`
	What string   `json:"what"`
	Data string   `json:"data"`
	Tags []string `json:"tags"`
}

func getEvents(t *testing.T, web, tag string) []ghEvent {
	t.Helper()
	resp, err := http.Get(web + "/events/get_data?tags=" + tag + "&from=-2d")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []ghEvent
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &evs); err != nil {
		t.Fatalf("get_data: %v: %s", err, b)
	}
	return evs
}

func freePort(t *testing.T) string {
	addr, err := graphitetest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// An event from the CLI and one through the daemon's deploy hook both
// reach graphite-web's events API, and drawAsInfinite(events('deploy'))
// has its point at each deploy second; the metric form renders too.
func TestDeployEventsFromCLIAndHook(t *testing.T) {
	g := graphitetest.Start(t)
	dir := t.TempDir()
	hookAddr := freePort(t)
	cfgPath := writeConfig(t, dir, fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"e2e\"\nweb_url = %q\n[events]\ngraphite_web_urls = [%q]\n[hook]\nlisten = %q\nsecret_env = \"E2E_HOOK_SECRET\"\n",
		filepath.Join(dir, "state"), g.CarbonAddr, g.WebURL, g.WebURL, hookAddr))
	const secret = "e2e-hook-secret-value"
	getenv := func(k string) string {
		if k == "E2E_HOOK_SECRET" {
			return secret
		}
		return ""
	}
	cliWhen := time.Now().Add(-10 * time.Minute).Unix()
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), []string{"event", "--config", cfgPath, "--what", "deploy", "--tags", "deploy www", "--data", "v1.2.3 from CI", "--when", fmt.Sprint(cliWhen)},
		app.IO{Stdout: &out, Stderr: &errb, Getenv: getenv})
	if code != 0 {
		t.Fatalf("event exit %d: %s %s", code, out.String(), errb.String())
	}

	// The daemon with no collector configured still serves the hook.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var dout, derr bytes.Buffer
	go func() {
		done <- app.Main(ctx, []string{"run", "--config", cfgPath}, app.IO{Stdout: &dout, Stderr: &derr, Getenv: getenv})
	}()
	hookWhen := time.Now().Add(-5 * time.Minute).Unix()
	body := fmt.Sprintf(`{"what":"deploy","tags":["deploy","api"],"data":"v9 via hook","when":%d}`, hookWhen)
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+hookAddr+"/hooks/deploy", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("hook answered %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hook never listened: %v\n%s", err, derr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Poll graphite-web until both events are there (the daemon delivers
	// the hook's event from its queue).
	var evs []ghEvent
	for deadline := time.Now().Add(30 * time.Second); ; {
		evs = getEvents(t, g.WebURL, "deploy")
		if len(evs) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Errorf("daemon exit %d: %s", c, derr.String())
	}
	whens := map[int64]string{}
	for _, e := range evs {
		whens[e.When] = e.Data
	}
	if whens[cliWhen] != "v1.2.3 from CI" || whens[hookWhen] != "v9 via hook" {
		t.Fatalf("events in graphite-web: %+v", evs)
	}
	// drawAsInfinite(events('deploy')) has 1 at both seconds (polled with a
	// deadline: one run under heavy load rendered only the first of the two
	// just after both were listed by /events/get_data).
	ones := map[int64]bool{}
	for deadline := time.Now().Add(15 * time.Second); ; {
		ss, err := g.Render(context.Background(), "drawAsInfinite(events('deploy'))", cliWhen-60, hookWhen+60)
		if err != nil || len(ss) != 1 {
			t.Fatalf("render: %v %v", ss, err)
		}
		ones = map[int64]bool{}
		for _, p := range ss[0].Points {
			if p.Value != nil && *p.Value == 1 {
				ones[p.Time] = true
			}
		}
		if ones[cliWhen] && ones[hookWhen] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy line points at %v, want %d and %d", ones, cliWhen, hookWhen)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The metric form: e2e.events.deploy.www = 1 in the 10 s bucket of the CLI event.
	g.WaitValue(t, "e2e.events.deploy.www", cliWhen-cliWhen%10, 1, 10*time.Second)
}
