/*
 * html.c — readable text from HTML-only mail, with libxml2's tolerant HTML
 * parser (it knows every HTML 4 entity and recovers from broken markup).
 * The tree is walked iteratively, so deep nesting cannot exhaust the stack.
 */
#include "parse.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <string.h>

static bool
name_in(const xmlChar *name, const char *const *list)
{
    for (gsize i = 0; list[i] != NULL; i++)
        if (g_ascii_strcasecmp((const char *)name, list[i]) == 0)
            return true;
    return false;
}

static const char *const skipped[] = { "script", "style", "head", "title", "template",
                                       "noscript", "object", "svg", NULL };
static const char *const blocks[] = { "p", "div", "tr", "table", "ul", "ol", "h1", "h2", "h3",
                                      "h4", "h5", "h6", "blockquote", "pre", "hr", "section",
                                      "article", "header", "footer", "address", "dl", "dt",
                                      "dd", "form", "center", "tbody", "thead", NULL };

typedef struct {
    GString *out;
    bool pending_space;
    int newlines; /* newlines owed before the next text */
    int pre;      /* inside <pre> */
} Text;

static void
want_newlines(Text *t, int n)
{
    if (t->out->len > 0 && t->newlines < n)
        t->newlines = n;
    t->pending_space = false;
}

static void
put_text(Text *t, const char *s)
{
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == 0xA0)
            c = ' '; /* &nbsp; */
        if (t->pre == 0 && g_unichar_isspace(c)) {
            t->pending_space = t->out->len > 0 && t->newlines == 0;
            continue;
        }
        if (t->pre > 0 && c == '\n') {
            g_string_append_c(t->out, '\n');
            continue;
        }
        if (t->newlines > 0) {
            for (int i = 0; i < t->newlines; i++)
                g_string_append_c(t->out, '\n');
            t->newlines = 0;
        } else if (t->pending_space) {
            g_string_append_c(t->out, ' ');
        }
        t->pending_space = false;
        g_string_append_unichar(t->out, c);
    }
}

static void
enter_element(Text *t, xmlNode *n)
{
    if (g_ascii_strcasecmp((const char *)n->name, "br") == 0) {
        if (t->out->len > 0)
            t->newlines++;
        t->pending_space = false;
    } else if (g_ascii_strcasecmp((const char *)n->name, "li") == 0) {
        want_newlines(t, 1);
        put_text(t, "-");
        t->pending_space = true;
    } else if (g_ascii_strcasecmp((const char *)n->name, "td") == 0 ||
               g_ascii_strcasecmp((const char *)n->name, "th") == 0) {
        t->pending_space = t->out->len > 0 && t->newlines == 0;
    } else if (g_ascii_strcasecmp((const char *)n->name, "img") == 0) {
        xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");
        if (alt != NULL && *alt)
            put_text(t, (const char *)alt);
        xmlFree(alt);
    } else if (name_in(n->name, blocks)) {
        bool para = g_ascii_strcasecmp((const char *)n->name, "p") == 0 ||
                    (n->name[0] == 'h' && g_ascii_isdigit(n->name[1]));
        want_newlines(t, para ? 2 : 1);
    }
    if (g_ascii_strcasecmp((const char *)n->name, "pre") == 0)
        t->pre++;
}

static void
leave_element(Text *t, xmlNode *n)
{
    if (g_ascii_strcasecmp((const char *)n->name, "pre") == 0 && t->pre > 0)
        t->pre--;
    if (name_in(n->name, blocks)) {
        bool para = g_ascii_strcasecmp((const char *)n->name, "p") == 0 ||
                    (n->name[0] == 'h' && g_ascii_isdigit(n->name[1]));
        want_newlines(t, para ? 2 : 1);
    }
}

char *
cl_parse_html_to_text(const char *html, gsize length)
{
    if (html == NULL || length == 0)
        return g_strdup("");
    if (length > G_MAXINT)
        length = G_MAXINT;
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
               HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC;
    /* The input is already UTF-8 (the part's charset was converted by GMime);
     * IGNORE_ENC keeps a <meta charset> from re-decoding it. */
    htmlDocPtr doc = htmlReadMemory(html, (int)length, NULL, "UTF-8", opts);
    if (doc == NULL)
        return g_strdup("");

    Text t = { .out = g_string_new(NULL) };
    xmlNode *n = doc->children;
    while (n != NULL) {
        bool descend = false;
        if (n->type == XML_ELEMENT_NODE) {
            if (!name_in(n->name, skipped)) {
                enter_element(&t, n);
                descend = n->children != NULL;
                if (!descend)
                    leave_element(&t, n);
            }
        } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content != NULL)
                put_text(&t, (const char *)n->content);
        }
        if (descend) {
            n = n->children;
            continue;
        }
        /* Next sibling, or climb up closing elements on the way. */
        while (n != NULL && n->next == NULL) {
            n = n->parent;
            if (n == NULL || n == (xmlNode *)doc) {
                n = NULL;
                break;
            }
            if (n->type == XML_ELEMENT_NODE)
                leave_element(&t, n);
        }
        if (n != NULL)
            n = n->next;
    }
    xmlFreeDoc(doc);

    /* Trailing blanks on lines and more than one empty line are noise. */
    GString *clean = g_string_sized_new(t.out->len);
    g_auto(GStrv) lines = g_strsplit(t.out->str, "\n", -1);
    int empty = 0;
    for (gsize i = 0; lines[i] != NULL; i++) {
        g_strchomp(lines[i]);
        if (*lines[i] == '\0') {
            if (++empty > 1 || clean->len == 0)
                continue;
        } else {
            empty = 0;
        }
        if (clean->len > 0 || *lines[i])
            g_string_append_printf(clean, "%s%s", clean->len ? "\n" : "", lines[i]);
    }
    g_string_free(t.out, TRUE);
    while (clean->len > 0 && clean->str[clean->len - 1] == '\n')
        g_string_truncate(clean, clean->len - 1);
    return g_string_free(clean, FALSE);
}
