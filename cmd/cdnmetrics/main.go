// Command cdnmetrics pulls CDN traffic metrics from vendor reporting APIs
// into Graphite. See README.md; all logic lives in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], app.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
