package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/shard"
)

// selection is which services each collector reads: the shard spec and
// the compiled per-provider filters.
type selection struct {
	shard   shard.Spec
	filters map[string]shard.Filter
	aggOnly map[string]bool
}

// compileSelection parses cfg.Shard (which --shard may have replaced after
// the config was loaded) and compiles the filters.
func compileSelection(cfg *config.Config) (selection, config.Problems) {
	sel := selection{filters: map[string]shard.Filter{}, aggOnly: map[string]bool{}}
	var probs config.Problems
	var err error
	if sel.shard, err = shard.ParseSpec(cfg.Shard); err != nil {
		probs = append(probs, config.Problem{File: cfg.File, Key: "shard", Message: err.Error()})
	}
	for name, f := range cfg.Filters {
		if sel.filters[name], err = shard.Compile(f.Allow, f.Block); err != nil {
			probs = append(probs, config.Problem{File: cfg.File, Key: "filters." + name, Message: err.Error()})
		}
		sel.aggOnly[name] = f.AggregateOnly
	}
	return sel, probs
}

// checkStartup builds, without touching the network or writing anything,
// what run and collect build before they start: the service selection and
// every collector (reading its credentials). config.Load checks every
// value it can alone; this is the rest. validate calls it on a config that
// loaded cleanly, run and collect before they open the state, the sink or
// any listener — so validate refuses what they would refuse, with the same
// words.
func checkStartup(cfg *config.Config, getenv func(string) string) config.Problems {
	sel, probs := compileSelection(cfg)
	if len(probs) > 0 {
		return probs
	}
	if err := writableDir(cfg.StateDir); err != nil {
		probs = append(probs, config.Problem{File: cfg.File, Key: "state_dir", Message: err.Error()})
	}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, cc := range cfg.Collectors {
		env := sel.env(cc.Name)
		env.Prefix = cfg.Graphite.Prefix
		env.StateDir = filepath.Join(cfg.StateDir, "collectors", cc.Name)
		env.Logger = discard
		env.Getenv = getenv
		env.HTTPClient = &http.Client{}
		c, err := cc.Factory.New(cc.Options, env)
		if err != nil {
			probs = append(probs, config.Problem{File: cfg.File, Key: cc.Name, Message: fmt.Sprintf("cannot start: %v", err)})
			continue
		}
		if cl, ok := c.(io.Closer); ok {
			_ = cl.Close()
		}
	}
	return probs
}

// env is the part of collector name's Env that the selection decides.
func (sel selection) env(name string) collectors.Env {
	filter, sh := sel.filters[name], sel.shard
	return collectors.Env{Include: func(id, svcName string) bool {
		return sh.Owns(name, id) && filter.Match(svcName)
	}}
}

// startupRefused prints the problems checkStartup found, as validate
// prints them, and reports whether there were any.
func startupRefused(stdio IO, cfg *config.Config, cmd string) bool {
	probs := checkStartup(cfg, stdio.Getenv)
	for _, p := range probs {
		fmt.Fprintln(stdio.Stderr, p.String())
	}
	if len(probs) > 0 {
		fmt.Fprintf(stdio.Stderr, "%s: %d error(s); nothing started\n", cmd, len(probs))
		return true
	}
	return false
}

// writableDir reports why this user could not create or write dir: the
// directory itself when it exists, else its nearest existing ancestor
// (run creates the rest). validate checks it as the user it runs as.
func writableDir(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s: %s is not a directory", dir, d)
			}
			if err := syscall.Access(d, 2 /* W_OK */); err != nil {
				return fmt.Errorf("%s: %s is not writable by this user: %v", dir, d, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %v", dir, err)
		}
		if parent := filepath.Dir(d); parent == d {
			return fmt.Errorf("%s: no existing ancestor", dir)
		}
	}
}

// collectorRefused reports (and prints) a --collector name the config does
// not have, before anything is opened or connected.
func collectorRefused(stdio IO, cfg *config.Config, cmd, only string) bool {
	if only == "" {
		return false
	}
	var names []string
	for _, cc := range cfg.Collectors {
		if cc.Name == only {
			return false
		}
		names = append(names, cc.Name)
	}
	fmt.Fprintf(stdio.Stderr, "%s: collector %q is not configured (configured: %s)\n", cmd, only, strings.Join(names, ", "))
	return true
}
