package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/timespec"
)

// Exit statuses of the compare command.
const (
	ExitOK    = 0 // every provider passed
	ExitFail  = 1 // at least one provider failed against the baseline
	ExitUsage = 2 // bad flags or config
	// ExitBackend: graphite-web unreachable or its answer unusable.
	ExitBackend = 3
)

// Flags are the command-line settings of `cdnmetrics compare`.
type Flags struct {
	From, Until string // graphite-style times (see timespec.Parse)
	Baseline    string // overrides [compare] baseline when set
	Service     string // one service; empty sums all
	Format      string // table, markdown or json
	PNG         string // file for the image; empty: none
	// Password is the value of [graphite] password_env, sent with
	// [graphite] username as basic auth.
	Password string
	// Now resolves relative times. By default, time.Now.
	Now func() time.Time
}

// Execute runs the command for cfg and returns the exit status; the report
// goes to stdout, errors to stderr.
func Execute(ctx context.Context, cfg *config.Config, f Flags, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "compare: "+format+"\n", args...)
		return ExitUsage
	}
	if cfg.Graphite.WebURL == "" {
		return fail("set [graphite] web_url (graphite-web) to read the series back")
	}
	switch f.Format {
	case "table", "markdown", "json":
	default:
		return fail("--format %q: use table, markdown or json", f.Format)
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	t := now()
	from, err := timespec.Parse(f.From, t)
	if err != nil {
		return fail("--from: %v", err)
	}
	until, err := timespec.Parse(f.Until, t)
	if err != nil {
		return fail("--until: %v", err)
	}
	o := Options{
		WebURL: cfg.Graphite.WebURL, Prefix: cfg.Graphite.Prefix, From: from, Until: until,
		Baseline: cfg.Compare.Baseline, Service: f.Service, Thresholds: cfg.Compare, Tags: cfg.Graphite.Tags,
		Username: cfg.Graphite.Username, Password: f.Password,
		Resolution: Resolutions(cfg),
		Cost:       cfg.Cost,
	}
	backendFail := func(format string, args ...any) int {
		fail(format, args...)
		return ExitBackend
	}
	if f.Baseline != "" {
		o.Baseline = f.Baseline
	}
	r, err := Run(ctx, o)
	if err != nil {
		if errors.Is(err, ErrUsage) {
			return fail("%s", strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
		}
		return backendFail("%v", redactMsg(err, cfg.Graphite.WebURL))
	}
	switch f.Format {
	case "json":
		err = r.WriteJSON(stdout)
	case "markdown":
		err = r.WriteMarkdown(stdout)
	default:
		err = r.WriteTable(stdout)
	}
	if err != nil {
		return fail("write report: %v", err)
	}
	if f.PNG != "" {
		img, err := PNG(ctx, o, r)
		if err != nil {
			return backendFail("--png: %v", redactMsg(err, cfg.Graphite.WebURL))
		}
		if err := os.WriteFile(f.PNG, img, 0o644); err != nil {
			return fail("--png: %v", err)
		}
		fmt.Fprintf(stderr, "compare: wrote %s (%d bytes)\n", f.PNG, len(img))
	}
	if r.Failed() {
		return ExitFail
	}
	return ExitOK
}

// Resolutions returns the length of each provider's data buckets: the
// Timing.Step of its collector as configured in cfg, or else of the
// registered collector with its defaults (compare reads graphite-web only
// and needs no vendor section, e.g. in a CI gate); 0 for a provider no
// collector is registered for.
func Resolutions(cfg *config.Config) func(provider string) time.Duration {
	configured := map[string]time.Duration{}
	if cfg != nil {
		for _, c := range cfg.Collectors {
			if step, ok := stepOf(c.Factory, c.Options); ok {
				configured[c.Name] = step
			}
		}
	}
	return func(provider string) time.Duration {
		if step, ok := configured[provider]; ok {
			return step
		}
		f, ok := collectors.Lookup(provider)
		if !ok || f.Decode == nil {
			return 0
		}
		o, err := f.Decode(collectors.NewSection(provider, nil, toml.Primitive{}))
		if err != nil {
			return 0
		}
		step, _ := stepOf(f, o)
		return step
	}
}

// stepOf is f's Timing(o).Step; false when there is none (no Timing, or a
// Timing that cannot judge these options).
func stepOf(f collectors.Factory, o collectors.Options) (step time.Duration, ok bool) {
	if f.Timing == nil || o == nil {
		return 0, false
	}
	defer func() {
		if recover() != nil {
			step, ok = 0, false
		}
	}()
	return f.Timing(o).Step, true
}

// redactMsg keeps a password in web_url out of messages (config
// validation rejects one, but a message must never be the place it leaks),
// with everything else redact.String removes.
func redactMsg(err error, webURL string) string {
	var pass string
	if u, perr := url.Parse(webURL); perr == nil && u.User != nil {
		pass, _ = u.User.Password()
	}
	return redact.String(err.Error(), pass)
}
