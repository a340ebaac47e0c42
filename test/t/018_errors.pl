# Copyright (c) pg_continuous contributors

# Errors a user can act on, for a server that is not set up for
# pg_continuous, or set up too small:
#   - without shared_preload_libraries, CREATE EXTENSION fails with an
#     ERROR that says to preload the library, and the session goes on;
#   - with max_replication_slots = 0 the worker serves without table
#     streams, says why once, and create_stream() names the setting;
#   - with every replication slot taken, the worker says so once and tries
#     again quietly; create_stream() and sync() name the cause; once a slot
#     is free, table streams work;
#   - with too few max_worker_processes for the workers, the launcher says
#     so once per worker; create_stream() and sync() name the setting;
#   - on a hot standby, continuous.sync() refuses: views are maintained on
#     the primary.
# "Once" is checked over a stretch in which the code before this test
# logged the message every second: the launcher starts a missing worker
# again every second.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;

# occurrences of $re in the server log after $offset
sub log_count
{
	my ($node, $offset, $re) = @_;
	my $log = substr(slurp_file($node->logfile), $offset);
	my @found = ($log =~ /$re/g);
	return scalar @found;
}

# --- not preloaded ---------------------------------------------------------
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->start;

my ($ret, $stdout, $stderr) = $plain->psql(
	'postgres', q{
SELECT pg_backend_pid();
CREATE EXTENSION pg_continuous;
SELECT pg_backend_pid();
CREATE EXTENSION pg_continuous;
SELECT pg_backend_pid();
SELECT count(*) FROM pg_extension WHERE extname = 'pg_continuous';
}, on_error_stop => 0);
like(
	$stderr,
	qr/ERROR:  pg_continuous must be loaded via shared_preload_libraries\n.*\n?HINT:  Add pg_continuous to shared_preload_libraries in postgresql.conf and restart the server\./,
	'without the preload, CREATE EXTENSION fails saying to preload the library');
unlike($stderr, qr/FATAL|connection to server was lost/,
	'and the error is not FATAL');
my @lines = split /\n/, $stdout;
is(scalar @lines, 4, 'the session ran every statement after the errors');
ok( $lines[0] =~ /^\d+$/ && $lines[0] eq $lines[1] && $lines[1] eq $lines[2],
	'in one and the same backend');
is($lines[3], '0', 'and the extension was not created');

# what the error says to do is enough
$plain->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_continuous'\n");
$plain->restart;
$plain->safe_psql('postgres', 'CREATE EXTENSION pg_continuous');
is( $plain->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'pg_continuous'"),
	'1',
	'with the preload and a restart, CREATE EXTENSION succeeds');
$plain->stop;

# --- max_replication_slots = 0 ---------------------------------------------
my $noslots = continuous_node('no_replication_slots',
	"max_replication_slots = 0\n");
my $offset = -s $noslots->logfile;
$noslots->safe_psql('postgres',
	'CREATE EXTENSION pg_continuous; CREATE TABLE e (k int)');
($ret, $stdout, $stderr) =
  $noslots->psql('postgres', "SELECT continuous.create_stream('e')");
like(
	$stderr,
	qr/ERROR:  table streams require max_replication_slots > 0\n.*\nHINT:  Set max_replication_slots/,
	'create_stream() names max_replication_slots when it is 0');

# the worker stays up (it used to fail and be restarted every second)
ok( poll_until(
		$noslots, 'postgres',
		"SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_continuous worker' AND datname = 'postgres' "
		  . "AND backend_start < now() - interval '3 seconds'",
		'1'),
	'with max_replication_slots = 0 the worker has run for 3 seconds');
is( log_count(
		$noslots, $offset,
		qr/table streams are off in database "postgres" because max_replication_slots is 0/
	),
	1,
	'the log says once that table streams are off, naming the setting');
is(log_count($noslots, $offset, qr/replication slots are in use/),
	0, 'and nothing about slots in use');
($ret, $stdout, $stderr) =
  $noslots->psql('postgres', "SELECT continuous.sync('10 seconds')");
is($ret, 0, 'continuous.sync() is served without table streams');
$noslots->stop;

# --- every replication slot taken ------------------------------------------
my $full = continuous_node('replication_slots_taken',
	"max_replication_slots = 1\n");
$full->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('taken')");
$offset = -s $full->logfile;
$full->safe_psql('postgres',
	'CREATE EXTENSION pg_continuous; CREATE TABLE e (k int)');
($ret, $stdout, $stderr) =
  $full->psql('postgres', "SELECT continuous.create_stream('e')");
like(
	$stderr,
	qr/ERROR:  the pg_continuous worker of this database cannot create its replication slot\nDETAIL:  All replication slots are in use \(max_replication_slots = 1\)\..*\nHINT:  Drop a replication slot that is no longer needed, or increase max_replication_slots/,
	'create_stream() says that every replication slot is taken');
($ret, $stdout, $stderr) =
  $full->psql('postgres', "SELECT continuous.sync('3 seconds')");
like(
	$stderr,
	qr/ERROR:  continuous.sync\(\) timed out\nDETAIL:  The worker of this database cannot create its replication slot.*\nHINT:  .*max_replication_slots/,
	'continuous.sync() times out naming max_replication_slots');
