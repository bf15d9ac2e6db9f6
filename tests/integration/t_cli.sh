#!/bin/sh
# t_cli.sh — the cdx tool's own surface: --help, help COMMAND, --version,
# unknown commands and options, plugin-path, pipelines.
. "$(dirname "$0")/lib.sh"

version=$(sed -n 's/^#define CDX_VERSION "\(.*\)"/\1/p' "$TOP/include/cdx.h")
[ -n "$version" ] || fail "cannot read CDX_VERSION from include/cdx.h"

# --help and -h: usage on stdout, every command listed, exit 0
for h in --help -h help; do
	run_rc "$CDX" "$h" >"$T/out" 2>"$T/err"
	[ "$RC" -eq 0 ] || fail "cdx $h: exit $RC"
	[ ! -s "$T/err" ] || fail "cdx $h wrote to stderr: $(cat "$T/err")"
	OUT=$(cat "$T/out")
	expect_contains "usage: cdx [--config FILE] [--state URL] COMMAND [ARGS]"
	for c in "validate FILE..." "run FILE|NAME" "pipelines" "plugin-path" "help COMMAND" "--version"; do
		expect_contains "  cdx $c"
	done
	expect_contains "exit status: 0 success, 1 the work failed, 2 usage or configuration error"
done

# no command at all: usage on stderr, exit 2
run_rc "$CDX" >"$T/out" 2>"$T/err"
[ "$RC" -eq 2 ] || fail "cdx without a command: exit $RC, not 2"
[ ! -s "$T/out" ] || fail "cdx without a command wrote to stdout"
grep -q '^usage: cdx ' "$T/err" || fail "cdx without a command: no usage on stderr"

# help COMMAND and COMMAND --help print the same text
for c in validate run pipelines plugin-path; do
	expect_status 0 "$CDX" help "$c"
	expect_contains "usage: cdx $c"
	help_text=$OUT
	expect_status 0 "$CDX" "$c" --help
	[ "$OUT" = "$help_text" ] || fail "cdx $c --help differs from cdx help $c"
	expect_status 0 "$CDX" "$c" -h
	[ "$OUT" = "$help_text" ] || fail "cdx $c -h differs from cdx help $c"
done
expect_status 0 "$CDX" help validate
expect_contains "Exit status: 0 all valid, 2 a problem was found."
expect_contains "--json"
expect_status 0 "$CDX" help run
expect_contains "--dry-run"
expect_contains "-j N, --jobs N"

expect_status 2 "$CDX" help frobnicate
[ "$OUT" = "cdx: unknown command 'frobnicate' (see cdx --help)" ] || fail "help frobnicate: $OUT"

# --version
for v in --version version; do
	expect_status 0 "$CDX" "$v"
	[ "$OUT" = "cdx $version" ] || fail "cdx $v printed [$OUT], expected [cdx $version]"
done

# unknown commands and options: exit 2, a message naming them
expect_status 2 "$CDX" frobnicate
[ "$OUT" = "cdx: unknown command 'frobnicate' (see cdx --help)" ] || fail "unknown command: $OUT"
expect_status 2 "$CDX" --frobnicate
expect_contains "unknown command '--frobnicate'"
expect_status 2 "$CDX" validate --frobnicate x.yml
expect_contains "cdx validate: unknown option --frobnicate"
expect_contains "(see cdx help validate)"
expect_status 2 "$CDX" run --frobnicate x.yml
expect_contains "cdx run: unknown option --frobnicate"
expect_status 2 "$CDX" pipelines extra
expect_contains "cdx pipelines: unknown argument extra"
# a global option without its value
expect_status 2 "$CDX" validate x.yml --config
expect_contains "option --config needs a value"
expect_status 2 "$CDX" --state
expect_contains "option --state needs a value"

# plugin-path: the cdx.so of the build tree, an absolute path that exists
expect_status 0 "$CDX" plugin-path
so=$OUT
case "$so" in /*) ;; *) fail "plugin-path is not absolute: $so" ;; esac
[ -f "$so" ] || fail "plugin-path names a missing file: $so"
[ "$(cd "$(dirname "$so")" && pwd -P)/cdx.so" = "$(cd "$CDX_BUILD" && pwd -P)/cdx.so" ] ||
	fail "plugin-path printed $so, expected the build tree's $CDX_BUILD/cdx.so"
# the same from another directory, and with global options around it
expect_status 0 sh -c "cd / && '$CDX' --config /nonexistent.yml plugin-path"
[ "$OUT" = "$so" ] || fail "plugin-path depends on the working directory: $OUT"
expect_status 2 "$CDX" plugin-path extra
expect_contains "cdx plugin-path: takes no arguments"
# GNU make can load what it names
if make --version 2>/dev/null | grep -q 'GNU Make' && make -p -f /dev/null 2>/dev/null | grep -q '^\.FEATURES.* load'; then
	printf 'load %s\nall: ; @echo loaded\n' "$so" >"$T/Makefile"
	expect_status 0 run_make -s -f "$T/Makefile"
	expect_contains "loaded"
fi

# pipelines: needs a project file; lists what it registers
mkdir "$T/proj" "$T/proj/ci"
cat >"$T/proj/ci/build.yml" <<'EOF'
stages:
  - name: build
    jobs:
      - {name: compile, script: make}
      - {name: docs, script: make docs}
EOF
cat >"$T/proj/broken.yml" <<'EOF'
stages: {}
EOF
cat >"$T/proj/cdx.yml" <<'EOF'
pipelines:
  build: ci/build.yml
  broken: broken.yml
EOF
expect_status 2 sh -c "cd '$T' && '$CDX' pipelines"
expect_contains "cdx: pipelines: no project file cdx.yml"
expect_status 2 sh -c "cd '$T/proj' && '$CDX' pipelines"
expect_contains "ci/build.yml"
expect_contains "1 stages"
expect_contains "invalid (1 problems; see cdx validate broken.yml)"
expect_status 2 "$CDX" --config "$T/proj/cdx.yml" pipelines --json
if command -v jq >/dev/null 2>&1; then
	printf '%s\n' "$OUT" >"$T/p.json"
	[ "$(jq -r '.[0].name' "$T/p.json")" = build ] || fail "pipelines --json: $OUT"
	[ "$(jq -r '.[0].file' "$T/p.json")" = "$T/proj/ci/build.yml" ] || fail "pipelines --json file: $OUT"
	[ "$(jq -r '.[0].jobs' "$T/p.json")" = 2 ] || fail "pipelines --json jobs: $OUT"
	[ "$(jq -r '.[1].valid' "$T/p.json")" = false ] || fail "pipelines --json valid: $OUT"
	[ "$(jq -r '.[1].problems' "$T/p.json")" = 1 ] || fail "pipelines --json problems: $OUT"
fi
# CDX_CONFIG names the project file too
rm "$T/proj/broken.yml"
printf 'pipelines:\n  build: ci/build.yml\n' >"$T/proj/cdx.yml"
expect_status 0 env CDX_CONFIG="$T/proj/cdx.yml" "$CDX" pipelines
expect_contains "build"
expect_contains "2 jobs"
exit 0
