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

# The demo: a German agency, sample mails captured, every review inbox printed.
run: all
	$(BUILD)/contactlog demo --data-dir $(BUILD)/demo-data

# Unit, black-box and corpus tests, then the same again under ASan/UBSan, then one
# minute of the fuzzer (CI_FUZZ_SECONDS).
test: all
	scripts/run-tests $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Only the normal build (no sanitizer pass), for quick iterations.
test-fast: all
	scripts/run-tests $(BUILD)

bench: all
	bench/ingest

# The libFuzzer target over parse, forward extraction, route and match (FUZZ_SECONDS, 600).
fuzz: deps
	scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
