#!/bin/sh
# spin.sh MARKER — a job that never ends by itself: says it started, then
# waits in short sleeps, so that MARKER stays on its command line only.
touch "started.$1"
while :; do sleep 0.1; done