# create_stream() waited 2 seconds and sync() 3: the worker was started
# about five times
is( log_count(
		$full, $offset,
		qr/(?:WARNING|ERROR):  [^\n]*all replication slots are in use/),
	1,
	'the log says once that all replication slots are in use');
is(log_count($full, $offset, qr/background worker .* exited with exit code/),
	0, 'and no worker exit is logged');

# a free slot is taken at the next start
$full->safe_psql('postgres', "SELECT pg_drop_replication_slot('taken')");
ok( poll_until(
		$full, 'postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'continuous\\_%'",
		'1'),
	'the worker creates its replication slot once one is free');
$full->safe_psql(
	'postgres', q{
SELECT continuous.create_stream('e');
CREATE VIEW n WITH (continuous) AS SELECT count(*) AS n FROM e;
});
$full->safe_psql('postgres', 'INSERT INTO e SELECT generate_series(1, 100)');
is( $full->safe_psql(
		'postgres', "SELECT continuous.sync('1 minute'); SELECT n FROM n"),
	"\n100",
	'and table streams work');
$full->stop;

# --- too few background worker processes -----------------------------------
# room for the launcher only (no logical replication launcher)
my $few = continuous_node('few_worker_processes',
	"max_worker_processes = 1\nmax_logical_replication_workers = 0\n");
# from the start: the launcher meets the database at once
$offset = 0;
$few->safe_psql('postgres',
	'CREATE EXTENSION pg_continuous; CREATE TABLE e (k int)');
($ret, $stdout, $stderr) =
  $few->psql('postgres', "SELECT continuous.create_stream('e')");
like(
	$stderr,
	qr/ERROR:  the pg_continuous worker of this database cannot start\nDETAIL:  All background worker slots are in use \(max_worker_processes = 1\)\.\nHINT:  Increase max_worker_processes/,
	'create_stream() names max_worker_processes when the worker cannot start'
);
($ret, $stdout, $stderr) =
  $few->psql('postgres', "SELECT continuous.sync('3 seconds')");
like(
	$stderr,
	qr/ERROR:  continuous.sync\(\) timed out\nDETAIL:  0 of the 1 workers of this database \(continuous.workers\) are running: no background worker slot is free for the others\.\nHINT:  Increase max_worker_processes \(now 1\)/,
	'continuous.sync() times out naming max_worker_processes');
is(log_count($few, $offset, qr/could not start pg_continuous worker/),
	1, 'the log says once that the worker cannot start');
like(
	slurp_file($few->logfile),
	qr/WARNING:  could not start pg_continuous worker 1 of database "postgres"\n.*DETAIL:  All background worker slots are in use \(max_worker_processes = 1\)/,
	'naming the database and the setting');

# room for one of two workers: the second is reported, once
$few->append_conf('postgresql.conf',
	"max_worker_processes = 2\ncontinuous.workers = 2\n");
$few->restart;
$offset = -s $few->logfile;
ok( poll_until(
		$few, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker'",
		'1'),
	'one of the two workers runs');
($ret, $stdout, $stderr) =
  $few->psql('postgres', "SELECT continuous.sync('3 seconds')");
like(
	$stderr,
	qr/DETAIL:  1 of the 2 workers of this database \(continuous.workers\) are running: no background worker slot is free for the others\.\nHINT:  Increase max_worker_processes \(now 2\)/,
	'continuous.sync() says the second worker has no slot');
# the launcher logs its attempt on its own time, which under load may come
# after sync() has given up: wait for the line (an error if it never comes)
$few->wait_for_log(
	qr/could not start pg_continuous worker 2 of database "postgres"/,
	$offset);
is(log_count($few, $offset, qr/could not start pg_continuous worker/),
	1, 'the log says so once, about worker 2');
$few->stop;

# --- hot standby -----------------------------------------------------------
my $primary = continuous_node('primary');
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE e (k int);
SELECT continuous.create_stream('e');
CREATE VIEW n WITH (continuous) AS SELECT count(*) AS n FROM e;
INSERT INTO e SELECT generate_series(1, 10);
SELECT continuous.sync();
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres',
	"INSERT INTO e SELECT generate_series(1, 5); SELECT continuous.sync()");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT n FROM n'),
	'15', 'the standby shows the view as the primary wrote it');
($ret, $stdout, $stderr) =
  $standby->psql('postgres', 'SELECT continuous.sync()');
isnt($ret, 0, 'continuous.sync() fails on a standby');
like(
	$stderr,
	qr/ERROR:  continuous views are maintained on the primary only\nDETAIL:  This server is a standby.*\nHINT:  Call continuous.sync\(\) on the primary/,
	'saying that views are maintained on the primary');
($ret, $stdout, $stderr) =
  $standby->psql('postgres', "SELECT continuous.create_stream('e')");
like(
	$stderr,
	qr/ERROR:  cannot execute continuous.create_stream\(\) during recovery/,
	'create_stream() is refused on a standby at once');
$standby->stop;
$primary->stop;

done_testing();
