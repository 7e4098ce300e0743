; Indentation for qdx in Helix: two spaces inside every block and bracket, as `qdx fmt` prints
; (editors/tree-sitter-qdx/queries/indents.scm with Helix's captures).

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
] @indent

[
  "}"
  ")"
  "]"
] @outdent
