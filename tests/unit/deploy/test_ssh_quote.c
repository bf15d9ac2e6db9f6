/* test_ssh_quote.c — the one quoting function of the SSH hook set
 * (lib/deploy/ssh_conn.c: cdx_shq, cdx_shq_words): every word a real
 * /bin/sh reads back is the word given, whatever it holds; and the ssh
 * argv carries the options that make it fail closed. */
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/ssh_conn.h"
#include "exec/runner.h"

/* what `sh -c 'printf "%s\n" WORDS'` prints, read back (a real shell) */
static char *sh_echo(char *const *words)
{
	char *q = cdx_shq_words(words), *script = cdx_xasprintf("printf '%%s\\n' %s", q), *cmd;
	struct cdx_buf out = {0};
	char buf[512];
	size_t n;
	FILE *f;
	free(q);
	cmd = cdx_xasprintf("sh -c %s", "\"$CDX_T_SCRIPT\"");
	setenv("CDX_T_SCRIPT", script, 1);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		cdx_buf_add(&out, buf, n);
	assert_int_equal(pclose(f), 0);
	free(cmd);
	free(script);
	return cdx_buf_detach(&out);
}

static void test_round_trip(void **state)
{
	char *const words[] = {"plain", "it's", "$(touch /tmp/cdx-pwned)", "`id`", "a b\tc", "\"\\'", ";|&<>", "*", "'", "''",
			       "", "-n", NULL};
	struct cdx_buf want = {0};
	char *got;
	size_t i;
	(void)state;
	for (i = 0; words[i]; i++) {
		cdx_buf_adds(&want, words[i]);
		cdx_buf_addc(&want, '\n');
	}
	got = sh_echo(words);
	assert_string_equal(got, want.data);
	assert_int_equal(access("/tmp/cdx-pwned", F_OK), -1);
	free(got);
	cdx_buf_free(&want);
}

static void test_quote_form(void **state)
{
	struct cdx_buf b = {0};
	(void)state;
	cdx_shq(&b, "a'b");
	assert_string_equal(b.data, "'a'\\''b'");
	cdx_buf_free(&b);
}

static void test_argv(void **state)
{
	struct cdx_host h = {.name = "web1", .ssh = "deploy@10.0.0.1", .port = 2222, .path = "/srv", .addr = "10.0.0.1"};
	struct cdx_ssh_conn c;
	char *const words[] = {"echo", "x y", NULL};
	char **argv, *all;
	struct cdx_buf b = {0};
	size_t i;
	(void)state;
	cdx_ssh_conn_init(&c, &h, 0, "/etc/cfg", "/tmp/d");
	argv = cdx_ssh_conn_argv(&c, words);
	for (i = 0; argv[i]; i++) {
		cdx_buf_adds(&b, argv[i]);
		cdx_buf_addc(&b, '|');
	}
	all = b.data;
	assert_non_null(strstr(all, "ssh|-F|/etc/cfg|"));
	assert_non_null(strstr(all, "|-o|BatchMode=yes|"));
	assert_non_null(strstr(all, "|-o|StrictHostKeyChecking=yes|"));
	assert_non_null(strstr(all, "|-o|ControlPath=/tmp/d/0|"));
	assert_non_null(strstr(all, "|-p|2222|"));
	/* the destination after --, the remote command one quoted word list */
	assert_non_null(strstr(all, "|--|deploy@10.0.0.1|'echo' 'x y'|"));
	cdx_argv_free(argv);
	cdx_buf_free(&b);
	cdx_ssh_conn_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_quote_form),
	    cmocka_unit_test(test_argv),
	};
	return cmocka_run_group_tests_name("ssh_quote", tests, NULL, NULL);
}
