// Package events posts annotations (deploys, CDN configuration changes) to
// graphite-web's events API, to every configured graphite-web, because
// graphite-web does not replicate its events database.
//
// A deploy line that never appears is the failure users notice most, so an
// event is first written to a durable queue on disk, one queue per
// graphite-web URL (state_dir/events/<url-key>/), and removed from a URL's
// queue only after that URL answered 2xx. Run retries the queues with
// backoff while the daemon lives; Drain tries every queue once (the
// one-shot CLI). graphite-web gets an event twice only when its 2xx answer
// was lost on the way back; events carry no id it could deduplicate on.
//
// MetricPoints gives the metric form of an event
// (<prefix>.events.<what>.<tag> = 1 at the event's second), for
// drawAsInfinite() on Graphite servers without the events database;
// Recorder writes both forms (the daemon's hook callback and the
// EventPoster handed to collectors).
package events
