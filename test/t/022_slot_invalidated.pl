# Copyright (c) pg_continuous contributors

# The database's replication slot is invalidated for keeping more WAL than
# max_slot_wal_keep_size (the worker was held up while much WAL was
# written).  The WAL its views still needed is gone: there must be no
# crash loop; the worker makes a new slot and computes the views of table
# streams again from their tables (the table is the source of truth), so
# that they equal their SELECT, including the rows committed while the
# slot could not keep them; a view created afterwards is exact too.  An
# interval join view is computed again from both its streams' tables.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $node = continuous_node('slot_lost', "max_slot_wal_keep_size = '1MB'\n");
my $worker_of_db =
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
  . "AND datname = 'postgres'";

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int);
SELECT continuous.create_stream('ev');
CREATE VIEW before_loss WITH (continuous) AS SELECT k, count(*) AS n FROM ev GROUP BY k;
CREATE TABLE junk (filler text);
INSERT INTO ev SELECT g % 5, g FROM generate_series(1, 100) g;
CREATE TABLE imps (id int, ts timestamptz NOT NULL);
CREATE TABLE taps (imp int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('imps', event_time => 'ts', watermark_delay => '1 hour');
SELECT continuous.create_stream('taps', event_time => 'ts', watermark_delay => '1 hour');
CREATE VIEW joined WITH (continuous) AS
  SELECT i.id % 3 AS k, count(*) AS n FROM imps i JOIN taps t
      ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '1 minute' GROUP BY 1;
INSERT INTO imps SELECT g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, 100) g;
INSERT INTO taps SELECT g, timestamptz '2026-01-01' + g * interval '1 second' + interval '30 seconds'
  FROM generate_series(1, 100) g;
SELECT continuous.sync();
});

# Hold the worker in the middle of a flush, so that its slot stays where it
# is, and write several WAL segments meanwhile.
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; SELECT lsn FROM continuous.decoder_position FOR UPDATE');
$node->safe_psql('postgres', 'INSERT INTO ev SELECT g % 5, g FROM generate_series(101, 200) g');
$node->safe_psql('postgres', q{
INSERT INTO imps SELECT g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(101, 200) g;
INSERT INTO taps SELECT g / 2, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(101, 300) g;
});
ok( poll_until($node, 'postgres', q{
SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'pg_continuous worker' AND wait_event_type = 'Lock'}, '1'),
	'the worker is held in a flush');
my $held = $node->safe_psql('postgres', $worker_of_db);
for (1 .. 4)
{
	$node->safe_psql('postgres',
		"INSERT INTO junk SELECT repeat('x', 1000) FROM generate_series(1, 1000); SELECT pg_switch_wal()");
}
$node->safe_psql('postgres', 'CHECKPOINT');
ok( poll_until($node, 'postgres',
		q{SELECT wal_status FROM pg_replication_slots WHERE slot_name LIKE 'continuous_%'}, 'lost')
	  || poll_until($node, 'postgres',
		q{SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'continuous_%' AND restart_lsn IS NULL}, '1'),
	'the checkpoint invalidated the slot');
$holder->query_safe('ROLLBACK');
$holder->quit;

# The worker comes back, once, and the view is failed with the cause.
ok( poll_until($node, 'postgres',
		q{SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'continuous_%' AND wal_status <> 'lost' AND restart_lsn IS NOT NULL}, '1'),
	'the worker has a new slot');

my $worker = $node->safe_psql('postgres', $worker_of_db);
isnt($worker, $held, 'a new worker runs');
$node->safe_psql('postgres', q{
CREATE VIEW after_loss WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
INSERT INTO ev SELECT g % 5, g FROM generate_series(1001, 1300) g;
INSERT INTO imps SELECT g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(201, 250) g;
INSERT INTO taps SELECT g - 20, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(201, 260) g;
});
for my $round (1 .. 3)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"INSERT INTO ev VALUES (9, $round); SELECT continuous.sync()");
	is($ret, 0, "round $round: sync() returns");
	is($err, '', "round $round: without a warning");
}
is($node->safe_psql('postgres', $worker_of_db), $worker, 'the worker does not restart in a loop');
is($node->safe_psql('postgres',
		q{SELECT string_agg(status, ',') FROM continuous.views}), 'active,active,active',
	'the views are active');
is_same_rows($node, 'before_loss', 'SELECT k, count(*) FROM ev GROUP BY k',
	'the view made before the loss equals its SELECT, rows of the lost WAL included');
is_same_rows($node, 'joined',
	q{SELECT i.id % 3 AS k, count(*) AS n FROM imps i JOIN taps t
	    ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '1 minute' GROUP BY 1},
	'the interval join view equals its SELECT over both tables, rows of the lost WAL included');
cmp_ok($node->safe_psql('postgres', 'SELECT sum(n) FROM joined'), '>', 100,
	'and joins rows written after the loss');
is_same_rows($node, 'after_loss', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'a view created after the loss equals its SELECT');
my $log = slurp_file($node->logfile);
my @invalidated = ($log =~ /replication slot "continuous_\d+" was invalidated/g);
is(scalar(@invalidated), 1, 'the loss is logged once');
like($log,
	qr/computed 2 continuous views again from their stream tables \(\d+ rows\) after the replication slot of this database was invalidated \(max_slot_wal_keep_size\)/,
	'and so is the rebuild, with its cause');

$node->stop;
done_testing();
