/*
 * fake-directory.h — an in-memory ClDirectory for unit tests of route/ and
 * match/. Records are added with the helpers below; lookups filter by tenant
 * exactly as the store does, so isolation can be tested without a database.
 */
#pragma once

#include "core/core.h"

typedef struct FakeDirectory FakeDirectory;

FakeDirectory *fake_directory_new(void);
void fake_directory_free(FakeDirectory *fd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeDirectory, fake_directory_free)

ClDirectory fake_directory_view(FakeDirectory *fd);

/* Returns the new id (ids are unique across kinds). */
gint64 fake_tenant(FakeDirectory *fd, const char *key, const char *domain);
gint64 fake_user(FakeDirectory *fd, gint64 tenant, const char *key, const char *address);
gint64 fake_company(FakeDirectory *fd, gint64 tenant, const char *key);
gint64 fake_contact(FakeDirectory *fd, gint64 tenant, gint64 company, const char *key,
                    const char *address);
gint64 fake_lead(FakeDirectory *fd, gint64 tenant, gint64 company, const char *number,
                 const char *name);
gint64 fake_project(FakeDirectory *fd, gint64 tenant, gint64 company, const char *key,
                    const char *name, const char *offer);
/* Adds another address to a user or contact, or a mail domain to a company. */
void fake_address(FakeDirectory *fd, gint64 owner, const char *address);
/* An entry of the tenant with this Message-ID, for rule 10 (company, lead, project: ids or 0). */
void fake_thread(FakeDirectory *fd, gint64 tenant, gint64 entry, const char *message_id,
                 gint64 company, gint64 lead, gint64 project);
/* The same for an entry only `author` may see (pending, discarded or own history). */
void fake_thread_private(FakeDirectory *fd, gint64 tenant, gint64 author, gint64 entry,
                         const char *message_id, gint64 company, gint64 lead, gint64 project);
/* Sets the tenant's settings (default: strict numbers, no auto-save). */
void fake_settings(FakeDirectory *fd, gint64 tenant, ClTenantSettings settings);
/* After n more successful lookups, the next one fails with CL_ERROR_TEMPFAIL. */
void fake_fail_after(FakeDirectory *fd, guint n);
/* Number of lookups so far. */
guint fake_lookups(FakeDirectory *fd);
