-- The HTTP API (issue 5): sessions and tokens, notifications, follow-ups,
-- full-text search, and what lists show without reading the original message.

-- The first characters of the text, white space collapsed and quoted lines left
-- out: history pages show it without parsing the original message of each mail.
ALTER TABLE entries ADD COLUMN preview TEXT;
-- A follow-up ("Wiedervorlage") that was dealt with keeps its date but is no longer due.
ALTER TABLE entries ADD COLUMN followup_done INTEGER NOT NULL DEFAULT 0;
-- Manual entries: the names and addresses of their contact persons as indexed
-- for search, so that an edit can take exactly these words out of the index again.
ALTER TABLE entries ADD COLUMN search_names TEXT;

CREATE INDEX entries_followup ON entries (tenant_id, author_id, followup)
    WHERE followup IS NOT NULL AND followup_done = 0;
CREATE INDEX entries_notify_user ON entry_notify (tenant_id, user_id, entry_id);

ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'de' CHECK (locale IN ('de', 'en'));
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;

-- Full-text search over subject, text and addresses. Contentless: the text of
-- captured mail is stored once, in the original message; rowid = entries.id.
-- remove_diacritics: "Muller" finds "Müller". No prefix indexes: they tripled
-- the cost of indexing (bench/ingest), and prefix queries work without them.
CREATE VIRTUAL TABLE entry_search USING fts5 (
    subject, text, addresses,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Captured mail that is not in the search index yet: indexing a mail in its
-- capture transaction doubled the cost of capturing it, so capture queues
-- the entry and `serve` indexes it behind the acknowledgement (and a search
-- catches up first). An entry here is not in entry_search.
CREATE TABLE search_queue (
    entry_id INTEGER PRIMARY KEY REFERENCES entries (id) ON DELETE CASCADE
);

-- Logged-in browsers. The cookie holds a random token; only its BLAKE2b hash
-- is stored, so a copy of the database opens no session.
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    client     TEXT
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- Personal API tokens (Bearer), shown once when made; stored as BLAKE2b hash.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,   -- the first characters, so a user can tell tokens apart
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    expires_at INTEGER          -- NULL: until deleted
);
CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);

-- What a user is told: colleagues chose them under "Benutzer informieren"
-- (notify), or mail of theirs was captured (captured).
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entry_id   INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('notify', 'captured')),
    actor_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_user ON notifications (tenant_id, user_id, id);
CREATE INDEX notifications_entry ON notifications (entry_id);
