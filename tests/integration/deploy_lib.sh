# deploy_lib.sh — helpers of the deployment integration tests (t_deploy_*,
# t_rollback, t_recover_crash), sourced after lib.sh.  Every test works in
# $T/p, a project whose hooks are shell commands writing the state of each
# slot or instance into files under $T/p/state, so "what serves" is read
# from files and no network is needed:
#   state/SLOT or state/INSTANCE   the version started there (stop removes it)
#   state/live                     the slot that has all traffic (switch)
#   state/weight                   "SLOT WEIGHT" of the canary (weight)
#   state/log                      "start TARGET VERSION", "weight SLOT W", a line each
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
# blue-green and canary deployments leave a detached `cdx scale-down` that
# stops the old slot after scale_down_delay: the tests that need the old
# slot warm say scale_down_delay: 1h (SLOW_SCALE_DOWN), and whatever is
# still sleeping when a test ends is ended here (found by its command
# line, which names this test's directory)
SLOW_SCALE_DOWN="blue_green: {scale_down_delay: 1h}"
stop_scale_downs() {
	for _p in $(grep -las -- "$T" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,; s,/cmdline$,,'); do
		if { tr '\0' ' ' <"/proc/$_p/cmdline"; } 2>/dev/null | grep -q ' scale-down '; then
			kill "$_p" 2>/dev/null || true
		fi
	done
}
trap 'stop_scale_downs; cleanup' EXIT

# use_project NAME: work in the project directory $T/NAME from now on
use_project() {
	P="$T/$1"
	mkdir -p "$P/state"
	cd "$P" || exit 1
	export CDX_STATE="file:$P/.cdx"
	J="$P/.cdx/journal.jsonl"
}
use_project p

# hooks (single-quoted YAML scalars), shared by the projects of the tests
H_START='echo "$CDX_VERSION" > "state/${CDX_SLOT:-$CDX_INSTANCE}"; echo "start ${CDX_SLOT:-$CDX_INSTANCE} $CDX_VERSION" >> state/log'
H_STOP='rm -f "state/${CDX_SLOT:-$CDX_INSTANCE}"'
H_SWITCH='echo "$CDX_SLOT" > state/live; rm -f state/weight'
H_WEIGHT='echo "$CDX_SLOT $CDX_WEIGHT" > state/weight; echo "weight $CDX_SLOT $CDX_WEIGHT" >> state/log'
# a health check: the version started on this target is the one expected;
# versions named bad* are unhealthy, late* only once they have all traffic
# (a slot) and bad-INSTANCE only on that instance
H_HEALTH='test "$(cat "state/${CDX_SLOT:-$CDX_INSTANCE}")" = "$CDX_VERSION" && case "$CDX_VERSION" in "bad-$CDX_INSTANCE") exit 1;; bad-*) ;; bad*) exit 1;; late*) test "$(cat state/live 2>/dev/null)" != "$CDX_SLOT";; esac'

# hooks_yaml INDENT: the hooks and health keys, indented by INDENT spaces
hooks_yaml() {
	printf "%${1}shooks:\n" ''
	printf "%${1}s  start: '%s'\n" '' "$H_START"
	printf "%${1}s  stop: '%s'\n" '' "$H_STOP"
	printf "%${1}s  switch: '%s'\n" '' "$H_SWITCH"
	printf "%${1}s  weight: '%s'\n" '' "$H_WEIGHT"
	printf "%${1}shealth: {command: '%s', retries: 1, timeout: 10s}\n" '' "$H_HEALTH"
}

# web_app_yaml: the head of a project file with one application, web,
# whose hooks and health are the ones above; the caller adds its
# environments (indented by 6)
web_app_yaml() {
	echo "applications:"
	echo "  web:"
	hooks_yaml 4
	echo "    environments:"
}

# live_version: the version the live slot runs ("" when none)
live_version() {
	[ -f state/live ] || { echo ""; return 0; }
	_ls=$(cat state/live)
	if [ -f "state/$_ls" ]; then cat "state/$_ls"; else echo "MISSING($_ls)"; fi
}

# versions of instances A B C...: "v v v"
instance_versions() {
	_iv=
	for _i in "$@"; do
		if [ -f "state/$_i" ]; then _iv="$_iv $(cat "state/$_i")"; else _iv="$_iv -"; fi
	done
	echo "${_iv# }"
}

# current: what the `current` symlink of APP/ENV points at
current_link() { readlink "$P/.deploy/$1/$2/current" 2>/dev/null || echo none; }

# journal_check: every line of the journal is a valid frame whose record
# parses; prints the number of records
journal_check() {
	[ -f "$J" ] || { echo 0; return 0; }
	_jn=$(wc -l <"$J")
	_jok=$(jq -c 'select(.seq and .crc and .rec)' "$J" | wc -l) || fail "the journal does not parse: $(tail -c 300 "$J")"
	[ "$_jn" -eq "$_jok" ] || fail "journal: $_jn lines, $_jok valid records"
	[ -z "$(tail -c 1 "$J")" ] || fail "journal: the last record is cut short"
	echo "$_jn"
}

# dep_field ID F: field F of deployment ID
dep_field() { "$CDX" status "$1" --json | jq -r ".$2"; }

# jcount FILTER: how many records of the journal match the jq condition
# (slurped: jq -e over many inputs judges only the last one in jq 1.6)
jcount() { jq -s "[.[] | .rec | select($1)] | length" "$J"; }

# snapshot: what a dry run must not change (journal bytes, every link of
# the release roots, the state files) into FILE
snapshot() {
	{
		cat "$J"
		find "$P/.deploy" -type l | sort | while read -r _l; do echo "$_l -> $(readlink "$_l")"; done
		find "$P/.deploy" -type d | sort
		for _f in state/*; do echo "$_f: $(cat "$_f")"; done
	} >"$1"
}
