# streamllm — plain GNU make. `make` builds build/streamllm, `make test` runs
# every test, `make SAN=1` builds with ASan+UBSan into build-san/.
CC      ?= cc
PREFIX  ?= /usr/local
ARCH    := $(shell uname -m)
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     ?= -O1
else ifneq ($(filter fuzz,$(MAKECMDGOALS)),)
# libFuzzer build: the whole library instrumented for coverage, ASan and UBSan.
BUILD   ?= build-fuzz
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     ?= -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     ?= -O2
endif

PCRE_CFLAGS := $(shell pkg-config --cflags libpcre2-8 2>/dev/null)
PCRE_LIBS   := $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)

# chat: libedit (line editing, history) and jansson (JSONL replay, --json).
EDIT_CFLAGS    := $(shell pkg-config --cflags libedit 2>/dev/null)
EDIT_LIBS      := $(shell pkg-config --libs libedit 2>/dev/null || echo -ledit)
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE $(PCRE_CFLAGS) $(EDIT_CFLAGS) $(JANSSON_CFLAGS)
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter -fPIC -pthread $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS  += -pthread $(SANFLAGS)
LDLIBS   += $(PCRE_LIBS) $(EDIT_LIBS) $(JANSSON_LIBS) -lm

# Per-ISA kernel files get their own flags; the rest stays portable.
ALL_SRC  := $(shell find src -name '*.c' | sort)
X86_SRC  := $(filter src/kernels/x86/%,$(ALL_SRC))
ARM_SRC  := $(filter src/kernels/arm/%,$(ALL_SRC))
LIB_SRC  := $(filter-out $(X86_SRC) $(ARM_SRC),$(ALL_SRC))
ifneq ($(filter x86_64 amd64 i686,$(ARCH)),)
LIB_SRC  += $(X86_SRC)
endif
ifneq ($(filter aarch64 arm64,$(ARCH)),)
LIB_SRC  += $(ARM_SRC)
endif
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

CLI_SRC  := $(sort $(wildcard tools/cli/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

LIB_A    := $(BUILD)/libstreamllm.a
LIB_SO   := $(BUILD)/libstreamllm.so
CLI      := $(BUILD)/streamllm

.PHONY: all test install clean bench fuzz
all: $(CLI) $(LIB_SO) $(TEST_BIN) $(BENCH_BIN)

$(BUILD)/obj/src/kernels/x86/%_avx2.o: CFLAGS += -mavx2 -mfma -mf16c
$(BUILD)/obj/src/kernels/x86/%_avx512.o: CFLAGS += -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mavx2 -mfma -mf16c

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(CLI): $(CLI_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB_A) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test_util.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(LDLIBS)

test: all
	@BUILD=$(BUILD) bash tests/run_tests.sh

# libFuzzer targets (clang only): make fuzz CC=clang BUILD=build-fuzz
# The library is built by the normal rules (per-ISA flags kept) with the fuzz
# instrumentation above; linking the archive pulls in only what a target uses.
# A target that fuzzes CLI code lists that object as a prerequisite below.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
fuzz: $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/fuzz_replay: $(BUILD)/obj/tools/cli/chat_jsonl.o
$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz_util.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(filter %.o,$^) $(LIB_A) $(LDFLAGS) $(LDLIBS)

install: $(CLI) $(LIB_A) $(LIB_SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/streamllm
	install -m 644 $(LIB_A) $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/streamllm.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/share/streamllm
	install -m 644 models/default.gguf $(DESTDIR)$(PREFIX)/share/streamllm/default.gguf
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/.*SL_VERSION "\(.*\)"/\1/p' include/streamllm.h)|' \
	    streamllm.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/streamllm.pc

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
