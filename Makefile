# evcrawl — plain Makefile. `make` builds build/evcrawl and the libraries;
# `make test` runs every test; `make demo` crawls the bundled local site.
# SANITIZE=1 builds everything with ASan+UBSan under build/sanitize/.

VERSION := $(shell sed -n "s/^#define EVC_VERSION_\(MAJOR\|MINOR\|PATCH\) //p" include/evcrawl/version.h | paste -sd.)
SONAME_MAJOR := 0

CC ?= cc
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD := build/sanitize
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1 -g
else
BUILD := build
SANFLAGS :=
OPT := -O2 -g
endif

# Dependencies come from Debian packages (scripts/install-deps); llhttp is
# compiled from node-llhttp's generated C sources in place.
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp
PKGS := libcares openssl zlib liburiparser libpsl libxxhash libxml-2.0 libidn2 sqlite3 libbrotlidec libzstd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
# Unit tests also compress (brotli's encoder; zstd's is in libzstd itself).
TEST_LIBS = $(shell pkg-config --libs libbrotlienc 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=gnu11 $(OPT) -fPIC -fvisibility=hidden $(SANFLAGS) -D_GNU_SOURCE \
	-DEVC_VERSION_STRING='"$(VERSION)"'
CFLAGS_OURS = $(BASE_CFLAGS) $(WARN) -Iinclude -Isrc -I$(LLHTTP_INC) $(PKG_CFLAGS)
CFLAGS_LLHTTP = $(BASE_CFLAGS) -w -I$(LLHTTP_INC)
LDFLAGS_ALL = $(SANFLAGS)

LIB_SRCS := $(wildcard src/loop/*.c src/util/*.c src/net/*.c src/http/*.c src/crawl/*.c)
CLI_SRCS := $(wildcard src/cli/*.c)
LLHTTP_SRCS := llhttp.c api.c http.c
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
TOOL_SRCS := $(wildcard tests/tools/*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(LLHTTP_SRCS:%.c=$(BUILD)/obj/llhttp/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

Q := @
ifeq ($(V),1)
Q :=
endif

.PHONY: all build deps test demo lint format clean bench-loop install uninstall \
	install-python uninstall-python
# Dependencies first, then the build in a second make, so that pkg-config
# answers (and -j builds) only ever see an installed system.
all: deps
	$(Q)$(MAKE) --no-print-directory build

build: $(BUILD)/evcrawl $(BUILD)/libevcrawl.a $(BUILD)/libevcrawl.so

# Installs only what is missing; fast when everything is there.
deps:
	$(Q)scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_OURS) -MMD -MP -c $< -o $@

$(BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      llhttp/$(notdir $<)"
	$(Q)$(CC) $(CFLAGS_LLHTTP) -c $< -o $@

$(BUILD)/libevcrawl.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libevcrawl.so: $(LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) -shared -Wl,-soname,libevcrawl.so.$(SONAME_MAJOR) -Wl,--no-undefined \
		$(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lpthread -lm

$(BUILD)/evcrawl: $(CLI_OBJS) $(BUILD)/libevcrawl.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJS) $(BUILD)/libevcrawl.a $(PKG_LIBS) -lm

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libevcrawl.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_OURS) -o $@ $< $(BUILD)/libevcrawl.a $(PKG_LIBS) $(CMOCKA_LIBS) $(TEST_LIBS) $(LDFLAGS_ALL) -lm

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libevcrawl.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_OURS) -o $@ $< $(BUILD)/libevcrawl.a $(PKG_LIBS) $(LDFLAGS_ALL) -lm

test: deps
	$(Q)$(MAKE) --no-print-directory build $(UNIT_BINS) $(TOOL_BINS)
	$(Q)tests/run $(BUILD)

demo: all
	$(Q)scripts/demo $(BUILD)

bench-loop: deps
	$(Q)$(MAKE) --no-print-directory build $(BUILD)/tools/bench_loop
	$(Q)scripts/bench-loop

lint:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Iinclude -Isrc -D__linux__ src tests/unit tests/tools

format:
	$(Q)clang-format -i $(LIB_SRCS) $(CLI_SRCS) $(UNIT_SRCS) $(TOOL_SRCS) $(wildcard include/evcrawl/*.h src/*/*.h)

# make install PREFIX=/usr/local DESTDIR=/tmp/stage: the command, both
# libraries (the shared one with its soname links), the headers, the man page,
# evcrawl.pc and the Python package. make uninstall removes exactly those.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCDIR := $(PREFIX)/include/evcrawl
MANDIR := $(PREFIX)/share/man/man1
PCDIR := $(LIBDIR)/pkgconfig
HEADERS := $(wildcard include/evcrawl/*.h)
# The Python package goes where $(PYTHON) imports PREFIX's packages from
# (scripts/python-site-dir: Debian's python3 and PREFIX=/usr/local give
# /usr/local/lib/python3.X/dist-packages); PYTHONDIR=... overrides it. Its
# _config.py, written here, records LIBDIR: the package loads the library
# installed with it even where the dynamic loader does not look. Uninstall
# with the same PREFIX and PYTHON (or PYTHONDIR) as the install.
PYTHON ?= python3
PYTHONDIR ?= $(shell $(PYTHON) -I scripts/python-site-dir '$(PREFIX)')
PY_FILES := python/evcrawl/__init__.py python/evcrawl/py.typed
PY_INSTALLED := $(notdir $(PY_FILES)) _config.py

install: all install-python
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(PCDIR)
	install -m 755 $(BUILD)/evcrawl $(DESTDIR)$(PREFIX)/bin/evcrawl
	install -m 644 $(BUILD)/libevcrawl.a $(DESTDIR)$(LIBDIR)/libevcrawl.a
	install -m 755 $(BUILD)/libevcrawl.so $(DESTDIR)$(LIBDIR)/libevcrawl.so.$(VERSION)
	ln -sf libevcrawl.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libevcrawl.so.$(SONAME_MAJOR)
	ln -sf libevcrawl.so.$(SONAME_MAJOR) $(DESTDIR)$(LIBDIR)/libevcrawl.so
	install -m 644 $(HEADERS) $(DESTDIR)$(INCDIR)/
	install -m 644 doc/evcrawl.1 $(DESTDIR)$(MANDIR)/evcrawl.1
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		doc/evcrawl.pc.in >$(DESTDIR)$(PCDIR)/evcrawl.pc

uninstall: uninstall-python
	rm -f $(DESTDIR)$(PREFIX)/bin/evcrawl $(DESTDIR)$(LIBDIR)/libevcrawl.a \
		$(DESTDIR)$(LIBDIR)/libevcrawl.so $(DESTDIR)$(LIBDIR)/libevcrawl.so.$(SONAME_MAJOR) \
		$(DESTDIR)$(LIBDIR)/libevcrawl.so.$(VERSION) $(DESTDIR)$(MANDIR)/evcrawl.1 \
		$(DESTDIR)$(PCDIR)/evcrawl.pc
	rm -f $(addprefix $(DESTDIR)$(INCDIR)/,$(notdir $(HEADERS)))
	-rmdir $(DESTDIR)$(INCDIR) 2>/dev/null

# Only the package (no build needed); install and uninstall include these.
install-python:
	@test -n "$(PYTHONDIR)" || { echo "cannot ask $(PYTHON) where packages go: set PYTHONDIR" >&2; exit 1; }
	install -d $(DESTDIR)$(PYTHONDIR)/evcrawl
	install -m 644 $(PY_FILES) $(DESTDIR)$(PYTHONDIR)/evcrawl/
	printf '# Written by make install: where the library is.\nLIBDIR = %s\nSONAME = %s\n' \
		"'$(LIBDIR)'" "'libevcrawl.so.$(SONAME_MAJOR)'" >$(DESTDIR)$(PYTHONDIR)/evcrawl/_config.py

# __pycache__: what Python compiled from the package when it was imported.
uninstall-python:
	@test -n "$(PYTHONDIR)" || { echo "cannot ask $(PYTHON) where packages go: set PYTHONDIR" >&2; exit 1; }
	rm -f $(addprefix $(DESTDIR)$(PYTHONDIR)/evcrawl/,$(PY_INSTALLED))
	rm -rf $(DESTDIR)$(PYTHONDIR)/evcrawl/__pycache__
	-rmdir $(DESTDIR)$(PYTHONDIR)/evcrawl 2>/dev/null

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- make fuzz, make valgrind --------------------------------------------------
# make fuzz: every libFuzzer harness (tests/fuzz/fuzz_*.c) for FUZZ_SECONDS
# each (CI: 30), from its seed corpus tests/fuzz/corpus/NAME/ (read, never
# written). Harnesses and library are built with clang, ASan, UBSan and
# coverage under build/fuzz/. A crash, leak, sanitizer report or hang fails it;
# the input is kept in build/fuzz/artifacts/ (tests/fuzz/run).
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_BASE = -std=gnu11 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -D_GNU_SOURCE \
	-DEVC_VERSION_STRING='"$(VERSION)"'
FUZZ_CFLAGS = $(FUZZ_BASE) $(filter-out -Werror,$(WARN)) -Iinclude -Isrc -I$(LLHTTP_INC) $(PKG_CFLAGS)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(LLHTTP_SRCS:%.c=$(FUZZ_BUILD)/obj/llhttp/%.o)

.PHONY: fuzz fuzz-build valgrind
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      llhttp/$(notdir $<) (fuzz)"
	$(Q)$(FUZZ_CC) $(FUZZ_BASE) -w -I$(LLHTTP_INC) -c $< -o $@

$(FUZZ_BUILD)/libevcrawl.a: $(FUZZ_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libevcrawl.a
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libevcrawl.a \
		$(PKG_LIBS) -lpthread -lm

# make valgrind: the integration suites that do not depend on timing run
# with build/evcrawl under valgrind (memcheck, full leak check); a failing
# check, or any error or leak in any evcrawl process, fails it
# (tests/lib/valgrind-run). Left out: suites that measure time or resources
# (crawl_errors, crawl_limits, crawl_resilience, polite, hostile,
# reliability, proxy), tls (its own valgrind check; deadlines), and those that do
# not run evcrawl much (world, library, demo).
VALGRIND_SUITES ?= crawl_basic crawl_output robots recursive crawl_cli modes cookies
valgrind: deps
	$(Q)$(MAKE) --no-print-directory SANITIZE=0 build
	$(Q)tests/lib/valgrind-run build $(VALGRIND_SUITES)

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
