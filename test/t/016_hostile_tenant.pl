# Copyright (c) pg_continuous contributors

# A database owner who is not a superuser tries to borrow the worker's
# rights (the worker is a background worker of the bootstrap superuser):
#
#   - schema "evil" first on the database's search_path, with operators and
#     functions named like those the worker's SQL uses (=, +, >, <=, now(),
#     format(), string_agg(), unnest()), each of which tries ALTER ROLE
#     ... SUPERUSER and notes who called it;
#   - database settings that would make the worker someone else (role,
#     session_authorization) or break its transactions (read-only default,
#     serializable, exit_on_error, 1 ms timeouts, synchronous_commit off);
#   - aggregates whose transition and combine functions note who runs them;
#   - and, from postgresql.conf (an administrator's doing, not the
#     tenant's), default_transaction_read_only = on.
#
# Last, alice holds a lock on her stream in an open transaction while
# another tenant creates a view: the worker, loading every view of the
# database anew, must not wait for her.
#
# The worker must keep running as itself, never call the owner's code with
# any rights but the owner's, and keep every view equal to its batch query:
# a plain view, a windowed one with retention (the worker deletes expired
# windows with operators), a count window (an upsert) and a late_events
# table (rows inserted as the view's owner).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Hostile;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $node = continuous_node('hostile', "default_transaction_read_only = on\n");

# the test's own sessions keep sane settings (the client's beat the others)
local $ENV{PGOPTIONS} =
    '-c search_path=public -c default_transaction_read_only=off '
  . '-c default_transaction_isolation=read\ committed -c exit_on_error=off '
  . '-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0';

$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE DATABASE adb OWNER alice;
});
$node->safe_psql('adb', 'CREATE EXTENSION pg_continuous');

sub alice
{
	my ($sql) = @_;
	return $node->safe_psql('adb', $sql, extra_params => [ '-U', 'alice' ]);
}

alice(hostile_schema_sql('alice') . q{
-- an aggregate of alice's: its code must run as alice, never as the worker
CREATE FUNCTION public.noting_sfunc(int8, int) RETURNS int8 LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('transition'); RETURN $1 + $2; END $$;
CREATE FUNCTION public.noting_combine(int8, int8) RETURNS int8 LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('combine'); RETURN $1 + $2; END $$;
CREATE AGGREGATE public.noting_sum(int) (SFUNC = noting_sfunc, STYPE = int8,
    COMBINEFUNC = noting_combine, INITCOND = '0');

CREATE TABLE ev (k text, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('ev', event_time => 'ts');
CREATE VIEW per_k WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s, noting_sum(v) AS ns FROM ev GROUP BY k;
CREATE VIEW per_minute WITH (continuous, retention = '10 minutes',
                             late_events = 'late_ev') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM ev GROUP BY minute;
CREATE VIEW per_run WITH (continuous) AS
    SELECT k, continuous.count_window(3) AS run, count(*) AS n FROM ev GROUP BY k, run;
});

# Now the database's settings turn hostile, for every session that does not
# override them, and so for the worker at its next start.
alice(q{
ALTER DATABASE adb SET search_path = evil, pg_catalog, public;
ALTER DATABASE adb SET role = 'alice';
ALTER DATABASE adb SET session_authorization = 'alice';
ALTER DATABASE adb SET default_transaction_read_only = on;
ALTER DATABASE adb SET default_transaction_isolation = 'serializable';
ALTER DATABASE adb SET exit_on_error = on;
ALTER DATABASE adb SET statement_timeout = '1ms';
ALTER DATABASE adb SET lock_timeout = '1ms';
ALTER DATABASE adb SET idle_in_transaction_session_timeout = '1ms';
ALTER DATABASE adb SET synchronous_commit = off;
});
my $worker_of_adb =
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' AND datname = 'adb'";
my $worker = restart_worker($node, 'adb', 'the worker starts again under the hostile settings');

# Events, some late for the windowed view, over a few flushes.
for my $round (1 .. 3)
{
	alice(qq{
INSERT INTO ev SELECT 'k' || (g % 7), g, '2026-01-01 00:00:00+00'::timestamptz
       + make_interval(mins => $round * 10) + make_interval(secs => g)
FROM generate_series(1, 500) g;
INSERT INTO ev VALUES ('late', 1, '2026-01-01 00:00:00+00');
SELECT continuous.sync();
});
}

is( $node->safe_psql('postgres',
		"SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'"),
	'f', 'alice did not become superuser');
is(alice(q{SELECT string_agg(DISTINCT fn, ', ' ORDER BY fn) FROM whoami WHERE usr <> 'alice'}),
	'', 'no code of alice ran with anyone else\'s rights');
is(alice(q{SELECT string_agg(DISTINCT fn, ', ' ORDER BY fn) FROM whoami WHERE fn NOT IN ('transition', 'combine')}),
	'', 'the worker called none of the hijacking operators and functions');
ok(alice(q{SELECT count(*) > 0 FROM whoami WHERE fn = 'combine'}) eq 't',
	'the aggregate\'s combine function ran, as alice');
is($node->safe_psql('postgres', $worker_of_adb),
	$worker, 'the worker never restarted');

# ... and the views are exact.
is_same_rows($node, 'per_k',
	'SELECT k, count(*), sum(v), sum(v)::int8 FROM ev GROUP BY k',
	'plain view equals its batch query', 'adb');
is(alice('SELECT count(*) FROM late_ev'), '2',
	'the two late events went to late_ev, inserted as the view\'s owner');
is_same_rows($node,
	'per_minute',
	"SELECT continuous.tumble(ts, '1 minute'), count(*) FROM ev "
	  . "WHERE continuous.tumble(ts, '1 minute') + interval '1 minute' > "
	  . "(SELECT watermark - interval '10 minutes' FROM continuous.streams) GROUP BY 1",
	'windowed view keeps exactly the windows within its retention', 'adb');
is_same_rows($node, 'per_run',
	'SELECT k, run, count(*) FROM (SELECT k, '
	  . '(row_number() OVER (PARTITION BY k ORDER BY ctid) - 1) / 3 AS run FROM ev) e '
	  . 'GROUP BY k, run',
	'count window view equals its batch query', 'adb');

# --- a tenant's lock on its stream holds up nobody else ---------------------
$node->safe_psql('postgres', 'CREATE ROLE bob LOGIN');
$node->safe_psql('adb', 'GRANT CREATE ON SCHEMA public TO bob');
my $locker = $node->background_psql('adb', extra_params => [ '-U', 'alice' ]);
$locker->query_safe('BEGIN; LOCK TABLE ev IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('adb', q{
CREATE TABLE bob_ev (k int);
SELECT continuous.create_stream('bob_ev');
CREATE VIEW bob_counts WITH (continuous) AS SELECT k, count(*) AS n FROM bob_ev GROUP BY k;
INSERT INTO bob_ev SELECT g % 3 FROM generate_series(1, 300) g;
}, extra_params => [ '-U', 'bob' ]);
my ($ret, $out, $err) = $node->psql('adb', q{SELECT continuous.sync('20 seconds')},
	extra_params => [ '-U', 'bob' ]);
is($ret, 0, 'sync() returns while another tenant holds a lock on her stream')
  or diag $err;
is($node->safe_psql('adb', 'SELECT sum(n) FROM bob_counts', extra_params => [ '-U', 'bob' ]),
	'300', 'and the new view of the other tenant is up to date');
$locker->query_safe('COMMIT');
$locker->quit;

$node->stop;
done_testing();
