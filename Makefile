# Thin wrapper over meson + ninja. `make` builds, `make check` runs every suite.
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON ?= meson
PREFIX ?= /usr/local

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Suites that must run in full (a skip there fails): .ci/run sets them for the CI machine.
MUST_RUN ?=

# Install the Debian packages the build and the tool need (only those missing).
deps:
	.ci/install-deps $(BUILD)

.PHONY: deps all check check-unit check-emu check-kio check-vm check-gpu check-xal check-homi check-fil check-kmod kmod check-asan check-newcomer install bench fuzz clean


$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --prefix=$(PREFIX)

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized -Dcuda=disabled

# Install what the tests need (a no-op when present), build, run every suite available on
# this machine; ends with "N passed, N failed, N skipped".
check:
	.ci/install-deps test $(BUILD)
	$(MAKE) all
	tests/run-suites --must-run "$(MUST_RUN)" $(BUILD)

check-unit check-emu check-kio check-vm check-gpu check-xal check-homi check-fil check-kmod:
	.ci/install-deps test $(BUILD)
	$(MAKE) all
	tests/run-suites --must-run "$(MUST_RUN)" $(BUILD) $(patsubst check-%,%,$@)

check-asan:
	.ci/install-deps test $(ASAN_BUILD)
	$(MAKE) $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	AISIO_TIMEOUT_SCALE=4 tests/run-suites --must-run "$(MUST_RUN)" $(ASAN_BUILD) unit emu kio xal homi fil

# The README's two commands as written, in a fresh minimal Debian 12 root (debootstrap; root only).
check-newcomer:
	tests/newcomer/run

install: all
	$(MESON) install -C $(BUILD)

# The kernel modules (kmod/, kmod/test/) for both guest kernels, into $(BUILD)/kmod/<release>/
# (headers fetched into .vmcache; nothing is loaded on this machine).
kmod:
	tests/vm/kbuild.py --kernel both --out $(BUILD)/kmod kmod kmod/test

bench: all
	@bench/list

fuzz: all
	@tests/fuzz/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
