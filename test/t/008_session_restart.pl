
# Copyright (c) pg_continuous contributors

# Session windows are exactly once across crashes: a kill -9 of the worker
# while sessions are being merged, and an immediate stop, leave no session
# missing, counted twice, or split.  One writer commits transactions that
# follow each other in event time (shuffled within each), so with
# watermark_delay 0 no event is late and the views must equal the batch
# query: sessions by lag(), and for emit = 'window_close' those of them that
# end by the watermark.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $transactions = 200;
my $rows_per_txn = 500;

my $node = continuous_node(
	'session', q{
continuous.flush_interval = 20
});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE visits (txn int, k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('visits', event_time => 'ts');
CREATE VIEW sessions WITH (continuous) AS
    SELECT k, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS n, sum(v) AS total, max(ts) AS last_ts
    FROM visits GROUP BY k, session_start;
CREATE VIEW closed_sessions WITH (continuous, emit = 'window_close') AS
    SELECT k, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS n, sum(v) AS total, max(ts) AS last_ts
    FROM visits GROUP BY k, session_start;
});

# Transaction t covers minutes [1000 t, 1000 t + 1000) of event time: 25
# events per key, about 40 minutes apart, so sessions both merge and split,
# also across transactions.
sub txn_sql
{
	my ($t) = @_;
	return "INSERT INTO visits SELECT $t, g % 20, g, "
	  . "'2026-01-01 00:00+00'::timestamptz + ($t * 1000 + (g * 7919) % 1000) * interval '1 minute' "
	  . "FROM generate_series(1, $rows_per_txn) g ORDER BY (g * 31) % 97;\n";
}

my $batch = q{
    WITH marked AS (
        SELECT k, v, ts,
               CASE WHEN ts - lag(ts) OVER w < '30 minutes' THEN 0 ELSE 1 END AS begins
        FROM visits WINDOW w AS (PARTITION BY k ORDER BY ts)
    ), numbered AS (
        SELECT k, v, ts, sum(begins) OVER (PARTITION BY k ORDER BY ts
                                           ROWS UNBOUNDED PRECEDING) AS session_no
        FROM marked
    )
    SELECT k, min(ts) AS session_start, count(*) AS n, sum(v) AS total, max(ts) AS last_ts
    FROM numbered GROUP BY k, session_no};
my $closed_batch = "SELECT * FROM ($batch) b WHERE last_ts + interval '30 minutes' <= "
  . "(SELECT watermark FROM continuous.streams WHERE stream = 'visits'::regclass)";

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	is_same_rows($node, 'sessions', $batch, "$when: sessions equal the batch query");
	is_same_rows($node, 'closed_sessions', $closed_batch,
		"$when: closed sessions equal the batch query's sessions that end by the watermark");
	is($node->safe_psql('postgres', 'SELECT sum(late_events) FROM continuous.views'),
		'0', "$when: no event was late");
}

# --- a writer, and kill -9 of the worker while it merges sessions --------
my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $script  = "$tempdir/writer.sql";
open(my $fh, '>', $script) or die "could not write $script: $!";
print $fh txn_sql($_) foreach 1 .. $transactions;
close($fh);

my ($out, $err) = ('', '');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $script ],
	'<', \undef, '>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

ok(poll_until($node, 'postgres', 'SELECT count(*) > 100 FROM sessions'),
	'sessions are being written');
note 'events in the views when the worker is killed: '
  . $node->safe_psql('postgres', 'SELECT sum(n) FROM sessions');
my $worker_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
	  . "AND datname = 'postgres'");
like($worker_pid, qr/^\d+$/, 'found the worker');
$worker_pid = 0 unless $worker_pid =~ /^\d+$/;
kill 'KILL', $worker_pid if $worker_pid;

# the postmaster resets every process, the writer's session too
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = 'postgres' AND pid <> $worker_pid",
		'1'),
	'worker restarted after the crash');
$writer->finish;

# the writer's transactions commit in order: load what it did not
my $done = $node->safe_psql('postgres', 'SELECT coalesce(max(txn), 0) FROM visits');
note "writer committed $done of $transactions transactions before the crash";
$node->safe_psql('postgres', join('', map { txn_sql($_) } $done + 1 .. $transactions))
  if $done < $transactions;

check_views('after kill -9 of the worker');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM closed_sessions'),
	'>', 1000, 'many sessions have closed');

# --- an immediate stop (crash recovery), then more events ------------------
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', join('', map { txn_sql($_) } $transactions + 1 .. $transactions + 5));
check_views('after crash recovery');
is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.dead_letters'),
	'0', 'no dead letters');

$node->stop;
done_testing();
