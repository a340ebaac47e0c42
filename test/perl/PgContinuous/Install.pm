# Copyright (c) pg_continuous contributors

# PgContinuous::Install: a private copy of the PostgreSQL installation
# whose pg_continuous library a test can replace, as an upgrade does,
# without touching the installation other tests use.
#
#   my $install = private_install($library [, $name]);
#       a tree under the test's tmp_check ($name, default "install"; one
#       per name) with the layout of the
#       installation pg_config describes: the server programs copied (they
#       find their library and share directories relative to where they
#       are), every other library and share file linked, and $library as
#       its pg_continuous.so.  Returns the directory to pass as
#       install_path to PostgreSQL::Test::Cluster->new (or continuous_node).
#   install_library($install, $library);
#       replace the tree's pg_continuous.so with $library, as installing
#       another version does (a new file; stop the server first).
#   installed_library();
#       the pg_continuous.so of the installation under test.
#   released_library($version);
#       the library of a released version, built by test/harness/released.sh
#       into $CONTINUOUS_RELEASED_DIR; undef and the reason when it is not
#       there (run outside make test, or a checkout without its commit).
#
# The extension's control file and scripts are the installation's: those
# of every released version are kept in src/sql/.

package PgContinuous::Install;

use strict;
use warnings;

use Exporter 'import';
use File::Basename;
use File::Copy;
use File::Path qw(make_path);
use PostgreSQL::Test::Utils;

our @EXPORT = qw(private_install install_library installed_library released_library);

sub pg_config
{
	my ($option) = @_;
	my $value = `pg_config $option`;
	die "pg_config $option failed" if $? != 0;
	chomp $value;
	return $value;
}

# Copy or link every entry of directory $from into $to, but those in
# %$except; programs are copied, the rest linked.
sub mirror
{
	my ($from, $to, $copy, $except) = @_;
	make_path($to);
	opendir(my $dh, $from) or die "could not read $from: $!";
	foreach my $entry (readdir $dh)
	{
		next if $entry eq '.' || $entry eq '..' || $except->{$entry};
		if ($copy)
		{
			copy("$from/$entry", "$to/$entry") or die "could not copy $from/$entry: $!";
			chmod((stat "$from/$entry")[2] & 07777, "$to/$entry");
		}
		else
		{
			symlink("$from/$entry", "$to/$entry") or die "could not link $from/$entry: $!";
		}
	}
	closedir $dh;
	return;
}

sub private_install
{
	my ($library, $name) = @_;
	my %dir = map { $_ => pg_config("--$_") } qw(bindir pkglibdir sharedir);

	# the longest common prefix of the three, by whole directories
	my @prefix = split m{/}, $dir{bindir};
	foreach my $path (values %dir)
	{
		my @parts = split m{/}, $path;
		my $i = 0;
		$i++ while $i < @prefix && $i < @parts && $prefix[$i] eq $parts[$i];
		splice @prefix, $i;
	}
	my $prefix = join('/', @prefix);
	my $root   = "$PostgreSQL::Test::Utils::tmp_check/" . ($name // 'install');
	my %mine   = map { $_ => $root . substr($dir{$_}, length $prefix) } keys %dir;

	mirror($dir{bindir}, $mine{bindir}, 1, {});
	mirror($dir{pkglibdir}, $mine{pkglibdir}, 0, { 'pg_continuous.so' => 1 });
	mirror($dir{sharedir}, $mine{sharedir}, 0, { extension => 1 });
	mirror("$dir{sharedir}/extension", "$mine{sharedir}/extension", 0, {});

	my $install = dirname($mine{bindir});
	die "pg_config of the private installation does not find its libraries"
	  unless `$mine{bindir}/pg_config --pkglibdir` eq "$mine{pkglibdir}\n";
	install_library($install, $library);
	return $install;
}

sub install_library
{
	my ($install, $library) = @_;
	my $target = `$install/bin/pg_config --pkglibdir`;
	chomp $target;
	$target .= '/pg_continuous.so';
	unlink $target;
	copy($library, $target) or die "could not copy $library: $!";
	chmod 0755, $target;
	return;
}

sub installed_library
{
	return pg_config('--pkglibdir') . '/pg_continuous.so';
}

sub released_library
{
	my ($version) = @_;
	my $dir = $ENV{CONTINUOUS_RELEASED_DIR};
	return (undef, 'CONTINUOUS_RELEASED_DIR is not set: run the test through make test')
	  unless $dir;
	return (undef, slurp_file("$dir/$version/UNAVAILABLE"))
	  if -e "$dir/$version/UNAVAILABLE";
	return ("$dir/$version/pg_continuous.so")
	  if -e "$dir/$version/pg_continuous.so";
	return (undef, "no library of version $version in $dir");
}

1;
