/*
 * api.h — the HTTP JSON API under /api/v1/ (and /healthz, /metrics, the web
 * UI's files): libmicrohttpd with a pool of threads, jansson for JSON. Stage:
 * API, an edge like the CLI: it reads and changes the store through store.h,
 * captures uploaded mail through the pipeline, and turns CL_ERROR codes into
 * HTTP statuses through one table (RFC 9457 problem details).
 *
 * Every request that names a record is answered for the tenant of the user
 * who asks, and nothing else: another tenant's ids are 404 like ids that do
 * not exist; a user's private items (pending mail, the own history) are
 * nobody else's.
 */
#pragma once

#include "core/core.h"

typedef struct ClApi ClApi;

/*
 * Binds every listener of config->http_listen ("HOST:PORT"; port 0: any free
 * port) and starts serving on config->http_threads threads, each with its own
 * store. config: (transfer none; copied).
 * Errors: CL_ERROR_CONFIG for a bad address, CL_ERROR_TEMPFAIL when the port
 * is taken or the store cannot be opened.
 */
ClApi *cl_api_new(const ClConfig *config, GError **error);

/* The bound addresses, "http 127.0.0.1:8080" (port 0 resolved). */
GStrv cl_api_listeners(ClApi *api);

/* Stops accepting connections; requests in flight go on. */
void cl_api_quiesce(ClApi *api);

/* Waits for the requests in flight (at most config->shutdown_timeout seconds), then stops. */
void cl_api_free(ClApi *api);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClApi, cl_api_free)
