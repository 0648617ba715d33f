// params.h — the parameter table: one row per parameter of a run (method/params.c).
//
// A row says everything the harness does with a parameter: its name (the INI key in [sweep],
// the record attribute and the /summary column), its command-line option, its type, default,
// allowed words and range (with the message a value outside it gets), which methods take it
// (MP_* of the method table) and when it applies within them, how it appears in a run id,
// and its place in the run key and the AWQ-search key. INI parsing (experiment/config.c),
// sweep defaults, range checks and the crossing of axes (experiment/sweep.c), CLI options
// (cli/method_opts.c), run ids and descriptions, content keys (experiment/keys.c), run records
// (experiment/record.c), report labels and plot filters read the table; no other file lists
// parameters. docs/ARCHITECTURE.md, "Adding a parameter".
//
// One representation per meaning: a searched alpha is the word value "search" (awq_cfg's
// alpha_mode), never a number standing for it; "per row" is group size QUANT_GROUP_ROW (-1),
// written `row` in INI files and run ids and shown `per-row` in labels.
#ifndef AH_METHOD_PARAMS_H
#define AH_METHOD_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "method/method.h"

// The parameters, in the order a sweep crosses them (outermost first): the run plan's order.
// PARAM_AXIS_COUNT ends the [sweep] axes; the rows after it are set once per experiment
// ([experiment] / [calibration]) or on the command line, and a derived one.
typedef enum {
    PARAM_METHOD, PARAM_BITS, PARAM_GROUP,
    PARAM_SCALE_RULE, PARAM_CLIP, PARAM_PROPAGATE, PARAM_SALIENT_SCALE, PARAM_SCALE_PCT,
    PARAM_ALPHA, PARAM_GRID,
    PARAM_DAMP, PARAM_BLOCK_SIZE, PARAM_ACT_ORDER,
    PARAM_SALIENT_PCT, PARAM_SALIENT_BY,
    // The calibration sample (issue 19): its size, its sequence length and the seed that draws
    // it. Innermost, so seed replicates of one configuration are neighbours in the plan. Not
    // written in [sweep]: the [calibration] samples / seqlen and [experiment] seed values.
    PARAM_CALIB_SAMPLES, PARAM_CALIB_SEQLEN, PARAM_SEED,
    PARAM_AXIS_COUNT,
    PARAM_AWQ_SAMPLES = PARAM_AXIS_COUNT, PARAM_GRID_ONE,
    PARAM_ALPHA_MODE,  // derived: search | fixed, from alpha (its own /summary column)
    PARAM_QUANTIZER,   // derived: the method's quantizer (method table), never set
    PARAM_COUNT
} param_id;

typedef enum { PT_INT, PT_REAL, PT_WORD } param_type;

// One value: a word of the row (word >= 0: words[word]; alpha's "search", clip's "on") or a
// number (word = -1).
typedef struct {
    double num;
    int word;
} param_value;

// Where a value lives in method_cfg.
typedef enum {
    PF_INT,      // int (or an enum holding a word index)
    PF_DOUBLE,
    PF_U64,
    PF_ALPHA,    // awq.alpha_mode and awq.alpha
} param_field;

// Which key a row enters, and when (the key strings are pinned: experiment/keys.c).
enum { KEY_NONE, KEY_ALWAYS, KEY_GPTQ };                          // the run key
enum { AWQ_KEY_NONE, AWQ_KEY_ALWAYS, AWQ_KEY_PROPAGATED, AWQ_KEY_PROPAGATED_GPTQ };

