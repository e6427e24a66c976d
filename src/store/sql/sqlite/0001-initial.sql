-- contactlog schema 1 (SQLite). Every table carries tenant_id, first in every
-- key that a lookup uses, so the schema can later be distributed by tenant.
-- Addresses, domains and name words are stored folded (NFC + case fold) by the
-- store code; every lookup of the matcher is an index lookup.

CREATE TABLE tenants (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    subject_numbers TEXT NOT NULL DEFAULT 'strict' CHECK (subject_numbers IN ('strict', 'tolerant')),
    auto_save       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

-- A domain is registered by one tenant only (DESIGN §2 rule 2).
CREATE TABLE tenant_domains (
    domain    TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX tenant_domains_tenant ON tenant_domains (tenant_id);

CREATE TABLE drop_addresses (
    address TEXT PRIMARY KEY
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash TEXT,
    UNIQUE (tenant_id, key)
);

CREATE TABLE user_addresses (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    address   TEXT NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display   TEXT NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, address, user_id)
);
-- private addresses are looked up across tenants (rule 2)
CREATE INDEX user_addresses_address ON user_addresses (address);
CREATE INDEX user_addresses_user ON user_addresses (user_id);

CREATE TABLE companies (
    id        INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (tenant_id, key)
);

CREATE TABLE company_domains (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain     TEXT NOT NULL,
    company_id INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, domain, company_id)
);
CREATE INDEX company_domains_company ON company_domains (company_id);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    company_id INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    name       TEXT NOT NULL,
    phone      TEXT,
    UNIQUE (tenant_id, key)
);
CREATE INDEX contacts_company ON contacts (tenant_id, company_id);

CREATE TABLE contact_addresses (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    display    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, address, contact_id)
);
CREATE INDEX contact_addresses_contact ON contact_addresses (contact_id);

CREATE TABLE leads (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    company_id INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    number     TEXT NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT,   -- folded words of the name joined by spaces (rule 7 index)
    status     TEXT NOT NULL DEFAULT 'open',
    UNIQUE (tenant_id, number)
);
CREATE INDEX leads_name_key ON leads (tenant_id, name_key, company_id);
CREATE INDEX leads_company ON leads (tenant_id, company_id);

CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    company_id INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    number     TEXT,
    name       TEXT NOT NULL,
    name_key   TEXT,
    UNIQUE (tenant_id, key)
);
CREATE INDEX projects_name_key ON projects (tenant_id, name_key, company_id);
CREATE INDEX projects_company ON projects (tenant_id, company_id);

CREATE TABLE project_offers (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number     TEXT NOT NULL,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, number, project_id)
);
CREATE INDEX project_offers_project ON project_offers (project_id);

-- Content-addressed blobs (raw messages, attachments): BLAKE2b-256 of the bytes,
-- stored at [offset, offset+size) of the pack file blobs/pack-NNNNNN.
CREATE TABLE packs (
    id         INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);

CREATE TABLE blobs (
    hash   TEXT PRIMARY KEY,
    pack   INTEGER NOT NULL REFERENCES packs (id),
    offset INTEGER NOT NULL,
    size   INTEGER NOT NULL
);

-- One contact in the history. Captured mail keeps its raw bytes as a
-- content-addressed blob (raw_hash) and the reasons of every assignment.
CREATE TABLE entries (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'saved', 'discarded')),
    origin       TEXT NOT NULL CHECK (origin IN ('mail', 'manual')),
    channel      TEXT NOT NULL CHECK (channel IN ('phone', 'email', 'meeting', 'video', 'letter', 'other')),
    contact_time INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    author_id    INTEGER NOT NULL REFERENCES users (id),
    company_id   INTEGER REFERENCES companies (id),
    lead_id      INTEGER REFERENCES leads (id),
    project_id   INTEGER REFERENCES projects (id),
    followup     TEXT,          -- YYYY-MM-DD
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT,          -- NULL for captured mail: its text is read from the original
    body_from_html INTEGER NOT NULL DEFAULT 0,
    forwarded    INTEGER NOT NULL DEFAULT 0,
    message_id   TEXT,
    content_hash TEXT,          -- mail without Message-ID: BLAKE2b of its normalised content (rule 9)
    in_reply_to  TEXT,
    addresses    TEXT,          -- JSON: from, to, cc, reply_to, envelope sender and recipients
    candidates   TEXT,          -- JSON: {"lead": [...], "project": [...]} when a rule found several
    reasons      TEXT,          -- JSON: [{"field", "rule", "detail"}, ...] in the order they were found
    raw_hash     TEXT,       -- blob of the original message
    raw_size     INTEGER,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX entries_message_id ON entries (tenant_id, message_id) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX entries_content_hash ON entries (tenant_id, content_hash) WHERE content_hash IS NOT NULL;
CREATE INDEX entries_author ON entries (tenant_id, author_id, state, contact_time, id);
CREATE INDEX entries_company ON entries (tenant_id, company_id, state, contact_time, id);
CREATE INDEX entries_lead ON entries (tenant_id, lead_id, state, contact_time, id);
CREATE INDEX entries_project ON entries (tenant_id, project_id, state, contact_time, id);

CREATE TABLE entry_contacts (
    tenant_id  INTEGER NOT NULL,
    entry_id   INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (entry_id, position)
);
CREATE INDEX entry_contacts_contact ON entry_contacts (tenant_id, contact_id);

CREATE TABLE entry_notify (
    tenant_id INTEGER NOT NULL,
    entry_id  INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (entry_id, user_id)
);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL,
    entry_id     INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX attachments_entry ON attachments (entry_id, position);

-- Mail that was refused: the administrator's view (DESIGN §2, last paragraph).
CREATE TABLE rejections (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER REFERENCES tenants (id) ON DELETE SET NULL,
    received_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    message     TEXT NOT NULL,
    sender      TEXT,
    envelope    TEXT,    -- JSON: envelope sender and recipients
    subject     TEXT,
    message_id  TEXT,
    origin      TEXT,
    raw_hash    TEXT,    -- NULL when the mail was too large to keep
    raw_size    INTEGER NOT NULL
);
CREATE INDEX rejections_tenant ON rejections (tenant_id, id);
CREATE INDEX rejections_hash ON rejections (raw_hash);
