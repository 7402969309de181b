// Package nab scores anomaly detectors against the Numenta Anomaly Benchmark
// (NAB) corpus: it reads the data files, the label windows and the scoring
// profiles of a NAB checkout, runs the built-in detector of package anomaly
// over every file as a stream (or reads another detector's saved output), and
// scores the result with NAB's published rules: scaled-sigmoid window
// scoring, a probationary period, profile weights, a corpus-wide threshold per
// profile found by an exhaustive sweep, and normalisation between the null and
// the perfect detector.
//
// RunCommand is the body of the `cdnmetrics anomaly-eval DIR` subcommand.
package nab
