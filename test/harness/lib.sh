# test/harness/lib.sh: shell helpers shared by the test, demo and bench scripts.
#
# Sourced, not run.  Sets REPO, PG_CONFIG, PG_BINDIR, PGXS_DIR, PG_OS_USER and
# defines as_root / as_pg (run a command as root, or as the unprivileged user
# that owns the servers), free_port, pg_init / pg_start / pg_stop.
#
# PostgreSQL refuses to run as root.  When these scripts are run as root the
# servers, pg_regress and the TAP tests run as the "postgres" system user
# (created by the postgresql-15 package); otherwise as the invoking user.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAKE=${MAKE:-make}

# PG_CONFIG from the caller wins.  Otherwise prefer PostgreSQL 15's own
# pg_config: /usr/bin/pg_config follows the newest installed server, which
# need not be 15.  Resolved again by pg_locate, after packages are installed.
PG_CONFIG_GIVEN=${PG_CONFIG:-}
pg_config_path()
{
	if [ -n "$PG_CONFIG_GIVEN" ]; then
		echo "$PG_CONFIG_GIVEN"
	elif [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		echo /usr/lib/postgresql/15/bin/pg_config
	else
		echo pg_config
	fi
}
PG_CONFIG=$(pg_config_path)

log() { printf '%s\n' "== $*" >&2; }
die() { printf '%s\n' "ERROR: $*" >&2; exit 1; }

# Run a command as root: directly, or through sudo for a normal user.
as_root()
{
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root for: $* (run as root, or install sudo)"
	fi
}

# Locate the PostgreSQL installation; call after the packages are present.
pg_locate()
{
	PG_CONFIG=$(pg_config_path)
	command -v "$PG_CONFIG" >/dev/null 2>&1 || die "pg_config not found ($PG_CONFIG)"
	PG_BINDIR=$("$PG_CONFIG" --bindir)
	PGXS_DIR=$(dirname "$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")")
	[ -x "$PG_BINDIR/postgres" ] || die "no server binaries in $PG_BINDIR (postgresql-15 missing?)"
	if [ "$(id -u)" -eq 0 ]; then
		PG_OS_USER=postgres
		id "$PG_OS_USER" >/dev/null 2>&1 || die "system user 'postgres' missing (is postgresql-15 installed?)"
	else
		PG_OS_USER=$(id -un)
	fi
	export PG_BINDIR PGXS_DIR PG_OS_USER
}

# Run a command as the unprivileged server user.  The environment is passed
# explicitly by callers through env(1); runuser keeps it otherwise too.
# Without the install lock's descriptor (hold_install_lock): a server the
# command starts, and forgets to stop, must not hold the machine's lock.
as_pg()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PG_OS_USER" -- "$@" 9>&-
	else
		"$@" 9>&-
	fi
}

# Same, from /: the current directory may be out of that user's reach.
as_pg_cd()
{
	(cd / && as_pg "$@")
}

# Create a scratch directory owned by the server user; prints its path.
pg_scratch_dir()
{
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pg_continuous-$1.XXXXXX")
	chmod 755 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$PG_OS_USER": "$dir"
	fi
	printf '%s\n' "$dir"
}

# hold_install_lock: the extension is installed into the one PostgreSQL
# tree of the machine, so two checkouts testing or benchmarking at once
# would run each other's build.  Holds a lock until the script exits.
hold_install_lock()
{
	exec 9>"${TMPDIR:-/tmp}/pg_continuous-test.lock"
	if ! flock -n 9; then
		log "another make test or bench is running on this machine; waiting for it"
		flock 9
	fi
}

# First TCP port >= $1 on which nothing listens on localhost.
free_port()
{
	local port=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
	printf '%s\n' "$port"
}

# pg_init DATADIR: initdb as the server user, superuser "postgres", trust
# authentication (scratch clusters listen on localhost only).
pg_init()
{
	as_pg_cd "$PG_BINDIR/initdb" -D "$1" -U postgres -A trust --no-sync \
		-E UTF8 --locale=C >"$1.initdb.log" 2>&1 ||
		{ cat "$1.initdb.log" >&2; die "initdb failed"; }
}

# pg_server_conf PORT: the settings every scratch server of the harness
# shares (localhost only, the extension preloaded, logical decoding on).
pg_server_conf()
{
	cat <<EOF
port = $1
listen_addresses = 'localhost'
unix_socket_directories = ''
shared_preload_libraries = 'pg_continuous'
wal_level = logical
max_replication_slots = 10
max_worker_processes = 16
EOF
}

# pg_start DATADIR LOGFILE: start and wait until it accepts connections.
pg_start()
{
	as_pg_cd "$PG_BINDIR/pg_ctl" -D "$1" -l "$2" -w -t 120 start >/dev/null ||
		{ tail -n 50 "$2" >&2; die "server did not start (log: $2)"; }
}

# pg_stop DATADIR: fast shutdown if running, immediate if that hangs.
# Fails if the server is still running.
pg_stop()
{
	[ -f "$1/postmaster.pid" ] || return 0
	local rc=0
	as_pg_cd "$PG_BINDIR/pg_ctl" -D "$1" status >/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 3 ] || return 0		# 3: no server running
	as_pg_cd "$PG_BINDIR/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null && return 0
	log "fast shutdown of $1 did not finish; immediate shutdown"
	as_pg_cd "$PG_BINDIR/pg_ctl" -D "$1" -m immediate -w -t 60 stop >/dev/null
}
