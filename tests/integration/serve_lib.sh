# serve_lib.sh — helpers of the cdx serve tests (t_serve_*), sourced after
# lib.sh: start_serve ARGS... starts `cdx serve --listen 127.0.0.1:0 ARGS`
# in the background and sets SERVE_PID and URL (http://127.0.0.1:PORT)
# once it listens; stop_serve ends it (and checks that it exits 0).
command -v curl >/dev/null 2>&1 || { echo "curl not installed" >&2; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq not installed" >&2; exit 77; }
SERVE_PID=
start_serve() {
	rm -f "$T/serve.err" # not the last server's lines: the new one writes it afresh
	"$CDX" serve --listen 127.0.0.1:0 "$@" >/dev/null 2>"$T/serve.err" &
	SERVE_PID=$!
	_i=0
	until grep -q 'listening on' "$T/serve.err" 2>/dev/null; do
		kill -0 "$SERVE_PID" 2>/dev/null || fail "cdx serve ended: $(cat "$T/serve.err")"
		_i=$((_i + 1)); [ "$_i" -lt 600 ] || fail "cdx serve does not listen: $(cat "$T/serve.err")"
		sleep 0.05
	done
	URL=$(sed -n 's,.*listening on \(http://[^/]*\)/.*,\1,p' "$T/serve.err")
}
stop_serve() {
	[ -n "$SERVE_PID" ] || return 0
	kill -TERM "$SERVE_PID"
	run_rc wait "$SERVE_PID"
	SERVE_PID=
	[ "$RC" -eq 0 ] || fail "cdx serve exited $RC on SIGTERM: $(cat "$T/serve.err")"
}
# wait_for FILE TEXT: FILE comes to contain TEXT (a stream written by curl)
wait_for() {
	_i=0
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1)); [ "$_i" -lt 1200 ] || fail "never saw [$2] in $1: $(tail -c 600 "$1" 2>/dev/null)"
		sleep 0.05
	done
}
# code METHOD PATH [CURL ARGS...]: the HTTP status of a request, body in $T/body
code() {
	_m=$1 _p=$2; shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$_m" "$@" "$URL$_p"
}
