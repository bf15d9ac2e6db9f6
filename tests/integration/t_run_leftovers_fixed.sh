#!/bin/sh
# t_run_leftovers_fixed.sh — regression test (these bugs are fixed):
#
# A process that leaves the attempt's session (setsid), drops the marker
# from its environment (env -i) and does not hold the output pipe survives
# the job once its parent has exited: it is re-parented to cdx (the child
# subreaper), but lib/runner.c attributes a process to an attempt only by
# ancestry while the leader lives, or by group/session/marker/pipe
# (own_owner()), so the sweep after the leader is reaped does not find it,
# and cdx_runner_free() only signals processes of attempts it still tracks.
# When cdx exits the process goes to init and runs on.
# A possible fix: any child of the runner's process that is no live leader
# (re-parented orphan) belongs to some attempt: kill it in the sweep (there
# is one runner per process), or at least in cdx_runner_free().
. "$(dirname "$0")/lib.sh"
cd "$T"
procs() { grep -lasE "$1" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,; s,/cmdline$,,' || true; }
export MK="987.${$}5"
RX="987\\.${$}5"
trap 'for p in $(procs "$RX"); do kill -9 "$p" 2>/dev/null || true; done; cleanup' EXIT
cat >e.yml <<'EOF'
name: escape
stages:
  - name: s
    jobs:
      - name: envi
        script: |
          env -i setsid sleep "$MK" >/dev/null 2>&1 </dev/null &
          sleep 0.3
          echo started
EOF
expect_status 0 "$CDX" run e.yml
[ -z "$(procs "$RX")" ] || fail "a process escaped the job and outlived cdx: pid $(procs "$RX")"
echo "pending_run_leftovers: ok"
