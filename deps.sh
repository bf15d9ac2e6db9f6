#!/bin/sh
# deps.sh — install what cdx needs on Debian 12, idempotently.
#   sh deps.sh        build and runtime dependencies
#   sh deps.sh --dev  also what the tests, fuzzing and benchmarks use
# Packages already installed are left alone; apt-get runs only when
# something is missing (as root, or through sudo).
set -eu
pkgs="gcc libc6-dev make pkg-config libyaml-dev libcjson-dev libhiredis-dev libcurl4-openssl-dev"
if [ "${1:-}" = "--dev" ]; then
	pkgs="$pkgs libcmocka-dev redis-server redis-tools clang libclang-rt-14-dev jq time ninja-build valgrind procps iproute2 nginx chromium curl git"
elif [ -n "${1:-}" ]; then
	echo "usage: sh deps.sh [--dev]" >&2
	exit 2
fi
missing=
# installed: dpkg's status says so ("dpkg -s" also succeeds for a package
# removed with its configuration files left behind)
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps.sh: all dependencies are installed"
	exit 0
fi
echo "deps.sh: installing$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
