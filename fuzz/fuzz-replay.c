/*
 * fuzz-replay.c — runs the fuzz target once per file, without libFuzzer: the
 * regression test of every input the fuzzer ever crashed on (fuzz/regressions),
 * in every build, under the sanitizers of `make test`.
 *
 *     fuzz-replay FILE|DIR...
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay(const char *path, unsigned *count)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        if (dir == NULL)
            return 1;
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        for (const char *n; (n = g_dir_read_name(dir)) != NULL;)
            if (n[0] != '.')
                g_ptr_array_add(names, g_build_filename(path, n, NULL));
        int rc = 0;
        for (guint i = 0; i < names->len; i++)
            rc |= replay(names->pdata[i], count);
        return rc;
    }
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &data, &len, &error)) {
        fprintf(stderr, "fuzz-replay: %s\n", error->message);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    (*count)++;
    return 0;
}

int
main(int argc, char **argv)
{
    unsigned count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= replay(argv[i], &count);
    printf("fuzz-replay: %u inputs, no crash\n", count);
    return rc;
}
