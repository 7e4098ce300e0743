; Scopes and definitions for qdx: one scope, the file; every name a block declares is visible in
; the whole campaign (items may come in any order).

(source_file) @local.scope

(kind_decl name: (ident) @local.definition.type)
(builtin_decl name: (ident) @local.definition.function)
(param_decl name: (ident) @local.definition.parameter)
(reference_decl name: (ident) @local.definition.constant)
(stock name: (ident) @local.definition.var)
(device name: (ident) @local.definition.var)
(variable name: (ident) @local.definition.var)
(component name: (ident) @local.definition.field)
(parameter name: (ident) @local.definition.constant)
(proxy name: (ident) @local.definition.var)
(assignment target: (path . (ident) @local.definition.var .))

(path . (ident) @local.reference)
(port device: (ident) @local.reference)
(setting_ref device: (ident) @local.reference)
