// Command sinkbench measures the graphite sink against a real carbon-cache:
// it sends the same N points through graphite.TCPSink and through a raw
// line sender (net.Conn + bufio, no checks, no queue), alternating the order
// over several rounds, and prints points/s of each and their ratio.
//
//	sinkbench -addr 127.0.0.1:22003 -n 500000 -metrics 1000
//
// Both rates are "until the last byte was accepted by the kernel"; carbon is
// the bottleneck, so the socket buffers are full at the end of either run.
// A first unmeasured raw run creates the whisper files, so every measured
// run writes to existing metrics.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:22003", "carbon plaintext address")
	n := flag.Int("n", 500000, "points per run")
	metrics := flag.Int("metrics", 1000, "distinct metric names")
	prefix := flag.String("prefix", "bench.sinkbench", "metric prefix")
	rounds := flag.Int("rounds", 3, "measured rounds (each runs raw and sink)")
	chunk := flag.Int("chunk", 1000, "points per Send call")
	pause := flag.Duration("pause", 0, "pause before each measured run, so carbon (or a relay's queues) drains the previous one's points")
	replayN := flag.Int("replay", 0, "also measure the spool's replay: this many points spooled while carbon is away, then replayed to it (0: not measured)")
	flag.Parse()
	if err := run(*addr, *n, *metrics, *prefix, *rounds, *chunk, *pause); err != nil {
		fmt.Fprintln(os.Stderr, "sinkbench:", err)
		os.Exit(1)
	}
	if *replayN > 0 {
		if err := replay(*addr, *replayN, *metrics, *prefix+".replay", *chunk); err != nil {
			fmt.Fprintln(os.Stderr, "sinkbench: replay:", err)
			os.Exit(1)
		}
	}
}

// replay measures how fast the spool catches up after an outage: a sink
// whose carbon is away (a loopback port nobody listens on) spools n
// points and is closed, as a daemon stopped during the outage would be;
// then a sink on the same spool directory and the real carbon replays
// them. The rate is points replayed per second from that sink's start to
// its spool being empty (the carbon side's acceptance, as for the rounds).
func replay(addr string, n, metrics int, prefix string, chunk int) error {
	dir, err := os.MkdirTemp("", "sinkbench-spool-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	away := ln.Addr().String()
	ln.Close() // nobody listens there now: connects are refused
	quiet := graphite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	pts := points(n, metrics, prefix)
	down, err := graphite.New(away, quiet, graphite.WithSpool(dir, 1<<40), graphite.WithClose(0, 0), graphite.WithRetryWindow(0))
	if err != nil {
		return err
	}
	for i := 0; i < len(pts); i += chunk {
		if err := down.Send(ctx, pts[i:min(i+chunk, len(pts))]); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for down.Stats().SpoolPoints < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d points spooled after 2 minutes", down.Stats().SpoolPoints, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := down.Close(ctx); err != nil {
		return err
	}
	start := time.Now()
	up, err := graphite.New(addr, quiet, graphite.WithSpool(dir, 1<<40))
	if err != nil {
		return err
	}
	deadline = time.Now().Add(5 * time.Minute)
	for {
		st := up.Stats()
		if st.CarriedPoints != int64(n) {
			return fmt.Errorf("the spool held %d points at start, want %d", st.CarriedPoints, n)
		}
		if st.CarriedReplayed == uint64(n) && st.SpoolPoints == 0 {
			break
		}
		if st.CarriedDropped+st.CarriedCorrupt > 0 || time.Now().After(deadline) {
			return fmt.Errorf("replayed %d of %d points (%d dropped, %d corrupt)", st.CarriedReplayed, n, st.CarriedDropped, st.CarriedCorrupt)
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(start)
	if err := up.Close(ctx); err != nil {
		return err
	}
	fmt.Printf("spool replay after an outage: %d points in %v = %.0f points/s\n", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	return nil
}

// points are n points over metrics names, one metric's points 10 s apart,
// ending before now (see run).
func points(n, metrics int, prefix string) []schema.Point {
	perMetric := (n + metrics - 1) / metrics
	base := (time.Now().Unix() - int64(perMetric)*10 - 60) / 10 * 10
	pts := make([]schema.Point, n)
	for i := range pts {
		pts[i] = schema.Point{
			Path:  prefix + ".m" + strconv.Itoa(i%metrics) + ".value",
			Value: float64(i%997) + 0.5,
			Time:  base + 10*int64(i/metrics),
		}
	}
	return pts
}

func run(addr string, n, metrics int, prefix string, rounds, chunk int, pause time.Duration) error {
	if n <= 0 || metrics <= 0 || rounds <= 0 || chunk <= 0 {
		return fmt.Errorf("-n, -metrics, -rounds and -chunk must be positive")
	}
	// Points of one metric are 10 s apart (one whisper bucket each), ending
	// before now and inside the first (1 day) archive when n/metrics <= 8640.
	pts := points(n, metrics, prefix)
	fmt.Printf("sinkbench: %d points over %d metrics to %s, %d rounds\n", n, metrics, addr, rounds)
	if _, err := raw(addr, pts); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	var rawRates, sinkRates []float64
	for r := 0; r < rounds; r++ {
		order := []string{"raw", "sink"}
		if r%2 == 1 {
			order = []string{"sink", "raw"}
		}
		for _, kind := range order {
			time.Sleep(pause)
			var d time.Duration
			var err error
			if kind == "raw" {
				d, err = raw(addr, pts)
			} else {
				d, err = sink(addr, pts, chunk)
			}
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r+1, kind, err)
			}
			rate := float64(n) / d.Seconds()
			fmt.Printf("round %d %-4s %d points in %v = %.0f points/s\n", r+1, kind, n, d.Round(time.Millisecond), rate)
			if kind == "raw" {
				rawRates = append(rawRates, rate)
			} else {
				sinkRates = append(sinkRates, rate)
			}
		}
	}
	mr, ms := median(rawRates), median(sinkRates)
	fmt.Printf("median: raw %.0f points/s, sink %.0f points/s, sink/raw = %.1f %%\n", mr, ms, 100*ms/mr)
	return nil
}

// raw writes every point as a line through one buffered connection.
func raw(addr string, pts []schema.Point) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 64<<10)
	var buf []byte
	for _, p := range pts {
		buf = graphite.AppendLine(buf[:0], p)
		if _, err := w.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// sink sends the points through the project's sink in chunks, then Flush.
func sink(addr string, pts []schema.Point, chunk int) (time.Duration, error) {
	start := time.Now()
	s, err := graphite.New(addr, graphite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	for i := 0; i < len(pts); i += chunk {
		if err := s.Send(ctx, pts[i:min(i+chunk, len(pts))]); err != nil {
			return 0, err
		}
	}
	if err := s.Flush(ctx); err != nil {
		return 0, err
	}
	d := time.Since(start)
	st := s.Stats()
	if err := s.Close(ctx); err != nil {
		return 0, err
	}
	if st.SentPoints != uint64(len(pts)) || st.SendErrors != 0 {
		return 0, fmt.Errorf("sink sent %d of %d points with %d errors", st.SentPoints, len(pts), st.SendErrors)
	}
	return d, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
