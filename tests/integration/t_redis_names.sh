#!/bin/sh
# t_redis_names.sh — names with spaces, '*', ':' or CR/LF stay inside their
# keys: the Redis store sends argument vectors, never command text, so a
# name cannot start another command or split a key.  Checked with MONITOR
# (every key the scripts touch holds the whole name) and by reading the
# keys back byte for byte.
. "$(dirname "$0")/lib.sh"
SC="$CDX_BUILD/tests/tools/store_client"
start_redis
cd "$T"
U="$REDIS_URL?local=$T/local"
CR=$(printf '\r')
NAME="sp ace*co:lon${CR}
SET evil 1"
redis-cli -p "$REDIS_PORT" monitor >monitor.txt 2>&1 & # not R: $! must be redis-cli
mp=$!
sleep 0.3
"$SC" "$U" run "$NAME" run-1 || fail "store_client run failed"
"$SC" "$U" run "*" run-2 || fail "store_client run failed"
"$SC" "$U" deploy "$NAME" "pr:od" v1 || fail "store_client deploy failed"
"$SC" "$U" deploy "$NAME:pr" "od" v2 || fail "store_client deploy failed"
"$SC" "$U" lock "deploy:a b:*${CR}
x" 5000 0 10 >lock.out || fail "lock with an odd name failed: $(cat lock.out)"
sleep 0.3
kill "$mp"; wait "$mp" 2>/dev/null || true

# nothing was injected, nothing was split
[ "$(R exists evil)" = 0 ] || fail "a name injected a command"
[ "$(R zcard "cdx:runs:$NAME")" = 1 ] || fail "cdx:runs:NAME does not hold the run: $(R keys '*')"
[ "$(R hget "cdx:health:$NAME" runs)" = 1 ] || fail "cdx:health:NAME"
R --raw xrange "cdx:jobdurations:$NAME" - + | grep -qx 's/j' || fail "cdx:jobdurations:NAME"
[ "$(R sismember cdx:pipelines "$NAME")" = 1 ] || fail "cdx:pipelines lacks the name"
[ "$(R zcard "cdx:runs:*")" = 1 ] || fail "'*' is its own pipeline"
# two names in one key: the first has ':', '%' and control bytes encoded,
# so app "N" env "pr:od" and app "N:pr" env "od" stay apart
[ "$(R get "cdx:current:sp ace*co%3Alon%0D%0ASET evil 1:pr:od")" = v1 ] ||
	fail "current key not encoded as documented: $(R --no-raw --scan --pattern 'cdx:current:*')"
[ "$(R get "cdx:current:sp ace*co%3Alon%0D%0ASET evil 1%3Apr:od")" = v2 ] ||
	fail "current key not encoded as documented: $(R --no-raw --scan --pattern 'cdx:current:*')"
[ "$(R get "cdx:fence:deploy:a b:*${CR}
x")" = 1 ] || fail "fence key of an odd lock name"
# MONITOR: each key appears whole, as one argument
grep -F '"cdx:runs:sp ace*co:lon\r\nSET evil 1"' monitor.txt >/dev/null || fail "MONITOR: no whole runs key: $(grep -i zadd monitor.txt)"
grep -F '"cdx:health:sp ace*co:lon\r\nSET evil 1"' monitor.txt >/dev/null || fail "MONITOR: no whole health key"
grep -F '"cdx:lock:deploy:a b:*\r\nx"' monitor.txt >/dev/null || fail "MONITOR: no whole lock key"
grep -F '"SET" "evil"' monitor.txt >/dev/null && fail "MONITOR shows an injected command"
# and no key was made from a piece of a name
R --no-raw --scan --pattern '*' >keys.txt
grep -v '^"cdx:' keys.txt && fail "keys outside the prefix"
grep evil keys.txt | grep -v -e '^"cdx:runs:' -e '^"cdx:health:' -e '^"cdx:rundur:' -e '^"cdx:jobdurations:' \
	-e '^"cdx:current:' -e '^"cdx:history:' -e '^"cdx:deployments:' &&
	fail "a piece of a name became a key of its own"
echo "ok odd names stay inside their keys"
