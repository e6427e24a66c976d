/*
 * route.c — DESIGN §2 rules 2 (tenant) and 3 (author). Pure: no I/O.
 */
#include "route.h"

#include <string.h>

static ClRoute *
route_new(void)
{
    ClRoute *r = g_new0(ClRoute, 1);
    r->reasons = g_ptr_array_new_with_free_func((GDestroyNotify)cl_reason_free);
    return r;
}

static ClRoute *
reject(ClRoute *r, const char *reason, char *message)
{
    r->accepted = false;
    r->reason = reason;
    r->message = message;
    return r;
}

/* The sender's address as the sentences show it: at most 80 bytes, so that
 * the reply line stays within SMTP's 512 (RFC 5321 §4.5.3.1.5). */
static char *
shown(const char *sender)
{
    if (strlen(sender) <= 80)
        return g_strdup(sender);
    const char *end = g_utf8_find_prev_char(sender, sender + 78);
    return g_strdup_printf("%.*s...", (int)(end - sender), sender);
}

void
cl_route_free(ClRoute *route)
{
    if (route == NULL)
        return;
    g_free(route->message);
    cl_item_free(route->tenant);
    cl_item_free(route->user);
    g_ptr_array_unref(route->reasons);
    g_free(route);
}

ClRoute *
cl_route_decide(const ClDirectory *dir, const char *sender, GError **error)
{
    g_autoptr(ClRoute) r = route_new();
    g_autofree char *address = cl_address_fold(sender);
    g_autofree char *domain = cl_address_domain(address);

    if (address == NULL || domain == NULL || *address == '@')
        return reject(g_steal_pointer(&r), "malformed",
                      g_strdup("Die Nachricht hat keine brauchbare Absenderadresse (From). "
                               "The message has no usable sender address (From)."));

    /* Rule 2: the tenant whose registered domain is the sender's domain … */
    g_autoptr(GPtrArray) tenants = dir->ops->tenants_by_domain(dir->self, domain, error);
    if (tenants == NULL)
        return NULL;
    if (tenants->len == 1) {
        r->tenant = cl_item_copy(g_ptr_array_index(tenants, 0));
        g_ptr_array_add(r->reasons, cl_reason_new("tenant", "sender-domain", domain));
    } else {
        /* … else the one tenant of the one user who registered this (private) address. */
        g_autoptr(GPtrArray) users = dir->ops->users_by_address(dir->self, 0, address, error);
        if (users == NULL)
            return NULL;
        /* Mostly a customer who answered all, the drop address among them: the
         * sentence says that only this address refused, in German first. */
        if (users->len != 1) {
            g_autofree char *who = shown(sender);
            return reject(g_steal_pointer(&r), "unknown-tenant",
                          g_strdup_printf("Die Absenderadresse %s gehört zu keinem Kunden von "
                                          "contactlog; nur diese Ablage-Adresse lehnt die "
                                          "Nachricht ab, andere Empfänger erhalten sie wie "
                                          "gewohnt. The sender address does not belong to any "
                                          "contactlog customer; only this filing address "
                                          "refuses the message, other recipients get it as "
                                          "usual.",
                                          who));
        }
        ClItem *user = g_ptr_array_index(users, 0);
        r->tenant = cl_item_new(CL_ITEM_TENANT, user->tenant_id, 0, user->tenant_key);
        g_ptr_array_add(r->reasons, cl_reason_new("tenant", "private-address", address));
    }

    /* Rule 3: exactly one user of the tenant has the sender address. */
    g_autoptr(GPtrArray) users =
        dir->ops->users_by_address(dir->self, r->tenant->id, address, error);
    if (users == NULL)
        return NULL;
    if (users->len == 0) {
        /* The sentence first: the order arguments are evaluated in is not fixed. */
        g_autofree char *who = shown(sender);
        char *msg = g_strdup_printf("Die Absenderadresse %s ist bei keinem Benutzer von %s "
                                    "eingetragen; bitte von der eingetragenen Adresse senden "
                                    "oder diese von einem Administrator eintragen lassen. The "
                                    "sender address is not registered with any user of %s; send "
                                    "from your registered address, or have an administrator "
                                    "add this one.",
                                    who, r->tenant->key, r->tenant->key);
        return reject(g_steal_pointer(&r), "unknown-sender", msg);
    }
    if (users->len > 1) {
        GString *keys = g_string_new(NULL);
        for (guint i = 0; i < users->len; i++)
            g_string_append_printf(keys, "%s%s", i ? ", " : "",
                                   ((ClItem *)g_ptr_array_index(users, i))->key);
        g_autofree char *list = g_string_free(keys, FALSE);
        g_autofree char *who = shown(sender);
        return reject(g_steal_pointer(&r), "ambiguous-sender",
                      g_strdup_printf("Die Absenderadresse %s ist bei %u Benutzern eingetragen "
                                      "(%s); ein Administrator muss sie bei allen bis auf einen "
                                      "entfernen. The sender address is registered with %u "
                                      "users; an administrator must keep only one.",
                                      who, users->len, list, users->len));
    }
    r->user = cl_item_copy(g_ptr_array_index(users, 0));
    r->accepted = true;
    g_ptr_array_add(r->reasons, cl_reason_new("user", "sender-address", address));
    return g_steal_pointer(&r);
}
