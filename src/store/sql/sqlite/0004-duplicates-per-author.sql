-- Rule 9 per author (DESIGN §2): a Message-ID (or content hash) is one entry
-- per author in a tenant. The author is the sender (rule 3), so every copy of
-- one mail has the same author and is still one entry; a mail of another
-- sender that claims the same Message-ID is another mail. Before, one
-- user's mail, uploaded first with a colleague's Message-ID, made the
-- colleague's real mail a duplicate of it, dropped without a trace.
DROP INDEX entries_message_id;
DROP INDEX entries_content_hash;
CREATE UNIQUE INDEX entries_message_id ON entries (tenant_id, message_id, author_id)
    WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX entries_content_hash ON entries (tenant_id, content_hash, author_id)
    WHERE content_hash IS NOT NULL;
