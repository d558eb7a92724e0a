#!/usr/bin/env bash
# End-to-end bench of `sluice gateway` against nginx and HAProxy (see benches/README.md).
# Usage: benches/e2e/run.sh [--rounds N] [--quick] [--duration S] [--only SCENARIO,...]
#        [--rate RPS] [--rate-conns N] [--swaps N] [--swap-hosts N] (see --help)
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
