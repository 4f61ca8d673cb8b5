#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# fuzz.test.sh: the short fuzzing run of `make test`. Each libFuzzer target
# (tests/fuzz/fuzz_*.c) runs FUZZ_SECONDS (default 30) with ASan and UBSan,
# after replaying its seed corpus; any crash, leak, timeout or undefined
# behaviour fails it (scripts/fuzz.sh; `make fuzz` is the long run).
# A target whose code is not written yet is a SKIP, a missing target a
# failure.
cd "$(dirname "$0")/.."
BUILD=${FG_BUILD:-$PWD/build}
if ! command -v clang >/dev/null; then
	echo "ok - fuzz # SKIP clang not installed (scripts/deps.sh)"
	exit 0
fi
for t in fuzz_args fuzz_config fuzz_metrics; do
	[ -f "tests/fuzz/$t.c" ] || echo "not ok - $t: tests/fuzz/$t.c missing"
done
FUZZ_SECONDS=${FUZZ_SECONDS:-30} FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)} FUZZ_TAP=1 \
	exec scripts/fuzz.sh "$BUILD"
