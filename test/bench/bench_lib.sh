#!/bin/bash
# test/bench/bench_lib.sh: what the benchmarks share, sourced after
# test/harness/lib.sh.
#
#   bench_server NAME BASE_PORT [SETTING...]
#       build and install (holding the machine's install lock), then start a
#       scratch cluster tuned for loading (1 GB shared buffers, no
#       checkpoint during a run) plus the given postgresql.conf lines; sets
#       SCRATCH and PORT.  At exit the cluster is stopped and removed, after
#       the command in BENCH_ON_EXIT, if any.
#   bpsql ARGS...
#       psql on that cluster, quiet, stopping at the first error.
#   now_ns, median "LIST"

bench_server()
{
	local name=$1 base_port=$2 setting
	shift 2
	hold_install_lock
	"$REPO/test/harness/build.sh"
	pg_locate

	SCRATCH=$(pg_scratch_dir "$name")
	trap bench_cleanup EXIT
	PORT=$(free_port "$base_port")
	pg_init "$SCRATCH/data"
	{
		pg_server_conf "$PORT"
		echo "shared_buffers = '1GB'"
		echo "max_wal_size = '16GB'"
		echo "checkpoint_timeout = '1h'"
		for setting in "$@"; do
			echo "$setting"
		done
	} >>"$SCRATCH/data/postgresql.conf"
	touch "$SCRATCH/server.log"
	[ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER": "$SCRATCH/server.log"
	pg_start "$SCRATCH/data" "$SCRATCH/server.log"
}

bench_cleanup()
{
	[ -z "${BENCH_ON_EXIT:-}" ] || eval "$BENCH_ON_EXIT" || true
	pg_stop "$SCRATCH/data" && rm -rf "$SCRATCH"
}

bpsql()
{
	PGOPTIONS='-c client_min_messages=warning' "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$PORT" -U postgres "$@"
}

now_ns() { date +%s%N; }

median()
{
	# empty for no values (a case not measured), never a failure
	tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR > 0) print v[int((NR + 1) / 2)] }'
}
