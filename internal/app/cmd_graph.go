package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/compare"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphiteweb"
	"github.com/cdnmetrics/cdnmetrics/internal/timespec"
)

func init() {
	register(Command{Name: "graph", Summary: "render a PNG through graphite-web with deploy lines overlaid", Run: runGraph})
}

func runGraph(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "graph", `
Renders a PNG through graphite-web's render API ([graphite] web_url, basic
auth with [graphite] username and password_env) with the deploy lines
overlaid (drawAsInfinite(events('deploy'))). By default the hit ratio of
every provider's services at location all.
Exit status: 0 written, 2 usage or config error, 3 graphite-web
unreachable or its answer not a PNG, 1 the file could not be written.`)
	path := fs.String("config", "./config.toml", "config file")
	var targets multiFlag
	fs.Var(&targets, "target", "Graphite target (repeatable); default: every provider's all.hit_ratio")
	from := fs.String("from", "-3h", "start: -3h, -7d, -30min, now, RFC 3339 or Unix seconds")
	until := fs.String("until", "now", "end (same forms as --from)")
	out := fs.String("out", "cdnmetrics.png", "PNG file to write")
	eventTags := fs.String("events", "deploy", "event tags drawn as vertical lines (empty: none)")
	title := fs.String("title", "", "graph title")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	// The times are resolved here, by the parser every command uses, so
	// that graphite-web gets Unix seconds and "-30m" means what it means
	// to compare.
	now := time.Now()
	fromT, err := timespec.Parse(*from, now)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: --from: %v\n", err)
		return exitUsage
	}
	untilT, err := timespec.Parse(*until, now)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: --until: %v\n", err)
		return exitUsage
	}
	if !fromT.Before(untilT) {
		fmt.Fprintf(stdio.Stderr, "graph: --from %s is not before --until %s\n", fromT.UTC().Format(time.RFC3339), untilT.UTC().Format(time.RFC3339))
		return exitUsage
	}
	eventsTarget, err := eventsTarget(*eventTags)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: --events: %v\n", err)
		return exitUsage
	}
	cfg, ok := loadCommandConfig(fs, stdio, *path, config.ReadBackSections...)
	if !ok {
		return exitUsage
	}
	if cfg.Graphite.WebURL == "" {
		fmt.Fprintln(stdio.Stderr, "graph: set [graphite] web_url")
		return exitUsage
	}
	web, err := graphiteweb.New(cfg.Graphite.WebURL, cfg.Graphite.Username, graphitePassword(stdio, cfg), nil)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: %v\n", err)
		return exitUsage
	}
	if len(targets) == 0 {
		targets = multiFlag{compare.HitRatioTarget(cfg.Graphite.Prefix, cfg.Graphite.Tags)}
	}
	q := url.Values{"from": {strconv.FormatInt(fromT.Unix(), 10)}, "until": {strconv.FormatInt(untilT.Unix(), 10)},
		"width": {"1000"}, "height": {"450"}, "lineMode": {"connected"}}
	for _, t := range targets {
		q.Add("target", t)
	}
	if eventsTarget != "" {
		q.Add("target", eventsTarget)
	}
	if *title != "" {
		q.Set("title", *title)
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	body, err := web.PNG(rctx, q)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: %v\n", err)
		return exitBackend
	}
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		fmt.Fprintf(stdio.Stderr, "graph: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdio.Stdout, "graph: wrote %s (%d bytes)\n", *out, len(body))
	return exitOK
}

// eventsTarget is the render target drawing the events tagged with any of
// the space-separated tags as vertical lines, labelled with the tags; ""
// for no tags.
func eventsTarget(tags string) (string, error) {
	fields := strings.Fields(tags)
	if len(fields) == 0 {
		return "", nil
	}
	quoted := make([]string, 0, len(fields))
	for _, tag := range fields {
		q, err := targetString(tag)
		if err != nil {
			return "", err
		}
		quoted = append(quoted, q)
	}
	label, err := targetString(strings.Join(fields, " "))
	if err != nil {
		return "", err
	}
	return "alias(drawAsInfinite(events(" + strings.Join(quoted, ",") + "))," + label + ")", nil
}

// targetString quotes s as a string argument of a graphite-web target.
// graphite-web's grammar takes '…' or "…" and strips the quotes without
// unescaping anything, so the only safe quoting is a quote character that
// s does not contain; a backslash or line break would be read as an escape
// or end the target, and a text holding both quotes cannot be written at
// all: those are refused rather than sent mangled.
func targetString(s string) (string, error) {
	if strings.ContainsAny(s, "\\\n\r") {
		return "", fmt.Errorf("%q: backslashes and line breaks cannot be passed to graphite-web", s)
	}
	switch {
	case !strings.Contains(s, "'"):
		return "'" + s + "'", nil
	case !strings.Contains(s, `"`):
		return `"` + s + `"`, nil
	}
	return "", fmt.Errorf("%q: a text with both ' and \" cannot be quoted for graphite-web", s)
}

// graphitePassword is the value of [graphite] password_env ("" when unset).
func graphitePassword(stdio IO, cfg *config.Config) string {
	if cfg.Graphite.PasswordEnv == "" {
		return ""
	}
	return stdio.Getenv(cfg.Graphite.PasswordEnv)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
