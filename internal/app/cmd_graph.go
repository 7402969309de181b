package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/compare"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

func init() {
	register(Command{Name: "graph", Summary: "render a PNG through graphite-web with deploy lines overlaid", Run: runGraph})
}

func runGraph(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "graph", `
Renders a PNG through graphite-web's render API ([graphite] web_url) with
the deploy lines overlaid (drawAsInfinite(events('deploy'))). By default
the hit ratio of every provider's services at location all.`)
	path := fs.String("config", "./config.toml", "config file")
	var targets multiFlag
	fs.Var(&targets, "target", "Graphite target (repeatable); default: every provider's all.hit_ratio")
	from := fs.String("from", "-3h", "start (Graphite time: -3h, -7d, or an epoch)")
	until := fs.String("until", "now", "end")
	out := fs.String("out", "cdnmetrics.png", "PNG file to write")
	eventTags := fs.String("events", "deploy", "event tags drawn as vertical lines (empty: none)")
	title := fs.String("title", "", "graph title")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(stdio, *path)
	if !ok {
		return 2
	}
	if cfg.Graphite.WebURL == "" {
		fmt.Fprintln(stdio.Stderr, "graph: set [graphite] web_url")
		return 2
	}
	if len(targets) == 0 {
		targets = multiFlag{compare.HitRatioTarget(cfg.Graphite.Prefix, cfg.Graphite.Tags)}
	}
	q := url.Values{"from": {*from}, "until": {*until}, "width": {"1000"}, "height": {"450"}, "format": {"png"}, "lineMode": {"connected"}}
	for _, t := range targets {
		q.Add("target", t)
	}
	if *eventTags != "" {
		quoted := make([]string, 0)
		for _, tag := range strings.Fields(*eventTags) {
			quoted = append(quoted, "'"+tag+"'")
		}
		q.Add("target", "alias(drawAsInfinite(events("+strings.Join(quoted, ",")+")),'"+*eventTags+"')")
	}
	if *title != "" {
		q.Set("title", *title)
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, strings.TrimRight(cfg.Graphite.WebURL, "/")+"/render?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: %v\n", redact.Error(err))
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "\x89PNG") {
		fmt.Fprintf(stdio.Stderr, "graph: graphite-web answered HTTP %d: %.200s\n", resp.StatusCode, redact.Bytes(body))
		return 1
	}
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdio.Stdout, "graph: wrote %s (%d bytes)\n", *out, len(body))
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
