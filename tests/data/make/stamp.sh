#!/bin/sh
# stamp.sh NAME SECONDS — a job of the make tests: records when it starts
# and ends (nanoseconds since the epoch) in stamps/NAME.start and .end.
set -eu
mkdir -p stamps
date +%s%N >"stamps/$1.start"
sleep "$2"
date +%s%N >"stamps/$1.end"
