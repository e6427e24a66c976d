-- Search: the Turkish dotless ı is put out as i too ("yilmaz" finds "Yılmaz",
-- as "mueller" finds "Müller"): the tokenizer "contactlog" (db-sqlite.c) now
-- gives such words a second token. The index is contentless: an entry is taken
-- out with exactly the tokens it went in with, which the old tokenizer made, so
-- the index is made anew, as 0005 made it.
DROP TABLE entry_search;
CREATE VIRTUAL TABLE entry_search USING fts5 (
    subject, text, addresses, names,
    content = '',
    tokenize = 'contactlog'
);
UPDATE entries SET search_names = NULL;
INSERT OR IGNORE INTO search_queue (entry_id) SELECT id FROM entries;
