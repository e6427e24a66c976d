/* fake-directory.c — see fake-directory.h. */
#include "fake-directory.h"

#include <string.h>

typedef struct {
    ClItem *item;
    GPtrArray *addresses; /* folded; domain for tenants, offer numbers for projects */
} Rec;

typedef struct {
    gint64 tenant, entry, company, lead, project;
    char *message_id;
    gint64 author; /* a private entry of this user; 0: saved, every user sees it */
} Thread;

static void
thread_free(Thread *t)
{
    g_free(t->message_id);
    g_free(t);
}

struct FakeDirectory {
    GPtrArray *recs;
    GPtrArray *threads;   /* Thread * */
    GHashTable *settings; /* tenant id → ClTenantSettings * */
    gint64 next_id;
    int fail_in; /* -1: never */
    guint lookups;
};

static void
rec_free(Rec *r)
{
    cl_item_free(r->item);
    g_ptr_array_unref(r->addresses);
    g_free(r);
}

FakeDirectory *
fake_directory_new(void)
{
    FakeDirectory *fd = g_new0(FakeDirectory, 1);
    fd->recs = g_ptr_array_new_with_free_func((GDestroyNotify)rec_free);
    fd->threads = g_ptr_array_new_with_free_func((GDestroyNotify)thread_free);
    fd->settings = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    fd->next_id = 1;
    fd->fail_in = -1;
    return fd;
}

void
fake_directory_free(FakeDirectory *fd)
{
    if (fd == NULL)
        return;
    g_ptr_array_unref(fd->recs);
    g_ptr_array_unref(fd->threads);
    g_hash_table_unref(fd->settings);
    g_free(fd);
}

static Rec *
find_rec(FakeDirectory *fd, gint64 id)
{
    for (guint i = 0; i < fd->recs->len; i++) {
        Rec *r = g_ptr_array_index(fd->recs, i);
        if (r->item->id == id)
            return r;
    }
    return NULL;
}

static gint64
add(FakeDirectory *fd, ClItemKind kind, gint64 tenant, const char *key, const char *name,
    gint64 company, const char *address)
{
    Rec *r = g_new0(Rec, 1);
    gint64 id = fd->next_id++;
    r->item = cl_item_new(kind, id, kind == CL_ITEM_TENANT ? id : tenant, key);
    r->item->name = g_strdup(name ? name : key);
    r->item->company_id = company;
    Rec *t = find_rec(fd, r->item->tenant_id);
    r->item->tenant_key = g_strdup(kind == CL_ITEM_TENANT ? key : t ? t->item->key : NULL);
    Rec *c = company ? find_rec(fd, company) : NULL;
    r->item->company_key = g_strdup(c ? c->item->key : NULL);
    r->addresses = g_ptr_array_new_with_free_func(g_free);
    if (address != NULL)
        g_ptr_array_add(r->addresses, kind == CL_ITEM_PROJECT ? g_strdup(address)
                                                              : cl_address_fold(address));
    g_ptr_array_add(fd->recs, r);
    return id;
}

gint64
fake_tenant(FakeDirectory *fd, const char *key, const char *domain)
{
    return add(fd, CL_ITEM_TENANT, 0, key, NULL, 0, domain);
}

gint64
fake_user(FakeDirectory *fd, gint64 tenant, const char *key, const char *address)
{
    return add(fd, CL_ITEM_USER, tenant, key, NULL, 0, address);
}

gint64
fake_company(FakeDirectory *fd, gint64 tenant, const char *key)
{
    return add(fd, CL_ITEM_COMPANY, tenant, key, NULL, 0, NULL);
}

gint64
fake_contact(FakeDirectory *fd, gint64 tenant, gint64 company, const char *key,
             const char *address)
{
    return add(fd, CL_ITEM_CONTACT, tenant, key, NULL, company, address);
}

