# cdnmetrics — the few targets a newcomer needs. `make demo` and `make test`
# work on a fresh Debian machine as root: they install what they need.
GO      ?= go
BIN     := bin/cdnmetrics
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/cdnmetrics/cdnmetrics/internal/app.Version=$(VERSION)

.PHONY: build deps test unit lint soak demo demo-down bench fuzz clean install

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/cdnmetrics

# Debian packages for a real local Graphite, and the Go modules.
deps:
	scripts/install-deps
	$(GO) mod download

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit and integration tests; integration tests start their own carbon-cache
# and graphite-web on free loopback ports and fail (not skip) without them.
test: deps lint
	CDNMETRICS_REQUIRE_GRAPHITE=1 $(GO) test -count=1 -timeout 20m ./...

# Unit tests only (no Graphite needed).
unit:
	$(GO) test -short -count=1 ./...

# The soak test (not in `make test`): `run` against the simulator and a real
# Graphite for SOAK_DURATION (default 5m, 2m to 10m) with faults injected at
# random; prints the figures. SOAK_SEED=n replays a schedule.
soak: deps
	CDNMETRICS_SOAK=1 CDNMETRICS_REQUIRE_GRAPHITE=1 $(GO) test -count=1 -run '^TestSoak$$' -timeout 15m -v ./internal/e2e/

# Starts Graphite, the simulator and the collector, lets data flow, posts a
# deploy event, runs compare (writes compare.png here) and prints render URLs.
demo: build
	scripts/demo

demo-down:
	scripts/graphite-down .state/graphite

# Go benchmarks (with the anomaly detector's day of 100 000 series); the
# sink beside a raw line sender into one carbon-cache, then through
# carbon-c-relay into two, each with the spool's replay rate; then `run`
# on peerbench's Fastly real-time feed at 100 and 1 000 services, paced on
# the clock as Fastly does, with fastly-exporter beside it when PEER_BIN
# names its binary (built outside this repository; skipped, and said so,
# otherwise); last, 1 000 services starting 60 s behind (the catch-up after
# an outage). Not part of CI.
PEERBENCH ?= scripts/peerbench
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	scripts/bench-sink
	CLUSTER=2 scripts/bench-sink
	@if [ -x "$(PEERBENCH)/bench.sh" ]; then \
	  PEERBENCH="$(PEERBENCH)" SERVICES="$${SERVICES:-100 1000}" FIELDS="$${FIELDS:-150}" SECONDS_="$${SECONDS_:-60}" FAKERT_FLAGS="$${FAKERT_FLAGS--pace}" scripts/bench-peer bench; \
	  PEERBENCH="$(PEERBENCH)" SERVICES=1000 FIELDS=150 SECONDS_=60 FAKERT_FLAGS="-pace -pace-behind 60s" STEADY=0 PEER_BIN= PEER_CMD= scripts/bench-peer catchup; \
	else \
	  echo "bench: no peerbench kit at $(PEERBENCH) (set PEERBENCH): the side-by-side with fastly-exporter is skipped"; \
	fi

# Each fuzzer for a short while (FUZZTIME=1m for longer).
FUZZTIME ?= 15s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin

# Installs the binary, the example config (only when none is there), the
# systemd unit and the cron example. PREFIX and DESTDIR as usual (staged
# installs and packages: `make install DESTDIR=/tmp/pkg`); nothing is enabled
# or started. As root without DESTDIR it also creates the system user
# `cdnmetrics` the unit runs as.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/cdnmetrics
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(UNITDIR)
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/cdnmetrics
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/cdnmetrics
	install -m 0644 config.toml.example $(DESTDIR)$(DATADIR)/config.toml.example
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/cdnmetrics/config.toml ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/cdnmetrics/config.toml (compare with $(DATADIR)/config.toml.example)"; \
	else \
	  install -m 0644 config.toml.example $(DESTDIR)$(SYSCONFDIR)/cdnmetrics/config.toml && \
	  echo "installed $(DESTDIR)$(SYSCONFDIR)/cdnmetrics/config.toml: edit it, then cdnmetrics validate"; \
	fi
	sed 's|/usr/local/bin/cdnmetrics|$(BINDIR)/cdnmetrics|g; s|/etc/cdnmetrics/|$(SYSCONFDIR)/cdnmetrics/|g' \
	  scripts/cdnmetrics.service >$(DESTDIR)$(UNITDIR)/cdnmetrics.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cdnmetrics.service
	sed 's|/usr/local/bin/cdnmetrics|$(BINDIR)/cdnmetrics|g; s|/etc/cdnmetrics/|$(SYSCONFDIR)/cdnmetrics/|g; s|/usr/local/share/cdnmetrics/|$(DATADIR)/|g' \
	  scripts/cdnmetrics.cron >$(DESTDIR)$(DATADIR)/cdnmetrics.cron
	chmod 0644 $(DESTDIR)$(DATADIR)/cdnmetrics.cron
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! id cdnmetrics >/dev/null 2>&1; then \
	  useradd --system --home-dir /var/lib/cdnmetrics --no-create-home --shell /usr/sbin/nologin cdnmetrics && \
	  echo "created system user cdnmetrics"; \
	fi
	@echo "next: secrets in $(SYSCONFDIR)/cdnmetrics/env (VAR=value lines, mode 0600),"
	@echo "      $(BINDIR)/cdnmetrics validate --config $(SYSCONFDIR)/cdnmetrics/config.toml,"
	@echo "      then systemctl daemon-reload && systemctl enable --now cdnmetrics"
	@echo "      (or cron: see $(DATADIR)/cdnmetrics.cron)"
