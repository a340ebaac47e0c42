# Copyright (c) pg_continuous contributors

# PgContinuous::Node: a PostgreSQL::Test::Cluster set up the way every TAP
# test of pg_continuous needs it, and started.
#
#   my $node = continuous_node('name' [, $settings]);
#       initdb with wal_level = logical, the library preloaded, room for
#       the workers, restart_after_crash on (PostgreSQL::Test::Cluster
#       turns it off; crash tests need the server to come back), and
#       $settings (postgresql.conf lines) after that.

package PgContinuous::Node;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(continuous_node);

sub continuous_node
{
	my ($name, $settings) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pg_continuous'\n"
		  . "max_worker_processes = 16\n"
		  . "restart_after_crash = on\n"
		  . ($settings // ''));
	$node->start;
	return $node;
}

1;