gint64
fake_lead(FakeDirectory *fd, gint64 tenant, gint64 company, const char *number, const char *name)
{
    return add(fd, CL_ITEM_LEAD, tenant, number, name, company, NULL);
}

gint64
fake_project(FakeDirectory *fd, gint64 tenant, gint64 company, const char *key, const char *name,
             const char *offer)
{
    return add(fd, CL_ITEM_PROJECT, tenant, key, name, company, offer);
}

void
fake_address(FakeDirectory *fd, gint64 owner, const char *address)
{
    Rec *r = find_rec(fd, owner);
    g_assert_nonnull(r);
    g_ptr_array_add(r->addresses, cl_address_fold(address));
}

void
fake_thread(FakeDirectory *fd, gint64 tenant, gint64 entry, const char *message_id,
            gint64 company, gint64 lead, gint64 project)
{
    Thread *t = g_new0(Thread, 1);
    *t = (Thread){ tenant, entry, company, lead, project, g_strdup(message_id), 0 };
    g_ptr_array_add(fd->threads, t);
}

void
fake_thread_private(FakeDirectory *fd, gint64 tenant, gint64 author, gint64 entry,
                    const char *message_id, gint64 company, gint64 lead, gint64 project)
{
    fake_thread(fd, tenant, entry, message_id, company, lead, project);
    ((Thread *)g_ptr_array_index(fd->threads, fd->threads->len - 1))->author = author;
}

void
fake_settings(FakeDirectory *fd, gint64 tenant, ClTenantSettings settings)
{
    g_hash_table_insert(fd->settings, g_memdup2(&tenant, sizeof tenant),
                        g_memdup2(&settings, sizeof settings));
}

void
fake_fail_after(FakeDirectory *fd, guint n)
{
    fd->fail_in = (int)n;
}

guint
fake_lookups(FakeDirectory *fd)
{
    return fd->lookups;
}

static bool
has_address(Rec *r, const char *value)
{
    for (guint i = 0; i < r->addresses->len; i++)
        if (strcmp(r->addresses->pdata[i], value) == 0)
            return true;
    return false;
}

typedef bool (*Pred)(Rec *r, const char *value);

static bool
pred_address(Rec *r, const char *value)
{
    return has_address(r, value);
}

static bool
pred_number(Rec *r, const char *value)
{
    return r->item->kind == CL_ITEM_LEAD ? strcmp(r->item->key, value) == 0
                                         : has_address(r, value);
}

static bool
pred_name_key(Rec *r, const char *value)
{
    g_autofree char *key = cl_text_name_key(r->item->name);
    return key != NULL && strcmp(key, value) == 0;
}

static GPtrArray *
lookup(FakeDirectory *fd, ClItemKind k1, ClItemKind k2, gint64 tenant, const char *value,
       Pred pred, GError **error)
{
    fd->lookups++;
    if (fd->fail_in >= 0 && fd->fail_in-- == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "fake: busy");
        return NULL;
    }
    GPtrArray *out = cl_item_array_new();
    for (guint i = 0; i < fd->recs->len; i++) {
        Rec *r = g_ptr_array_index(fd->recs, i);
        if (r->item->kind != k1 && r->item->kind != k2)
            continue;
        if (tenant != 0 && r->item->tenant_id != tenant)
            continue;
        if (pred(r, value))
            g_ptr_array_add(out, cl_item_copy(r->item));
    }
    return out;
}

static GPtrArray *
tenants_by_domain(void *self, const char *domain, GError **error)
{
    return lookup(self, CL_ITEM_TENANT, CL_ITEM_TENANT, 0, domain, pred_address, error);
}

static GPtrArray *
users_by_address(void *self, gint64 tenant, const char *address, GError **error)
{
    return lookup(self, CL_ITEM_USER, CL_ITEM_USER, tenant, address, pred_address, error);
}

