#!/bin/bash
# test/harness/deps.sh: install the Debian packages the build, the tests, the
# demo and the benchmark need, but only those that are missing.  Uses apt-get
# non-interactively; needs root (or sudo) only when something is missing.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(postgresql-15 postgresql-server-dev-15 libipc-run-perl librdkafka-dev libsimdjson-dev
	build-essential perl)
# --fuzzers: also clang and its libFuzzer runtime, for test/fuzz/run.sh;
# --tests: the extensions whose aggregates the tests put in views, and the
# exporter that reads contrib/prometheus/ (test/t/019_monitoring.pl)
case "${1:-}" in
	--fuzzers) packages+=(clang-14 libclang-rt-14-dev) ;;
	--tests) packages+=(postgresql-15-hll postgresql-15-tdigest prometheus-postgres-exporter) ;;
esac

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
	die "missing packages ${missing[*]} and no apt-get (this harness targets Debian 12)"

log "installing missing packages: ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
