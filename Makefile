# esia-batch — build, test, bench, demo, install.
# `make check` alone must work on a fresh Debian 12 machine as root: every
# entry point that needs system packages depends on `deps` first.

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

CC      ?= cc
PKGS    := libpq libxml-2.0 libxslt libcrypto libssl libcurl libarchive liblzma libzstd xmlsec1-openssl cairo libidn2
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-deprecated-declarations \
           -Ijobs -Ijobs/lib -DESIA_VERSION=\"$(VERSION)\" -DESIA_DATADIR=\"$(PREFIX)/share/esia-batch\"
# xmlsec1's pkg-config flags carry -D defines it needs at compile time.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread

SRCS    := $(sort $(wildcard jobs/*.c jobs/lib/*.c)) build/schema_embed.c
OBJS    := $(patsubst %.c,build/rel/%.o,$(SRCS))
AOBJS   := $(patsubst %.c,build/asan/%.o,$(SRCS))
LIBOBJS := $(filter build/asan/jobs/lib/%,$(AOBJS))
UNITS   := $(patsubst tests/unit/%.c,build/asan/unit/%,$(wildcard tests/unit/*.c)) \
           $(patsubst tests/tools/%.c,build/asan/tools/%,$(wildcard tests/tools/*.c))
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
HDRS    := $(wildcard jobs/*.h jobs/lib/*.h)

# Build-time packages (Debian names) and test-time peers.
DEB_BUILD := gcc make pkg-config libpq-dev libxml2-dev libxslt1-dev libssl-dev \
             libcurl4-openssl-dev libarchive-dev liblzma-dev libzstd-dev libxmlsec1-dev libxmlsec1-openssl \
             libcairo2-dev libidn2-dev fonts-dejavu-core
DEB_TEST  := postgresql openssl xmlsec1 libxml2-utils xsltproc python3 python3-aiosmtpd openssh-server openssh-client \
             poppler-utils zbar-tools perl procps strace util-linux time curl xz-utils zstd bc tar coreutils diffutils

.PHONY: all deps check unit e2e bench demo demo-stop install clean asan

all: deps esia-batch fixtures/gen-citizens

deps:
	@sh tests/lib/deps.sh $(DEB_BUILD) $(DEB_TEST)

esia-batch: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

build/asan/esia-batch: $(AOBJS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(AOBJS) $(PKG_LIBS)

build/rel/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -c -o $@ $<

# Migrations are compiled into the binary so it knows the newest schema it
# understands and can refuse a database that is ahead of it. The list of
# files is a prerequisite too (build/schema.list changes only when the list
# does): a removed or renamed migration must not linger in the binary.
SCHEMA_SQL := $(sort $(wildcard schema/*.sql))
$(shell mkdir -p build && echo '$(SCHEMA_SQL)' | cmp -s - build/schema.list || \
	echo '$(SCHEMA_SQL)' > build/schema.list)
build/schema_embed.c: $(SCHEMA_SQL) build/schema.list tests/lib/embed-schema.sh
	@mkdir -p build
	sh tests/lib/embed-schema.sh $(SCHEMA_SQL) > $@.tmp && mv $@.tmp $@

build/asan/unit/%: tests/unit/%.c $(LIBOBJS) tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(LIBOBJS) $(PKG_LIBS)

# Test drivers that exercise library code directly (not run by prove).
build/asan/tools/%: tests/tools/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -o $@ $< $(LIBOBJS) $(PKG_LIBS)

# Bench-only peers, built plainly (no sanitizers) so they are not the bottleneck.
build/rel/tools/smtp-sink: tests/tools/smtp-sink.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# LD_PRELOAD shims for fault tests (plain shared objects: no sanitizer runtime).
build/shim/%.so: tests/shim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

fixtures/gen-citizens: fixtures/gen-citizens.c
	$(CC) $(CFLAGS) -o $@ $<

asan: build/asan/esia-batch $(UNITS) build/shim/enospc.so

check: deps esia-batch fixtures/gen-citizens asan
	@ESIA_BATCH=$(CURDIR)/build/asan/esia-batch sh tests/run

bench: deps esia-batch fixtures/gen-citizens build/rel/tools/smtp-sink
	@sh tests/bench.sh

demo: deps esia-batch fixtures/gen-citizens
	@sh tests/demo.sh

demo-stop:
	@sh tests/demo.sh stop

install: esia-batch
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/esia-batch/formats \
	           $(DESTDIR)$(PREFIX)/share/esia-batch/cron
	install -m 0755 esia-batch $(DESTDIR)$(PREFIX)/bin/esia-batch
	cp -R formats/. $(DESTDIR)$(PREFIX)/share/esia-batch/formats/
	cp -R cron/. $(DESTDIR)$(PREFIX)/share/esia-batch/cron/

clean:
	rm -rf build esia-batch fixtures/gen-citizens
