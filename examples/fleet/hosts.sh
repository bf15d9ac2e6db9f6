#!/bin/sh
# hosts.sh — two SSH "hosts" on this machine for examples/fleet, and nginx
# in front of them; everything under this directory, nothing of the system
# changed (except /run/sshd, which sshd needs, when run as root).
#
#   ./hosts.sh up [BASE]   sshd web1 on BASE+1, web2 on BASE+2 (each its own
#                          host key), nginx on BASE, the apps on BASE+11/12;
#                          writes ssh/ (a client key, authorized_keys,
#                          known_hosts, ssh_config) and cdx.yml from cdx.yml.in
#   ./hosts.sh down        stop the apps, nginx and both sshd
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ssh=$here/ssh
run=$here/run
case $here in *[!A-Za-z0-9_./+-]*) echo "hosts.sh: unusable path $here" >&2; exit 1 ;; esac

down() {
	for f in "$here"/hosts/*/shared/webapp.pid "$run/nginx.pid" "$ssh"/*/sshd.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}

up() {
	base=${1:-18200}
	case $base in '' | *[!0-9]*) echo "hosts.sh: bad BASE $base" >&2; exit 1 ;; esac
	mkdir -p "$ssh" "$run/tmp"
	chmod 700 "$ssh"
	[ -f "$ssh/client" ] || ssh-keygen -q -t ed25519 -N '' -C fleet-client -f "$ssh/client"
	cp "$ssh/client.pub" "$ssh/authorized_keys"
	: >"$ssh/known_hosts"
	[ "$(id -u)" -ne 0 ] || [ -d /run/sshd ] || mkdir -p -m 755 /run/sshd
	for n in 1 2; do
		d=$ssh/web$n
		mkdir -p "$d"
		[ -f "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C "web$n" -f "$d/host_key"
		cat >"$d/sshd_config" <<CFG
Port $((base + n))
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
CFG
		/usr/sbin/sshd -f "$d/sshd_config" -E "$d/log"
		# the host's key, trusted as a team would (checked out of band)
		echo "[127.0.0.1]:$((base + n)) $(cut -d' ' -f1,2 "$d/host_key.pub")" >>"$ssh/known_hosts"
	done
	cat >"$ssh/ssh_config" <<CFG
Host *
	User $(id -un)
	IdentityFile $ssh/client
	IdentitiesOnly yes
	UserKnownHostsFile $ssh/known_hosts
	GlobalKnownHostsFile /dev/null
	LogLevel ERROR
CFG
	sed -e "s|@DIR@|$here|g" -e "s|@SSH1@|$((base + 1))|; s|@SSH2@|$((base + 2))|" \
		-e "s|@APP1@|$((base + 11))|; s|@APP2@|$((base + 12))|" "$here/cdx.yml.in" >"$here/cdx.yml"
	user=
	[ "$(id -u)" -ne 0 ] || user="user $(id -un) $(id -gn);"
	sed -e '/^#/d' -e "s|@RUN@|$run|g" -e "s|@PORT@|$base|" -e "s|@USER@|$user|" \
		-e "s|@APP1@|$((base + 11))|; s|@APP2@|$((base + 12))|" "$here/nginx.conf.in" >"$run/nginx.conf"
	nginx -q -p "$run/" -e "$run/error.log" -c "$run/nginx.conf"
	# both sshd answer before we say so
	for n in 1 2; do
		i=0
		until ssh -F "$ssh/ssh_config" -o BatchMode=yes -p $((base + n)) 127.0.0.1 true 2>/dev/null; do
			i=$((i + 1))
			[ "$i" -lt 200 ] || { echo "hosts.sh: sshd web$n does not answer" >&2; exit 1; }
			sleep 0.05
		done
	done
	echo "web1: ssh -p $((base + 1)), web2: ssh -p $((base + 2)); nginx: http://127.0.0.1:$base/"
}

case ${1:-} in
up) shift; up "$@" ;;
down) down ;;
*) echo "usage: ./hosts.sh up [BASE] | down" >&2; exit 2 ;;
esac
