#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# deps.sh: install every Debian package floodgate's build, tests, demo and
# benchmark need. Idempotent and quiet when everything is present; runs
# apt-get update only when something is missing.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
	libcyaml-dev libjson-c-dev libmicrohttpd-dev libhiredis-dev
	# tests
	libcmocka-dev libgmp-dev iproute2 prometheus clang-format clang-tidy cppcheck
	valgrind libclang-rt-14-dev procps psmisc curl python3 socat jq redis-server
	# demo and benchmark
	nginx-light wrk nftables iptables gnuplot-nox ethtool linux-perf
	# docs and packaging
	scdoc systemd
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "error: deps: missing packages (${missing[*]}): run as root (sudo make deps)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start their services; floodgate's tests start their own.
for svc in nginx prometheus prometheus-node-exporter redis-server; do
	if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
	fi
done
