// Package anomaly is a streaming anomaly detector for metric series.
//
// A Detector scores one series point by point in constant time and constant
// memory (a few hundred bytes): for every point it returns a score in [0, 1].
// The score is built in three stages:
//
//  1. raw surprise: the largest z-score of the value and of its first
//     difference against exponentially weighted means and variances at
//     several time scales, squashed into [0, 1), raised to 1 when the recent
//     context of discretised values has never been seen before (a cheap form
//     of contextual novelty); beside it, a seasonal surprise: the z-score of
//     the value against exponentially weighted means and variances kept per
//     hour of the day (UTC), apart for weekdays and weekends, which sees a
//     value that is normal for the series but wrong for the time of day;
//  2. likelihood: for each of the two surprises, a short moving average is
//     compared with its own long-term mean and variance (floored, as in
//     NAB's anomaly likelihood, so a very calm series does not alarm at the
//     first ripple), and the Gaussian tail probability is turned into a
//     log-scaled score, so a series that is always noisy does not alarm all
//     the time; the seasonal score is scaled by SeasonWeight and the larger
//     of the two wins;
//  3. post-processing: a value outside the remembered range (widened by a
//     tolerance; the range slowly shrinks back toward the long-term mean so
//     one old outlier does not hide later ones), unless it is back at an
//     all-time extreme the series has visited Recur separate times (CPU
//     saturating at 100 % again), scores 1 — during the series' first day
//     only when it jumps out by at least the whole range (a range learnt in
//     a few hours has not seen the daily cycle: on minute data the next
//     daily extreme would otherwise alarm) — and after a score above
//     QuietLevel the next Quiet points are damped (out-of-range jumps
//     excepted; a step-by-step drift out of the range is one event), so one
//     event is reported once; a series that alarms often gets a longer
//     quiet time; a value that has stayed exactly the same for longer than
//     ever before (and at least RunMin points) scores 1, once per run: a
//     frozen counter, a POP or disk gone silent.
//
// One parameter set (DefaultParams) serves every series. The detector does
// not know a series' range in advance; it learns for Warmup points and scores
// 0 meanwhile (the seasonal score joins after SeasonWarm points). Update's
// time argument must be Unix seconds for the seasonal buckets to mean hours.
//
// Set runs one Detector per Graphite path, drops re-sent or out-of-order
// points, bounds the number of series, and reports threshold crossings with
// repeat suppression.
package anomaly
