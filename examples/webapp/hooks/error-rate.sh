#!/bin/sh
# error-rate.sh — canary analysis command: prints the ratio of 5xx answers
# (0..1) among the requests nginx sent to the canary's port since the
# current step began (hooks/weight.sh records where), read from nginx's
# access log; every attempt of a retried request counts. Prints nothing
# when the canary got no requests (cdx applies the no_data policy).
set -eu
# shellcheck source=examples/webapp/hooks/lib.sh
. "$(dirname "$0")/lib.sh"
need CDX_APP CDX_ENV
step=$NGX/steps/${CDX_APP}_$CDX_ENV.step
[ -s "$step" ] || exit 0
read -r sport offset <"$step"
port=${PORT:-$sport}
[ -s "$NGX/access.log" ] || exit 0
size=$(wc -c <"$NGX/access.log")
[ "$offset" -le "$size" ] || offset=0
tail -c +"$((offset + 1))" "$NGX/access.log" | awk -F '\t' -v a="127.0.0.1:$port" '
{
	n = split($3, addr, /, | : /)
	split($4, st, /, | : /)
	for (i = 1; i <= n; i++)
		if (addr[i] == a) {
			total++
			if (st[i] !~ /^[0-9]+$/ || st[i] + 0 >= 500) bad++
		}
}
END { if (total > 0) printf "%.4f\n", bad / total }'
