#!/bin/sh
# t_redis_auth.sh — AUTH: a server with requirepass and an ACL user; the
# right password (alone, or with the user, %-encoded when it holds URL
# characters) works; no password or wrong credentials fail closed with exit
# 4, naming the address, without the password in any message and with
# nothing written.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
start_redis --requirepass s3cret --user ci on '>p@ss:w/rd' '~*' '&*' '+@all'
cd "$T"
R() { redis-cli -p "$REDIS_PORT" --no-auth-warning -a s3cret "$@"; }
H="127.0.0.1:$REDIS_PORT"
export CDX_REDIS_LOCAL="$T/local"
printf 'name: a\nstages:\n  - name: s\n    jobs:\n      - {name: j, script: touch ran}\n' >a.yml

# fail closed: no password, a wrong one, a wrong user
for url in "redis://$H" "redis://:wrong@$H" "redis://ci:wrong@$H" "redis://nobody:s3cret@$H"; do
	rm -f ran
	expect_status 4 "$CDX" --state "$url" run a.yml
	expect_contains "$H"
	expect_not_contains wrong
	expect_not_contains s3cret
	[ ! -e ran ] || fail "a job ran with $url"
	expect_status 4 "$CDX" --state "$url" runs
done
[ "$(R dbsize)" = 0 ] || fail "something was written: $(R keys '*')"
echo "ok wrong credentials fail closed"

# the password alone (default user), then the ACL user with an encoded one
expect_status 0 "$CDX" --state "redis://:s3cret@$H" run a.yml
expect_status 0 "$CDX" --state "redis://ci:p%40ss%3Aw%2Frd@$H/0" run a.yml
[ "$(R hget cdx:health:a runs)" = 2 ] || fail "health after two runs: $(R hgetall cdx:health:a)"
expect_status 0 "$CDX" --state "redis://ci:p%40ss%3Aw%2Frd@$H" runs --json
[ "$(echo "$OUT" | jq length)" = 2 ] || fail "runs: $OUT"
# another database
expect_status 0 "$CDX" --state "redis://:s3cret@$H/3" run a.yml
[ "$(R -n 3 hget cdx:health:a runs)" = 1 ] || fail "database 3 not used"
expect_status 4 "$CDX" --state "redis://:s3cret@$H/99999" runs
expect_status 2 "$CDX" --state "redis://:s3cret@$H/x" runs
echo "ok password, ACL user and database select"
