#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# format.test.sh: the tree follows .clang-format (kernel style).
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=format
. tests/tap.sh # ok, notok, run_tests

ALL_TESTS="test_clang_format"

test_clang_format() {
	local files out
	files=$(ls bpf/*.c bpf/*.h headers/*.h user/*.c user/*.h tests/*.c tests/*.h tests/trafgen/*.[ch] 2>/dev/null)
	# shellcheck disable=SC2086 # a list of file names
	if out=$(clang-format --dry-run -Werror $files 2>&1); then
		ok "clang-format clean"
	else
		echo "$out" | head -20 | sed 's/^/# /'
		notok "clang-format clean (make format)"
	fi
}

run_tests "$@"
