module github.com/cdnmetrics/cdnmetrics

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	golang.org/x/time v0.14.0
)
