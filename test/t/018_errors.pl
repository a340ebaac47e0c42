# Copyright (c) pg_continuous contributors

# Errors a user can act on, for a server that is not set up for
# pg_continuous, or set up too small:
#   - without shared_preload_libraries, CREATE EXTENSION fails with an
#     ERROR that says to preload the library, and the session goes on.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

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

done_testing();
