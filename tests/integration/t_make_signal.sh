#!/bin/sh
# t_make_signal.sh — Ctrl-C in a terminal running `make -j4 sig`: SIGINT
# goes to make's whole process group (make and the cdx job processes).
# make must exit, no process of a job may be left (not even one that
# escaped into a session of its own), the run must be recorded cancelled
# by the watcher, and the watcher itself must be gone afterwards.  SIGTERM
# to make alone, and SIGINT to make alone (the running jobs finish and
# succeed, no other starts): cancelled too, not failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/make_lib.sh"
command -v setsid >/dev/null 2>&1 || { echo "setsid not installed" >&2; exit 77; }

marker="cdxsig$$x$(date +%s)"

# should the test fail half way, leave nothing running: make's group, and
# what is left of the jobs (found by the marker)
stop_all() {
	if [ -s "$T/make.pid" ]; then kill -KILL "-$(cat "$T/make.pid")" 2>/dev/null || true; fi
	for p in $(procs_with "$marker"); do kill -KILL "$p" 2>/dev/null || true; done
	cleanup
}
trap stop_all EXIT

# gone TEXT TENTHS MESSAGE: wait until no process has TEXT on its command
# line (TENTHS tenths of a second at most), else list them and fail
gone() {
	i=0
	while [ -n "$(procs_with "$1")" ]; do
		i=$((i + 1))
		if [ "$i" -ge "$2" ]; then
			for p in $(procs_with "$1"); do echo "left: $p $(tr '\0' ' ' <"/proc/$p/cmdline")" >&2; done
			fail "$3"
		fi
		sleep 0.1
	done
}
sed "s/MARKER/$marker/g" sig.yml.in >sig.yml
makefile Makefile "load $CDX_SO" '$(cdx-pipeline sig.yml)'

# make in a session (so a process group) of its own, as a terminal's
# foreground job; the shell started by setsid writes its pid, which make
# keeps (exec), and which is the process group's id
# shellcheck disable=SC2016 # $$ is the inner shell's
setsid -w sh -c 'echo $$ >make.pid; exec env '"$MAKE_ENV"' make -j4 sig' >make.out 2>&1 &
bg=$!

# wait until both jobs and the escaped process run
i=0
until [ -e "started.$marker-a" ] && [ -e "started.$marker-b" ] && [ -e "started.$marker-escaped" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the jobs did not start: $(cat make.out)"
	sleep 0.1
done
pgid=$(cat make.pid)
[ -n "$(procs_with "$marker")" ] || fail "no process with the marker"
# the watcher: a cdx job process of this run outside make's process group
run=$(runs_json sig | jq -r '.[0].id')
[ -n "$run" ] && [ "$run" != null ] || fail "no run record while the jobs run"
[ "$(runs_json sig | jq -r '.[0].status')" = running ] || fail "the run is not running: $(runs_json sig)"

kill -INT "-$pgid" || fail "cannot signal make's process group $pgid"
run_rc wait "$bg"
[ "$RC" -ne 0 ] || fail "make exited 0 after SIGINT"
[ ! -e /proc/"$pgid" ] || [ "$(cut -d' ' -f3 /proc/"$pgid"/stat 2>/dev/null)" = Z ] ||
	fail "make ($pgid) is still running after SIGINT"

# no process of the jobs is left once make has exited (a moment's grace
# for the kernel to finish a SIGKILL)
gone "$marker" 20 "job processes left after make exited"
[ ! -e after-ran ] || fail "s/after ran although make was interrupted"

# the run is cancelled, and no process of it is left (the watcher ended)
st=$(settled_status sig)
[ "$st" = cancelled ] || fail "the run is recorded $st, not cancelled: $(runs_json sig)"
gone "$run" 50 "processes of run $run (the watcher?) left"
[ "$(run_count sig)" -eq 1 ] || fail "expected one run record: $(runs_json sig)"
grep -q "cdx: sig/s/spin cancel" make.out || fail "make's output does not say the job was cancelled: $(cat make.out)"

# SIGTERM to make alone (kill PID, not a terminal): make passes it on to
# its jobs and waits for them; the same must hold
rm -f started.*
setsid -w sh -c 'echo $$ >make.pid; exec env '"$MAKE_ENV"' make -j4 sig' >make.out 2>&1 &
bg=$!
i=0
until [ -e "started.$marker-a" ] && [ -e "started.$marker-b" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the jobs did not start (2): $(cat make.out)"
	sleep 0.1
done
kill -TERM "$(cat make.pid)"
set +e
wait "$bg"
set -e
gone "$marker" 100 "job processes left after SIGTERM to make"
st=$(settled_status sig)
[ "$st" = cancelled ] || fail "after SIGTERM the run is recorded $st, not cancelled: $(runs_json sig)"
[ "$(run_count sig)" -eq 2 ] || fail "expected two run records: $(runs_json sig)"

# SIGINT to make alone (kill -INT PID, not a terminal's group): make lets
# the running jobs finish, starts no other, and dies of the signal; the jobs
# that ran all succeeded, yet the run was interrupted: cancelled, not failed
cat >slowsig.yml <<EOF
name: slowsig
stages:
  - name: s
    jobs:
      - name: a
        script: 'touch started.$marker-sa; i=0; while [ ! -e go.$marker ]; do sleep 0.1; i=\$((i + 1)); [ \$i -lt 600 ] || exit 9; done'
      - {name: b, script: 'true'}
      - {name: c, script: 'true'}
  - name: t
    jobs:
      - {name: after, script: touch after2-ran}
EOF
makefile Makefile.slow "load $CDX_SO" '$(cdx-pipeline slowsig.yml)'
# shellcheck disable=SC2016 # $$ is the inner shell's
# (a job started with & ignores SIGINT, and make with it: env gives it back)
setsid -w sh -c 'echo $$ >make.pid; exec env --default-signal=INT '"$MAKE_ENV"' make -f Makefile.slow -j2 slowsig' \
	>make.out 2>&1 &
bg=$!
i=0
until [ -e "started.$marker-sa" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "job s/a did not start: $(cat make.out)"
	sleep 0.1
done
kill -INT "$(cat make.pid)"
touch "go.$marker"
run_rc wait "$bg"
[ "$RC" -ne 0 ] || fail "make exited 0 after SIGINT to make alone: $(cat make.out)"
st=$(settled_status slowsig)
[ "$st" = cancelled ] || fail "after SIGINT to make alone the run is recorded $st, not cancelled: $(runs_json slowsig)"
gone "$marker-sa" 50 "job s/a left after make exited"

echo "t_make_signal: ok"
