-- Small blobs kept in the database itself (issue 4): a mail received over LMTP is then
-- durable with the one fsync of the COMMIT instead of two (pack, then database log).
-- A hash is in blobs (a pack) or here, never both; readers look in both.
CREATE TABLE blob_data (
    hash TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
