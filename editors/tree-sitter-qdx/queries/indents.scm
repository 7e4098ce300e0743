; Indentation (nvim-treesitter's captures): two spaces inside every `{ }`, `( )` and `[ ]`, as
; `qdx fmt` prints.

[
  (campaign)
  (budget)
  (kind_decl)
  (stocks)
  (reactor)
  (variables)
  (choice_type)
  (composition_type)
  (parameters)
  (derive)
  (constraints)
  (measure)
  (proxies)
  (objectives)
  (optimizer)
  (levels)
  (safety)
  (lab)
  (props)
  (arguments)
  (list)
  (parenthesized_expression)
  (builtin_decl)
] @indent.begin

[
  "}"
  ")"
  "]"
] @indent.branch @indent.end

(comment) @indent.auto

(raw_string) @indent.ignore
