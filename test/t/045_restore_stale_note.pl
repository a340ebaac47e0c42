# Copyright (c) pg_continuous contributors

# Notes of continuous.restore_loaded (src/ddl/restore.c) are a restore's
# only: a superuser's COPY or TRUNCATE outside a restore leaves none, the
# notes go once the restore is over, and a note does not outlive its
# relation, whose oid a later table of the restore may get before its rows
# are in.
#
# Growth: in a database with live continuous views over partitioned table
# stream impressions and no restore going on, a superuser COPYs into the
# stream table, into a staging table, and into daily partitions of a
# table, one of which is then dropped, and TRUNCATEs: restore_loaded stays
# empty.
#
# Reused oid: that database is dumped (pg_dump -Fc) and restored into
# database target, item by item.  The restore begins with a storage table;
# meanwhile a superuser COPYs into table old_load (noted) and drops it
# (oid X).  The oid counter is set back to X (pg_resetwal -o, as after the
# counter wrapped around; the workers' old replication slots are dropped,
# and no worker runs until the stream table has X), and the restore goes on: the stream table (which gets oid X), the rest of
# the schema, then the data as --data-only restores it: the catalog's rows,
# the storage's, and last each partition of the stream, the worker
# flushing in between.  A note left for X would count impressions as
# loaded at the storage's COPY and bring both views back from empty
# partitions: the partitions' rows would then reach them as new events, the
# second partition's late for per_minute's watermark (on main, per_minute
# missed 3429 of the 6030 rows).  Instead: each view is 'restoring' until
# the last partition's rows are in, then equals its SELECT over the
# restored rows (EXCEPT ALL both ways) and counts every row after
# continuous.sync(), and again after rows written since; and restore_loaded
# is empty once the restore is over.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $node    = continuous_node('stale_note');

my %views = (
	per_campaign => 'SELECT campaign, count(*) AS n, sum(cost) AS total '
	  . 'FROM impressions GROUP BY campaign',
	per_minute => "SELECT continuous.tumble(ts, '1 minute') AS minute, "
	  . 'count(*) AS n, sum(cost) AS total, min(id) AS first FROM impressions GROUP BY 1');

# rows $from .. $to, row i at second i of 2026-01-01, or at second i - $from
# of $day
sub impressions_sql
{
	my ($from, $to, $day) = @_;
	my $ts = $day ? "'$day 00:00+00'::timestamptz + (i - $from)" : "'2026-01-01 00:00+00'::timestamptz + i";
	return "INSERT INTO impressions SELECT i, i % 7, i % 13, $ts * interval '1 second' "
	  . "FROM generate_series($from, $to) i";
}

# n rows as COPY ... FROM stdin into $table (id, campaign, cost, ts)
sub copy_sql
{
	my ($table, $from, $to) = @_;
	my $sql = "COPY $table FROM stdin;\n";
	$sql .= join("\t", $_, $_ % 7, $_ % 13, '2026-01-02 00:00:00+00') . "\n" foreach $from .. $to;
	return $sql . "\\.\n";
}

sub noted
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT count(*) FROM continuous.restore_loaded');
}

sub status
{
	my ($db, $view) = @_;
	return $node->safe_psql($db,
		"SELECT status FROM continuous.views WHERE view = '$view'::regclass");
}

# --- the source: live views, and a superuser's loads outside any restore ---
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE impressions (id int, campaign int, cost int, ts timestamptz NOT NULL)
    PARTITION BY RANGE (campaign);
CREATE TABLE impressions_low PARTITION OF impressions FOR VALUES FROM (MINVALUE) TO (4);
CREATE TABLE impressions_high PARTITION OF impressions FOR VALUES FROM (4) TO (MAXVALUE);
SELECT continuous.create_stream('impressions', event_time => 'ts',
                                watermark_delay => '1 minute');
} . impressions_sql(1, 4000) . ';'
	  . join('', map { "CREATE VIEW $_ WITH (continuous) AS $views{$_};" } sort keys %views)
	  . impressions_sql(4001, 6000) . ';');

# an admin's daily bulk loads: into the stream table, a staging table, and
# a partition of the day, dropped days later
$node->safe_psql('postgres', q{
CREATE TABLE staging (id int, campaign int, cost int, ts timestamptz);
CREATE TABLE daily (id int, campaign int, cost int, ts timestamptz) PARTITION BY RANGE (ts);
});
foreach my $day (1 .. 3)
{
	$node->safe_psql('postgres',
		"CREATE TABLE daily_$day PARTITION OF daily FOR VALUES "
		  . "FROM ('2026-01-0$day') TO ('2026-01-0" . ($day + 1) . "');\n"
		  . copy_sql('impressions', 6000 + $day * 10 + 1, 6000 + $day * 10 + 10)
		  . copy_sql('staging', 1, 10)
		  . "TRUNCATE staging;\n"
		  . (copy_sql("daily_$day", 1, 5) =~ s/2026-01-02/2026-01-0$day/gr));
}
$node->safe_psql('postgres', 'DROP TABLE daily_1');
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is(noted('postgres'), '0',
	'no restore: a superuser\'s COPY and TRUNCATE leave no note in restore_loaded');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM continuous.restore_loaded l
 WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = l.relation)}),
	'0', 'no note outlives its relation');
views_equal_definitions($node, \%views, 'source');

my $dump = "$tempdir/source.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, 'postgres' ], 'pg_dump -Fc');
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM impressions');

