#!/usr/bin/env bash
# docker-compose.yml must be accepted with both secrets set, and refused (with a message naming the variable)
# without either of them: there is no usable default secret. .env.example as shipped must be refused too.
# Needs only the docker-compose client (no Docker engine). Run from the repository root.
set -uo pipefail
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
compose() { docker-compose -f docker-compose.yml --env-file "$1" config >/dev/null 2>"$empty.err"; }
fail=0

if DRACHTIO_SECRET=ci-drachtio FREESWITCH_SECRET=ci-freeswitch compose "$empty"; then echo "accepted with both secrets set: ok"
else echo "REFUSED with both secrets set:"; cat "$empty.err"; fail=1; fi

check_refused() { # $1: what is missing, then the env assignments
  local what=$1; shift
  if env -u DRACHTIO_SECRET -u FREESWITCH_SECRET "$@" docker-compose -f docker-compose.yml --env-file "$empty" config >/dev/null 2>"$empty.err"; then
    echo "ACCEPTED without $what"; fail=1
  elif grep -q "set $what" "$empty.err"; then echo "refused without $what, naming it: ok"
  else echo "refused without $what, but the message does not name it:"; cat "$empty.err"; fail=1; fi
}
check_refused DRACHTIO_SECRET FREESWITCH_SECRET=x
check_refused FREESWITCH_SECRET DRACHTIO_SECRET=x
check_refused DRACHTIO_SECRET DRACHTIO_SECRET= FREESWITCH_SECRET=x

if env -u DRACHTIO_SECRET -u FREESWITCH_SECRET docker-compose -f docker-compose.yml --env-file .env.example config >/dev/null 2>&1; then
  echo "ACCEPTED with .env.example as shipped (its secrets must be empty)"; fail=1
else echo "refused with .env.example as shipped: ok"; fi
rm -f "$empty.err"
exit $fail
