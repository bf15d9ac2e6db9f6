/* test_jobspec.c — jobspec.c: the spec store cdx.so writes and `cdx job`
 * reads, found among the open descriptors by the run id. */
#include "fixtures.h"

#include <fcntl.h>
#include <unistd.h>

#include "exec/jobspec.h"
#include "base/util.h"

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* specs put are taken by id; taking closes the store, found or not */
static void put_and_take(void **state)
{
	struct cdx_jobspec_w w;
	struct cdx_error err = {0};
	char *spec;
	int fd;
	(void)state;
	assert_int_equal(cdx_jobspec_create(&w, "20261124T120000.000Z-0000abcd", 3, &err), 0);
	fd = w.fd;
	assert_true(fd >= 3);
	assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* recipes inherit it */
	assert_int_equal(cdx_jobspec_put(&w, "build/a", "{\"a\":1}", 7, &err), 0);
	assert_int_equal(cdx_jobspec_put(&w, "test/b", "{\"b\":2}", 7, &err), 0);
	spec = cdx_jobspec_take("20261124T120000.000Z-0000abcd", "test/b", &err);
	assert_non_null(spec);
	assert_string_equal(spec, "{\"b\":2}");
	free(spec);
	assert_false(fd_open(fd));
	w.fd = -1; /* closed by the take */
	cdx_jobspec_close(&w);
}

/* many ids: the probing finds each; an id never put is not found */
static void many_and_missing(void **state)
{
	struct cdx_jobspec_w w;
	struct cdx_error err = {0};
	const char *run = "20261124T120000.000Z-1111abcd";
	char id[32], want[32], *spec;
	int i, k;
	(void)state;
	for (k = 0; k <= 200; k += 40) { /* a store each: a take closes it */
		assert_int_equal(cdx_jobspec_create(&w, run, 200, &err), 0);
		for (i = 0; i < 200; i++) {
			snprintf(id, sizeof(id), "s%d/j%d", i % 7, i);
			snprintf(want, sizeof(want), "[%d]", i);
			assert_int_equal(cdx_jobspec_put(&w, id, want, strlen(want), &err), 0);
		}
		if (k < 200) {
			snprintf(id, sizeof(id), "s%d/j%d", k % 7, k);
			snprintf(want, sizeof(want), "[%d]", k);
			spec = cdx_jobspec_take(run, id, &err);
			assert_non_null(spec);
			assert_string_equal(spec, want);
			free(spec);
		} else {
			assert_null(cdx_jobspec_take(run, "s0/none", &err));
			assert_non_null(strstr(err.msg, "no spec for job s0/none"));
		}
		w.fd = -1;
		cdx_jobspec_close(&w);
	}
}

/* another run's store is not taken for this one, but closed all the same */
static void other_run(void **state)
{
	struct cdx_jobspec_w w;
	struct cdx_error err = {0};
	int fd;
	(void)state;
	assert_int_equal(cdx_jobspec_create(&w, "20261124T120000.000Z-2222abcd", 1, &err), 0);
	assert_int_equal(cdx_jobspec_put(&w, "a/b", "{}", 2, &err), 0);
	fd = w.fd;
	assert_null(cdx_jobspec_take("20261124T120000.000Z-3333abcd", "a/b", &err));
	assert_non_null(strstr(err.msg, "no job spec store of run"));
	assert_false(fd_open(fd));
	w.fd = -1;
	cdx_jobspec_close(&w);
}

/* a signal noted by the writer (make's handler) is read through another
 * descriptor of the store, opened by pid and run id as the watcher does;
 * the specs are untouched by it */
static void signal_noted(void **state)
{
	const char *id = "20261124T120000.000Z-0000feed";
	struct cdx_jobspec_w w;
	struct cdx_error err = {0};
	char *spec;
	int rd;
	(void)state;
	assert_int_equal(cdx_jobspec_create(&w, id, 2, &err), 0);
	assert_int_equal(cdx_jobspec_put(&w, "s/a", "{}", 2, &err), 0);
	rd = cdx_jobspec_open_of((long)getpid(), id);
	assert_true(rd >= 0);
	assert_int_equal(cdx_jobspec_open_of((long)getpid(), "20261124T120000.000Z-0000beef"), -1);
	assert_int_equal(cdx_jobspec_signal(rd), 0);
	cdx_jobspec_note_signal(w.fd, 2);
	assert_int_equal(cdx_jobspec_signal(rd), 2);
	assert_int_equal(cdx_jobspec_signal(-1), 0);
	close(rd);
	spec = cdx_jobspec_take(id, "s/a", &err);
	assert_non_null(spec);
	assert_string_equal(spec, "{}");
	free(spec);
	cdx_jobspec_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_and_take),
		cmocka_unit_test(many_and_missing),
		cmocka_unit_test(other_run),
		cmocka_unit_test(signal_noted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