typedef struct param_def param_def;
struct param_def {
    const char *name;          // INI key, record attribute, /summary column: "group_size"
    const char *cli;           // command-line option without "--" ("group"); NULL: none
    const char *cli_arg;       // its argument in usage ("G"); NULL: a flag setting word 1
    param_type type;
    const char *def;           // default, as an INI would write it ("128", "search")
    const char *const *words;  // the words it takes (NULL-terminated); methods: the table's
    // Numbers: [lo, hi] (lo excluded when lo_open), whole numbers only when whole; `alias`
    // is a word that stands for the number alias_num (group_size "row" = -1), also allowed.
    double lo, hi;
    int lo_open, whole;
    const char *alias;
    double alias_num;
    const char *range_msg;     // "%g is not ..." for a number outside the range
    unsigned takes;            // MP_*: the methods taking it (0: every method)
    int (*applies)(const method_cfg *mc);   // within those, when it applies (NULL: always)
    param_field field;
    size_t offset;             // of the field in method_cfg
    // Run ids: this row's part comes at position id_pos (0: none) and is id_fmt with the value
    // as text, printed when the row applies and (id_always or) the value is not the default;
    // id_part, when set, writes the part instead (group "-row", alpha "-a0.5" / "-search").
    int id_pos;
    const char *id_fmt;
    int id_always;
    // id_swept: the part is printed exactly when the [sweep] lists the row (method_cfg's
    // swept bits), so experiments that do not sweep it keep their ids (seed, calib_samples).
    int id_swept;
    void (*id_part)(const method_cfg *mc, char *buf, size_t cap);
    // Keys: name and position in the run key; name and condition in the AWQ-search key.
    // Words enter a key as text, or as their index when key_index (clip=1).
    int key, key_pos;
    const char *key_name;
    int awq_key;
    const char *awq_key_name;
    int key_index;
    // Records write the attribute `name` when the row applies (experiment/record.c), except
    // rows the record writes itself from what was used (own_record: the calibration set's
    // sequences and length, which a 0 = "model default" length resolves).
    int own_record;
    const char *label;         // for people: axis labels of figures ("weight bits")
};

const param_def *param_of(param_id p);            // NULL outside the table
const param_def *param_named(const char *name);   // by INI key, NULL when none
const char *param_name(param_id p);               // "group_size", "?" outside
param_id param_index(const param_def *d);

// One item as an INI list or the command line writes it (no ranges START:STOP:STEP here):
// a word of the row, its alias, or a number. Returns 0, or -1 with why ("unknown value 'x'
// (expected on, off)", "expected a number, got 'x'").
int param_parse(param_id p, const char *text, param_value *v, char *why, size_t cap);
// Range check of one value: 0, or -1 with the row's range message in why.
int param_check(param_id p, const param_value *v, char *why, size_t cap);
// The default value of a row (its `def` parsed).
param_value param_default(param_id p);
// The words of a row as "on, off" (messages).
const char *param_words(param_id p, char *buf, size_t cap);

// Values in a method configuration. param_defaults sets every row to its default.
void param_defaults(method_cfg *mc);
void param_set(method_cfg *mc, param_id p, param_value v);
param_value param_get(const method_cfg *mc, param_id p);
int param_is_default(const method_cfg *mc, param_id p);
// 1 when run mc has parameter p: its method takes it and it applies (alpha not under the
// salient rule, grid only when searched, salient_by only when channels are kept).
int param_applies(const method_cfg *mc, param_id p);
// A value as text: a word, "row" for a per-row group, numbers %g ("0.5", "128").
const char *param_text(param_id p, param_value v, char *buf, size_t cap);
// The value as an INI would write it, exactly (numbers with the fewest digits that read back).
const char *param_exact(param_id p, param_value v, char *buf, size_t cap);
// A label of a value for tables and figures ("per-row" for group -1, else param_text).
const char *param_label(param_id p, param_value v, char *buf, size_t cap);

// The run id of mc ("awq-w3-g128-search"): the method's id_name, then each row's part in
// id_pos order.
void param_run_id(const method_cfg *mc, char *id, size_t cap);
// "name=value" of every parameter that applies, space-separated (descriptions, kv lines).
void param_describe(const method_cfg *mc, char *buf, size_t cap);
// The run key's canonical text and the AWQ-search key's parameter part (pinned formats).
void param_key_text(const method_cfg *mc, char *buf, size_t cap);
void param_awq_key_text(const method_cfg *mc, char *buf, size_t cap);

#endif
