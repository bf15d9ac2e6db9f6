#!/bin/sh
# t_ssh_rolling: a rolling deployment over three real sshd "hosts" in
# batches of one: the artifact uploaded to each host (checksum verified),
# shared/ linked in, `current` switched, the start hook run on the host
# over SSH with CDX_HOST and the host's variables; a health failure on the
# second host rolls back exactly hosts one and two, newest first; a
# version with shell syntax is refused and nothing runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd_lib.sh"
trap 'sshd_cleanup; cleanup' EXIT

P=$T/p
mkdir -p "$P" && cd "$P"
for h in web1 web2 web3; do sshd_start $h; done
for v in 1.0 2.0 3.0; do mkdir -p "build/$v/bin" && echo "$v" >"build/$v/VERSION" && echo app >"build/$v/bin/app"; done
cat >cdx.yml <<YML
applications:
  shop:
    artifact: build/\${CDX_VERSION}
    environments:
      prod:
        strategy: rolling
        hosts:
          - {name: web1, ssh: 127.0.0.1, port: $(sshd_port web1), path: $T/h/web1, variables: {COLOR: red, MSG: "it's \$(touch $T/pwned2); \`id\` 'x' | ; >"}}
          - {name: web2, ssh: 127.0.0.1, port: $(sshd_port web2), path: $T/h/web2, variables: {COLOR: green}}
          - {name: web3, ssh: 127.0.0.1, port: $(sshd_port web3), path: $T/h/web3, variables: {COLOR: blue}}
        ssh_config: $SSH_CONFIG
        shared: [log/, .env]
        rolling: {batch: 1}
        hooks:
          start: 'echo "start \$CDX_HOST_NAME \$CDX_VERSION \$COLOR \$CDX_HOST \${SSH_CONNECTION:+remote}" >> $T/hooks.log; echo "\$CDX_VERSION" > "\$CDX_DEPLOY_DIR/running"; printf "%s" "\$MSG" > "\$CDX_DEPLOY_DIR/msg"; env > "\$CDX_DEPLOY_DIR/env"'
        health:
          - command: 'test ! -e $T/fail.\${CDX_HOST_NAME} && test "\$(cat \${CDX_DEPLOY_DIR}/running)" = "\$CDX_VERSION"'
            retries: 1
YML
expect_status 0 "$CDX" validate cdx.yml

# ---- 1.0 then 2.0 on all three, in order
expect_status 0 "$CDX" deploy shop prod 1.0
expect_status 0 "$CDX" deploy shop prod 2.0
for h in web1 web2 web3; do
	[ "$(readlink "$T/h/$h/current")" = releases/2.0 ] || fail "$h current is $(readlink "$T/h/$h/current")"
	[ "$(cat "$T/h/$h/current/VERSION")" = 2.0 ] || fail "$h serves the wrong content"
	[ -L "$T/h/$h/releases/2.0/log" ] && [ -d "$T/h/$h/shared/log" ] || fail "$h: shared log/ not linked"
	[ -L "$T/h/$h/releases/2.0/.env" ] && [ -f "$T/h/$h/shared/.env" ] || fail "$h: shared .env not linked"
	[ -d "$T/h/$h/releases/1.0" ] || fail "$h: releases/1.0 missing"
done
# values reach the host as they are, quoted: nothing in them ran
[ "$(cat "$T/h/web1/msg")" = "it's \$(touch $T/pwned2); \`id\` 'x' | ; >" ] || fail "MSG on web1: $(cat "$T/h/web1/msg")"
[ ! -e "$T/pwned2" ] || fail "a variable's value ran as a command"
# and nothing of cdx's own environment (the store's address) goes there
! grep -q '^CDX_STATE=' "$T/h/web1/env" || fail "CDX_STATE reached the host"
grep -q '^CDX_LOCK_TOKEN=[1-9]' "$T/h/web1/env" || fail "CDX_LOCK_TOKEN did not reach the hook"
# hooks ran on the hosts (sshd set SSH_CONNECTION), in file order, with each host's variables
grep '2.0' "$T/hooks.log" >"$T/h2"
[ "$(cat "$T/h2")" = "start web1 2.0 red 127.0.0.1 remote
start web2 2.0 green 127.0.0.1 remote
start web3 2.0 blue 127.0.0.1 remote" ] || fail "start hooks: $(cat "$T/hooks.log")"
# every master connection was closed (ssh -O exit): no ssh left running
for _p in $(pgrep -x ssh || true); do
	case $(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null) in *"$SSH_CONFIG"*) fail "ssh $_p left running" ;; esac
done

# ---- 3.0 fails health on web2: web2 then web1 back to 2.0, web3 untouched
: >"$T/hooks.log"
touch "$T/fail.web2"
expect_status 1 "$CDX" deploy shop prod 3.0
expect_contains "web2"
expect_contains "rolled back"
[ "$(cat "$T/hooks.log")" = "start web1 3.0 red 127.0.0.1 remote
start web2 3.0 green 127.0.0.1 remote
start web2 2.0 green 127.0.0.1 remote
start web1 2.0 red 127.0.0.1 remote" ] || fail "rollback order: $(cat "$T/hooks.log")"
for h in web1 web2 web3; do
	[ "$(readlink "$T/h/$h/current")" = releases/2.0 ] || fail "$h current after the rollback: $(readlink "$T/h/$h/current")"
done
[ ! -e "$T/h/web3/releases/3.0" ] || fail "web3 was touched"
rm -f "$T/fail.web2"
"$CDX" history shop prod --json >"$T/hist.json"
expect_jq "$T/hist.json" '.[-1] | [.version, .state, .serving]' '["3.0","rolled_back","2.0"]'

# ---- a version with shell syntax: refused before anything runs
rm -f /tmp/pwned.$$
expect_status 2 "$CDX" deploy shop prod "1.0;touch /tmp/pwned.$$"
expect_contains "invalid"
[ ! -e /tmp/pwned.$$ ] || fail "the version ran as a command"

# ---- cdx validate refuses bad hosts, each at its FILE:LINE:COL
mkdir -p "$T/bad" && cd "$T/bad"
cat >cdx.yml <<'YML'
applications:
  a:
    environments:
      prod:
        path: /srv/x
        hosts:
          - {name: web1, ssh: "-oProxyCommand=x"}
          - {name: "bad name", ssh: h}
          - {name: w3, ssh: "h;rm", path: "rel/x"}
          - {name: w4, ssh: h}
          - {name: w4, ssh: h}
        shared: [../etc]
        rolling: {batch: "150%"}
        ssh_config: no/such/ssh_config
YML
expect_status 2 "$CDX" validate cdx.yml
expect_contains "cdx.yml:7:31: ssh '-oProxyCommand=x' of host 'web1' is not [USER@]HOST"
expect_contains "cdx.yml:8:20: host name 'bad name' is invalid"
expect_contains "cdx.yml:9:29: ssh 'h;rm'"
expect_contains "cdx.yml:11:13: environment 'prod' names host 'w4' twice"
expect_contains "cdx.yml:12:18: shared path '../etc'"
expect_contains "cdx.yml:13:26: batch '150%'"
expect_contains "cdx.yml:14:21: ssh_config 'no/such/ssh_config' cannot be read"

echo "t_ssh_rolling: ok"
