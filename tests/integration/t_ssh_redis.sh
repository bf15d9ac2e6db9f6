#!/bin/sh
# t_ssh_redis: deployments over real sshd hosts with the Redis store: a
# batch of three hosts uploaded in parallel (the children never use the
# store's connection; the lock is renewed by cdx alone), the per-host
# records in Redis, and a hook calling cdx on its own environment refused
# at once by the lock's fencing token (CDX_LOCK_TOKEN), not deadlocked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd_lib.sh"
trap 'sshd_cleanup; cleanup' EXIT
redis_state

P=$T/p
mkdir -p "$P" && cd "$P"
for h in web1 web2 web3; do sshd_start $h; done
for v in 1.0 2.0; do mkdir -p "build/$v" && head -c 200000 /dev/urandom >"build/$v/blob" && echo "$v" >"build/$v/VERSION"; done
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
        rolling: {batch: 3}
        hooks:
          start: 'echo "\$CDX_VERSION" > "\$CDX_DEPLOY_DIR/running"'
        health:
          - command: 'test "\$(cat \${CDX_DEPLOY_DIR}/running)" = "\$CDX_VERSION"'
            retries: 1
YML
expect_status 0 "$CDX" deploy shop prod 1.0
expect_status 0 "$CDX" deploy shop prod 2.0
for h in web1 web2 web3; do
	[ "$(readlink "$T/h/$h/current")" = releases/2.0 ] || fail "$h: $(readlink "$T/h/$h/current")"
	cmp -s "build/2.0/blob" "$T/h/$h/releases/2.0/blob" || fail "$h: the artifact differs"
done
redis_records >"$T/recs"
[ "$(grep -c '"t":"host".*"outcome":"good"' "$T/recs")" -eq 6 ] || fail "host records: $(grep '"t":"host"' "$T/recs")"

# a hook that deploys its own environment again: exit 3 at once
sed -i "s|          start: '|          start: 'CDX_STATE=$CDX_STATE $CDX --config $P/cdx.yml deploy shop prod 9.9 --wait 1h; echo \"nested \$?\" >> $T/nested.log; |" cdx.yml
expect_status 0 "$CDX" deploy shop prod 1.0
[ "$(sort -u "$T/nested.log")" = "nested 3" ] || fail "nested cdx: $(cat "$T/nested.log")"

echo "t_ssh_redis: ok"
