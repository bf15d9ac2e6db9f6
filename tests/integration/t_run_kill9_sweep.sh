#!/bin/sh
# t_run_kill9_sweep.sh — regression test (these bugs are fixed):
#
# After kill -9 of `cdx run`, its running jobs go on as orphans (re-parented
# to init): every attempt runs in a session of its own (setsid in
# lib/runner.c child_run()), so neither the terminal nor the death of cdx
# reaches it, and cdx cannot react to SIGKILL.  t_run_kill9.sh counts them
# (about 1-2 job processes in most trials).  Options: PR_SET_PDEATHSIG
# (SIGKILL) in the child before exec — covers the leader only, and only
# while it is the direct child; a small supervisor process per run that
# holds a pipe to cdx and kills the attempts' groups when it reads EOF;
# a cgroup per run; or `cdx recover` / the next `cdx run` killing
# processes whose CDX_ATTEMPT_KEY names a dead runner pid (the marker is
# "<runner pid>.<token>").
. "$(dirname "$0")/lib.sh"
cd "$T"
procs() { grep -lasE "$1" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,; s,/cmdline$,,' || true; }
RX="987\\.${$}6"
trap 'for p in $(procs "$RX"); do kill -9 "$p" 2>/dev/null || true; done; cleanup' EXIT
cat >k.yml <<EOF
name: k
stages:
  - name: s
    jobs:
      - {name: a, script: sleep 987.${$}6}
      - {name: b, script: 'sleep 987.${$}6; true'}
EOF
"$CDX" run k.yml -j 2 >/dev/null 2>&1 &
pid=$!
i=0
while [ "$(procs "$RX" | wc -l)" -lt 2 ]; do
	i=$((i + 1)); [ "$i" -lt 200 ] || fail "the jobs did not start"
	sleep 0.05
done
kill -9 "$pid"
wait "$pid" || true
# the leader dies with cdx (PR_SET_PDEATHSIG); what it started is killed
# by the next cdx that runs anything (it carries a dead runner's marker)
printf 'stages:\n  - name: s\n    jobs:\n      - {name: t, script: "true"}\n' >t.yml
"$CDX" run t.yml >/dev/null 2>&1 || fail "the next run failed"
i=0
while [ -n "$(procs "$RX")" ]; do
	i=$((i + 1)); [ "$i" -lt 40 ] || fail "job processes outlived cdx after kill -9: $(procs "$RX" | tr '\n' ' ')"
	sleep 0.05
done
echo "t_run_kill9_sweep: ok"
