// Package admin serves the daemon's operator endpoints on their own
// listener ([admin] listen, loopback by default), never on the deploy
// hook's:
//
//   - /healthz answers 200 while every collector has succeeded recently
//     and the sink is connected to carbon or spooling below its limit, and
//     503 otherwise, with a JSON body saying why (Report).
//   - /metrics answers the self-metrics (<prefix>.cdnmetrics.*) in the
//     Prometheus text exposition format 0.0.4, for shops whose alerting is
//     Prometheus (WriteMetrics).
//
// The health rule (Tracker.Check): a scheduled collector is healthy until
// the second scheduled run after its last success has come due without a
// success since — twice its period for "@every" schedules, two missed runs
// for calendar ones. A streaming collector is healthy while a batch went
// through within StreamGrace. A collector that has not succeeded yet is
// measured from the daemon's start, so a fresh daemon is not unhealthy
// before its collectors could have run.
package admin
