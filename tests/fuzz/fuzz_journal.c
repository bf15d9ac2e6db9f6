/* fuzz_journal.c — libFuzzer target of the journal reader (lib/journal.c).
 *
 * The input becomes the whole journal file.  Open (which may cut a torn
 * tail), scan, append and sync one record, scan again, close.  Besides the
 * sanitizers, it checks the invariants: open and sync succeed on any
 * content, the file then ends on a record boundary, the new record gets
 * the seq after the last valid one and comes back intact, and nothing that
 * was valid before becomes damaged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/journal.h"

static const char REC[] = "{\"fuzz\":true}";

struct tally {
	size_t n;          /* records seen */
	uint64_t last_seq; /* seq of the last one */
	size_t last_len;
	int last_is_ours; /* the last payload is REC */
};

static int count(void *ctx, uint64_t seq, const char *rec, size_t len)
{
	struct tally *t = ctx;
	if (rec[len] != '\0' || memchr(rec, '\n', len) || len == 0 || len > CDX_JOURNAL_RECMAX)
		__builtin_trap();
	t->n++;
	t->last_seq = seq;
	t->last_len = len;
	t->last_is_ours = len == sizeof(REC) - 1 && memcmp(rec, REC, len) == 0;
	return 0;
}

static char *journal_path(void)
{
	/* tmpfs when there is one: the journal fsyncs on every run */
	static char path[256];
	if (!path[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(path, sizeof(path), "%s/fuzz_journal.%ld", base, (long)getpid());
	}
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = journal_path();
	struct cdx_error err = {0};
	struct cdx_journal *j = NULL;
	struct tally a = {0}, b = {0};
	size_t bad_a = 0, bad_b = 0;
	struct stat st;
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	if (size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		unlink(path);
		return 0;
	}
	fclose(f);

	if (cdx_journal_open(path, &j, &err) != 0)
		__builtin_trap();
	/* the tail was cut: empty, or ends with a newline */
	if (stat(path, &st) != 0 || (size_t)st.st_size > size)
		__builtin_trap();
	if (st.st_size > 0 && data[st.st_size - 1] != '\n')
		__builtin_trap();
	if (cdx_journal_scan(j, count, &a, &bad_a, &err) != 0)
		__builtin_trap();
	if (cdx_journal_append(j, REC, sizeof(REC) - 1, &err) != 0)
		__builtin_trap();
	if (cdx_journal_sync(j, &err) != 0) {
		/* only seq exhaustion may refuse: a crafted seq of 2^64-1 */
		if (a.last_seq != UINT64_MAX)
			__builtin_trap();
	} else {
		if (cdx_journal_scan(j, count, &b, &bad_b, &err) != 0)
			__builtin_trap();
		if (b.n != a.n + 1 || bad_b != bad_a || !b.last_is_ours || b.last_seq != a.last_seq + 1)
			__builtin_trap();
	}
	cdx_journal_close(j);
	unlink(path);
	return 0;
}
