-- Search (issue: a newcomer's findings): entries are found by the names of their
-- contact persons (captured mail too, and after the review changed them) and by
-- the names of their attachments; German words by their spelling out ("mueller"
-- finds "Müller", "oeffnungszeiten" finds "Öffnungszeiten"; "muller" still does).
--
-- The tokenizer "contactlog" (db-sqlite.c) is unicode61 with remove_diacritics 2
-- plus, at the same position, the spelling out of words with ä, ö, ü, ß. The new
-- column `names`: the contact persons' names and the attachments' names, as
-- indexed; entries.search_names keeps exactly these words (for every entry now;
-- NULL while the entry is not in the index), so that a change can take them out
-- again — the index is contentless.
DROP TABLE entry_search;
CREATE VIRTUAL TABLE entry_search USING fts5 (
    subject, text, addresses, names,
    content = '',
    tokenize = 'contactlog'
);
-- Nothing is in the new index: every entry waits for the indexer (`serve`
-- indexes the queue behind everything else, a search catches up first, and
-- `contactlog reindex` does it all at once).
UPDATE entries SET search_names = NULL;
INSERT OR IGNORE INTO search_queue (entry_id) SELECT id FROM entries;
