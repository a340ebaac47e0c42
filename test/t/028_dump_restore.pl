# Copyright (c) pg_continuous contributors

# Dump and restore: a database with continuous views of every kind
# (PgContinuous::EveryKind: window_close with a late-events table, session
# and count windows, hll), a partitioned table stream and a Kafka stream is
# dumped with pg_dump (plain and -Fc) and pg_dumpall, some events not yet
# flushed (flush_interval is an hour: only continuous.sync() flushes), and
# restored into fresh clusters with the library preloaded, with no manual
# step.  In each:
#   - continuous.views lists the same views with the same options, all
#     active, none pending;
#   - every view of a table stream equals its SELECT as batch SQL over the
#     restored rows, and over them plus new events;
#   - the Kafka view has its dumped state and goes on from its dumped
#     offsets: it counts every message produced, each once.
# The same with pg_restore -j 4, --single-transaction, psql -1, a
# --schema-only restore followed by --data-only --disable-triggers, and
# into a cluster whose bootstrap superuser has another name, and while the
# worker is still making its replication slot.
# A restore into a server without the preload fails at CREATE EXTENSION
# with the error that names shared_preload_libraries.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::EveryKind;
use PgContinuous::MockKafka;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $settings = "continuous.flush_interval = '1h'\n";
my $tempdir  = PostgreSQL::Test::Utils::tempdir;

my $broker    = PgContinuous::MockKafka->start('orders:2');
my $bootstrap = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");

my $produced = 0;

# n more messages: order i of customer i % 7, amount i
sub produce_orders
{
	my ($n) = @_;
	my $file = "$tempdir/orders_$produced.json";
	open my $fh, '>', $file or die $!;
	for my $i ($produced .. $produced + $n - 1)
	{
		printf $fh qq({"id": %d, "customer": %d, "amount": %d, "ts": "2026-01-01 00:00:%02d+00"}\n),
		  $i, $i % 7, $i, $i % 60;
	}
	close $fh;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', 'orders' ],
		'<', $file, '>', \$out, '2>', \$err);
	ok($ok, "produced $n orders") or diag $err;
	$produced += $n;
	return;
}

sub check_kafka
{
	my ($node, $when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	my $expected_sum = $produced * ($produced - 1) / 2;
	is( $node->safe_psql('postgres',
			'SELECT sum(n), sum(total) FROM orders_per_customer'),
		"$produced|$expected_sum",
		"$when: the Kafka view counted each of the $produced orders once");
	return;
}

my $partitioned_batch =
  'SELECT host, count(*) AS n, max(cpu) AS peak FROM metrics GROUP BY host';

sub load_metrics
{
	my ($node, $from, $n) = @_;
	$node->safe_psql('postgres', qq{
INSERT INTO metrics
SELECT 'host ' || (i % 3), i % 100,
       timestamptz '2026-05-20 00:00+00' + i * interval '1 hour'
  FROM generate_series($from, $from + $n - 1) i;
});
	return;
}

sub check_all
{
	my ($node, $when) = @_;
	check_every_kind($node, $when);
	is_same_rows($node, 'cpu_per_host', $partitioned_batch,
		"$when: the view of the partitioned stream equals its batch query");
	check_kafka($node, $when);
	return;
}

my $options_sql = q{
SELECT view, stream, emit, "window", status, definition, late_events_table,
       retention
  FROM continuous.views ORDER BY view::text};

# --- the source ---------------------------------------------------------------
my $src = continuous_node('src', $settings);
$src->safe_psql('postgres', 'CREATE EXTENSION pg_continuous');
create_every_kind($src, transforms => 1);
$src->safe_psql('postgres', qq{
CREATE TABLE metrics (host text, cpu numeric, ts timestamptz NOT NULL)
    PARTITION BY RANGE (ts);
CREATE TABLE metrics_may PARTITION OF metrics
    FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');
CREATE TABLE metrics_other PARTITION OF metrics DEFAULT;
SELECT continuous.create_stream('metrics', event_time => 'ts');
CREATE VIEW cpu_per_host WITH (continuous) AS $partitioned_batch;
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (id bigint, customer int, amount bigint, ts timestamptz)
    SERVER mock OPTIONS (topic 'orders', format 'json', start_offset 'earliest');
CREATE VIEW orders_per_customer WITH (continuous) AS
    SELECT customer, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer;
});
$src->safe_psql('postgres', load_events_sql(8_000));
load_metrics($src, 0, 300);
produce_orders(500);
check_all($src, 'before the dump');

# events the views have not flushed yet when pg_dump runs
$src->safe_psql('postgres', load_events_sql(3_000));
load_metrics($src, 300, 200);
my $options = $src->safe_psql('postgres', $options_sql);

my $plain  = "$tempdir/plain.sql";
my $custom = "$tempdir/custom.dump";
my $all    = "$tempdir/all.sql";
$src->command_ok([ 'pg_dump', '-f', $plain, 'postgres' ], 'pg_dump (plain)');
$src->command_ok([ 'pg_dump', '-Fc', '-f', $custom, 'postgres' ], 'pg_dump -Fc');
$src->command_ok([ 'pg_dumpall', '-f', $all ], 'pg_dumpall');
unlike(slurp_file($plain), qr/\b(?:view|stream|storage)\b[^\n]*\b\d{5,}\b/,
	'the dump names relations, not OIDs');

# --- restores -----------------------------------------------------------------
sub check_restored
{
	my ($node, $how) = @_;
	is($node->safe_psql('postgres', $options_sql), $options,
		"$how: continuous.views lists the same views with the same options");
	is( $node->safe_psql('postgres',
			'SELECT count(*) FROM continuous.view_catalog WHERE restore_pending'),
		'0', "$how: no view is left pending");
	check_all($node, "$how, restored");
	$node->safe_psql('postgres', load_events_sql(2_000));
	load_metrics($node, 500, 100);
	produce_orders(100);
	check_all($node, "$how, new events");
	# the restored view is one object again
	$node->safe_psql('postgres', 'DROP VIEW cpu_per_host');
	is( $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_class WHERE relname LIKE 'cpu\_per\_host%'}),
		'0', "$how: DROP VIEW removes the restored view's storage");
	return;
}

