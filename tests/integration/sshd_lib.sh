# sshd_lib.sh — real OpenSSH servers as deployment "hosts" for the
# t_ssh_*.sh tests (sourced after lib.sh, POSIX sh).  Each host is an sshd
# started by the test on its own 127.0.0.1 port with its own host key and
# sshd_config; they share one authorized_keys (a client key generated
# here) and the test's known_hosts, named by the ssh_config cdx is given
# ($SSH_CONFIG, through `ssh_config:` in cdx.yml).  Every sshd is stopped at
# exit, also on failure.  Tests skip (77) without openssh-server.
#
# Provides: $SSHD_DIR, $SSH_CONFIG, $KNOWN_HOSTS, sshd_start NAME (sets
# $PORT_NAME... printed: its port), sshd_port NAME, sshd_stop NAME,
# sshd_rekey NAME (a new host key: a changed host), free_port, rssh NAME CMD
[ -x /usr/sbin/sshd ] || { echo "sshd (openssh-server) not installed" >&2; exit 77; }
command -v ssh >/dev/null 2>&1 || { echo "ssh not installed" >&2; exit 77; }
command -v ssh-keygen >/dev/null 2>&1 || { echo "ssh-keygen not installed" >&2; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }

SSHD_DIR=$T/sshd
SSH_CONFIG=$SSHD_DIR/ssh_config
KNOWN_HOSTS=$SSHD_DIR/known_hosts
SSHD_NAMES=
mkdir -p "$SSHD_DIR"
chmod 700 "$SSHD_DIR"
# sshd needs its privilege separation directory
[ -d /run/sshd ] || mkdir -p -m 755 /run/sshd
ssh-keygen -q -t ed25519 -N '' -C cdx-test -f "$SSHD_DIR/client"
cp "$SSHD_DIR/client.pub" "$SSHD_DIR/authorized_keys"
: >"$KNOWN_HOSTS"
cat >"$SSH_CONFIG" <<CFG
Host *
	User $(id -un)
	IdentityFile $SSHD_DIR/client
	IdentitiesOnly yes
	UserKnownHostsFile $KNOWN_HOSTS
	GlobalKnownHostsFile /dev/null
	LogLevel ERROR
CFG

sshd_cleanup() {
	set +e
	for n in $SSHD_NAMES; do sshd_stop "$n"; done
	# what the tests' remote hooks started (their command line names $T)
	for _p in $(grep -las -- "$T/" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,; s,/cmdline$,,'); do
		[ "$_p" = $$ ] || kill "$_p" 2>/dev/null
	done
}

# free_port: a loopback TCP port nothing listens on
free_port() {
	_p=$((21000 + ($$ % 400) * 20 + ${_FP_NEXT:-0}))
	while ss -ltnH 2>/dev/null | awk '{print $4}' | grep -q ":$_p\$"; do _p=$((_p + 1)); done
	_FP_NEXT=$((_p - 21000 - ($$ % 400) * 20 + 1))
	echo "$_p"
}

sshd_port() { cat "$SSHD_DIR/$1/port"; }

# sshd_start NAME [PORT]: an sshd for host NAME (a new one, or NAME's port
# again), trusted in known_hosts; waits until it accepts a connection
sshd_start() {
	_d=$SSHD_DIR/$1
	mkdir -p "$_d"
	[ -f "$_d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$1" -f "$_d/host_key"
	[ -f "$_d/port" ] || free_port >"$_d/port"
	_port=$(cat "$_d/port")
	cat >"$_d/sshd_config" <<CFG
Port $_port
ListenAddress 127.0.0.1
HostKey $_d/host_key
PidFile $_d/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
CFG
	/usr/sbin/sshd -D -e -f "$_d/sshd_config" 2>>"$_d/log" &
	echo $! >"$_d/pid"
	case " $SSHD_NAMES " in *" $1 "*) ;; *) SSHD_NAMES="$SSHD_NAMES $1" ;; esac
	grep -v "^\[127.0.0.1\]:$_port " "$KNOWN_HOSTS" >"$KNOWN_HOSTS.new" || true
	echo "[127.0.0.1]:$_port $(cut -d' ' -f1,2 "$_d/host_key.pub")" >>"$KNOWN_HOSTS.new"
	mv "$KNOWN_HOSTS.new" "$KNOWN_HOSTS"
	# wait until it answers (or died)
	_i=0
	until ssh -F "$SSH_CONFIG" -o BatchMode=yes -p "$_port" 127.0.0.1 true 2>/dev/null; do
		kill -0 "$(cat "$_d/pid")" 2>/dev/null || fail "sshd $1 did not start: $(cat "$_d/log")"
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "sshd $1 does not answer on port $_port"
		sleep 0.1
	done
}

sshd_stop() {
	_pid=$(cat "$SSHD_DIR/$1/pid" 2>/dev/null) || return 0
	kill "$_pid" 2>/dev/null || true
	wait "$_pid" 2>/dev/null || true
	rm -f "$SSHD_DIR/$1/pid"
}

# sshd_rekey NAME: NAME comes back with a new host key (known_hosts keeps the old)
sshd_rekey() {
	sshd_stop "$1"
	rm -f "$SSHD_DIR/$1/host_key" "$SSHD_DIR/$1/host_key.pub"
	ssh-keygen -q -t ed25519 -N '' -C "$1" -f "$SSHD_DIR/$1/host_key"
	_kh=$(cat "$KNOWN_HOSTS")
	sshd_start "$1"
	printf '%s\n' "$_kh" >"$KNOWN_HOSTS" # the old key again: the host's key changed
}

# rssh NAME CMD: run CMD on host NAME (as the tests check what is there)
rssh() {
	_n=$1; shift
	ssh -F "$SSH_CONFIG" -o BatchMode=yes -p "$(sshd_port "$_n")" 127.0.0.1 "$@"
}
