#!/usr/bin/env bash
# Test tools of the integration suite, from Debian's packages: SIPp (sip-tester) plays the phones.
set -euo pipefail
if command -v sipp >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq sip-tester
