# Copyright (c) pg_continuous contributors

# PgContinuous::MockKafka: the test broker (test/kafka/mock_broker.c) for
# the TAP tests.
#
#   my $broker = PgContinuous::MockKafka->start('orders:4', 'lines:3');
#       start a mock cluster with those topics ("name:partitions") and wait
#       for its bootstrap address.
#   PgContinuous::MockKafka->start({ port => $old->port }, 'orders:6')
#       the same, listening on a given port: a broker that takes the place
#       of a stopped one, as far as clients can tell.
#   $broker->bootstrap, $broker->port
#       "127.0.0.1:port", for a server's brokers option; the port.
#   $broker->produce('orders', @messages)
#       produce the messages (strings) to the topic with test/kafka/produce;
#       returns how many it produced.
#   $broker->command('down')
#       send a command on its standard input (down, up, topic NAME N, ...)
#       and return its one-line answer ("ok" when it went well).
#   $broker->stop
#       kill it.
#   PgContinuous::MockKafka->tool('produce')
#       the path of a Kafka test tool (test/kafka/NAME): the tests run from
#       wherever prove runs, which PGXS makes the top directory.

package PgContinuous::MockKafka;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Utils;

# test/kafka, found from this file (test/perl/PgContinuous)
my $kafka_dir = abs_path(dirname(__FILE__) . '/../../kafka');

sub tool
{
	my ($class, $name) = @_;
	return "$kafka_dir/$name";
}

sub start
{
	my ($class, @topics) = @_;
	my $options = ref $topics[0] eq 'HASH' ? shift @topics : {};
	my $self = { in => '', out => '', err => '' };
	my @port = $options->{port} ? ('--port', $options->{port}) : ();
	$self->{handle} = IPC::Run::start(
		[ __PACKAGE__->tool('mock_broker'), @port, map { ('--topic', $_) } @topics ],
		'<', \$self->{in}, '>', \$self->{out}, '2>', \$self->{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$self->{handle}->pump until $self->{out} =~ /\n/;
	($self->{bootstrap}) = $self->{out} =~ /^(\S+)\n/;
	die "mock broker printed no address: $self->{out}$self->{err}"
	  unless $self->{bootstrap};
	$self->{out} = '';
	return bless $self, $class;
}

sub bootstrap
{
	my ($self) = @_;
	return $self->{bootstrap};
}

sub port
{
	my ($self) = @_;
	return ($self->{bootstrap} =~ /:(\d+)$/)[0];
}

sub produce
{
	my ($self, $topic, @messages) = @_;
	my $in = join('', map { "$_\n" } @messages);
	my ($out, $err) = ('', '');
	IPC::Run::run([ __PACKAGE__->tool('produce'), '-b', $self->{bootstrap}, '-t', $topic ],
		'<', \$in, '>', \$out, '2>', \$err)
	  or die "produce failed: $err";
	return $out =~ /produced (\d+)/ ? $1 : 0;
}

sub command
{
	my ($self, $command) = @_;
	$self->{in} .= "$command\n";
	$self->{handle}->pump until $self->{out} =~ /\n/;
	my $answer = $self->{out};
	$self->{out} = '';
	chomp $answer;
	return $answer;
}

sub stop
{
	my ($self) = @_;
	$self->{handle}->kill_kill;
	return;
}

1;
