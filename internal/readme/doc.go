// Package readme holds the tests that keep the operator documentation true:
// README.md renders as CommonMark (every fence closed, no config comment
// turned into a heading), every ```toml block and config.toml.example
// decode and name only keys the program knows, every default they state
// equals the one the code applies, the shipped systemd unit passes
// `systemd-analyze verify`, and `make install` puts the files where README
// says. It has no code of its own: the documentation is what it tests.
package readme
