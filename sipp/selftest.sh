#!/bin/sh
# Runs every scenario of sipp/ SIPp-against-SIPp on 127.0.0.1 (ports 15060-15069, RTP 31100-31199): syntax and
# flow, a few calls each, about 20 s in all. Exits non-zero at the first pair that does not end as expected.
# Usage: sipp/selftest.sh   (needs sipp 3.6, Debian's sip-tester)
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sipp-selftest.XXXXXX")
SIPP=${SIPP:-sipp}
common="-i 127.0.0.1 -mi 127.0.0.1 -nostdin -timeout 20s -timeout_error -trace_logs -trace_msg"
failed=0

# pair NAME SERVER-EXPECTED-RC CLIENT-EXPECTED-RC "SERVER ARGS" "CLIENT ARGS" LOG-PATTERN...
pair() {
  name=$1; want_s=$2; want_c=$3; sargs=$4; cargs=$5; shift 5
  # shellcheck disable=SC2086
  $SIPP $common -p 15061 -mp 31100 -log_file "$work/$name.server.log" -message_file "$work/$name.server.msg" $sargs >"$work/$name.server.out" 2>&1 &
  spid=$!
  sleep 0.3
  # shellcheck disable=SC2086
  $SIPP $common -p 15060 -mp 31150 -log_file "$work/$name.client.log" -message_file "$work/$name.client.msg" $cargs 127.0.0.1:15061 >"$work/$name.client.out" 2>&1
  rc_c=$?
  wait $spid
  rc_s=$?
  ok=1
  [ "$rc_s" = "$want_s" ] || ok=0
  [ "$rc_c" = "$want_c" ] || ok=0
  for pattern in "$@"; do
    cat "$work/$name.server.log" "$work/$name.client.log" 2>/dev/null | grep -q -- "$pattern" || { ok=0; echo "  missing log line: $pattern"; }
  done
  if [ $ok = 1 ]; then
    echo "ok   $name (server rc $rc_s, client rc $rc_c)"
  else
    echo "FAIL $name: server rc $rc_s (want $want_s), client rc $rc_c (want $want_c); logs in $work"
    failed=1
  fi
}

printf 'SEQUENTIAL\n5550001;1500;1500;\n5550002;1000;1000;\n5550003;1200;1200;\n' >"$work/hold.csv"
printf 'SEQUENTIAL\n5550004;0;0;\n' >"$work/forever.csv"
{ echo RANDOM; i=0; while [ $i -lt 30 ]; do echo "55510$i;600;1300;"; i=$((i + 1)); done; } >"$work/crossing.csv"
printf 'SEQUENTIAL\n5550005;500;1500;\n5550006;500;1500;\n' >"$work/random.csv"

pair customer-hangs-up 0 0 \
  "-sf $here/agent.xml -key answer_ms 200 -key hangup_ms 0 -rtp_echo -m 3" \
  "-sf $here/customer.xml -inf $work/hold.csv -s 4000 -m 3 -r 5" \
  'customer bye-sent 5550001' 'phone bye-received sip:4000' 'phone answered sip:4000'
pair agent-hangs-up 0 0 \
  "-sf $here/agent.xml -key answer_ms 100 -key hangup_ms 1000 -rtp_echo -m 1" \
  "-sf $here/customer.xml -inf $work/forever.csv -s 4000 -m 1" \
  'phone bye-sent sip:4000' 'customer bye-received 5550004'
pair random-hold-helper-answers 0 0 \
  "-sf $here/helper.xml -key reply 200 -key answer_ms 300 -key hangup_ms 0 -rtp_echo -m 2" \
  "-sf $here/customer.xml -inf $work/random.csv -s 2002 -m 2 -r 5" \
  'customer bye-sent 5550005' 'customer bye-sent 5550006'
pair helper-hangs-up 0 0 \
  "-sf $here/helper.xml -key reply 200 -key answer_ms 100 -key hangup_ms 800 -rtp_echo -m 1" \
  "-sf $here/customer.xml -inf $work/forever.csv -s 2002 -m 1" \
  'phone bye-sent sip:2002' 'customer bye-received'
# The customer's scenario counts a refused call as failed (SIPp exits 1): that is the expected outcome here.
pair helper-busy 0 1 \
  "-sf $here/helper.xml -key reply 486 -key answer_ms 200 -key hangup_ms 0 -m 1" \
  "-sf $here/customer.xml -inf $work/forever.csv -s 2002 -m 1" \
  'phone rejected sip:2002'
pair helper-declines 0 1 \
  "-sf $here/helper.xml -key reply 603 -key answer_ms 0 -key hangup_ms 0 -m 1" \
  "-sf $here/customer.xml -inf $work/forever.csv -s 2002 -m 1" \
  'phone rejected sip:2002'
pair helper-never-answers 0 0 \
  "-sf $here/helper.xml -key reply 0 -key answer_ms 0 -key hangup_ms 0 -m 1" \
  "-sf $here/selftest/caller-cancel.xml -s 2002 -m 1" \
  'phone cancelled sip:2002'
pair agent-cancelled-while-ringing 0 0 \
  "-sf $here/agent.xml -key answer_ms 5000 -key hangup_ms 0 -m 1" \
  "-sf $here/selftest/caller-cancel.xml -s 2001 -m 1" \
  'phone cancelled sip:2001'
pair agent-registers-with-digest 0 0 \
  "-sf $here/selftest/registrar.xml -s 2001 -key password secret-2001 -m 1" \
  "-sf $here/agent-register.xml -s 2001 -au 2001 -ap secret-2001 -m 1 -key contact_host 127.0.0.1 -key contact_port 15071 -key expires 2 -key reg_seconds 3" \
  'register registered 2001' 'register unregistered 2001' 'registrar accepted 2001'

# 30 calls at 30 calls/s; the customer or the agent hangs up first at random, sometimes both at once.
pair thirty-calls-crossing-byes 0 0 \
  "-sf $here/agent.xml -key answer_ms 50 -key hangup_ms 900 -rtp_echo -m 30" \
  "-sf $here/customer.xml -inf $work/crossing.csv -s 4000 -m 30 -r 30 -l 30" \
  'customer bye-sent' 'customer bye-received' 'phone bye-sent' 'phone bye-received'

[ $failed = 0 ] && rm -rf "$work"
exit $failed
