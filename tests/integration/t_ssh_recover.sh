#!/bin/sh
# t_ssh_recover: `cdx deploy` over three real sshd hosts killed by SIGKILL
# while the start hook runs on the second host (web1 already switched,
# web2's `current` switched, web3 untouched); `cdx recover` then leaves
# every host on one consistent good release, and no ssh of the dead
# deployment is left running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd_lib.sh"
trap 'sshd_cleanup; cleanup' EXIT

P=$T/p
mkdir -p "$P" && cd "$P"
for h in web1 web2 web3; do sshd_start $h; done
for v in 1.0 2.0; do mkdir -p "build/$v" && echo "$v" >"build/$v/VERSION"; done
cat >cdx.yml <<YML
applications:
  shop:
    artifact: build/\${CDX_VERSION}
    environments:
      prod:
        hosts:
          - {name: web1, ssh: 127.0.0.1, port: $(sshd_port web1), path: $T/h/web1}
          - {name: web2, ssh: 127.0.0.1, port: $(sshd_port web2), path: $T/h/web2}
          - {name: web3, ssh: 127.0.0.1, port: $(sshd_port web3), path: $T/h/web3}
        ssh_config: $SSH_CONFIG
        hooks:
          start: 'echo "\$CDX_VERSION" > "\$CDX_DEPLOY_DIR/running"; if [ -e $T/slow.\$CDX_HOST_NAME.\$CDX_VERSION ]; then touch $T/began; while [ ! -e $T/never ]; do sleep 0.1; done; fi'
        health:
          - command: 'test "\$(cat \${CDX_DEPLOY_DIR}/running)" = "\$CDX_VERSION"'
            retries: 1
YML
expect_status 0 "$CDX" deploy shop prod 1.0
cur() { readlink "$T/h/$1/current"; }

touch "$T/slow.web2.2.0"
"$CDX" deploy shop prod 2.0 >"$T/deploy.out" 2>&1 &
CDX_PID=$!
i=0
until [ -e "$T/began" ]; do
	i=$((i + 1))
	[ "$i" -lt 600 ] || fail "the slow start hook never began: $(cat "$T/deploy.out")"
	kill -0 "$CDX_PID" 2>/dev/null || fail "cdx deploy ended early: $(cat "$T/deploy.out")"
	sleep 0.1
done
pgrep -x ssh | while read -r _p; do tr "\\0" " " <"/proc/$_p/cmdline"; echo; done | grep -q "cdx-ssh-$(id -u)/" || fail "no master connection before the kill"
kill -9 "$CDX_PID"
run_rc wait "$CDX_PID"
[ "$RC" -eq 137 ] || fail "cdx ended by itself (exit $RC)"
[ "$(cur web1) $(cur web2) $(cur web3)" = "releases/2.0 releases/2.0 releases/1.0" ] ||
	fail "the kill came at another point: $(cur web1) $(cur web2) $(cur web3)"

expect_status 0 "$CDX" recover
for h in web1 web2 web3; do
	[ "$(cur $h)" = releases/1.0 ] || fail "$h after recover: $(cur $h)"
	[ "$(cat "$T/h/$h/running")" = 1.0 ] || fail "$h runs $(cat "$T/h/$h/running") after recover"
done
"$CDX" history shop prod --json >"$T/hist.json"
expect_jq "$T/hist.json" '.[-1] | [.version, .serving]' '["2.0","1.0"]'
# per host: what it ends with after the recovery
expect_jq "$T/hist.json" '.[-1].hosts | [.web1.version, .web1.outcome, .web2.version, .web3.version]' '["1.0","good","1.0","1.0"]'
# the master connections the dead deployment left (their control sockets
# in /tmp/cdx-ssh-UID/ID) were reached and closed by the recovery
DEAD=$(jq -r '.[-1].id' "$T/hist.json")
CTL=/tmp/cdx-ssh-$(id -u)/$DEAD
[ ! -e "$CTL" ] || fail "$CTL is left: $(ls "$CTL")"
for _p in $(pgrep -x ssh || true); do
	case $(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null) in *"$CTL/"*) fail "ssh $_p of the dead deployment still runs" ;; esac
done
# and a deployment after it works
rm -f "$T/slow.web2.2.0"
expect_status 0 "$CDX" deploy shop prod 2.0
[ "$(cur web1) $(cur web2) $(cur web3)" = "releases/2.0 releases/2.0 releases/2.0" ] || fail "2.0 after recovery"

echo "t_ssh_recover: ok"
