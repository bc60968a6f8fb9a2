# Thin wrapper over meson + ninja. `make` builds, `make check` runs every suite.
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON ?= meson
PREFIX ?= /usr/local

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Install the Debian packages a build needs (only those missing).
deps:
	.ci/install-deps

.PHONY: deps all check check-unit check-emu check-kio check-vm check-gpu check-xal check-asan install bench fuzz clean


$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --prefix=$(PREFIX)

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized -Dcuda=disabled

# Every suite available on this machine; ends with "N passed, N failed, N skipped".
check: all
	tests/run-suites $(BUILD)

check-unit check-emu check-kio check-vm check-gpu check-xal: all
	tests/run-suites $(BUILD) $(patsubst check-%,%,$@)

check-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	AISIO_TIMEOUT_SCALE=4 tests/run-suites $(ASAN_BUILD) unit emu kio xal

install: all
	$(MESON) install -C $(BUILD)

bench: all
	@bench/list

fuzz: all
	@tests/fuzz/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
