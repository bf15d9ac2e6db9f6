#!/bin/sh
# stop.sh — stop hook: stop the webapp of the slot or instance gracefully
# (it finishes in-flight requests). Exit 0 also when nothing ran.
set -eu
# shellcheck source=examples/webapp/hooks/lib.sh
. "$(dirname "$0")/lib.sh"
need CDX_APP CDX_ENV
stop_unit "$(unit)"
