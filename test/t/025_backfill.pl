# Backfill under concurrency and crashes: a continuous view created over a
# table stream that already has rows, while other sessions insert (some of
# their transactions roll back), equals its SELECT over the whole table,
# exactly once; so does continuous.rebuild() run while they insert.  A
# kill -9 in the middle of a backfill (a crash of the server: PostgreSQL
# restarts every process when one is killed) leaves no view behind and
# loses nothing, and the view created again is exact.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;

# small chunks: a backfill folds many chunks before it writes, and a view
# that cannot fold (per_name, a lookup join) writes its storage many times
# in one transaction
my $node = continuous_node('backfill',
	"continuous.flush_interval = '50ms'\ncontinuous.batch_events = 500\n");

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
INSERT INTO ev SELECT g % 97, g, '2026-01-01'::timestamptz + g * interval '1 second'
FROM generate_series(1, 100000) g;
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '1 day');
CREATE TABLE dims (k int PRIMARY KEY, name text NOT NULL);
INSERT INTO dims SELECT k, 'name ' || k % 5 FROM generate_series(0, 96) k;
-- holds up a backfill at the row whose v is 400000, while a session holds
-- the advisory lock 2501
CREATE FUNCTION backfill_gate(v int) RETURNS boolean STABLE LANGUAGE plpgsql AS $$
BEGIN
    IF v = 400000 THEN
        PERFORM pg_advisory_xact_lock_shared(2501);
    END IF;
    RETURN true;
END
$$;
});

my %views = (
	per_key => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k',
	per_hour => "SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n, max(v) AS top "
	  . 'FROM ev GROUP BY hour',
	total => 'SELECT count(*) AS n, sum(v) AS s FROM ev',
	per_key_again => 'SELECT k, min(v) AS low, count(*) AS n FROM ev GROUP BY k',
	per_name => 'SELECT d.name, count(*) AS n, sum(ev.v) AS s FROM ev JOIN dims d ON d.k = ev.k '
	  . 'GROUP BY d.name',
);

# writers: most transactions commit, one in ten rolls back
my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/commit.sql", q{
\set k random(0, 96)
INSERT INTO ev VALUES (:k, 1000000 + :k, now() - interval '10 minutes' * random());
});
PostgreSQL::Test::Utils::append_to_file("$dir/rollback.sql", q{
\set k random(0, 96)
BEGIN;
INSERT INTO ev VALUES (:k, -1, now());
ROLLBACK;
});
my $writers = IPC::Run::start(
	[
		$node->installed_command('pgbench'), '-n', '-c', '3', '-T', '12',
		'-f', "$dir/commit.sql\@9", '-f', "$dir/rollback.sql\@1",
		'-d', $node->connstr('postgres')
	],
	'>', "$dir/pgbench.out", '2>', "$dir/pgbench.err");

# the views are created while they write, one after the other
foreach my $name (sort keys %views)
{
	$node->safe_psql('postgres', "CREATE VIEW $name WITH (continuous) AS $views{$name}");
}
# a view created in a transaction that wrote the stream first
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO ev VALUES (1, 3000000, now());
CREATE VIEW own_rows WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
INSERT INTO ev VALUES (1, 3000001, now());
COMMIT;
});
$views{own_rows} = 'SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k';
# and a rebuild while they write
my $rows = $node->safe_psql('postgres', "SELECT continuous.rebuild('per_key')");
cmp_ok($rows, '>=', 100000, 'the rebuild read every row that was there');

$writers->finish;
like(slurp_file("$dir/pgbench.out"), qr/number of transactions actually processed: [1-9]/, 'the writers ran');
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev WHERE v = -1'), '0',
	'no rolled-back row is in the table');
foreach my $name (sort keys %views)
{
	is_same_rows($node, $name, $views{$name},
		"$name equals its SELECT over the table after concurrent writers");
}
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.views WHERE status <> 'active' OR errors > 0"),
	'0', 'no view failed, no dead letters');

# kill -9 of the backend during a long backfill: no view, nothing lost.
# The backfill is held at its last row (backfill_gate()) by a lock.
$node->safe_psql('postgres', q{
INSERT INTO ev SELECT g % 97, g, now() - g * interval '1 millisecond'
FROM generate_series(1, 400000) g;
});
my $gate = $node->background_psql('postgres', on_error_stop => 0);
$gate->query_safe('SELECT pg_advisory_lock(2501)');
my $creator = $node->background_psql('postgres', on_error_stop => 0);
my $victim = $creator->query_safe('SELECT pg_backend_pid()');
$creator->query_until(qr/started/, q{
\echo started
CREATE VIEW doomed WITH (continuous) AS SELECT k, count(*) AS n FROM ev WHERE backfill_gate(v) GROUP BY k;
});
ok( poll_until($node, 'postgres',
		"SELECT rows_done > 0 AND kind = 'backfill' AND view = 'public.doomed' "
		  . "AND b.pid = $victim AND a.wait_event = 'advisory' "
		  . "FROM continuous.backfills b JOIN pg_stat_activity a ON a.pid = b.pid"),
	'continuous.backfills shows the backfill under way, held at its last row');
# PostgreSQL answers the kill of a backend by restarting every process
my $checkpointer_of = "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'";
my $checkpointer = $node->safe_psql('postgres', $checkpointer_of);
kill 'KILL', $victim;
ok( poll_until($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'checkpointer' AND pid <> $checkpointer"),
	'the server restarted after the kill -9');
eval { $creator->quit };
eval { $gate->quit };
is($node->safe_psql('postgres', "SELECT to_regclass('doomed') IS NULL"), 't',
	'the killed CREATE VIEW left no view');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_class WHERE relname LIKE 'doomed%'"),
	'0', 'nor storage');
$node->safe_psql('postgres', 'INSERT INTO ev VALUES (5, 5, now()); SELECT continuous.sync()');
foreach my $name (sort keys %views)
{
	is_same_rows($node, $name, $views{$name}, "$name is still exact after the crash");
}

# created again after the crash: the backfill reads what the crash left,
# in chunks of 500 rows, folded (it took 93 s when each chunk wrote)
note('ev holds ' . $node->safe_psql('postgres', 'SELECT count(*) FROM ev') . ' rows');
$node->safe_psql('postgres',
	'CREATE VIEW survivor WITH (continuous) AS SELECT k, count(*) AS n, max(ts) AS last FROM ev GROUP BY k');
$node->safe_psql('postgres', 'INSERT INTO ev VALUES (6, 6, now()); SELECT continuous.sync()');
is_same_rows($node, 'survivor', 'SELECT k, count(*) AS n, max(ts) AS last FROM ev GROUP BY k',
	'the view created again after the crash equals its SELECT');
is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.backfills'), '0',
	'no backfill is left in continuous.backfills');

$node->stop;
done_testing();
