// Package app is the commands and their wiring: it parses the command
// line, loads the config and connects collectors, scheduler, pipeline and
// sink, and the side services (events, deploy hook). What becomes of a
// batch is internal/pipeline's; when and over which window a collector
// runs, and when its checkpoint moves, is internal/scheduler's. app imports
// no vendor package: vendors register themselves, and cmd/cdnmetrics
// blank-imports collectors/all before calling Main.
package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// Version is set at build time with -ldflags "-X ...app.Version=v1.2.3".
var Version = "dev"

// IO is what a command may touch of the outside world.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	// Run parses args with its own FlagSet and returns the exit status.
	Run func(ctx context.Context, io IO, args []string) int
}

var commands = map[string]Command{}

// register adds a subcommand; called from init() of each cmd_*.go file.
func register(c Command) { commands[c.Name] = c }

// Main runs the subcommand named by args[0] and returns the exit status.
func Main(ctx context.Context, args []string, stdio IO) int {
	if stdio.Getenv == nil {
		stdio.Getenv = os.Getenv
	}
	// Diagnostics quote errors, and errors may quote what a server sent.
	stdio.Stderr = redact.Writer(stdio.Stderr)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdio.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stdio.Stderr, "cdnmetrics: unknown command %q\n\n", args[0])
		usage(stdio.Stderr)
		return 2
	}
	return c.Run(ctx, stdio, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "cdnmetrics pulls CDN traffic metrics from vendor APIs into Graphite.")
	fmt.Fprintln(w, "\nUsage: cdnmetrics <command> [--config FILE] [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun 'cdnmetrics <command> --help' for a command's flags.")
}

// newFlags returns a FlagSet whose --help prints the command's summary,
// description and flags.
func newFlags(stdio IO, name, desc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdio.Stderr, "Usage: cdnmetrics %s [flags]\n\n%s\n\nFlags:\n", name, strings.TrimSpace(desc))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns an exit status and false when the
// command should stop (help asked: 0, bad flags: 2).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2, false
	}
	return 0, true
}
