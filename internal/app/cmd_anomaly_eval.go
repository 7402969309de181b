package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/nab"
)

// anomaly-eval's usage, -h included, is nab.RunCommand's: it names every
// flag, so the command adds none of its own.
func init() {
	register(Command{Name: "anomaly-eval", Summary: "score the built-in anomaly detector on the Numenta Anomaly Benchmark", Run: func(ctx context.Context, stdio IO, args []string) int {
		nabArgs, help, err := commonFlags(args)
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "anomaly-eval: %v\n", err)
			return exitUsage
		}
		if help {
			var usage bytes.Buffer
			nab.RunCommand(ctx, []string{"--help"}, &usage, &usage)
			stdio.Stdout.Write(usage.Bytes())
			fmt.Fprintln(stdio.Stdout, "--config and --log-level are accepted like on every command; the detector needs no config.")
			return exitOK
		}
		return nab.RunCommand(ctx, nabArgs, stdio.Stdout, stdio.Stderr)
	}})
}

// commonFlags takes the flags every command accepts (--config FILE,
// --log-level LEVEL) out of args for a command that parses its own flags
// and uses neither, and reports whether help was asked for.
func commonFlags(args []string) (rest []string, help bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), help, nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		switch name {
		case "h", "help":
			help = true
			continue
		case "config", "log-level":
			if !hasValue {
				if i+1 >= len(args) {
					return nil, false, fmt.Errorf("flag needs an argument: -%s", name)
				}
				i++
				value = args[i]
			}
			if name == "log-level" {
				if err := checkLogLevel(value); err != nil {
					return nil, false, err
				}
			}
			continue
		}
		rest = append(rest, a)
	}
	return rest, help, nil
}
