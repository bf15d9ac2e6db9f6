/* ssh_conn.h — the transport of the SSH hook set (ssh.h): commands run on
 * a host through the system's OpenSSH client, started by the one spawner
 * (cdx_runner_run_one), never through a local shell.
 *
 * One multiplexed connection per host per deployment: the first command
 * starts a ControlMaster (ControlPath in the deployment's private 0700
 * directory, ControlPersist), the later ones ride on it, and
 * cdx_ssh_conn_close ends it with `ssh -O exit`.  Every command carries
 * `-F ssh_config` (when the environment names one), BatchMode=yes (no
 * password prompt, ever), a ConnectTimeout and StrictHostKeyChecking=yes:
 * an unknown or changed host key fails closed, and the error says how to
 * trust the key.  A host whose connection failed is down for the rest of
 * the deployment: its later commands fail at once with the same message.
 *
 * The remote side always runs a command through the user's login shell,
 * so a remote command is a list of words, each single-quoted by
 * cdx_shq (the one quoting function): values never become shell syntax. */
#ifndef CDX_SSH_CONN_H
#define CDX_SSH_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/text.h"
#include "base/util.h"
#include "project/environment.h"

/* seconds ssh waits for a connection (-o ConnectTimeout) */
#define CDX_SSH_CONNECT_TIMEOUT 10

struct cdx_ssh_conn {
	const struct cdx_host *h;
	const char *config;  /* ssh -F FILE, or NULL */
	char *control;       /* ControlPath of its master */
	bool opened;         /* a master may run: close with -O exit */
	bool down;           /* its connection failed: nothing more runs there */
	bool reached;        /* a command of this deployment ran there */
	char why[512];       /* why it is down */
};

/* cdx_ssh_conn_init: C for host H (the Ith), ssh_config CONFIG (may be
 * NULL), its ControlPath DIR/I (DIR: a private directory) */
void cdx_ssh_conn_init(struct cdx_ssh_conn *c, const struct cdx_host *h, size_t i, const char *config,
		       const char *dir);

/* cdx_ssh_conn_argv: the local argv that runs the remote command WORDS
 * (each quoted) on C's host; free with cdx_argv_free (runner.h) */
char **cdx_ssh_conn_argv(const struct cdx_ssh_conn *c, char *const *words);

/* How a remote command runs (zero: no input, output to our stderr, no
 * limit). */
struct cdx_ssh_run {
	const char *input;   /* bytes for its stdin, or NULL */
	size_t input_len;
	char **out;          /* its output (stdout and stderr) captured here instead, or NULL */
	int64_t timeout_ms;  /* <= 0: none */
	volatile sig_atomic_t *cancel;
	void (*tick)(void *);
	void *tick_ctx;
	int64_t tick_ms;
	const char *owner;   /* the deployment that answers for it (runner.h) */
	bool echo;           /* its output to our stderr as it comes (a user's hook);
			      * else said only when it fails */
};

/* cdx_ssh_conn_run: run WORDS on C's host as R says: its exit status
 * (CDX_HOOK_TIMEDOUT after the timeout, 128 + signal), or -1 with ERR
 * when ssh could not reach the host or refused its host key (C is down
 * from then on) */
int cdx_ssh_conn_run(struct cdx_ssh_conn *c, char *const *words, const struct cdx_ssh_run *r,
		     struct cdx_error *err);

/* cdx_ssh_conn_close: end C's master connection (ssh -O exit), free C */
void cdx_ssh_conn_close(struct cdx_ssh_conn *c);

#endif /* CDX_SSH_CONN_H */