# --- target: a note of a dropped table, whose oid the restore reuses --------
# the dump's items of a section, as lines of a pg_restore -L list
sub toc
{
	my ($section) = @_;
	my ($out, $err) = run_command([ 'pg_restore', '-l', "--section=$section", $dump ]);
	return grep { /^\d+;/ } split /\n/, $out;
}
my $list_no = 0;

sub restore_items
{
	my ($what, @lines) = @_;
	my $file = "$tempdir/items_" . ++$list_no . '.list';
	open(my $fh, '>', $file) or die "could not write $file: $!";
	print $fh "$_\n" foreach @lines;
	close($fh);
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'target', '-L', $file, $dump ],
		"target: pg_restore of $what");
	return;
}

# A restore into target has begun: one storage table is in, which no view
# claims yet.  A superuser loads table old_load meanwhile (noted), then
# drops it.
$node->safe_psql('postgres', 'CREATE DATABASE target');
$node->safe_psql('target', 'CREATE EXTENSION pg_continuous');
my $storage = qr/ TABLE continuous_storage per_campaign_state /;
restore_items('a storage table', grep { $_ =~ $storage } toc('pre-data'));
$node->safe_psql('target',
	'CREATE TABLE old_load (id int, campaign int, cost int, ts timestamptz);');
my $old = $node->safe_psql('target', q{SELECT 'old_load'::regclass::oid});
$node->safe_psql('target', copy_sql('old_load', 1, 10));
is( $node->safe_psql('target',
		"SELECT count(*) FROM continuous.restore_loaded WHERE relation = $old"),
	'1', 'during a restore, a superuser\'s COPY is noted');
$node->safe_psql('target', 'DROP TABLE old_load');
is( $node->safe_psql('target',
		"SELECT count(*) FROM continuous.restore_loaded WHERE relation = $old"),
	'0', 'the dropped table\'s note is gone');

# The oid counter wraps around to the dropped table's oid.  Its file goes
# at the checkpoint after the one that follows the DROP, then its oid is
# free.  pg_resetwal -o sets the counter, and starts the WAL anew: the
# workers' replication slots cannot decode any more.  Until the stream
# table has taken the oid, the server runs with no worker slot but the
# launcher's: workers started now would drop their slots, make new ones and
# rebuild their views, taking oids (new relfilenodes) before the restore
# does.  The old slots, inactive, are dropped meanwhile: every slot there
# is then (a worker of the target database may have made its slot just
# before the stop).
$node->safe_psql('target', 'CHECKPOINT') foreach 1 .. 2;
my $worker_slots = $node->safe_psql('postgres', 'SHOW max_worker_processes');
$node->stop;
$node->command_ok([ 'pg_resetwal', '-o', $old, $node->data_dir ],
	'pg_resetwal -o sets the oid counter to the dropped table\'s oid');
$node->adjust_conf('postgresql.conf', 'max_worker_processes', '1');
$node->start;
$node->safe_psql('postgres',
	"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots");
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'the old replication slots are dropped, no worker having made new ones');

my $table = qr/ TABLE public impressions /;
restore_items('the stream table', grep { $_ =~ $table } toc('pre-data'));
is($node->safe_psql('target', q{SELECT 'impressions'::regclass::oid}),
	$old, 'the restored stream table has the dropped table\'s oid');
$node->adjust_conf('postgresql.conf', 'max_worker_processes', $worker_slots);
$node->restart;
# schema continuous is there already, with the extension
restore_items('the rest of the schema',
	grep { $_ !~ $table && $_ !~ $storage && $_ !~ / SCHEMA - continuous / }
	  toc('pre-data'), toc('post-data'));

# the data, item by item as --data-only restores it, the stream's rows
# last, partition by partition, each in its own transaction; the worker
# flushes in between, as it does during the restore of a large table
my @data = toc('data');
my @stream_rows = grep { / TABLE DATA public impressions_(high|low) / } @data;
is(scalar(@stream_rows), 2, 'the dump has the rows of both partitions of impressions');
restore_items('the data but the stream\'s rows',
	grep { my $l = $_; !grep { $_ eq $l } @stream_rows } @data);
foreach my $part (@stream_rows)
{
	foreach my $name (sort keys %views)
	{
		is(status('target', $name), 'restoring',
			"target: $name waits for the rows of its stream table");
	}
	restore_items('the rows of a partition', $part);
	$node->safe_psql('target', "SELECT continuous.sync('2 minutes')");
}
is($node->safe_psql('target', 'SELECT count(*) FROM impressions'), $rows,
	'target: the stream\'s rows are restored');
is( $node->safe_psql('target',
		'SELECT count(*) FROM continuous.view_catalog WHERE restore_pending'),
	'0', 'target: no view is left pending');

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('target', "SELECT continuous.sync('2 minutes')");
	foreach my $name (sort keys %views)
	{
		is(status('target', $name), 'active', "target, $when: $name is active");
		my $missing = $node->safe_psql('target',
			"SELECT count(*) FROM ($views{$name} EXCEPT ALL TABLE $name) d");
		is($missing, '0', "target, $when: no row of ${name}'s SELECT is missing from it");
		is_same_rows($node, $name, $views{$name}, "target, $when: $name equals its SELECT",
			'target');
	}
	foreach my $name (sort keys %views)
	{
		is( $node->safe_psql('target',
				"SELECT (SELECT count(*) FROM impressions) - (SELECT sum(n) FROM $name)"),
			'0', "target, $when: $name counts each row of impressions (none missing)");
	}
	return;
}
check_views('restored');
is(noted('target'), '0', 'target: the restore\'s notes are gone once its views are back');
$node->safe_psql('target', impressions_sql(7001, 8000, '2026-01-03'));
check_views('restored, then more rows');

$node->stop;
done_testing();
