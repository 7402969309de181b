// Package app is the commands and their wiring: it parses the command
// line, loads the config and connects collectors, scheduler, pipeline and
// sink, and the side services (events, deploy hook). What becomes of a
// batch is internal/pipeline's; when and over which window a collector
// runs, and when its checkpoint moves, is internal/scheduler's. app imports
// no vendor package: vendors register themselves, and cmd/cdnmetrics
// blank-imports collectors/all before calling Main.
package app

import (
	"bytes"
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
	if len(args) == 0 {
		// No command is a usage error: usage goes where errors go.
		usage(stdio.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		// Asked-for help is output, not a diagnostic: stdout, status 0.
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.Run(ctx, stdio, []string{"--help"})
			}
		}
		usage(stdio.Stdout)
		return exitOK
	case "-version", "--version", "-v":
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stdio.Stderr, "cdnmetrics: unknown command %q\n\n", args[0])
		usage(stdio.Stderr)
		return exitUsage
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
	fmt.Fprintln(w, "\nEvery command takes --config FILE and --log-level LEVEL; 'cdnmetrics --version' prints the version.")
	fmt.Fprintln(w, "Run 'cdnmetrics <command> --help' for a command's flags.")
	fmt.Fprintln(w, "\nExit status: 0 ok, 1 a verdict or run failed, 2 usage or config error,")
	fmt.Fprintln(w, "3 a backend (carbon, graphite-web) unreachable or its answer unusable.")
}

// flagSet is what newFlags returns (an alias, so the commands keep their
// *flag.FlagSet).
type flagSet = *flag.FlagSet

// flagOutput holds what the flag package prints while parsing until it is
// known whether it is asked-for help (stdout) or a usage error (stderr).
type flagOutput struct {
	stdout, stderr io.Writer
	buf            bytes.Buffer
}

func (o *flagOutput) Write(p []byte) (int, error) { return o.buf.Write(p) }

// flush sends what was held to stdout (help) or stderr (an error).
func (o *flagOutput) flush(help bool) {
	w := o.stderr
	if help {
		w = o.stdout
	}
	w.Write(o.buf.Bytes())
	o.buf.Reset()
}

// newFlags returns a FlagSet whose --help prints the command's summary,
// description and flags to stdout. Every command gets --log-level.
func newFlags(stdio IO, name, desc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := &flagOutput{stdout: stdio.Stdout, stderr: stdio.Stderr}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cdnmetrics %s [flags]\n\n%s\n\nFlags:\n", name, strings.TrimSpace(desc))
		fs.PrintDefaults()
	}
	fs.String("log-level", "", "debug, info, warn or error (default: log_level in the config)")
	return fs
}

// logLevelOf is the --log-level given to fs, or "".
func logLevelOf(fs *flag.FlagSet) string {
	if f := fs.Lookup("log-level"); f != nil {
		return f.Value.String()
	}
	return ""
}

// parseFlags parses args; it returns an exit status and false when the
// command should stop (help asked: 0, bad flags: 2).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	out, _ := fs.Output().(*flagOutput)
	flush := func(help bool) {
		if out != nil {
			out.flush(help)
		}
	}
	if err := fs.Parse(args); err != nil {
		flush(err == flag.ErrHelp)
		if err == flag.ErrHelp {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		flush(false)
		return exitUsage, false
	}
	if err := checkLogLevel(logLevelOf(fs)); err != nil {
		fmt.Fprintln(fs.Output(), err)
		flush(false)
		return exitUsage, false
	}
	flush(false)
	return exitOK, true
}
