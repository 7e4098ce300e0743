; Syntax highlighting for qdx in Helix: editors/tree-sitter-qdx/queries/highlights.scm with
; Helix's capture names, most specific pattern first (Helix takes the first match, Neovim
; the last). `cargo test -p tree-sitter-qdx` checks that it compiles against the grammar.

[
  ","
  "."
  ":"
] @punctuation.delimiter

[
  "{"
  "}"
  "("
  ")"
  "["
  "]"
] @punctuation.bracket

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

(argument name: (ident) @variable.parameter)

(call function: (path (ident) @function .))

(path "." . (ident) @variable.other.member)

(path (ident) @variable)

(bind device: (ident) @variable)

(prior format: (ident) @function.builtin)

(combine method: (ident) @function.builtin)

(initial design: (ident) @function.builtin)

(optimizer name: (ident) @function.builtin)

(sim_model model: (ident) @function.builtin)

(then_action (ident) @function.builtin)

(action (ident) @function.builtin)

(on_fault fault: (ident) @label)

(level variable: (ident) @variable)

(option name: (ident) @variable.other.member)

(channel name: (ident) @label)

(proxy name: (ident) @variable)

(parameter name: (ident) @constant)

(component name: (ident) @variable.other.member)

(variable name: (ident) @variable)

(prop name: (ident) @variable.other.member)

(setting_ref setting: (ident) @variable.other.member)

(setting_ref device: (ident) @variable)

(port port: (ident) @variable.other.member)

(port device: (ident) @variable)

(device name: (ident) @variable)

(device role: (ident) @type)

(stock name: (ident) @variable)

(setting_decl name: (ident) @variable.other.member)

(property_decl name: (ident) @variable.other.member)

(reference_decl name: (ident) @constant)

(param_decl name: (ident) @variable.parameter)

(builtin_decl name: (ident) @function)

(module_path (ident) @namespace)

(kind_ref (ident) @type)

(type_name) @type

(kind_decl role: (ident) @type)

(kind_decl name: (ident) @type)

(lab name: (string) @string.special)

(campaign name: (string) @string.special)

(raw_string) @string.special

(escape_sequence) @constant.character.escape

(string) @string

(boolean) @constant.builtin.boolean

(unit) @type.builtin

(integer) @constant.numeric.integer

(number) @constant.numeric.float

(version) @constant.numeric.integer

[
  "and"
  "or"
  "not"
  "within"
] @keyword.operator

(log_scale) @keyword.storage.modifier

"use" @keyword.control.import

"qdx" @keyword.directive

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

(comment) @comment
