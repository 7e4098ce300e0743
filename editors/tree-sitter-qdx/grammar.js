/**
 * @file The qdx campaign language, version 1, for tree-sitter.
 *
 * The reference is the pest grammar `grammar/qdx.pest` (prose in `grammar/README.md`): where
 * the two disagree, qdx.pest wins and this file has a bug. Rules keep qdx.pest's names so the
 * two can be read side by side; `cargo test` checks that both accept and reject the same files
 * (bindings/rust/parity.rs).
 *
 * Three things a PEG does that an LR grammar has to spell out:
 * - units: a quantity is a number then, on the same line, a unit; `src/scanner.c` scans
 *   both, so that a comment or a line break never sits between them, and
 *   the words that may follow a quantity (`log`, `for`, `weight`, ...) are never units;
 * - contextual keywords: `campaign`, `seed`, `script`, ... are names wherever the grammar does
 *   not expect the keyword. Tree-sitter lexes a word as a keyword only where the keyword is
 *   valid; where qdx.pest tries a keyword alternative first and falls back to a name (a
 *   `measure` channel called `settle`, an optimizer option called `levels`), the keyword is
 *   also accepted as a name here;
 * - ordered choice: where both readings of a prefix could go on, the one qdx.pest tries first
 *   wins (static precedence where qdx.pest commits at once, `prec.dynamic` where it backtracks).
 */

/* eslint-disable arrow-parens, camelcase */

// Expression precedence, loosest first (grammar/README.md, "Expressions").
const PREC = {
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
  add: 5,
  mul: 6,
  neg: 7,
  pow: 8,
  call: 9,
};

/** `rule` one or more times, separated by `sep`. */
function sep1(rule, sep) {
  return seq(rule, repeat(seq(sep, rule)));
}

/** `rule` one or more times, separated by `sep`, with an optional trailing `sep`. */
function sepTrailing1(rule, sep) {
  return seq(sep1(rule, sep), optional(sep));
}

/** `{ ... }` around a list of entries separated by optional commas (props, levels). */
function looseList(rule) {
  return seq('{', optional(seq(rule, repeat(seq(optional(','), rule)), optional(','))), '}');
}

/** A keyword that qdx.pest may read as a plain name where its own alternative fails. */
function asName($, ...words) {
  return choice($.ident, ...words.map((w) => alias(w, $.ident)));
}

// The keywords that may also start an expression (see `path`); where a name follows a word
// that could itself be read as a name (`initial`, `on`, `safe`, `then`), the parser tries both
// readings and so lexes these words as keywords: they are names there too.
const EXPRESSION_WORDS = ['script', 'on', 'safe', 'backoff', 'match'];