my $n1 = continuous_node('plain', $settings);
$n1->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', $plain ],
	'psql restores the plain dump without an error');
check_restored($n1, 'plain dump');
$n1->stop;

my $n2 = continuous_node('custom', $settings);
$n2->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'postgres', $custom ],
	'pg_restore restores the -Fc dump without an error');
check_restored($n2, 'pg_dump -Fc');
$n2->stop;

my $n3 = continuous_node('all', $settings);
my ($out, $err) = run_command(
	[ 'psql', '-X', '-q', '-d', 'postgres', '-p', $n3->port, '-h', $n3->host, '-f', $all ]);
my @errors = grep { !/role "[^"]+" already exists/ } grep { /ERROR/ } split /\n/, $err;
is_deeply(\@errors, [], 'the pg_dumpall script restores with no error but the existing role');
check_restored($n3, 'pg_dumpall');
$n3->stop;

# pg_restore -j restores the data and what follows it in parallel, in any
# order that keeps pg_dump's dependencies, which say nothing of the
# catalog's rows: each view comes back when its last part is in
my $n4 = continuous_node('parallel', $settings);
$n4->command_ok([ 'pg_restore', '--exit-on-error', '-j', '4', '-d', 'postgres', $custom ],
	'pg_restore -j 4 restores the -Fc dump without an error');
check_restored($n4, 'pg_restore -j 4');
$n4->stop;

# one transaction: its own rows of the stream tables are the views' too
my $n5 = continuous_node('single', $settings);
$n5->command_ok(
	[ 'pg_restore', '--exit-on-error', '--single-transaction', '-d', 'postgres', $custom ],
	'pg_restore --single-transaction restores the -Fc dump without an error');
# writers start at once, before the worker, which the restore's commit
# started, has its replication slot: their rows count too
$n5->safe_psql('postgres', load_events_sql(500));
load_metrics($n5, 900, 50);
check_restored($n5, 'pg_restore --single-transaction');
$n5->stop;

my $n6 = continuous_node('psql_1', $settings);
$n6->command_ok(
	[ 'psql', '-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', $plain ],
	'psql -1 restores the plain dump without an error');
