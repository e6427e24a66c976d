# contactlog — the two commands: `make run` (demo) and `make test` (every test).
# Both install missing Debian packages first (scripts/install-deps).

BUILD ?= build
ASAN_BUILD ?= build-asan

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

# Unit, black-box and corpus tests, then the same again under ASan/UBSan.
test: all
	scripts/run-tests $(BUILD) $(ASAN_BUILD)

# Only the normal build (no sanitizer pass), for quick iterations.
test-fast: all
	scripts/run-tests $(BUILD)

bench: all
	bench/ingest

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
