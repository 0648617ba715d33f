// store_names.c — what a results file says about itself, checked when it is read back: the
// experiment name and the [plot.NAME] sections of the stored INI become parts of output paths
// (plot writes OUT/<experiment>/<name>.png), so they must be plain names (core/names.h); and the
// stored INI must not reach other files (an `include` line would be read, its content quoted in
// parse errors, and a FIFO would hang the reader).
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/names.h"

#define PLAIN_RULE "letters, digits, '.', '_' and '-', not starting with '.'"

// The [plot.NAME] section names of INI text: the first that is not plain (into bad), else 0.
static int bad_plot_name(const char *ini, char *bad, size_t cap) {
    for (const char *l = ini; *l;) {
        size_t len = strcspn(l, "\n");
        const char *t = l, *end = l + len;
        while (t < end && (*t == ' ' || *t == '\t')) t++;
        if (end - t > 6 && !strncmp(t, "[plot.", 6)) {
            const char *close = memchr(t, ']', (size_t)(end - t));
            size_t n = (size_t)((close ? close : end) - (t + 6));
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), t + 6);
            if (!ah_plain_name(name) || n >= sizeof name) {
                ah_name_for_msg(name, bad, cap);
                return 1;
            }
        }
        l = end + (*end == '\n');
    }
    return 0;
}

// The stored INI is stored with its includes expanded (each include line became a comment), so
// a live `include` key can only come from an old or a crafted file: it is turned into a comment
// in place, before any parser sees it.
static void neutralize_includes(char *ini) {
    for (char *l = ini; *l;) {
        size_t len = strcspn(l, "\n");
        char *t = l;
        while (t < l + len && (*t == ' ' || *t == '\t')) t++;
        if (!strncmp(t, "include", 7)) {
            const char *r = t + 7;
            while (*r == ' ' || *r == '\t') r++;
            if (*r == '=' || *r == ':') *t = ';';
        }
        l += len + (l[len] == '\n');
    }
}

int st_check_stored(const char *path, store_summary *s, ah_err *e) {
    char shown[80];
    if (s->experiment[0] && !ah_plain_name(s->experiment))
        return ah_fail(e, "%s: the stored experiment name '%s' is not a plain name (" PLAIN_RULE
                          "); refusing the file", path, ah_name_for_msg(s->experiment, shown, sizeof shown));
    if (!s->experiment_ini) return 0;
    if (bad_plot_name(s->experiment_ini, shown, sizeof shown))
        return ah_fail(e, "%s: the stored experiment INI declares [plot.%s], not a plain name (" PLAIN_RULE
                          "); refusing the file", path, shown);
    neutralize_includes(s->experiment_ini);
    return 0;
}
