// cmd_tokenize.c — `awq-harness tokenize`: token ids of a text source, in the same two
// formats as tools/tokref.js (the HuggingFace reference), so the two can be diffed.
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "text/inputs.h"
#include "core/hash.h"

int cmd_tokenize(int argc, char **argv) {
    const char *tok_path = NULL, *data = NULL, *wt_dir = NULL, *format = "ids";
    int add_special = 1;
    static const struct option opts[] = {
        {"tokenizer", required_argument, 0, 't'}, {"data", required_argument, 0, 'd'},
        {"wikitext-dir", required_argument, 0, 'w'}, {"format", required_argument, 0, 'f'},
        {"no-special", no_argument, 0, 'n'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': tok_path = optarg; break;
        case 'd': data = optarg; break;
        case 'w': wt_dir = optarg; break;
        case 'f': format = optarg; break;
        case 'n': add_special = 0; break;
        case 'h':
            printf("usage: awq-harness tokenize --tokenizer PATH --data SOURCE "
                   "[--no-special] [--format ids|summary]\n"
                   "  --tokenizer: a HuggingFace directory or tokenizer.json, a llama2.c tokenizer.bin,\n"
                   "  or a .gguf file (the vocabulary in its tokenizer.ggml.* keys)\n"
                   "  summary prints count=N sha256=HEX (SHA-256 of the ids as little-endian int32)\n");
            return 0;
        default: return 2;
        }
    }
    if (!tok_path || !data) {
        cli_error("tokenize: --tokenizer and --data are required");
        return 2;
    }
    if (strcmp(format, "ids") != 0 && strcmp(format, "summary") != 0) {
        cli_error("--format: expected ids or summary, got '%s'", format);
        return 2;
    }
    ah_err e = {{0}};
    tok_tokenizer *tok = tok_load(tok_path, &e);
    ds_ids in = {0};
    if (!tok || ds_load_ids(&in, tok, data, wt_dir, 0, add_special, &e)) {
        cli_error("%s", e.msg);
        tok_free(tok);
        return 1;
    }
    if (strcmp(format, "summary") == 0) {
        char hex[65];
        ah_sha256_hex(in.ids, in.n * sizeof(int32_t), hex);   // little-endian host
        printf("count=%zu sha256=%s\n", in.n, hex);
    } else {
        for (size_t i = 0; i < in.n; i++) printf("%d\n", in.ids[i]);
    }
    ds_ids_free(&in);
    tok_free(tok);
    return 0;
}
