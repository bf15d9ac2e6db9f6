/* recover.h — crash recovery: an environment whose last transition is not
 * final was left mid-deployment by a process that is gone (its lock is
 * free).  It is brought back to the last version known good — what served
 * before that deployment started, or for an interrupted rollback its own
 * target — by an immediate rollback recorded on that deployment's id and
 * ending in `recovered`; what cannot be done is recorded as held for a
 * person.  cdx deploy and cdx rollback recover first; cdx recover
 * (cdx_recover, include/cdx.h) sweeps every environment. */
#ifndef CDX_RECOVER_H
#define CDX_RECOVER_H

#include <cjson/cJSON.h>

#include "deploy/dctx.h"

/* cdx_recover_env: the environment of HOLDER, whose lock HOLDER holds, was
 * left mid-deployment (LAST, its last transition, not final); SV is what
 * serves, updated as the recovery goes.  0 recovered, else CDX_EFAILED or
 * CDX_ESTATE with what needs a person in ERR.  HOLDER itself is not
 * changed. */
int cdx_recover_env(struct cdx_dctx *holder, struct cdx_serving *sv, const cJSON *last, struct cdx_error *err);

#endif /* CDX_RECOVER_H */
