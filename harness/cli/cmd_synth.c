// cmd_synth.c — `awq-harness synth`: a checkpoint with seeded random weights at the shapes of a
// config.json (model/synth.h), for benchmarks and memory tests at real model sizes.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/progress.h"
#include "model/synth.h"

static void synth_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness synth --config CONFIG.json --out DIR [options]\n"
            "\n"
            "  --config FILE     a HuggingFace config.json of a supported family (configs/models/)\n"
            "  --out DIR         output directory (created; files in it are replaced)\n"
            "  --dtype D         f16 (default) | bf16 | f32\n"
            "  --seed S          random seed (default 0); same seed, same bytes\n"
            "  --std X           standard deviation of linear and embedding weights (default 0.02,\n"
            "                    HuggingFace's initializer_range); norms are 1, biases 0\n"
            "  --ids N           seeded random token ids written to DIR/ids.txt (default 8192; 0: none)\n"
            "  --layers N        only the first N blocks (config.json says num_hidden_layers = N)\n"
            "  --threads N, --quiet\n"
            "\n"
            "DIR holds config.json, model.safetensors and ids.txt. There is no tokenizer: evaluate\n"
            "with --data ids:DIR/ids.txt (and calibrate with --calib ids:DIR/ids.txt).\n");
}

int cmd_synth(int argc, char **argv) {
    const char *config = NULL, *out = NULL;
    int threads = 0, quiet = 0, seed = 0, n_ids = 8192, layers = 0;
    synth_opts o;
    synth_defaults(&o);
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"dtype", required_argument, 0, 'd'},  {"seed", required_argument, 0, 's'},
        {"std", required_argument, 0, 'x'},    {"ids", required_argument, 0, 'i'},
        {"threads", required_argument, 0, 'j'}, {"quiet", no_argument, 0, 'q'},
        {"layers", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'd':
            if (strcmp(optarg, "f16") == 0) o.dtype = ST_F16;
            else if (strcmp(optarg, "bf16") == 0) o.dtype = ST_BF16;
            else if (strcmp(optarg, "f32") == 0) o.dtype = ST_F32;
            else {
                cli_error("--dtype: expected f16, bf16 or f32, got '%s'", optarg);
                return 2;
            }
            break;
        case 's': if (cli_int("--seed", optarg, 0, 2147483647, &seed)) return 2; break;
        case 'x':
            o.std = strtod(optarg, &end);
            if (end == optarg || *end || !(o.std > 0 && o.std < 1e3)) {
                cli_error("--std: expected a number in (0, 1000), got '%s'", optarg);
                return 2;
            }
            break;
        case 'i': if (cli_int("--ids", optarg, 0, 1 << 30, &n_ids)) return 2; break;
        case 'j': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'l': if (cli_int("--layers", optarg, 1, 1 << 20, &layers)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': synth_usage(stdout); return 0;
        default: synth_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        cli_error("synth: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!config || !out) {
        cli_error("synth: --config and --out are required (see 'awq-harness synth --help')");
        return 2;
    }
    cli_set_threads(threads);
    o.seed = (uint64_t)seed;
    o.n_ids = (size_t)n_ids;
    o.layers = layers;
    o.quiet = quiet;

    ah_err e = {{0}};
    synth_summary s;
    double t0 = ah_now();
    if (synth_write(config, out, &o, &s, &e)) {
        cli_error("%s", e.msg);
        return 1;
    }
    double secs = ah_now() - t0;
    printf("synthesized %s -> %s: %zu tensors, %.1fM parameters, %.2f GiB %s\n", config, out,
           s.tensors, (double)s.params / 1e6, (double)s.bytes / (1 << 30), st_dtype_name(o.dtype));
    printf("out=%s tensors=%zu params=%llu bytes=%llu dtype=%s seed=%d std=%g ids=%d seconds=%.3f "
           "peak_rss_mb=%.1f\n", out, s.tensors, (unsigned long long)s.params,
           (unsigned long long)s.bytes, st_dtype_name(o.dtype), seed, o.std, n_ids, secs,
           ah_peak_rss_mb());
    return 0;
}
