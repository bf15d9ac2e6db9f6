/* environment.h — applications and their environments, as cdx.yml declares
 * them under `applications:` (SEED.md's Environment).
 *
 * An application names an artifact, a release root and defaults; each of
 * its environments says how a version reaches it: a strategy (blue_green,
 * canary, rolling), the targets the strategy moves traffic between (slots
 * for blue_green and canary, instances for rolling), each with its own
 * variables (PORT), the user's hooks, health checks, gates (protected,
 * requires) and the rollback policy.  Keys an environment leaves out are
 * taken from its application (artifact, deploy_to, keep_releases, hooks,
 * health, variables).  The model is read-only after loading; everything is
 * owned by the project that loaded it.
 */
#ifndef CDX_ENVIRONMENT_H
#define CDX_ENVIRONMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yaml/cfg.h"

struct cJSON;

enum cdx_strategy_kind { CDX_STRATEGY_BLUE_GREEN, CDX_STRATEGY_CANARY, CDX_STRATEGY_ROLLING };

/* the user's hooks; a hook left out does nothing beyond the local hook set */
enum cdx_hook_id { CDX_HOOK_DEPLOY, CDX_HOOK_START, CDX_HOOK_STOP, CDX_HOOK_SWITCH, CDX_HOOK_WEIGHT,
		   CDX_HOOK_CLEANUP, CDX_HOOK_COUNT };

enum cdx_check_kind { CDX_CHECK_HTTP, CDX_CHECK_TCP, CDX_CHECK_COMMAND };

/* what analysis without a figure means */
enum cdx_nodata { CDX_NODATA_FAIL, CDX_NODATA_PAUSE, CDX_NODATA_PASS };

enum cdx_rollback_kind { CDX_ROLLBACK_IMMEDIATE, CDX_ROLLBACK_GRADUAL, CDX_ROLLBACK_BLUE_GREEN };

struct cdx_kv {
	char *key;
	char *value;
};

struct cdx_hook {
	char *cmd;          /* shell command (sh -c), NULL = none */
	bool irreversible;  /* a failure after it freezes instead of rolling back */
	int64_t timeout_ms; /* kill it after this long (default 10 minutes) */
};

struct cdx_check {
	enum cdx_check_kind kind;
	char *target;       /* URL, HOST:PORT or command; ${VAR} expanded per target */
	int status;         /* http: the status wanted, 0 = any 2xx */
	char *body;         /* http: a substring the body must contain, or NULL */
	int64_t timeout_ms; /* per attempt (default 2 s) */
	int64_t interval_ms;/* between attempts (default 1 s) */
	int attempts;       /* `retries`: attempts before it counts as failed (default 3) */
};

/* a slot (blue_green, canary) or an instance (rolling) */
struct cdx_target {
	char *name;
	struct cdx_kv *vars; /* its own variables, e.g. PORT */
	size_t n_vars;
};

/* a server the SSH hook set deploys to (hosts:, lib/deploy/ssh.h) */
struct cdx_host {
	char *name;          /* checked name: CDX_HOST_NAME, --hosts, the store */
	char *ssh;           /* [USER@]HOST as ssh takes it (checked: no option, no space) */
	int port;            /* 0: ssh's default (ssh_config) */
	char *path;          /* absolute release root on the host (the host's path:, or the env's) */
	char *addr;          /* HOST of ssh: (CDX_HOST) */
	struct cdx_kv *vars; /* its own variables */
	size_t n_vars;
};

struct cdx_app;

