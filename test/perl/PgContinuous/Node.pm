# Copyright (c) pg_continuous contributors

# PgContinuous::Node: a PostgreSQL::Test::Cluster set up the way every TAP
# test of pg_continuous needs it, and started.
#
#   my $node = continuous_node('name' [, $settings [, %params]]);
#       initdb with wal_level = logical, the library preloaded, room for
#       the workers, restart_after_crash on (PostgreSQL::Test::Cluster
#       turns it off; crash tests need the server to come back), and
#       $settings (postgresql.conf lines) after that.  %params go to
#       PostgreSQL::Test::Cluster->new (install_path => ...), but for
#       extra => [...], initdb's options (['-U', 'admin']).
#
#   poll_until($node, $dbname, $query [, $expected]);
#       true once $query returns $expected ('t' by default), false after
#       the default timeout.  As $node->poll_query_until, except that the
#       query goes to psql with -c: PostgreSQL 15's version writes it to
#       psql's standard input, and dies of the broken pipe when psql exits
#       at once because the server is resetting after a kill -9.
#
#   continuous_init($node, %params);
#       $node->init(%params), with initdb run once per binary and options
#       for the whole run of the suite: each node's data directory is a
#       copy of that first one (initdb is a second of CPU, and the suite
#       makes over eighty nodes on two cores).  continuous_node() uses
#       it; a test that wants a node of its own settings may too.
#
#   temp_files_logged($node, $offset, $pid);
#       how many temporary files of the process $pid the server log shows
#       since it was $offset bytes long (log_temp_files = 0 logs each when
#       it is deleted; a process killed leaves its files unlogged).

package PgContinuous::Node;

use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use Exporter 'import';
use Fcntl qw(:flock);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(continuous_node continuous_init poll_until temp_files_logged);

sub continuous_node
{
	my ($name, $settings, %params) = @_;
	my $extra = delete $params{extra};
	my $node = PostgreSQL::Test::Cluster->new($name, %params);
	continuous_init($node, allows_streaming => 'logical',
		($extra ? (extra => $extra) : ()));
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pg_continuous'\n"
		  . "max_worker_processes = 16\n"
		  . "restart_after_crash = on\n"
		  . ($settings // ''));
	$node->start;
	return $node;
}

sub continuous_init
{
	my ($node, %params) = @_;
	my $system_or_bail = \&PostgreSQL::Test::Utils::system_or_bail;

	# init() runs initdb through this function, with the node's PATH
	no warnings 'redefine';
	local *PostgreSQL::Test::Utils::system_or_bail = sub {
		my ($command, @args) = @_;
		return $system_or_bail->(@_) unless $command eq 'initdb';
		my (undef, $pgdata, @options) = @args;    # -D pgdata, then options
		my ($initdb) = grep { -x "$_/initdb" } split /:/, $ENV{PATH};
		my $template = "$PostgreSQL::Test::Utils::tmp_check/initdb_template_"
		  . md5_hex(join("\0", $initdb // '', @options));

		# several tests run at once: one makes the template, the others wait
		open my $lock, '>', "$template.lock" or die "$template.lock: $!";
		flock($lock, LOCK_EX) or die "flock $template.lock: $!";
		if (!-d $template)
		{
			$system_or_bail->('initdb', '-D', "$template.new", @options);
			rename "$template.new", $template or die "rename $template: $!";
		}
		close $lock;
		$system_or_bail->('cp', '-RPp', $template, $pgdata);
	};
	$node->init(%params);
	return;
}

sub poll_until
{
	my ($node, $dbname, $query, $expected) = @_;
	$expected //= 't';
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	my ($stdout, $stderr) = ('', '');

	while (time() < $deadline)
	{
		($stdout, $stderr) = ('', '');
		IPC::Run::run(
			[
				$node->installed_command('psql'), '-XAtq',
				'-d', $node->connstr($dbname), '-c', $query
			],
			'<', \undef, '>', \$stdout, '2>', \$stderr);
		chomp $stdout;
		return 1 if $stdout eq $expected && $stderr eq '';
		usleep(100_000);
	}
	diag "poll_until timed out: $query\nexpected: $expected\n"
	  . "last output: $stdout\nlast error: $stderr";
	return 0;
}

sub temp_files_logged
{
	my ($node, $offset, $pid) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @files = $log =~ /temporary file: path "[^"]*pgsql_tmp${pid}\.\d+"/g;
	return scalar @files;
}

1;