static GPtrArray *
contacts_by_address(void *self, gint64 tenant, const char *address, GError **error)
{
    g_assert_cmpint(tenant, !=, 0);
    return lookup(self, CL_ITEM_CONTACT, CL_ITEM_CONTACT, tenant, address, pred_address, error);
}

static GPtrArray *
records_by_number(void *self, gint64 tenant, const char *number, GError **error)
{
    g_assert_cmpint(tenant, !=, 0);
    return lookup(self, CL_ITEM_LEAD, CL_ITEM_PROJECT, tenant, number, pred_number, error);
}

static GPtrArray *
records_by_name_keys(void *self, gint64 tenant, gint64 company, const char *const *keys,
                     GError **error)
{
    g_assert_cmpint(tenant, !=, 0);
    GPtrArray *all = cl_item_array_new();
    for (gsize k = 0; keys[k]; k++) {
        g_autoptr(GPtrArray) found =
            lookup(self, CL_ITEM_LEAD, CL_ITEM_PROJECT, tenant, keys[k], pred_name_key, error);
        if (found == NULL) {
            g_ptr_array_unref(all);
            return NULL;
        }
        for (guint i = 0; i < found->len; i++) {
            ClItem *it = found->pdata[i];
            if (company == 0 || it->company_id == company)
                g_ptr_array_add(all, cl_item_copy(it));
        }
    }
    return all;
}

static bool
tenant_settings(void *self, gint64 tenant, ClTenantSettings *out, GError **error)
{
    (void)error;
    FakeDirectory *fd = self;
    ClTenantSettings *s = g_hash_table_lookup(fd->settings, &tenant);
    *out = s ? *s : (ClTenantSettings){ 0 };
    return true;
}

static GPtrArray *
companies_by_domain(void *self, gint64 tenant, const char *domain, GError **error)
{
    g_assert_cmpint(tenant, !=, 0);
    return lookup(self, CL_ITEM_COMPANY, CL_ITEM_COMPANY, tenant, domain, pred_address, error);
}

static ClItem *
copy_rec(FakeDirectory *fd, gint64 id)
{
    Rec *r = id ? find_rec(fd, id) : NULL;
    return r ? cl_item_copy(r->item) : NULL;
}

static bool
thread_entry(void *self, gint64 tenant, gint64 author, const char *const *ids, ClThreadRef *out,
             GError **error)
{
    FakeDirectory *fd = self;
    *out = (ClThreadRef){ 0 };
    fd->lookups++;
    if (fd->fail_in >= 0 && fd->fail_in-- == 0) {
        g_set_error(error, CL_ERROR, CL_ERROR_TEMPFAIL, "fake: busy");
        return false;
    }
    Thread *best = NULL;
    for (guint i = 0; i < fd->threads->len; i++) {
        Thread *t = fd->threads->pdata[i];
        if (t->tenant != tenant || !g_strv_contains(ids, t->message_id) ||
            (t->author != 0 && t->author != author))
            continue;
        if (best == NULL || t->entry > best->entry)
            best = t;
    }
    if (best != NULL) {
        out->entry_id = best->entry;
        out->message_id = g_strdup(best->message_id);
        out->company = copy_rec(fd, best->company);
        if (out->company != NULL) {
            out->company->company_id = out->company->id;
            out->company->company_key = g_strdup(out->company->key);
        }
        out->lead = copy_rec(fd, best->lead);
        out->project = copy_rec(fd, best->project);
    }
    return true;
}

static const ClDirectoryOps ops = {
    .tenants_by_domain = tenants_by_domain,
    .users_by_address = users_by_address,
    .contacts_by_address = contacts_by_address,
    .records_by_number = records_by_number,
    .records_by_name_keys = records_by_name_keys,
    .tenant_settings = tenant_settings,
    .companies_by_domain = companies_by_domain,
    .thread_entry = thread_entry,
};

ClDirectory
fake_directory_view(FakeDirectory *fd)
{
    return (ClDirectory){ .ops = &ops, .self = fd };
}
