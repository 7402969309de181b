package hook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/events"
	"github.com/cdnmetrics/cdnmetrics/internal/graphitetest"
	"github.com/cdnmetrics/cdnmetrics/internal/hook"
)

// TestGitHubDeploymentReachesGraphiteWeb wires the hook as the daemon
// does (hook → events.Recorder → Poster + carbon) and checks that a signed
// GitHub deployment_status delivery becomes a graphite-web event with the
// deployment's time, and that its replay adds nothing.
func TestGitHubDeploymentReachesGraphiteWeb(t *testing.T) {
	srv := graphitetest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := events.New(config.Events{GraphiteWebURLs: []string{srv.WebURL}, Tags: []string{"cdnmetrics"}}, t.TempDir(),
		func(string) string { return "" }, events.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	carbon := collectors.EmitterFunc(func(_ context.Context, b collectors.Batch) error {
		c, err := net.Dial("tcp", srv.CarbonAddr)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, pt := range b.Points {
			if _, err := fmt.Fprintf(c, "%s %g %d\n", pt.Path, pt.Value, pt.Time); err != nil {
				return err
			}
		}
		return nil
	})
	const secret = "integration-secret"
	h, err := hook.New(config.Hook{SecretEnv: "S", MaxBodyBytes: 1 << 20}, func(string) string { return secret }, t.TempDir(),
		p.Recorder("cdn", carbon).PostEvent, hook.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("testdata/github-deployment-status-success.json")
	if err != nil {
		t.Fatal(err)
	}
	// Move the status time to a minute ago: get_data hides future events
	// and the fixture's date may be ahead of this machine's clock.
	when := time.Now().Add(-90 * time.Second).UTC().Truncate(time.Second)
	// A unique environment tags this run's event apart from others in the
	// same graphite-web.
	env := fmt.Sprintf("e2e%d", time.Now().UnixNano())
	body = []byte(strings.NewReplacer(`"created_at": "2026-11-20T10:21:05Z"`, `"created_at": "`+when.Format(time.RFC3339)+`"`,
		`"environment": "production"`, `"environment": "`+env+`"`).Replace(string(body)))
	send := func() int {
		req := httptest.NewRequest("POST", hook.Path, strings.NewReader(string(body)))
		req.Header.Set("X-GitHub-Event", "deployment_status")
		req.Header.Set("X-GitHub-Delivery", "e2e-1")
		req.Header.Set("X-Hub-Signature-256", sign(body, secret))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if code := send(); code != 202 {
		t.Fatalf("delivery answered %d", code)
	}
	if code := send(); code != 200 {
		t.Fatalf("replay answered %d", code)
	}
	// The daemon's Run delivers what the hook queued.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	var got []struct {
		When int64    `json:"when"`
		What string   `json:"what"`
		Data string   `json:"data"`
		Tags []string `json:"tags"`
	}
	// Filter on env here: graphite-web drops a tag it has never seen from
	// its filter, so tags=deploy+<env> returns every deploy until the
	// first <env> event exists.
	deadline := time.Now().Add(10 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		resp, err := http.Get(srv.WebURL + "/events/get_data?tags=deploy&from=-1h")
		if err != nil {
			t.Fatal(err)
		}
		var all []struct {
			When int64    `json:"when"`
			What string   `json:"what"`
			Data string   `json:"data"`
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(resp.Body).Decode(&all)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range all {
			if slices.Contains(e.Tags, env) {
				got = append(got, e)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(got) != 1 || got[0].When != when.Unix() || got[0].What != "deploy" || !strings.Contains(got[0].Data, "example-org/edge-site main@9b1c3f0e5d7a") {
		t.Fatalf("graphite-web events %+v, want one deploy at %d", got, when.Unix())
	}
}

func sign(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
