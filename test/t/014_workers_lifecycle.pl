# Copyright (c) pg_continuous contributors

# The life of a database's workers with continuous.workers = 3: all three
# start with the extension, serve continuous.sync() for table streams (the
# further ones have no Kafka stream to consume), come back after kill -9 of
# one of them, leave on DROP EXTENSION and come back on CREATE EXTENSION,
# and step aside for DROP DATABASE while another database keeps its own.
# Without room for all of them, continuous.sync() says so.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $node = continuous_node('workers', "continuous.workers = 3\n");

sub workers_of
{
	my ($db) = @_;
	return "SELECT count(*) FROM pg_stat_activity "
	  . "WHERE backend_type = 'pg_continuous worker' AND datname = '$db'";
}

my $setup = q{
CREATE EXTENSION pg_continuous;
CREATE TABLE e (k int, v int);
SELECT continuous.create_stream('e');
CREATE VIEW per_k WITH (continuous) AS SELECT k, count(*) AS c, sum(v) AS s FROM e GROUP BY k;
};
my $batch = 'SELECT k, count(*), sum(v) FROM e GROUP BY k';

$node->safe_psql('postgres', 'CREATE DATABASE a');
$node->safe_psql('a', $setup);
ok(poll_until($node, 'a', workers_of('a'), '3'), 'three workers serve database a');

$node->safe_psql('a', 'INSERT INTO e SELECT g % 10, g FROM generate_series(1, 10000) g');
$node->safe_psql('a', "SELECT continuous.sync('1 minute')");
is_same_rows($node, 'per_k', $batch,
	'a table stream view is up to date after sync() with three workers', 'a');

# kill -9 of a further worker: the postmaster restarts everything, and
# sync() waits for the workers to come back rather than failing
my $pid = $node->safe_psql('a',
	"SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_continuous worker 3'");
ok($pid =~ /^\d+$/, "worker 3 runs ($pid)");
kill 'KILL', $pid;
ok( poll_until($node, 'a',
		workers_of('a') . " AND pid <> $pid", '3'),
	'three workers again after kill -9 of worker 3');
$node->safe_psql('a', 'INSERT INTO e SELECT g % 10, g FROM generate_series(1, 1000) g');
is( $node->safe_psql('a',
		"SELECT continuous.sync('1 minute'); SELECT sum(c) FROM per_k"),
	"\n11000", 'no event lost or counted twice across the restart');

# DROP EXTENSION: every worker leaves; CREATE EXTENSION: they come back
$node->safe_psql('a', 'DROP EXTENSION pg_continuous CASCADE');
ok(poll_until($node, 'a', workers_of('a'), '0'),
	'DROP EXTENSION stops all three workers');
$node->safe_psql('a', 'CREATE EXTENSION pg_continuous');
ok(poll_until($node, 'a', workers_of('a'), '3'),
	'CREATE EXTENSION starts three workers again');

# DROP DATABASE of another database with three workers of its own
$node->safe_psql('postgres', 'CREATE DATABASE b');
$node->safe_psql('b', $setup);
ok(poll_until($node, 'b', workers_of('b'), '3'), 'three workers serve database b');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP DATABASE b');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'b'"),
	'0', 'DROP DATABASE succeeds while its three workers run');
ok(poll_until($node, 'a', workers_of('a'), '3'), 'database a keeps its three workers');
is($node->safe_psql('postgres', workers_of('b')), '0', 'none is left for database b');
unlike(
	substr(slurp_file($node->logfile), $log_offset),
	qr/FATAL:  database \d+ does not exist/,
	'no worker was started for the dropped database');

# room for the two launchers (ours and logical replication's) and one
# worker only: continuous.sync() says why it cannot end
$node->append_conf('postgresql.conf', "max_worker_processes = 3\n");
$node->restart;
ok(poll_until($node, 'a', workers_of('a'), '1'), 'one worker starts in database a');
my ($ret, $stdout, $stderr) =
  $node->psql('a', "SELECT continuous.sync('2 seconds')");
isnt($ret, 0, 'continuous.sync() fails when workers are missing');
like(
	$stderr,
	qr/timed out.*\n.*DETAIL:  1 of the 3 workers of this database \(continuous\.workers\) are running/,
	'and says how many of the workers run');
like($stderr, qr/HINT:  .*max_worker_processes/, 'with a hint at max_worker_processes');

$node->stop;
done_testing();
