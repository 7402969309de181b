package app

import (
	"context"
	"fmt"
	"runtime"
)

func init() {
	register(Command{Name: "version", Summary: "print the version", Run: func(ctx context.Context, stdio IO, args []string) int {
		fs := newFlags(stdio, "version", "Prints the cdnmetrics version and the Go version it was built with.")
		fs.String("config", "./config.toml", "config file (unused; accepted like on every command)")
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		fmt.Fprintf(stdio.Stdout, "cdnmetrics %s (%s %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}})
}
