# Copyright (c) pg_continuous contributors

# PgContinuous::Failover: a physical standby promoted while writers insert
# on its primary, for the failover tests (026_failover.pl,
# 041_failover_views.pl; 029_kafka_failover.pl, whose primary stops
# between its own writes, uses the steps of promote_after_writers).
#
#   my $standby = streaming_standby($primary [, $name]);
#       a base backup of $primary, started as its streaming standby.
#   my $writers = start_writers($primary, $script);
#       two pgbench clients running $script (the text of a pgbench script)
#       against the database postgres of $primary, for up to 60 seconds.
#   promote_after_writers($primary, $standby, $writers);
#       wait until $standby has replayed what $primary has flushed, stop
#       $primary in immediate mode (the writers fail then: some of what
#       they committed last may not have reached the standby), and promote
#       $standby (stop_primary_after_catchup, $writers->finish, then
#       promote_standby).
#   stop_primary_after_catchup($primary, $standby [, $lsn]);
#       wait until $standby has replayed $primary's WAL up to its current
#       $lsn ('flush' by default, or 'insert': see lsn in
#       PostgreSQL::Test::Cluster), and stop $primary in immediate mode.
#   promote_standby($standby);
#       promote $standby and wait until it accepts writes.
#   active_and_computed_again_once($node);
#       two tests: no view of the database postgres failed, and the log
#       says once, not more, that the views were computed again (after the
#       promotion, not after a later crash).

package PgContinuous::Failover;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(streaming_standby start_writers promote_after_writers
  stop_primary_after_catchup promote_standby active_and_computed_again_once);

sub streaming_standby
{
	my ($primary, $name) = @_;
	$primary->backup('base');
	my $standby = PostgreSQL::Test::Cluster->new($name // 'standby');
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->start;
	return $standby;
}

sub start_writers
{
	my ($primary, $script) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir;
	PostgreSQL::Test::Utils::append_to_file("$dir/writers.sql", $script);
	return IPC::Run::start(
		[
			$primary->installed_command('pgbench'), '-n', '-c', '2', '-T', '60',
			'-f', "$dir/writers.sql", '-d', $primary->connstr('postgres')
		],
		'>', "$dir/pgbench.out", '2>', "$dir/pgbench.err");
}

sub promote_after_writers
{
	my ($primary, $standby, $writers) = @_;
	stop_primary_after_catchup($primary, $standby);
	$writers->finish;
	promote_standby($standby);
	return;
}

sub stop_primary_after_catchup
{
	my ($primary, $standby, $lsn) = @_;
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn($lsn // 'flush'));
	$primary->stop('immediate');
	return;
}

sub promote_standby
{
	my ($standby) = @_;
	$standby->promote;
	$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
	  or die 'the standby was not promoted';
	return;
}

sub active_and_computed_again_once
{
	my ($node) = @_;
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM continuous.views WHERE status <> 'active'"),
		'0', 'every view is active');
	my @rebuilds = (slurp_file($node->logfile) =~ /computed \d+ continuous views again/g);
	is(scalar(@rebuilds), 1, 'the views were computed again once, not after the kill -9');
	return;
}

1;
