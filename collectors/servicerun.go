package collectors

import (
	"context"
	"errors"
	"fmt"
)

// ServiceRun is the Collect of a collector that reads its services one at
// a time and hands each service's results over as one batch (Bunny pull
// zones, Cloudflare zones, Gcore resources, CloudFront distributions).
type ServiceRun[S any] struct {
	Provider string // "bunny"
	Kind     string // what the vendor calls a service, for messages: "pull zone"
	// Name returns what shard and --service filters match a service by
	// (its id and label) and the name it has in paths and messages.
	Name func(S) (ref ServiceRef, path string)
	// Collect reads one service: what it could map, how many values the
	// vendor returned, and an error naming the service.
	Collect func(S) (b Batch, seen int, err error)
}

// Run reads every service of svcs that this instance collects
// (env.Includes and the --service selection only). One service's failure
// does not stop the others: the errors are joined. Run stops at a batch
// the emitter refuses (shutdown) and when ctx ends. It returns ErrNoData
// when services were read but the vendor returned no value for any (not
// published yet): the window is asked again.
func (r ServiceRun[S]) Run(ctx context.Context, env Env, only Selection, svcs []S, e Emitter) error {
	var errs []error
	seen, included := 0, 0
	for _, s := range svcs {
		ref, path := r.Name(s)
		if !env.Includes(ref.ID, ref.Name) || !only.Has(ref.ID, ref.Name) {
			continue
		}
		included++
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Provider, err))
			break
		}
		b, n, err := r.Collect(s)
		seen += n
		if len(b.Records) > 0 || len(b.Gauges) > 0 || len(b.Points) > 0 {
			if eerr := e.Emit(ctx, b); eerr != nil {
				return errors.Join(append(errs, fmt.Errorf("%s: emit %s %s: %w", r.Provider, r.Kind, path, eerr))...)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if seen == 0 && included > 0 {
		return ErrNoData
	}
	return nil
}
