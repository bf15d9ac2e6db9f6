#!/bin/sh
# t_ssh_bluegreen: blue_green over two real sshd "hosts": both release
# slots exist on every host and the switch moves `current` on every host
# together; the old slot is stopped on every host; --dry-run prints each
# host's remote commands and changes nothing; a hook that calls cdx on
# its own environment is refused at once (CDX_LOCK_TOKEN), not deadlocked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd_lib.sh"
trap 'sshd_cleanup; cleanup' EXIT

P=$T/p
mkdir -p "$P" && cd "$P"
sshd_start web1
sshd_start web2
for v in 1.0 2.0; do mkdir -p "build/$v" && echo "$v" >"build/$v/VERSION"; done
cat >cdx.yml <<YML
applications:
  shop:
    artifact: build/\${CDX_VERSION}
    environments:
      prod:
        strategy: blue_green
        path: $T/h/\${HOST}
        hosts:
          - {name: web1, ssh: 127.0.0.1, port: $(sshd_port web1), path: $T/h/web1}
          - {name: web2, ssh: 127.0.0.1, port: $(sshd_port web2), path: $T/h/web2}
        ssh_config: $SSH_CONFIG
        blue_green: {scale_down_delay: 0s}
        hooks:
          start: 'echo "\$CDX_VERSION" > "\$CDX_DEPLOY_DIR/run.\$CDX_SLOT"; echo "start \$CDX_HOST_NAME \$CDX_SLOT \$CDX_VERSION" >> $T/hooks.log'
          stop: 'rm -f "\$CDX_DEPLOY_DIR/run.\$CDX_SLOT"; echo "stop \$CDX_HOST_NAME \$CDX_SLOT" >> $T/hooks.log'
          switch: 'echo "\$CDX_SLOT" > "\$CDX_DEPLOY_DIR/live"; echo "switch \$CDX_HOST_NAME \$CDX_SLOT" >> $T/hooks.log'
        health:
          - command: 'test "\$(cat \${CDX_DEPLOY_DIR}/slots/\${CDX_SLOT}/VERSION)" = "\$CDX_VERSION"'
            retries: 1
YML
expect_status 2 "$CDX" validate cdx.yml
expect_contains "path '$T/h/\${HOST}' is not an absolute path"
sed -i "s|        path: $T/h/\\\${HOST}\$|        path: $T/h/default|" cdx.yml
expect_status 0 "$CDX" validate cdx.yml

# ---- --dry-run: the remote commands per host, nothing done
expect_status 0 "$CDX" deploy shop prod 1.0 --dry-run
expect_contains "web1: 'test' '-d' '$T/h/web1/releases/1.0'"
expect_contains "web2: 'sh' '-c' '"
expect_contains "'slots/blue' '1.0'"
expect_contains "nothing was changed"
[ ! -e "$T/h/web1" ] && [ ! -e "$T/h/web2" ] || fail "--dry-run changed a host"
[ ! -s "$T/hooks.log" ] || fail "--dry-run ran hooks"
"$CDX" history shop prod --json >"$T/hist.json"
expect_jq "$T/hist.json" 'length' '0'

# ---- 1.0 then 2.0: every host switched to the new slot
expect_status 0 "$CDX" deploy shop prod 1.0
expect_status 0 "$CDX" deploy shop prod 2.0
for h in web1 web2; do
	[ "$(readlink "$T/h/$h/current")" = releases/2.0 ] || fail "$h current: $(readlink "$T/h/$h/current")"
	[ "$(readlink "$T/h/$h/slots/blue")" = ../releases/1.0 ] || fail "$h slots/blue"
	[ "$(readlink "$T/h/$h/slots/green")" = ../releases/2.0 ] || fail "$h slots/green"
	[ "$(cat "$T/h/$h/live")" = green ] || fail "$h live: $(cat "$T/h/$h/live")"
	[ ! -e "$T/h/$h/run.blue" ] || fail "$h: the old slot was not stopped"
	[ "$(cat "$T/h/$h/run.green")" = 2.0 ] || fail "$h: green does not run 2.0"
done
grep -q "switch web1 green" "$T/hooks.log" && grep -q "switch web2 green" "$T/hooks.log" || fail "switch: $(cat "$T/hooks.log")"

# ---- rollback: back to blue with 1.0 on every host
expect_status 0 "$CDX" rollback shop prod
for h in web1 web2; do
	[ "$(readlink "$T/h/$h/current")" = releases/1.0 ] || fail "$h current after rollback: $(readlink "$T/h/$h/current")"
	[ "$(cat "$T/h/$h/live")" = blue ] || fail "$h live after rollback"
done

# ---- --hosts is for rolling: every host of a blue_green switches together
expect_status 2 "$CDX" deploy shop prod 2.0 --hosts web1
expect_contains "switches every host together"

# ---- a hook calling cdx on its own environment: refused at once (exit 3)
sed -i "s|          switch: '|          switch: 'CDX_STATE=$CDX_STATE $CDX --config $P/cdx.yml deploy shop prod 9.9 --wait 1h; echo \"nested \$?\" >> $T/nested.log; |" cdx.yml
expect_status 0 "$CDX" deploy shop prod 2.0
[ "$(sort -u "$T/nested.log")" = "nested 3" ] || fail "nested cdx: $(cat "$T/nested.log")"

echo "t_ssh_bluegreen: ok"
