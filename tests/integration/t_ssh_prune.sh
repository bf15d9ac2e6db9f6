#!/bin/sh
# t_ssh_prune: keep_releases on real sshd hosts prunes failed releases
# first and never the newest good one; the history shows each host's
# result; a rollback picks the newest release that is good on every host
# (not one a partial deployment put on some hosts only).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd_lib.sh"
trap 'sshd_cleanup; cleanup' EXIT

P=$T/p
mkdir -p "$P" && cd "$P"
sshd_start web1
sshd_start web2
for v in 1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0; do mkdir -p "build/$v" && echo "$v" >"build/$v/VERSION"; done
cat >cdx.yml <<YML
applications:
  shop:
    artifact: build/\${CDX_VERSION}
    environments:
      prod:
        hosts:
          - {name: web1, ssh: 127.0.0.1, port: $(sshd_port web1), path: $T/h/web1}
          - {name: web2, ssh: 127.0.0.1, port: $(sshd_port web2), path: $T/h/web2}
        ssh_config: $SSH_CONFIG
        keep_releases: 3
        hooks:
          start: 'echo "\$CDX_VERSION" > "\$CDX_DEPLOY_DIR/running"'
        health:
          - command: 'test ! -e $T/bad.\$CDX_VERSION'
            retries: 1
YML
rels() { ls "$T/h/$1/releases" | tr '\n' ' '; }
expect_status 0 "$CDX" deploy shop prod 1.0
expect_status 0 "$CDX" deploy shop prod 2.0
for v in 3.0 4.0 5.0; do
	touch "$T/bad.$v"
	expect_status 1 "$CDX" deploy shop prod $v
done
[ "$(rels web1)" = "1.0 2.0 3.0 4.0 5.0 " ] || fail "web1 before pruning: $(rels web1)"
# 6.0 succeeds: in use 6.0 and 2.0 (what served before); one more may
# stay: the failed ones go first, the good 1.0 stays
expect_status 0 "$CDX" deploy shop prod 6.0
for h in web1 web2; do
	[ "$(rels $h)" = "1.0 2.0 6.0 " ] || fail "$h after pruning: $(rels $h)"
done

# ---- 7.0 on web1 only, then 8.0 everywhere: a rollback skips 7.0 (never
# good on web2) for 6.0, good on both
expect_status 0 "$CDX" deploy shop prod 7.0 --hosts web1
expect_status 0 "$CDX" deploy shop prod 8.0
expect_status 0 "$CDX" history shop prod
expect_contains "host web1: 7.0 good"
expect_contains "host web2: 6.0 good"
expect_contains "host web1: 3.0 failed"
"$CDX" history shop prod --json >"$T/hist.json"
expect_jq "$T/hist.json" '[.[] | select(.version == "7.0")][0].hosts' '{"web1":{"version":"7.0","outcome":"good"},"web2":{"version":"6.0","outcome":"good"}}'
expect_status 0 "$CDX" rollback shop prod --dry-run --json
echo "$OUT" >"$T/plan.json"
expect_jq "$T/plan.json" '.to' '"6.0"'
expect_status 0 "$CDX" rollback shop prod
for h in web1 web2; do
	[ "$(readlink "$T/h/$h/current")" = releases/6.0 ] || fail "$h after the rollback: $(readlink "$T/h/$h/current")"
	[ "$(cat "$T/h/$h/running")" = 6.0 ] || fail "$h runs $(cat "$T/h/$h/running")"
done

echo "t_ssh_prune: ok"
