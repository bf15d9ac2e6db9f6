#!/bin/sh
# t_ssh_hosts: an unreachable host fails the deployment, is named, and the
# hosts already switched go back; --hosts leaves it out (and its rollback
# too); a host whose key changed is refused with how to trust it, and
# nothing runs there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd_lib.sh"
trap 'sshd_cleanup; cleanup' EXIT

P=$T/p
mkdir -p "$P" && cd "$P"
for h in web1 web2 web3; do sshd_start $h; done
cat >cdx.yml <<YML
applications:
  shop:
    environments:
      prod:
        hosts:
          - {name: web1, ssh: 127.0.0.1, port: $(sshd_port web1), path: $T/h/web1}
          - {name: web2, ssh: 127.0.0.1, port: $(sshd_port web2), path: $T/h/web2}
          - {name: web3, ssh: 127.0.0.1, port: $(sshd_port web3), path: $T/h/web3}
        ssh_config: $SSH_CONFIG
        rolling: {batch: "50%"}
        hooks:
          start: 'echo "start \$CDX_HOST_NAME \$CDX_VERSION" >> $T/hooks.log'
YML
expect_status 0 "$CDX" deploy shop prod 1.0
cur() { readlink "$T/h/$1/current"; }
[ "$(cur web1) $(cur web2) $(cur web3)" = "releases/1.0 releases/1.0 releases/1.0" ] || fail "1.0 everywhere"

# ---- web3 down: batch 1 (web1, web2) switched, then web3 fails: both back
sshd_stop web3
expect_status 1 "$CDX" deploy shop prod 2.0
expect_contains "host web3 (127.0.0.1) is unreachable"
[ "$(cur web1) $(cur web2) $(cur web3)" = "releases/1.0 releases/1.0 releases/1.0" ] || fail "after web3 failed: $(cur web1) $(cur web2) $(cur web3)"

expect_status 0 "$CDX" history shop prod
expect_contains "host web3: 2.0 failed (unreachable)"

# ---- left out: --hosts web1,web2 deploys them, web3 keeps 1.0
expect_status 0 "$CDX" deploy shop prod 2.0 --hosts web1,web2
[ "$(cur web1) $(cur web2) $(cur web3)" = "releases/2.0 releases/2.0 releases/1.0" ] || fail "--hosts: $(cur web1) $(cur web2) $(cur web3)"
expect_status 2 "$CDX" deploy shop prod 2.0 --hosts web9
expect_contains "unknown host 'web9'"
# a partial rollback of web2 only, web3 still left out
expect_status 0 "$CDX" rollback shop prod --to 1.0 --hosts web2
[ "$(cur web1) $(cur web2) $(cur web3)" = "releases/2.0 releases/1.0 releases/1.0" ] || fail "rollback --hosts: $(cur web1) $(cur web2) $(cur web3)"

# ---- web3 back with a new host key: refused, with how to trust it
sshd_rekey web3
: >"$T/hooks.log"
expect_status 1 "$CDX" deploy shop prod 3.0 --hosts web3
expect_contains "host web3 (127.0.0.1): its host key is unknown or changed, refused"
expect_contains "ssh-keyscan -p $(sshd_port web3) 127.0.0.1 >> ~/.ssh/known_hosts"
[ ! -s "$T/hooks.log" ] || fail "a hook ran on a host with a changed key: $(cat "$T/hooks.log")"
[ ! -e "$T/h/web3/releases/3.0" ] || fail "a release was made on a host with a changed key"
# an unknown host (not in known_hosts at all) is refused the same way
: >"$KNOWN_HOSTS.empty"
sed -i "s|UserKnownHostsFile .*|UserKnownHostsFile $KNOWN_HOSTS.empty|" "$SSH_CONFIG"
expect_status 1 "$CDX" deploy shop prod 3.0 --hosts web1
expect_contains "host web1 (127.0.0.1): its host key is unknown or changed, refused"

echo "t_ssh_hosts: ok"
