/*
 * route.h — tenant and author of a captured mail (DESIGN §2 rules 2 and 3).
 * Stage: route. Pure: reads CRM data only through ClDirectory, does no I/O.
 */
#pragma once

#include "core/core.h"

typedef struct {
    bool accepted;
    const char *reason;  /* when rejected: "unknown-tenant", "unknown-sender",
                          * "ambiguous-sender", "malformed" (static string) */
    char *message;       /* when rejected: one sentence for the sender */
    ClItem *tenant;      /* set when the tenant is known (also for unknown-sender) */
    ClItem *user;        /* the author when accepted */
    GPtrArray *reasons;  /* ClReason *: why this tenant and author */
} ClRoute;

/*
 * Decides tenant and author from the sender address (the first From mailbox;
 * NULL when the mail has none, which is "malformed").
 * Errors: whatever the directory reports (CL_ERROR_TEMPFAIL when busy).
 */
ClRoute *cl_route_decide(const ClDirectory *dir, const char *sender, GError **error);

void cl_route_free(ClRoute *route);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClRoute, cl_route_free)
