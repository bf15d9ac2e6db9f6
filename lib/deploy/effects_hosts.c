/* effects_hosts.c — the effects of a deployment over hosts (effects_hosts.h):
 * each hook of a strategy carried out on the hosts by the SSH hook set
 * (ssh.h), with the variables a host gets. */
#include "deploy/effects_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/ssh.h"

/* the variables of host I of E in CE: CDX_HOST (its address),
 * CDX_HOST_NAME, its variables, and the release paths as on the host */
void cdx_host_env(const struct cdx_env *e, size_t i, const char *version, struct cdx_envv *ce)
{
	const struct cdx_host *h = &e->hosts[i];
	size_t k;
	cdx_envv_set(ce, "CDX_HOST", h->addr);
	cdx_envv_set(ce, "CDX_HOST_NAME", h->name);
	cdx_envv_set(ce, "CDX_DEPLOY_DIR", h->path);
	if (version) {
		char *rd = cdx_xasprintf("%s/releases/%s", h->path, version);
		cdx_envv_set(ce, "CDX_RELEASE_DIR", rd);
		free(rd);
	}
	for (k = 0; k < h->n_vars; k++)
		cdx_envv_set(ce, h->vars[k].key, h->vars[k].value);
}

/* whether the variable KV of a hook's environment goes to the host: the
 * deployment's CDX_* and the environment's, targets' and host's own
 * variables; nothing else of this machine's environment */
static bool remote_var(const struct cdx_env *e, size_t host, const char *kv)
{
	static const char *const ours[] = {"CDX_APP", "CDX_ENV", "CDX_VERSION", "CDX_PREVIOUS_VERSION",
					   "CDX_DEPLOYMENT_ID", "CDX_STRATEGY", "CDX_DEPLOY_DIR", "CDX_RELEASE_DIR",
					   "CDX_WEIGHT", "CDX_STABLE_SLOT", "CDX_SLOT", "CDX_INSTANCE", "CDX_HOST",
					   "CDX_HOST_NAME", "CDX_LOCK", "CDX_LOCK_TOKEN"};
	size_t i, l = strcspn(kv, "=");
	if (strncmp(kv, "CDX_", 4) == 0) {
		/* what the deployment says (hook_env), never the rest of cdx's own
		 * environment (CDX_STATE, the runner's marker, ...) */
		for (i = 0; i < CDX_ARRAY_LEN(ours); i++)
			if (strlen(ours[i]) == l && strncmp(ours[i], kv, l) == 0)
				return true;
		return strncmp(kv, "CDX_SLOT_", 9) == 0 || strncmp(kv, "CDX_INSTANCE_", 13) == 0;
	}
	for (i = 0; i < e->n_vars; i++)
		if (strlen(e->vars[i].key) == l && strncmp(e->vars[i].key, kv, l) == 0)
			return true;
	for (i = 0; i < e->n_targets; i++) {
		size_t k;
		for (k = 0; k < e->targets[i].n_vars; k++)
			if (strlen(e->targets[i].vars[k].key) == l && strncmp(e->targets[i].vars[k].key, kv, l) == 0)
				return true;
	}
	for (i = 0; i < e->hosts[host].n_vars; i++)
		if (strlen(e->hosts[host].vars[i].key) == l && strncmp(e->hosts[host].vars[i].key, kv, l) == 0)
			return true;
	return false;
}

static int hosts_open(struct cdx_dctx *d, void (*tick)(void *), struct cdx_error *err)
{
	struct cdx_ssh_run base = {0};
	if (d->ssh)
		return 0;
	base.cancel = &cdx_deploy_cancel;
	base.tick = tick;
	base.tick_ctx = d;
	base.tick_ms = CDX_LOCK_TTL_MS / 3;
	base.owner = d->id;
	d->ssh = cdx_ssh_open(d->e, &base, d->dry, err);
	return d->ssh ? 0 : -1;
}

/* the releases of VERSION on the hosts of T's batch (rolling over hosts:
 * the instances from T to the end of its batch), or on every host (T -1: a
 * slot), made in parallel before they are installed one by one */