module.exports = grammar({
  name: 'qdx',

  word: ($) => $.ident,

  // Whitespace and comments between any two tokens (qdx.pest's WHITESPACE and COMMENT).
  extras: ($) => [/[ \t\r\n]/, $.comment],

  // src/scanner.c: the number of a quantity (only when a unit follows on the same line), the
  // unit itself, and a count (qdx.pest's `integer`). The sentinel is never valid in the
  // grammar: when the parser asks for it, it is recovering from an error and the scanner stays
  // out of the way.
  externals: ($) => [$._quantity_number, $.unit, $._count, $._error_sentinel],

  // qdx.pest's `keyword`: never a name, anywhere.
  reserved: {
    global: (_) => ['and', 'or', 'not', 'in', 'within', 'true', 'false'],
  },

  supertypes: ($) => [$._item, $._expr],

  conflicts: ($) => [
    // `levels { t 3 }` is the levels entry, or an option called `levels` with props; `batch {`
    // an option called `batch` (qdx.pest tries the entries first).
    [$.level, $._expr],
    [$.levels, $.props],
    // `on x : ...` / `safe h = ...` in safety, or a limit that starts with the name `on`/`safe`.
    [$.on_fault, $.path],
    [$.safe_setpoint, $.path],
    // `retry 3 backoff ...`: the backoff, or a limit that starts with the name `backoff`.
    [$.retry],
    // `composition { ... } total ...`: the total, or a next variable called `total`.
    [$.composition_type],
    // `match x {`: a match over the choice `x`, or a name called `match` (qdx.pest tries the
    // match first and falls back to the name).
    [$.match_expression, $.path],
  ],

  rules: {
    // ─────────────────────────── file structure ───────────────────────────

    source_file: ($) => seq(optional($.header), repeat($._item)),

    header: ($) => seq('qdx', field('version', $.version)),

    version: (_) => /[0-9]+(\.[0-9]+)?/,

    _item: ($) =>
      choice(
        $.campaign,
        $.use_decl,
        $.kind_decl,
        $.builtin_decl,
        $.reference_decl,
        $.stocks,
        $.reactor,
        $.variables,
        $.parameters,
        $.derive,
        $.constraints,
        $.measure,
        $.proxies,
        $.objectives,
        $.optimizer,
        $.prior,
        $.data,
        $.safety,
        $.simulate,
        $.lab,
        $.fit,
      ),

    // ─────────────────────────── campaign header ───────────────────────────

    campaign: ($) =>
      seq(
        'campaign',
        field('name', $.string),
        '{',
        repeat(choice($.description, $.seed, $.budget)),
        '}',
      ),

    description: ($) => seq('description', $.string),

    seed: ($) => seq('seed', $.integer),

    budget: ($) => seq('budget', '{', optional(sepTrailing1($._budget_entry, ',')), '}'),

    _budget_entry: ($) =>
      choice($.budget_experiments, $.budget_reagent, $.budget_time, $.budget_failures),

    budget_experiments: ($) => seq('experiments', $.integer),

    budget_reagent: ($) => seq('reagent', field('stock', $.ident), field('amount', $._expr)),

    budget_time: ($) => seq('time', $._expr),

    budget_failures: ($) => seq('repeated_failures', $.integer),

    // ─────────────────────── imports and library declarations ───────────────────────

    use_decl: ($) => seq('use', choice($.string, $.module_path)),

    module_path: ($) => seq($.ident, repeat1(seq('.', $.ident))),

    kind_decl: ($) =>
      seq(
        'kind',
        field('name', $.ident),
        ':',
        field('role', $.ident),
        '{',
        repeat(choice($.setting_decl, $.property_decl)),
        '}',
      ),

    property_decl: ($) =>
      seq(
        field('name', asName($, 'setting')),
        ':',
        field('type', $.type_name),
        optional(seq('=', field('default', choice($.range, $._expr)))),
      ),

    setting_decl: ($) =>
      seq(
        'setting',
        field('name', $.ident),
        ':',
        field('type', $.type_name),
        optional(seq('in', field('limits', choice($.range, $.ident)))),
      ),

    type_name: ($) => $.ident,

    builtin_decl: ($) =>
      seq(
        'builtin',
        field('name', $.ident),
        '(',
        optional(sepTrailing1($.param_decl, ',')),
        ')',
        '->',
        field('return_type', $.type_name),
      ),

    param_decl: ($) =>
      seq(
        field('name', $.ident),
        ':',
        field('type', $.type_name),
        optional(seq('=', field('default', $._expr))),
      ),

    reference_decl: ($) => seq('reference', field('name', $.ident), $.props),

    // ─────────────────────────── stocks and the reactor ───────────────────────────

    stocks: ($) => seq('stocks', '{', repeat($.stock), '}'),

    stock: ($) =>
      seq(
        field('name', $.ident),
        optional(field('description', $.string)),
        'in',
        field('pump', $.ident),
        optional($.props),
      ),

    reactor: ($) => seq('reactor', '{', repeat(choice($.lines, $.connection, $.device)), '}'),

    // Parallel lines: the reactor line is built once per name.
    lines: ($) => seq('lines', sep1(field('name', $.ident), ',')),

    device: ($) =>
      seq(
        field('role', $.ident),
        field('name', $.ident),
        ':',
        field('kind', $.kind_ref),
        optional($.props),
      ),

    kind_ref: ($) => seq($.ident, repeat(seq('.', $.ident))),

    connection: ($) => seq($.endpoints, repeat1(seq('->', $.endpoints))),

    endpoints: ($) => sep1($.port, ','),

    port: ($) => seq(field('device', $.ident), optional(seq('.', field('port', $.ident)))),

    // `{ syringe 10 mL, max_rate 2 mL/min }`: commas between entries are optional.
    props: ($) => looseList($.prop),

    prop: ($) => seq(field('name', $.ident), field('value', choice($.props, $.range, $._expr))),

    range: ($) => seq(field('low', $._expr), '..', field('high', $._expr)),

    // ─────────────────────────── the design space ───────────────────────────

    variables: ($) => seq('variables', '{', repeat($.variable), '}'),

    variable: ($) =>
      seq(
        field('name', asName($, 'total')),
        ':',
        field(
          'type',
          choice($.integer_type, $.choice_type, $.composition_type, $.continuous_type),
        ),
        optional($.binding),
      ),

    // `choice` and `composition` name a dimension when no `{` follows (qdx.pest tries the
    // keyword types first); `integer in ...` is always the integer type.
    continuous_type: ($) =>
      seq(
        field(
          'dimension',
          choice(
            $.type_name,
            alias('choice', $.type_name),
            alias('composition', $.type_name),
          ),
        ),
        'in',
        $.range,
        optional($.log_scale),
      ),

    integer_type: ($) => seq('integer', 'in', $.range),

    choice_type: ($) => seq('choice', '{', sepTrailing1($.string, ','), '}'),

    composition_type: ($) =>
      seq(
        'composition',
        '{',
        sepTrailing1($.component, ','),
        '}',
        optional(prec.dynamic(1, seq('total', field('total', $._expr)))),
      ),

    component: ($) => seq(field('name', $.ident), optional(seq('in', $.range))),

    log_scale: (_) => 'log',

    binding: ($) => seq('->', $.setting_ref),

    setting_ref: ($) =>
      seq(field('device', $.ident), optional(seq('.', field('setting', $.ident)))),

    parameters: ($) => seq('parameters', '{', repeat($.parameter), '}'),

    parameter: ($) =>
      seq(field('name', $.ident), '=', field('value', $._expr), optional($.binding)),

    derive: ($) => seq('derive', '{', repeat($.assignment), '}'),

    assignment: ($) => seq(field('target', $.path), '=', field('value', $._expr)),

    constraints: ($) => seq('constraints', '{', repeat($.constraint), '}'),

    constraint: ($) => $._expr,

    // ─────────────────────────── measurement and proxies ───────────────────────────

    measure: ($) =>
      seq(
        'measure',
        'at',
        field('cell', $.ident),
        '{',
        repeat(choice($.steady_state, $.settle, $.replicates, $.channel)),
        '}',
      ),

    steady_state: ($) => seq('steady_state', 'after', $._expr),

    settle: ($) =>
      seq('settle', 'within', field('tolerance', $._expr), 'for', field('duration', $._expr)),

    replicates: ($) => seq('replicates', $.integer),

    // A channel (`absorbance`, `photoluminescence`), a `flush` or a `route`.
    channel: ($) =>
      seq(
        field('name', asName($, 'steady_state', 'settle', 'replicates')),
        optional($.props),
      ),

    proxies: ($) => seq('proxies', '{', repeat($.proxy), '}'),

    proxy: ($) =>
      seq(field('name', $.ident), '=', field('value', choice($.script_ref, $._expr))),

    script_ref: ($) => seq('script', choice($.raw_string, $.string)),

    // ─────────────────────────── objectives and the optimizer ───────────────────────────

    objectives: ($) =>
      seq(
        'objectives',
        '{',
        repeat(choice($.maximize, $.minimize, $.target, $.map, $.require, $.combine, $.stop)),
        '}',
      ),

    maximize: ($) =>
      seq(
        choice('maximize', 'maximise'),
        field('proxy', $.ident),
        optional(seq('in', $.range)),
        optional($.weight),
      ),

    minimize: ($) =>
      seq(
        choice('minimize', 'minimise'),
        field('proxy', $.ident),
        optional(seq('in', $.range)),
        optional($.weight),
      ),

    target: ($) =>
      seq(
        'target',
        field('proxy', $.ident),
        field('operator', $.target_op),
        field('value', $.target_value),
        optional(seq('within', field('tolerance', $.target_value))),
        optional($.weight),
      ),

    target_value: ($) => seq(optional('-'), choice($.quantity, $.number)),

    target_op: (_) => choice('>=', '<=', '='),

    weight: ($) => seq('weight', $.number),

    require: ($) => seq('require', $._expr),

    combine: ($) => seq('combine', field('method', $.ident), optional($.props)),

    stop: ($) => seq('stop', 'when', $._expr),

    // `map peak until sd <= 2 nm`: map a proxy over the box until its largest predicted sd is
    // under the level.
    map: ($) =>
      seq(
        'map',
        field('proxy', $.ident),
        optional(seq('until', 'sd', '<=', field('level', $.target_value))),
      ),

    optimizer: ($) =>
      seq(
        choice('optimizer', 'optimiser'),
        field('name', $.ident),
        optional(seq('{', repeat(choice($.initial, $.batch, $.levels, $.option)), '}')),
      ),

    initial: ($) =>
      prec.dynamic(
        1,
        seq('initial', field('design', asName($, ...EXPRESSION_WORDS)), field('count', $.integer)),
      ),

    batch: ($) => prec.dynamic(1, seq('batch', $.integer)),

    levels: ($) => prec.dynamic(1, seq('levels', looseList($.level))),

    level: ($) => seq(field('variable', $.ident), choice($.list, $.integer)),

    // Any other entry: `surrogate gp { kernel matern52 }`, `acquisition log_ei`, `restarts 8`.
    option: ($) =>
      seq(
        field('name', asName($, 'initial', 'batch', 'levels')),
        choice($.props, seq(field('value', $._expr), optional($.props))),
      ),

    prior: ($) =>
      seq('prior', field('format', $.ident), field('source', $.string), optional($.props)),

    // A kinetic model fitted to the campaign's observations: `fit growth { state radius = 1 nm
    // rate radius = k / radius  parameter k in ... log  time residence  observe size = 2 * radius }`.
    fit: ($) => seq('fit', field('name', $.ident), '{', repeat($._fit_entry), '}'),
    _fit_entry: ($) => choice($.fit_state, $.fit_rate, $.fit_parameter, $.fit_time, $.fit_observe),
    fit_state: ($) => seq('state', field('name', $.ident), '=', field('initial', $._expr)),
    fit_rate: ($) => seq('rate', field('state', $.ident), '=', field('value', $._expr)),
    fit_parameter: ($) =>
      seq('parameter', field('name', $.ident), 'in', $.range, optional($.log_scale)),
    fit_time: ($) => seq('time', field('value', $._expr)),
    fit_observe: ($) => seq('observe', field('proxy', $.ident), '=', field('value', $._expr)),

    // Data files scripts read: `data { target "data/target-spectrum.csv" }`.
    data: ($) => seq('data', '{', repeat($.data_file), '}'),
    data_file: ($) => seq(field('name', $.ident), field('source', $.string)),

    // ─────────────────────── safety, simulation, lab bindings ───────────────────────

    safety: ($) =>
      seq('safety', '{', repeat(choice($.on_fault, $.safe_setpoint, $.limit)), '}'),

    on_fault: ($) =>
      prec.dynamic(
        1,
        seq('on', field('fault', asName($, ...EXPRESSION_WORDS)), ':', sep1($.action, ',')),
      ),

    action: ($) => choice($.retry, $.then_action, asName($, 'retry', 'then')),

    // `retry 3` commits as soon as a count follows, as in qdx.pest.
    retry: ($) =>
      prec(
        1,
        seq(
          'retry',
          field('count', $.integer),
          optional(prec.dynamic(1, seq('backoff', field('backoff', $._expr)))),
        ),
      ),

    // `then x` commits as soon as a name follows `then`, as in qdx.pest.
    then_action: ($) => prec(1, seq('then', asName($, ...EXPRESSION_WORDS))),

    safe_setpoint: ($) =>
      prec.dynamic(
        1,
        seq('safe', field('device', asName($, ...EXPRESSION_WORDS)), '=', field('value', $._expr)),
      ),

    limit: ($) => $._expr,

    simulate: ($) => seq('simulate', choice($.sim_table, $.sim_script, $.sim_model)),

    sim_table: ($) => seq('table', $.string, optional($.props)),

    sim_script: ($) => seq('script', $.string, optional($.props)),

    sim_model: ($) => seq(field('model', asName($, 'table', 'script')), optional($.props)),

    lab: ($) => seq('lab', field('name', $.string), '{', repeat(choice($.bind, $.simulate)), '}'),

    bind: ($) =>
      seq(
        'bind',
        field('device', $.ident),
        '=',
        field('driver', $.kind_ref),
        optional($.props),
      ),

    // ─────────────────────────── expressions ───────────────────────────

    _expr: ($) =>
      choice(
        $.binary_expression,
        $.unary_expression,
        $.quantity,
        $.number,
        $.string,
        $.boolean,
        $.match_expression,
        $.call,
        $.path,
        $.list,
        $.parenthesized_expression,
      ),

    binary_expression: ($) => {
      const table = [
        [prec.left, PREC.or, 'or'],
        [prec.left, PREC.and, 'and'],
        [prec.left, PREC.compare, choice('==', '!=', '<', '<=', '>', '>=', 'within')],
        [prec.left, PREC.add, choice('+', '-')],
        [prec.left, PREC.mul, choice('*', '/')],
        [prec.right, PREC.pow, '^'],
      ];
      return choice(
        ...table.map(([assoc, p, op]) =>
          assoc(
            p,
            seq(field('left', $._expr), field('operator', op), field('right', $._expr)),
          ),
        ),
      );
    },

    unary_expression: ($) =>
      choice(
        prec(PREC.not, seq(field('operator', 'not'), field('operand', $._expr))),
        prec(PREC.neg, seq(field('operator', '-'), field('operand', $._expr))),
      ),

    parenthesized_expression: ($) => seq('(', $._expr, ')'),

    // A value per level of a choice variable: `match ligand { "OAm" => 10 uL/min, ... }`.
    match_expression: ($) =>
      seq('match', field('subject', $.path), '{', sepTrailing1($.match_arm, ','), '}'),

    match_arm: ($) => seq(field('level', $.string), '=>', field('value', $._expr)),

    call: ($) => prec(PREC.call, seq(field('function', $.path), $.arguments)),

    arguments: ($) => seq('(', optional(sepTrailing1($.argument, ',')), ')'),

    argument: ($) => seq(optional(seq(field('name', $.ident), ':')), field('value', $._expr)),

    // The first name may be a keyword where qdx.pest reads it as a name after its keyword
    // alternative failed: `x = script` in proxies, a safety limit on `on`, `safe` or `backoff`.
    path: ($) => seq(asName($, ...EXPRESSION_WORDS), repeat(seq('.', $.ident))),

    list: ($) => seq('[', optional(sepTrailing1($._expr, ',')), ']'),

    boolean: (_) => choice('true', 'false'),

    // `10 uL/min`, `25 degC`, `5 %`: the unit on the same line (src/scanner.c).
    quantity: ($) => seq(field('value', alias($._quantity_number, $.number)), field('unit', $.unit)),

    number: ($) => choice($._digits, $._decimal),

    // Where a count is expected, digits not followed by `.5`, whatever comes after (qdx.pest
    // reads `retry 2 backoff 5 s` as a count, never `2 backoff` as a quantity): src/scanner.c.
    integer: ($) => $._count,

    _digits: (_) => /[0-9]+/,

    _decimal: (_) => /[0-9]+(\.[0-9]+([eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)/,

    string: ($) =>
      seq(
        '"',
        repeat(choice($.string_content, $.escape_sequence)),
        token.immediate('"'),
      ),

    string_content: (_) => token.immediate(prec(1, /[^"\\\n]+/)),

    escape_sequence: (_) => token.immediate(seq('\\', /["\\nt]/)),

    // An inline script: `"""` to the first `"""`, over any number of lines.
    raw_string: (_) => token(seq('"""', /([^"]|"[^"]|""[^"])*/, '"""')),

    ident: (_) => /[A-Za-z_][A-Za-z0-9_]*/,

    comment: (_) =>
      token(choice(seq('//', /[^\n]*/), seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/'))),
  },
});
