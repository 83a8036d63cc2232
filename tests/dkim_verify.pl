#!/usr/bin/perl
# Verify the DKIM signature of mail files with Mail::DKIM (Debian: libmail-dkim-perl), a
# second implementation independent of ours; the same use as tests/dkim_verify.py:
#
#     dkim_verify.pl RECORD MESSAGE...
#
# Every key lookup is answered with RECORD, so nothing goes to the network. One line per
# message, `pass PATH` or `fail PATH: why`; exit 0 when all pass, 1 otherwise. This version
# of Mail::DKIM verifies RSA only (no Ed25519).
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

die "usage: $0 RECORD MESSAGE...\n" if @ARGV < 2;
my ( $record, @paths ) = @ARGV;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ( $name, $type ) = @_;
        ( my $quoted = $record ) =~ s/"/\\"/g;
        return Net::DNS::RR->new(qq{$name 60 IN TXT "$quoted"});
    };
}

my $failed = 0;
for my $path (@paths) {
    open my $fh, '<:raw', $path or die "$path: $!\n";
    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->load($fh);
    close $fh;
    my $result = $dkim->result;
    if ( $result eq 'pass' ) {
        print "pass $path\n";
    }
    else {
        $failed = 1;
        print "fail $path: $result (", ( $dkim->result_detail // '' ), ")\n";
    }
}
exit $failed;
