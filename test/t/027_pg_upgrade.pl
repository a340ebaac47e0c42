# Copyright (c) pg_continuous contributors

# pg_upgrade: a cluster whose continuous views have state is upgraded with
# pg_upgrade (to the same major version here, the one installed: the path
# through pg_dump --binary-upgrade and a new server's analysis of every
# view's SQL is the same as to a later one), and its views go on counting.
#
# Before: a table stream and views of every kind (PgContinuous::EveryKind:
# tumbling windows with emit = 'window_close' and a late-events table,
# hopping, session and count windows, hll's aggregate when installed, a
# group key that is not selected, on a column renamed afterwards), events,
# continuous.sync(), the server stopped.  After pg_upgrade:
#   - every view equals its SELECT as batch SQL over the events, and goes on
#     doing so with new events, across a kill -9 of the worker;
#   - each view is one object again: DROP TABLE of the stream, ALTER COLUMN
#     TYPE of a column a view reads and DROP TABLE of its late-events table
#     name the view, and DROP VIEW removes its storage, its table of counts
#     and its definition view (pg_dump carries no dependencies; the worker
#     records them again and says so in the log).
# The writers stop and continuous.sync() returns before the old server
# stops: the replication slot does not survive pg_upgrade before
# PostgreSQL 17, and the new one starts where the new server begins.

use strict;
use warnings;

use Cwd;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::EveryKind;
use PgContinuous::Node;

# --- before: views with state ------------------------------------------------
my $old = continuous_node('old');
$old->safe_psql('postgres', 'CREATE EXTENSION pg_continuous');
my @views = create_every_kind($old, transforms => 1);
$old->safe_psql('postgres', load_events_sql(20_000));
$old->safe_psql('postgres', 'ALTER TABLE events RENAME COLUMN region TO area');
$old->safe_psql('postgres', load_events_sql(10_000, 'area'));
check_every_kind($old, 'before pg_upgrade', 'area');
$old->stop;

# --- pg_upgrade ---------------------------------------------------------------
my $new = continuous_node('new');
$new->stop;
my $bindir = $new->config_data('--bindir');
my $cwd    = getcwd();
# it writes its scripts into the current directory
chdir $PostgreSQL::Test::Utils::tmp_check;
command_ok(
	[
		"$bindir/pg_upgrade", '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', $bindir, '-B', $bindir,
		'-s', $new->host, '-p', $old->port, '-P', $new->port
	],
	'pg_upgrade of a cluster with continuous views');
chdir $cwd;
my $log_offset = -s $new->logfile;
$new->start;

# --- after ---------------------------------------------------------------------
check_every_kind($new, 'after pg_upgrade', 'area');
my $recorded = () = substr(slurp_file($new->logfile), $log_offset) =~
  /recorded the dependencies of continuous view "[^"]+" again/g;
is($recorded, scalar(@views),
	'after pg_upgrade: the worker recorded the dependencies of each view again');

$new->safe_psql('postgres', load_events_sql(10_000, 'area'));
check_every_kind($new, 'after pg_upgrade, with new events', 'area');

my ($out, $err) = ('', '');
my $loader = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', $new->connstr('postgres'), '-c', load_events_sql(20_000, 'area')
	],
	'>', \$out, '2>', \$err);
ok(poll_until($new, 'postgres', 'SELECT c > 42000 FROM totals'),
	'after pg_upgrade: events loading');
kill9_worker_and_wait($new);
$loader->finish;
resume_events($new, 'area');
check_every_kind($new, 'after pg_upgrade, after kill -9 of the worker while loading',
	'area');

# each view is one object again
my ($rc, $stdout, $stderr) = $new->psql('postgres', 'DROP TABLE events');
like($stderr, qr/DETAIL:  view closed_minutes depends on table events/,
	'after pg_upgrade: DROP TABLE of the stream names its views');
unlike($stderr, qr/continuous_storage/, '... and no internal object');
($rc, $stdout, $stderr) =
  $new->psql('postgres', 'ALTER TABLE events ALTER COLUMN area TYPE varchar');
like($stderr, qr/DETAIL:  Continuous view (kept_events|per_region|users_per_region) depends on column "area"/,
	'after pg_upgrade: ALTER COLUMN TYPE names the continuous view');
($rc, $stdout, $stderr) = $new->psql('postgres', 'DROP TABLE late_events');
like($stderr, qr/view closed_minutes depends on table late_events/,
	'after pg_upgrade: the late-events table belongs to its view');
$new->safe_psql('postgres', 'DROP VIEW hundreds');
is( $new->safe_psql('postgres',
		"SELECT count(*) FROM pg_class WHERE relname LIKE 'hundreds%' "
		  . "AND relnamespace = 'continuous_storage'::regnamespace"),
	'0',
	'after pg_upgrade: DROP VIEW removes storage, table of counts and definition view');

$new->stop;
done_testing();
