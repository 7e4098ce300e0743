; Syntax highlighting for qdx (nvim-treesitter capture names, which the tree-sitter CLI and
; most editors read; editors/README.md says how to map them elsewhere).

(comment) @comment @spell

; ───────────── keywords ─────────────

[
  "campaign"
  "description"
  "seed"
  "budget"
  "experiments"
  "reagent"
  "time"
  "repeated_failures"
  "kind"
  "setting"
  "builtin"
  "reference"
  "stocks"
  "reactor"
  "lines"
  "variables"
  "integer"
  "choice"
  "composition"
  "total"
  "parameters"
  "derive"
  "constraints"
  "measure"
  "at"
  "steady_state"
  "after"
  "settle"
  "for"
  "replicates"
  "proxies"
  "script"
  "objectives"
  "maximize"
  "maximise"
  "minimize"
  "minimise"
  "target"
  "weight"
  "require"
  "combine"
  "stop"
  "when"
  "optimizer"
  "optimiser"
  "initial"
  "batch"
  "levels"
  "prior"
  "fit"
  "state"
  "rate"
  "parameter"
  "observe"
  "safety"
  "on"
  "retry"
  "backoff"
  "then"
  "safe"
  "simulate"
  "table"
  "lab"
  "bind"
  "in"
] @keyword

"match" @keyword.conditional

(match_arm "=>" @punctuation.delimiter)

(match_arm level: (string) @string.special.symbol)

"qdx" @keyword.directive

"use" @keyword.import

(log_scale) @keyword.modifier

[
  "and"
  "or"
  "not"
  "within"
] @keyword.operator

; ───────────── literals ─────────────

(version) @number

(number) @number.float

(integer) @number

(unit) @type.builtin

(boolean) @boolean

(string) @string

(escape_sequence) @string.escape

(raw_string) @string.special

; ───────────── declarations ─────────────

(campaign name: (string) @string.special)

(lab name: (string) @string.special)

(kind_decl name: (ident) @type.definition)

(kind_decl role: (ident) @type)

(type_name) @type

(kind_ref (ident) @type)

(module_path (ident) @module)

(builtin_decl name: (ident) @function)

(param_decl name: (ident) @variable.parameter)

(reference_decl name: (ident) @constant)

(property_decl name: (ident) @property)

(setting_decl name: (ident) @property)

(stock name: (ident) @variable)

(device role: (ident) @type)

(device name: (ident) @variable)

(port device: (ident) @variable)

(port port: (ident) @property)

(setting_ref device: (ident) @variable)

(setting_ref setting: (ident) @property)

(prop name: (ident) @property)

(variable name: (ident) @variable)

(component name: (ident) @variable.member)

(parameter name: (ident) @constant)

(proxy name: (ident) @variable)

(channel name: (ident) @label)

(option name: (ident) @property)

(level variable: (ident) @variable)

(on_fault fault: (ident) @label)

(action (ident) @function.builtin)

(then_action (ident) @function.builtin)

(sim_model model: (ident) @function.builtin)

(optimizer name: (ident) @function.builtin)

(initial design: (ident) @function.builtin)

(combine method: (ident) @function.builtin)

(prior format: (ident) @function.builtin)

(bind device: (ident) @variable)

; ───────────── expressions ─────────────

(path (ident) @variable)

(path "." . (ident) @variable.member)

(call function: (path (ident) @function.call .))

(argument name: (ident) @variable.parameter)

; ───────────── operators and punctuation ─────────────

[
  "+"
  "-"
  "*"
  "/"
  "^"
  "=="
  "!="
  "<"
  "<="
  ">"
  ">="
  "="
  "->"
  ".."
] @operator

[
  "{"
  "}"
  "("
  ")"
  "["
  "]"
] @punctuation.bracket

[
  ","
  "."
  ":"
] @punctuation.delimiter
