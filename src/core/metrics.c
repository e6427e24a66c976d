/*
 * metrics.c — the process's counters and latency histograms, shown by
 * GET /metrics in the Prometheus text format (version 0.0.4). The mail
 * server counts mail by result and reason, the HTTP API requests by route
 * and status; both run in the same process, hence one registry. Thread-safe.
 */
#include "core.h"

#include <string.h>

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define N_BUCKETS G_N_ELEMENTS(buckets)

typedef struct {
    guint64 count;
    double sum;
    guint64 bucket[N_BUCKETS];
} Series;

typedef struct {
    char *name;
    char *help;
    bool histogram;
    GHashTable *series; /* labels text → Series */
    GPtrArray *order;   /* labels in the order they appeared (borrowed keys) */
} Metric;

static GMutex lock;
static GHashTable *metrics; /* name → Metric */
static GPtrArray *metric_order;

static void
metric_free(Metric *m)
{
    g_free(m->name);
    g_free(m->help);
    g_hash_table_unref(m->series);
    g_ptr_array_unref(m->order);
    g_free(m);
}

/* Under the lock. */
static Series *
series_get(const char *name, const char *labels, bool histogram)
{
    if (metrics == NULL) {
        metrics = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)metric_free);
        metric_order = g_ptr_array_new();
    }
    Metric *m = g_hash_table_lookup(metrics, name);
    if (m == NULL) {
        m = g_new0(Metric, 1);
        m->name = g_strdup(name);
        m->histogram = histogram;
        m->series = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->order = g_ptr_array_new();
        g_hash_table_insert(metrics, m->name, m);
        g_ptr_array_add(metric_order, m);
    }
    const char *key = labels ? labels : "";
    Series *s = g_hash_table_lookup(m->series, key);
    if (s == NULL) {
        char *k = g_strdup(key);
        s = g_new0(Series, 1);
        g_hash_table_insert(m->series, k, s);
        g_ptr_array_add(m->order, k);
    }
    return s;
}

void
cl_metrics_describe(const char *name, const char *help, bool histogram)
{
    g_mutex_lock(&lock);
    series_get(name, NULL, histogram);
    Metric *m = g_hash_table_lookup(metrics, name);
    if (m->help == NULL)
        m->help = g_strdup(help);
    g_mutex_unlock(&lock);
}

void
cl_metrics_count(const char *name, const char *labels, guint64 n)
{
    g_mutex_lock(&lock);
    series_get(name, labels, false)->count += n;
    g_mutex_unlock(&lock);
}

void
cl_metrics_observe(const char *name, const char *labels, double value)
{
    g_mutex_lock(&lock);
    Series *s = series_get(name, labels, true);
    s->count++;
    s->sum += value;
    for (gsize i = 0; i < N_BUCKETS; i++)
        if (value <= buckets[i])
            s->bucket[i]++;
    g_mutex_unlock(&lock);
}

char *
cl_metrics_text(void)
{
    GString *out = g_string_new(NULL);
    g_mutex_lock(&lock);
    for (guint i = 0; metric_order && i < metric_order->len; i++) {
        Metric *m = metric_order->pdata[i];
        if (m->help)
            g_string_append_printf(out, "# HELP %s %s\n", m->name, m->help);
        g_string_append_printf(out, "# TYPE %s %s\n", m->name,
                               m->histogram ? "histogram" : "counter");
        for (guint j = 0; j < m->order->len; j++) {
            const char *labels = m->order->pdata[j];
            Series *s = g_hash_table_lookup(m->series, labels);
            /* A metric registered but never counted under labels shows 0 only without labels. */
            if (*labels == '\0' && m->order->len > 1 && s->count == 0)
                continue;
            if (!m->histogram) {
                g_string_append_printf(out, "%s%s%s%s %" G_GUINT64_FORMAT "\n", m->name,
                                       *labels ? "{" : "", labels, *labels ? "}" : "", s->count);
                continue;
            }
            const char *sep = *labels ? "," : "";
            for (gsize b = 0; b < N_BUCKETS; b++)
                g_string_append_printf(out, "%s_bucket{%s%sle=\"%g\"} %" G_GUINT64_FORMAT "\n",
                                       m->name, labels, sep, buckets[b], s->bucket[b]);
            g_string_append_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" G_GUINT64_FORMAT "\n",
                                   m->name, labels, sep, s->count);
            g_string_append_printf(out, "%s_sum%s%s%s %.6f\n", m->name, *labels ? "{" : "",
                                   labels, *labels ? "}" : "", s->sum);
            g_string_append_printf(out, "%s_count%s%s%s %" G_GUINT64_FORMAT "\n", m->name,
                                   *labels ? "{" : "", labels, *labels ? "}" : "", s->count);
        }
    }
    g_mutex_unlock(&lock);
    return g_string_free(out, FALSE);
}
