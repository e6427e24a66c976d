# contactlog — the two commands: `make run` (demo) and `make test` (every test).
# Both install missing Debian packages first (scripts/install-deps).

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600

.PHONY: all deps run test test-fast bench fuzz clean

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

# The demo: a German agency; the mail server starts and the sample mails are
# delivered to it over LMTP; every review inbox is printed. On a terminal the
# server keeps serving (LMTP 127.0.0.1:2424, SMTP 127.0.0.1:2525) until Ctrl-C;
# elsewhere (scripts, CI) the demo ends there.
run: all
	@if [ -t 0 ] && [ -t 1 ]; then \
		$(BUILD)/contactlog demo --data-dir $(BUILD)/demo-data --serve; \
	else \
		$(BUILD)/contactlog demo --data-dir $(BUILD)/demo-data; \
	fi

# Unit, black-box and corpus tests, then the same again under ASan/UBSan, then one
# minute of the fuzzer (CI_FUZZ_SECONDS).
test: all
	scripts/run-tests $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Only the normal build (no sanitizer pass), for quick iterations.
test-fast: all
	scripts/run-tests $(BUILD)

# Ingest (bench/ingest), LMTP intake against Dovecot (bench/lmtp, as root) and the HTTP
# API against the ceiling of its stack (bench/http).
bench: all
	bench/ingest
	bench/lmtp
	bench/http

# The libFuzzer target over parse, forward extraction, route and match (FUZZ_SECONDS, 600).
fuzz: deps
	scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
