-- Small blobs kept in the database itself (issue 4): a mail received over LMTP is then
-- durable with the one fsync of the COMMIT instead of two (pack, then database log).
-- A hash is in blobs (a pack) or here, never both; readers look in both.
CREATE TABLE blob_data (
    hash TEXT PRIMARY KEY,
    data BLOB NOT NULL
);

-- A refused mail is recorded once: over LMTP the same mail differs in its Received line,
-- so it is recognised by its Message-ID (and sender) too.
CREATE INDEX rejections_message_id ON rejections (message_id);