static void prefetch(struct cdx_dctx *d, int t, const char *version, const struct cdx_envv *ce)
{
	const struct cdx_env *e = d->e;
	bool *which = cdx_xcalloc(e->n_hosts ? e->n_hosts : 1, sizeof(bool));
	size_t i, b = (size_t)(e->batch > 0 ? e->batch : 1), n = 0;
	for (i = 0; i < e->n_hosts; i++) {
		if (t >= 0 && (i < (size_t)t || i / b != (size_t)t / b))
			continue;
		if (d->only && t >= 0 && !d->only[i])
			continue;
		which[i] = true;
		n++;
	}
	if (n > 1)
		cdx_ssh_prefetch(d->ssh, which, d->o->apps->dir, version, ce);
	free(which);
}

/* hook H of target T on its hosts: T's host when the hosts are the
 * instances, every host for a slot (or no target).  A deploy makes the
 * release first and then points `current` (instances) or slots/NAME
 * (slots) at it; a switch points `current` at it on every host; a stop
 * of a host's instance leaves it serving nothing. */
int cdx_hosts_hook(struct cdx_dctx *d, enum cdx_hook_id h, int t, const char *version, struct cdx_envv *ce,
		   void (*tick)(void *), struct cdx_error *err)
{
	const struct cdx_env *e = d->e;
	const struct cdx_hook *hk = &e->hooks[h];
	bool per_host = cdx_env_hosts_are_targets(e);
	size_t i, lo = 0, hi = e->n_hosts, k;
	if (hosts_open(d, tick, err) < 0)
		return -1;
	if (h == CDX_HOOK_DEPLOY && version && !d->dry && !(d->state && strcmp(d->state, "rolling_back") == 0))
		prefetch(d, per_host ? t : -1, version, ce);
	if (per_host && t >= 0) {
		lo = (size_t)t;
		hi = lo + 1;
	}
	for (i = lo; i < hi; i++) {
		struct cdx_envv he = {0};
		char *link = NULL;
		int status = 0, rc = 0;
		if (d->state && strcmp(d->state, "rolling_back") == 0 && cdx_ssh_untouched(d->ssh, i)) {
			/* never reached in this deployment: nothing changed there */
			fprintf(stderr, "cdx: host %s was never reached: it runs what it ran before\n",
				e->hosts[i].name);
			continue;
		}
		if (h == CDX_HOOK_DEPLOY && version &&
		    cdx_ssh_release(d->ssh, i, d->o->apps->dir, version, ce, err) < 0)
			return -1;
		if (hk->cmd) {
			for (k = 0; ce->v[k]; k++)
				if (remote_var(e, i, ce->v[k]))
					CDX_PUSH(he.v, he.n, he.cap, cdx_xstrdup(ce->v[k]));
			CDX_PUSH(he.v, he.n, he.cap, NULL);
			he.n--;
			cdx_host_env(e, i, version, &he);
			if (cdx_ssh_hook(d->ssh, i, hk->cmd, he.v, hk->timeout_ms, &status, err) < 0)
				rc = -1;
			else if (status != 0)
				rc = cdx_error_set(err, CDX_EFAILED, "%s hook on host %s%s%s failed: %s %d",
						   cdx_hook_name(h), e->hosts[i].name, t >= 0 && !per_host ? ", slot " : "",
						   t >= 0 && !per_host ? e->targets[t].name : "",
						   status == CDX_HOOK_TIMEDOUT ? "timed out, status" : "exit status", status);
			else if (hk->irreversible)
				d->sv->irreversible_done = true;
			cdx_envv_free(&he);
			if (rc)
				return -1;
		}
		if (h == CDX_HOOK_DEPLOY && version && t >= 0)
			link = per_host ? cdx_xstrdup("current") : cdx_xasprintf("slots/%s", e->targets[t].name);
		else if ((h == CDX_HOOK_SWITCH && version) || (h == CDX_HOOK_STOP && per_host && t >= 0))
			link = cdx_xstrdup("current");
		if (link) {
			rc = cdx_ssh_link(d->ssh, i, link, h == CDX_HOOK_STOP ? NULL : version, err);
			free(link);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}
