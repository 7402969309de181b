package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is one scheduled collector.
type Job struct {
	Name     string
	Schedule string
	// Timeout bounds each run (see WithRunDeadline); 0 means until shortly
	// before the next run is due (see untilNext).
	Timeout time.Duration
	Run     func(ctx context.Context)
}

// Counters are the daemon's per-job counts, read for self-metrics.
type Counters struct {
	Runs    atomic.Int64
	Skipped atomic.Int64
	running atomic.Bool
}

// Daemon runs jobs on their cron schedules.
type Daemon struct {
	cron     *cron.Cron
	logger   *slog.Logger
	wg       sync.WaitGroup
	mu       sync.Mutex
	counters map[string]*Counters
}

// NewDaemon returns a daemon; nothing runs before Start.
func NewDaemon(logger *slog.Logger) *Daemon {
	return &Daemon{
		cron:     cron.New(cron.WithParser(specParser)),
		logger:   logger,
		counters: map[string]*Counters{},
	}
}

// Add schedules j. Each run gets ctx bounded by the run deadline (Timeout,
// by default the schedule period); a run that is still going when the next
// is due makes that next run a logged, counted skip.
func (d *Daemon) Add(ctx context.Context, j Job) error {
	sched, err := ParseSchedule(j.Schedule)
	if err != nil {
		return err
	}
	c := &Counters{}
	d.mu.Lock()
	d.counters[j.Name] = c
	d.mu.Unlock()
	d.cron.Schedule(sched, cron.FuncJob(func() {
		if ctx.Err() != nil {
			return
		}
		if !c.running.CompareAndSwap(false, true) {
			c.Skipped.Add(1)
			d.logger.Warn("previous run still going, skipping this one", "collector", j.Name, "skipped_total", c.Skipped.Load())
			return
		}
		d.wg.Add(1)
		defer d.wg.Done()
		defer c.running.Store(false)
		defer func() {
			if p := recover(); p != nil {
				d.logger.Error("collector panicked", "collector", j.Name, "panic", p)
			}
		}()
		c.Runs.Add(1)
		timeout := j.Timeout
		if timeout <= 0 {
			timeout = untilNext(sched, time.Now())
		}
		rctx, cancel := WithRunDeadline(ctx, timeout)
		defer cancel()
		j.Run(rctx)
	}))
	return nil
}

// Counters returns the counters of job name.
func (d *Daemon) Counters(name string) *Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counters[name]
}

// Start starts the schedule.
func (d *Daemon) Start() { d.cron.Start() }

// Stop stops new runs and waits up to timeout for running ones.
func (d *Daemon) Stop(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		<-d.cron.Stop().Done()
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}
