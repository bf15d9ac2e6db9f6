#!/bin/sh
# generate.sh — writes the invalid files that cannot be typed as text: bytes
# that are not UTF-8, a NUL byte, and nesting deeper than the 64-level limit.
# The generated files are committed too; rerun this after editing it:
#   cd tests/data/invalid && sh generate.sh
set -eu
cd "$(dirname "$0")"

# line 5, column 18: a Latin-1 e-acute (0xe9) that is not UTF-8
printf 'name: ci\nstages:\n  - name: build\n    jobs:\n      - name: caf\351\n        script: make\n' > not_utf8.yml

# line 6, column 22: a NUL byte inside a script
printf 'name: ci\nstages:\n  - name: build\n    jobs:\n      - name: compile\n        script: make \000 all\n' > nul_byte.yml

# line 5: 70 nested flow sequences inside a script
{
	printf 'name: ci\nstages:\n  - name: build\n    jobs:\n      - name: compile\n        script: '
	i=0; while [ "$i" -lt 70 ]; do printf '['; i=$((i + 1)); done
	printf 'x'
	i=0; while [ "$i" -lt 70 ]; do printf ']'; i=$((i + 1)); done
	printf '\n'
} > deep_nesting.yml
