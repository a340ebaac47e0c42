# Copyright (c) pg_continuous contributors

# Faults that once stopped every view of a database, with kill -9 on top:
#
#   - a view created just before the worker dies, with flush_interval
#     long enough that no flush followed: after the restart it counts every
#     row committed after its creation (it used to wait forever for its
#     creating transaction, which lay before the restart position);
#   - a view whose aggregate's combine function raises: it is marked
#     failed, stays failed across a restart without the worker restarting
#     in a loop, and the other views go on exactly;
#   - a Kafka message whose group key (2 MB; the mock cluster keeps no more
#     than about 5 MiB per partition) cannot be stored: a dead letter of the
#     view, exactly once across a kill -9, while the rest of the topic
#     counts.

use strict;
use warnings;

use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::MockKafka;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $node = continuous_node('faults', "continuous.flush_interval = '60s'\n");
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k text, v int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('ev', event_time => 'ts');
CREATE VIEW early WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
INSERT INTO ev SELECT 'k' || (g % 5), g FROM generate_series(1, 100) g;
SELECT continuous.sync();
});

# --- a view's start, with no flush after its creation ----------------------
$node->safe_psql('postgres', q{
CREATE VIEW late_born WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
INSERT INTO ev SELECT 'k' || (g % 5), g FROM generate_series(101, 300) g;
INSERT INTO ev SELECT 'k' || (g % 5), g FROM generate_series(301, 400) g;
});
kill9_worker_and_wait($node);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is_same_rows($node, 'late_born',
	'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'a view created just before kill -9 counts the rows it backfilled and every row committed after it');
is_same_rows($node, 'early', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'and the older view counts each row once');

# --- a view that fails ---------------------------------------------------
$node->safe_psql('postgres', q{
CREATE FUNCTION picky_combine(int8, int8) RETURNS int8 LANGUAGE plpgsql AS $$
BEGIN
    IF $1 < 0 OR $2 < 0 THEN
        RAISE EXCEPTION 'picky_combine refuses % and %', $1, $2;
    END IF;
    RETURN $1 + $2;
END $$;
CREATE AGGREGATE picky_sum(int) (SFUNC = int84pl, STYPE = int8,
                                 COMBINEFUNC = picky_combine, INITCOND = '0');
CREATE VIEW picky WITH (continuous) AS SELECT k, picky_sum(v) AS s FROM ev GROUP BY k;
INSERT INTO ev SELECT 'k' || (g % 5), g FROM generate_series(401, 500) g;
SELECT continuous.sync();
INSERT INTO ev VALUES ('k1', -1);
});
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT continuous.sync()');
is($ret, 0, 'sync() returns while a view has failed');
like($err, qr/WARNING:  continuous view picky has failed and is not up to date\nDETAIL:  picky_combine refuses \d+ and -1/,
	'sync() names the failed view and why');
like( $node->safe_psql('postgres',
		q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'picky'::regclass}),
	qr/^failed: picky_combine refuses \d+ and -1$/,
	'continuous.views says it failed, and why');
my $picky_state = $node->safe_psql('postgres', 'SELECT k, s FROM picky ORDER BY k');
is( $picky_state,
	$node->safe_psql('postgres',
		q{SELECT k, sum(v) FROM ev WHERE v > 0 GROUP BY k ORDER BY k}),
	'the failed view keeps its last good state');

kill9_worker_and_wait($node);
my $worker = worker_pid($node);
$node->safe_psql('postgres',
	q{INSERT INTO ev SELECT 'k' || (g % 5), g FROM generate_series(501, 600) g});
for my $round (1 .. 3)
{
	$node->safe_psql('postgres',
		"INSERT INTO ev VALUES ('k2', $round); SELECT continuous.sync()");
}
is(worker_pid($node), $worker, 'after a restart the failed view does not make the worker restart');
is($node->safe_psql('postgres', q{SELECT status FROM continuous.views WHERE view = 'picky'::regclass}),
	'failed', 'the view is still failed after the restart');
is($node->safe_psql('postgres', 'SELECT k, s FROM picky ORDER BY k'),
	$picky_state, 'and still holds its last good state');
is_same_rows($node, 'early', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'views beside the failed one are exact');

# once its cause is gone, a rebuild brings it back, exact and counting on
$node->safe_psql('postgres', q{DELETE FROM ev WHERE v < 0; SELECT continuous.rebuild('picky')});
$node->safe_psql('postgres', q{INSERT INTO ev VALUES ('k3', 7); SELECT continuous.sync()});
is($node->safe_psql('postgres', q{SELECT status FROM continuous.views WHERE view = 'picky'::regclass}),
	'active', 'continuous.rebuild() brings the failed view back');
is_same_rows($node, 'picky', 'SELECT k, sum(v) FROM ev GROUP BY k',
	'and it equals its SELECT, with the rows committed after the rebuild');
unlike(slurp_file($node->logfile), qr/(PANIC|server process .* was terminated by signal 11)/,
	'no crash');

# --- a Kafka message whose key cannot be stored ---------------------------
my $broker    = PgContinuous::MockKafka->start('big:1');
my $bootstrap = $broker->bootstrap;
my $tempdir   = PostgreSQL::Test::Utils::tempdir;
open(my $fh, '>', "$tempdir/messages.json") or die;
srand(17);    # a key that does not compress, the same every run
for my $i (1 .. 1000)
{
	print $fh qq({"k": "key@{[ $i % 7 ]}", "v": $i}\n);
	print $fh '{"k": "' . join('', map { chr(97 + int(rand(26))) } 1 .. 2_000_000)
	  . qq(", "v": -$i}\n)
	  if $i == 500;
}
close($fh);
my ($pout, $perr) = ('', '');
ok( IPC::Run::run(
		[ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', 'big', '-X', 'message.max.bytes=8000000' ],
		'<', "$tempdir/messages.json", '>', \$pout, '2>', \$perr),
	'produced the messages')
  or diag $perr;
like($pout, qr/produced 1001/, 'the broker took all 1001 messages');

$node->safe_psql('postgres', qq{
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE big (k text, v int) SERVER mock
    OPTIONS (topic 'big', format 'json', start_offset 'earliest');
CREATE VIEW per_key WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM big GROUP BY k;
});
kill9_worker_and_wait($node);
$node->safe_psql('postgres', q{SELECT continuous.sync('2 minutes')});
is( $node->safe_psql('postgres',
		q{SELECT count(*), min(length(payload)) > 2000000, min(error) FROM continuous.dead_letters
		  WHERE view = 'per_key'::regclass}),
	'1|t|group key of continuous view "per_key" is too large to be stored',
	'the message with the 2 MB key is one dead letter of the view');
is( $node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM per_key'),
	'1000|500500', 'every other message counts, once');
is($node->safe_psql('postgres', q{SELECT status FROM continuous.views WHERE view = 'per_key'::regclass}),
	'active', 'the Kafka view stays active');

$broker->stop;
$node->stop;
done_testing();