struct cdx_env {
	char *name;
	const struct cdx_app *app;
	const char *file; /* cdx.yml, for messages */
	int line, col;    /* where the environment is declared */
	enum cdx_strategy_kind strategy;
	struct cdx_target *targets; /* slots or instances, in file order */
	size_t n_targets;
	bool instances;   /* targets are instances (rolling), else slots */
	struct cdx_hook hooks[CDX_HOOK_COUNT];
	struct cdx_check *checks;
	size_t n_checks;
	struct cdx_kv *vars; /* `variables:`, given to hooks and checks */
	size_t n_vars;
	char *artifact;   /* a file or a directory's content copied into releases/VERSION/ (may say
			   * ${CDX_VERSION}), or NULL */
	char *deploy_to;  /* release root, absolute (default DIR/.deploy/APP/ENV) */
	int keep_releases;/* release directories kept (default 5) */
	bool protected;   /* needs confirmation */
	char *requires_pipeline; /* a version needs a successful run of it, or NULL */
	enum cdx_rollback_kind rollback;
	bool auto_rollback; /* on_failure: auto (default) or manual */
	/* blue_green */
	int64_t scale_down_delay_ms; /* keep the old slot warm this long (default 30 s) */
	/* canary */
	int *steps;       /* weights in percent, ascending, the last 100 */
	size_t n_steps;
	int64_t pause_ms; /* after each step */
	char *analysis_cmd; /* prints a number, or nothing for no data */
	double analysis_max, analysis_min;
	bool has_max, has_min;
	enum cdx_nodata nodata;
	int64_t max_pause_ms; /* no_data: pause ends as failed after this (default 15 min) */
	/* rolling */
	int batch;           /* instances per batch (default 1) */
	int max_unavailable; /* at most this many out at once (default batch) */
	int batch_percent;   /* batch: "N%" of the hosts (0: batch is a count) */
	/* hosts: the SSH hook set (lib/deploy/ssh.h) deploys to these instead
	 * of this machine; rolling: the hosts are the instances */
	struct cdx_host *hosts;
	size_t n_hosts;
	char *path;          /* release root on every host (hosts:) */
	char *ssh_config;    /* ssh -F FILE, absolute, or NULL */
	char **shared;       /* relative paths under shared/ linked into every release; "x/" a directory */
	size_t n_shared;
};

struct cdx_app {
	char *name;
	struct cdx_env *envs;
	size_t n_envs;
};

struct cdx_apps {
	struct cdx_app *apps;
	size_t n;
	char *dir; /* directory of cdx.yml: hooks and checks run there */
};

/* cdx_apps_parse: read the `applications:` mapping N of the project file in
 * DIR into APPS (zeroed by the caller), problems counted in C.  Free with
 * cdx_apps_free. */
void cdx_apps_parse(struct cdx_cfg *c, const struct cdx_ynode *n, const char *dir, struct cdx_apps *apps);
void cdx_apps_free(struct cdx_apps *apps);

/* cdx_apps_find: environment ENV of application APP, or NULL with ERR
 * saying which is unknown (with the closest name) */
const struct cdx_env *cdx_apps_find(const struct cdx_apps *apps, const char *app, const char *env,
				    struct cdx_error *err);

const char *cdx_strategy_name(enum cdx_strategy_kind k);
const char *cdx_hook_name(enum cdx_hook_id h);
const char *cdx_rollback_name(enum cdx_rollback_kind k);
/* cdx_strategy_parse: 0 and *K, or -1 for an unknown name */
int cdx_strategy_parse(const char *s, enum cdx_strategy_kind *k);
int cdx_rollback_parse(const char *s, enum cdx_rollback_kind *k);

/* cdx_project_apps: the applications of a loaded project (project.c) */
struct cdx_project;
const struct cdx_apps *cdx_project_apps(const struct cdx_project *pr);

/* cdx_env_config: the environment as JSON (get_config); caller frees */
struct cJSON *cdx_env_config(const struct cdx_env *e);

/* cdx_env_hosts_are_targets: whether E's instances are its hosts (rolling
 * over hosts:); with hosts and slots, every host has every slot */
bool cdx_env_hosts_are_targets(const struct cdx_env *e);

/* cdx_version_valid: a version that may become a directory name and key:
 * 1..128 of A-Z a-z 0-9 _ . + - , not starting with . or - */
bool cdx_version_valid(const char *v);

#endif /* CDX_ENVIRONMENT_H */
