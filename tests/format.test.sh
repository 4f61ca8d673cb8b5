#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# format.test.sh: the tree follows .clang-format (kernel style).
cd "$(dirname "$0")/.."
files=$(ls bpf/*.c bpf/*.h headers/*.h user/*.c user/*.h tests/*.c tests/*.h tests/trafgen/*.[ch] 2>/dev/null)
if out=$(clang-format --dry-run -Werror $files 2>&1); then
	echo "ok - clang-format clean"
else
	echo "$out" | head -20
	echo "not ok - clang-format clean (make format)"
fi
