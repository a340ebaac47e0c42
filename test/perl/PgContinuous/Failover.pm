# Copyright (c) pg_continuous contributors

# PgContinuous::Failover: a physical standby promoted while writers insert
# on its primary, for the failover tests (026_failover.pl,
# 041_failover_views.pl).
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
#       $standby.
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

our @EXPORT =
  qw(streaming_standby start_writers promote_after_writers active_and_computed_again_once);

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
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('flush'));
	$primary->stop('immediate');
	$writers->finish;
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