check_restored($n6, 'psql -1');
$n6->stop;

# the schema first, the data later, with --disable-triggers: the catalog's
# rows come after the read views
my $n7 = continuous_node('data_only', $settings);
$n7->command_ok([ 'pg_restore', '--exit-on-error', '--schema-only', '-d', 'postgres', $custom ],
	'pg_restore --schema-only');
$n7->command_ok(
	[
		'pg_restore', '--exit-on-error', '--data-only', '--disable-triggers',
		'-d', 'postgres', $custom
	],
	'pg_restore --data-only --disable-triggers');
check_restored($n7, '--schema-only, then --data-only --disable-triggers');
is( $n7->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT tgenabled::text, '') FROM pg_trigger
		   WHERE tgrelid::regclass::text LIKE 'continuous.%'}),
	'A', '--disable-triggers leaves the extension\'s triggers enabled always');
$n7->stop;

# a cluster whose bootstrap superuser is not called postgres, which the dump
# names as the owner of the storage and of schema continuous; there,
# postgres is an ordinary role (it owns the restored tables and views)
my $n8 = continuous_node('other_superuser', $settings, extra => [ '-U', 'admin' ]);
{
	local $ENV{PGUSER} = 'admin';
	$n8->safe_psql('postgres', 'CREATE ROLE postgres');
	$n8->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'postgres', $custom ],
		'pg_restore into a cluster whose bootstrap superuser is admin');
	is( $n8->safe_psql('postgres', q{
SELECT count(*) FROM pg_class c
 WHERE c.relnamespace = 'continuous_storage'::regnamespace
   AND c.relkind IN ('r', 'v') AND c.relowner <> 10}),
		'0', 'the restored storage belongs to the bootstrap superuser, admin');
	is( $n8->safe_psql('postgres',
			q{SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'continuous'}),
		'admin', 'schema continuous belongs to a superuser');
	check_restored($n8, 'another bootstrap superuser');
}
$n8->stop;

# a restore while the worker is making its replication slot: the slot
# waits for a transaction that another session keeps open, so that the
# views come back, and writers commit, before the slot starts; the worker
# learns at the slot's start that it owes those views their rows
my $n9 = continuous_node('slot_in_making', $settings);
$n9->safe_psql('postgres', 'CREATE DATABASE side');
my $hold = $n9->background_psql('side');
$hold->query_safe('BEGIN; SELECT pg_current_xact_id();');
$n9->command_ok([ 'pg_restore', '--exit-on-error', '--section=pre-data', '-d', 'postgres', $custom ],
	'pg_restore --section=pre-data while a transaction holds back the worker\'s slot');
ok( $n9->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'pg_continuous worker' AND datname = 'postgres'
   AND wait_event = 'transactionid'}),
	'the worker waits for the open transaction to make its slot');
$n9->command_ok([ 'pg_restore', '--exit-on-error', '--section=data', '-d', 'postgres', $custom ],
	'pg_restore --section=data');
$n9->command_ok([ 'pg_restore', '--exit-on-error', '--section=post-data', '-d', 'postgres', $custom ],
	'pg_restore --section=post-data');
is( $n9->safe_psql('postgres',
		'SELECT count(*) FROM continuous.view_catalog WHERE restore_pending'),
	'0', 'every view came back before the worker had its slot');
$n9->safe_psql('postgres', load_events_sql(500));
load_metrics($n9, 900, 50);
$hold->query_safe('COMMIT');
$hold->quit;
check_restored($n9, 'a restore while the worker made its slot');
ok($n9->log_contains('views were restored before the worker of this database had a replication slot'),
	'the worker says why it computed the views again');
$n9->stop;

# --- a server without the preload ---------------------------------------------
my $bare = PostgreSQL::Test::Cluster->new('bare');
continuous_init($bare, allows_streaming => 'logical');
$bare->start;
my ($rc, $stdout, $stderr) = $bare->psql('postgres', undef,
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', $plain ]);
isnt($rc, 0, 'a restore into a server without the preload stops');
like($stderr, qr/pg_continuous must be loaded via shared_preload_libraries/,
	'... at CREATE EXTENSION, with the error that names the setting');
$bare->stop;

$src->stop;
$broker->stop;
done_testing();
