# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# floodgate build: the XDP program and its skeleton, the floodgate binary,
# the tests and the traffic generator, all into $(BUILD). Quiet unless V=1.

VERSION := 0.1.0

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)

CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -MMD -MP \
	  -Iheaders -Iuser -I$(BUILD) -DFG_VERSION=\"$(VERSION)\"
LDLIBS := -lbpf -lelf -lz -lcyaml -lyaml -ljson-c -lmicrohttpd -lhiredis -lm
TEST_LDLIBS := -lcmocka -lgmp

# SAN=1: AddressSanitizer and UBSan for every userspace object (own build folder).
ifeq ($(SAN),1)
BUILD := build-san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Iheaders -Ibpf -I$(ARCH_INC)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
# the objects that include a generated skeleton wait for it; -MMD tracks it after the first build
SKEL_USERS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(shell grep -l 'skel\.h"' $(USER_SRCS)))
LIB_OBJS := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))

# tests/test_*.c are test programs run by tests/run.sh; other tests/*.c are test tools
TEST_SRCS := $(wildcard tests/*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
# the lab's traffic generator, one program from several files
TG_SRCS := $(wildcard tests/trafgen/*.c)
TG_OBJS := $(patsubst tests/trafgen/%.c,$(BUILD)/trafgen/%.o,$(TG_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# objects and skeletons are intermediate in the rule chain: keep them
.SECONDARY: $(BPF_OBJS) $(SKELS)
.PHONY: all deps test demo bench install clean format format-check fuzz soak san man

all: $(BUILD)/floodgate $(TEST_BINS) $(BUILD)/tests/trafgen

deps:
	$(Q)scripts/deps.sh

$(BUILD) $(BUILD)/user $(BUILD)/tests $(BUILD)/trafgen:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/user/%.o: user/%.c | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(SKEL_USERS): $(SKELS)

$(BUILD)/floodgate: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB_OBJS) $(SKELS) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $(LDFLAGS) $< $(LIB_OBJS) $(LDLIBS) $(TEST_LDLIBS) -o $@

$(BUILD)/trafgen/%.o: tests/trafgen/%.c $(SKELS) | $(BUILD)/trafgen
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/trafgen -c $< -o $@

$(BUILD)/tests/trafgen: $(TG_OBJS) $(LIB_OBJS) | $(BUILD)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lpthread -o $@

# test, demo and bench install what they need first (README: one command each)
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh $(BUILD)

san:
	$(Q)$(MAKE) --no-print-directory SAN=1 all

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh $(BUILD)

# libFuzzer targets, ASan+UBSan, FUZZ_SECONDS each (default 300)
fuzz:
	$(Q)scripts/fuzz.sh $(BUILD)

soak: all
	$(Q)scripts/soak.sh $(BUILD)

format:
	$(Q)clang-format -i $(BPF_SRCS) bpf/*.h headers/*.h $(USER_SRCS) $(wildcard user/*.h) $(TEST_SRCS) \
		$(TG_SRCS) $(wildcard tests/*.h tests/*/*.h)

format-check:
	$(Q)clang-format --dry-run -Werror $(BPF_SRCS) bpf/*.h headers/*.h $(USER_SRCS) \
		$(wildcard user/*.h) $(TEST_SRCS) $(TG_SRCS) $(wildcard tests/*.h tests/*/*.h)

$(BUILD)/floodgate.8: man/floodgate.8.scd | $(BUILD)
	$(call msg,SCDOC,$@)
	$(Q)scdoc < $< > $@

man: $(BUILD)/floodgate.8

install: $(BUILD)/floodgate $(BUILD)/floodgate.8
	$(Q)install -D -m 0755 $(BUILD)/floodgate $(DESTDIR)$(PREFIX)/sbin/floodgate
	$(Q)install -D -m 0644 $(BUILD)/floodgate.8 $(DESTDIR)$(PREFIX)/share/man/man8/floodgate.8
	$(Q)install -D -m 0644 contrib/floodgate.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/floodgate
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	$(Q)sed 's|@SBINDIR@|$(PREFIX)/sbin|g' contrib/floodgate.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/floodgate.service
	$(Q)install -D -m 0644 contrib/floodgate.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/floodgate.conf
	$(Q)install -D -m 0644 floodgate.example.yaml \
		$(DESTDIR)$(PREFIX)/share/floodgate/floodgate.example.yaml
	$(Q)install -D -m 0644 contrib/grafana/floodgate.json \
		$(DESTDIR)$(PREFIX)/share/floodgate/grafana/floodgate.json
	$(Q)install -D -m 0644 contrib/prometheus/floodgate.rules.yml \
		$(DESTDIR)$(PREFIX)/share/floodgate/prometheus/floodgate.rules.yml
	$(Q)[ -e $(DESTDIR)/etc/floodgate/floodgate.yaml ] || \
		install -D -m 0644 floodgate.example.yaml $(DESTDIR)/etc/floodgate/floodgate.yaml
	$(Q)[ -n "$(DESTDIR)" ] || ! command -v systemd-sysusers >/dev/null || \
		systemd-sysusers $(PREFIX)/lib/sysusers.d/floodgate.conf

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf build build-san

# tests/trafgen.d is left over from when the generator was tests/trafgen.c alone
-include $(filter-out %/tests/trafgen.d,$(wildcard $(BUILD)/*.d $(BUILD)/user/*.d $(BUILD)/tests/*.d \
	$(BUILD)/trafgen/*.d))
