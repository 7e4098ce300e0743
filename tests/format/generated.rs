//! Property test: random valid files, from a small generator that follows `grammar/qdx.pest`,
//! with random spacing, line breaks and comments between tokens. Formatting must keep the
//! AST, keep every comment in order, and be idempotent (`check_all`).

use proptest::prelude::*;
use proptest::sample::select;

use super::{check_all, parse};

/// Tokens of a file; [`NL`] marks a place that needs a line break (between entries, so that a
/// number ending one entry cannot take the next entry's name as its unit).
type Toks = Vec<String>;
const NL: &str = "\u{0}";

/// Separators between tokens. Each starts with whitespace so that no separator can glue onto
/// the token before it (`/` then `/*` would make `//`).
const SEPS: &[&str] = &[
    " ",
    " ",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n  ",
    " /* c1 */ ",
    " // c2\n",
    " /*c3*/",
    "\n// c4 \"quoted\"\n",
    " /* multi\n   line */ ",
];
const NL_SEPS: &[&str] = &[
    "\n",
    "\n  ",
    "\n\n",
    " // e1\n",
    "\n/* e2 */\n",
    "\n\n\n// e3\n\n",
    " /* e4 */ // e5\n",
];

fn t(s: &str) -> String {
    s.to_owned()
}

fn cat(parts: Vec<Toks>) -> Toks {
    parts.concat()
}

fn ident() -> impl Strategy<Value = String> {
    select(&["a", "b", "flow", "r1", "p_seed", "temp", "x2", "cell"][..]).prop_map(t)
}

fn number() -> impl Strategy<Value = String> {
    select(&["0", "1", "2.5", "10", "0.01", "1e-3", "3E+2", "007"][..]).prop_map(t)
}

fn integer() -> impl Strategy<Value = String> {
    select(&["0", "1", "3", "42", "007"][..]).prop_map(t)
}

fn unit() -> impl Strategy<Value = String> {
    select(
        &[
            "mL", "uL/min", "degC", "nm", "s", "%", "mol/L", "m^2", "kg*m/s^2", "s^-1", "µL",
        ][..],
    )
    .prop_map(t)
}

fn string() -> impl Strategy<Value = String> {
    select(
        &[
            r#""plain""#,
            r#""with \"quote\"""#,
            r#""a//b""#,
            r#""/* not a comment */""#,
            r#""tab\there""#,
            r#""""#,
        ][..],
    )
    .prop_map(t)
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        ident(),
        (ident(), ident()).prop_map(|(a, b)| format!("{a}.{b}"))
    ]
}

fn quantity() -> impl Strategy<Value = String> {
    (number(), unit()).prop_map(|(n, u)| format!("{n} {u}"))
}

fn atom() -> impl Strategy<Value = Toks> {
    prop_oneof![
        number().prop_map(|n| vec![n]),
        quantity().prop_map(|q| vec![q]),
        path().prop_map(|p| vec![p]),
        string().prop_map(|s| vec![s]),
        select(&["true", "false"][..]).prop_map(|b| vec![t(b)]),
    ]
}

const BINARY: &[&str] = &[
    "or", "and", "==", "!=", "<", "<=", ">", ">=", "within", "+", "-", "*", "/", "^",
];

fn comma_list(items: Vec<Toks>) -> Toks {
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(t(","));
        }
        out.extend(item);
    }
    out
}

fn expr() -> impl Strategy<Value = Toks> {
    atom().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            3 => (inner.clone(), select(BINARY), inner.clone())
                .prop_map(|(l, op, r)| cat(vec![l, vec![t(op)], r])),
            1 => (select(&["-", "not"][..]), inner.clone()).prop_map(|(op, e)| cat(vec![vec![t(op)], e])),
            1 => inner.clone().prop_map(|e| cat(vec![vec![t("(")], e, vec![t(")")]])),
            1 => (path(), prop::collection::vec((prop::option::of(ident()), inner.clone()), 0..3))
                .prop_map(|(callee, args)| {
                    let args = args
                        .into_iter()
                        .map(|(name, value)| match name {
                            Some(n) => cat(vec![vec![n, t(":")], value]),
                            None => value,
                        })
                        .collect();
                    cat(vec![vec![callee, t("(")], comma_list(args), vec![t(")")]])
                }),
            1 => prop::collection::vec(inner, 0..3)
                .prop_map(|items| cat(vec![vec![t("[")], comma_list(items), vec![t("]")]])),
        ]
    })
}

fn range() -> impl Strategy<Value = Toks> {
    (expr(), expr()).prop_map(|(lo, hi)| cat(vec![lo, vec![t("..")], hi]))
}

fn props(depth: u32) -> BoxedStrategy<Toks> {
    let value = if depth == 0 {
        prop_oneof![3 => expr(), 1 => range()].boxed()
    } else {
        prop_oneof![3 => expr(), 1 => range(), 1 => props(depth - 1)].boxed()
    };
    prop::collection::vec((ident(), value), 0..4)
        .prop_map(|entries| {
            let entries = entries
                .into_iter()
                .map(|(name, v)| cat(vec![vec![name], v]))
                .collect();
            cat(vec![vec![t("{")], comma_list(entries), vec![t("}")]])
        })
        .boxed()
}

fn opt_props() -> impl Strategy<Value = Toks> {
    prop::option::of(props(1)).prop_map(Option::unwrap_or_default)
}

/// `keyword { entry NL entry … }`
fn block(head: Toks, entries: Vec<Toks>) -> Toks {
    let mut out = head;
    out.push(t("{"));
    for e in entries {
        out.push(t(NL));
        out.extend(e);
    }
    out.push(t(NL));
    out.push(t("}"));
    out
}

fn entries(entry: impl Strategy<Value = Toks>) -> impl Strategy<Value = Vec<Toks>> {
    prop::collection::vec(entry, 0..4)
}

fn binding() -> impl Strategy<Value = Toks> {
    prop::option::of((ident(), prop::option::of(ident()))).prop_map(|b| match b {
        Some((d, Some(s))) => vec![t("->"), format!("{d}.{s}")],
        Some((d, None)) => vec![t("->"), d],
        None => vec![],
    })
}

fn campaign() -> impl Strategy<Value = Toks> {
    let budget_entry = prop_oneof![
        integer().prop_map(|n| vec![t("experiments"), n]),
        (ident(), expr()).prop_map(|(s, e)| cat(vec![vec![t("reagent"), s], e])),
        expr().prop_map(|e| cat(vec![vec![t("time")], e])),
    ];
    let entry = prop_oneof![
        string().prop_map(|s| vec![t("description"), s]),
        integer().prop_map(|n| vec![t("seed"), n]),
        prop::collection::vec(budget_entry, 0..4).prop_map(|e| cat(vec![
            vec![t("budget"), t("{")],
            comma_list(e),
            vec![t("}")]
        ])),
    ];
    (string(), entries(entry)).prop_map(|(name, e)| block(vec![t("campaign"), name], e))
}

fn kind() -> impl Strategy<Value = Toks> {
    let member = prop_oneof![
        (
            ident(),
            ident(),
            prop::option::of(prop_oneof![range(), expr()])
        )
            .prop_map(|(n, ty, d)| {
                let mut out = vec![n, t(":"), ty];
                if let Some(d) = d {
                    out.push(t("="));
                    out.extend(d);
                }
                out
            }),
        (
            ident(),
            ident(),
            prop::option::of(prop_oneof![range(), ident().prop_map(|i| vec![i])])
        )
            .prop_map(|(n, ty, l)| {
                let mut out = vec![t("setting"), n, t(":"), ty];
                if let Some(l) = l {
                    out.push(t("in"));
                    out.extend(l);
                }
                out
            }),
    ];
    (ident(), ident(), entries(member))
        .prop_map(|(n, role, e)| block(vec![t("kind"), n, t(":"), role], e))
}

fn reactor() -> impl Strategy<Value = Toks> {
    let port = (ident(), prop::option::of(ident())).prop_map(|(d, p)| match p {
        Some(p) => format!("{d}.{p}"),
        None => d,
    });
    let endpoints = prop::collection::vec(port, 1..3)
        .prop_map(|ps| comma_list(ps.into_iter().map(|p| vec![p]).collect()));
    let entry = prop_oneof![
        (ident(), ident(), path(), opt_props())
            .prop_map(|(role, n, k, p)| cat(vec![vec![role, n, t(":"), k], p])),
        prop::collection::vec(endpoints, 2..4).prop_map(|stages| {
            let mut out = Vec::new();
            for (i, s) in stages.into_iter().enumerate() {
                if i > 0 {
                    out.push(t("->"));
                }
                out.extend(s);
            }
            out
        }),
    ];
    entries(entry).prop_map(|e| block(vec![t("reactor")], e))
}

fn variables() -> impl Strategy<Value = Toks> {
    let ty = prop_oneof![
        (ident(), range(), any::<bool>()).prop_map(|(d, r, log)| {
            let mut out = cat(vec![vec![d, t("in")], r]);
            if log {
                out.push(t("log"));
            }
            out
        }),
        range().prop_map(|r| cat(vec![vec![t("integer"), t("in")], r])),
        prop::collection::vec(string(), 1..3).prop_map(|levels| {
            cat(vec![
                vec![t("choice"), t("{")],
                comma_list(levels.into_iter().map(|s| vec![s]).collect()),
                vec![t("}")],
            ])
        }),
        (
            prop::collection::vec((ident(), prop::option::of(range())), 1..3),
            prop::option::of(expr())
        )
            .prop_map(|(components, total)| {
                let components = components
                    .into_iter()
                    .map(|(n, r)| match r {
                        Some(r) => cat(vec![vec![n, t("in")], r]),
                        None => vec![n],
                    })
                    .collect();
                let mut out = cat(vec![
                    vec![t("composition"), t("{")],
                    comma_list(components),
                    vec![t("}")],
                ]);
                if let Some(total) = total {
                    out.push(t("total"));
                    out.extend(total);
                }
                out
            }),
    ];
    let entry = (ident(), ty, binding()).prop_map(|(n, ty, b)| cat(vec![vec![n, t(":")], ty, b]));
    entries(entry).prop_map(|e| block(vec![t("variables")], e))
}

fn simple_blocks() -> impl Strategy<Value = Toks> {
    prop_oneof![
        entries((ident(), expr(), binding()).prop_map(|(n, e, b)| cat(vec![
            vec![n, t("=")],
            e,
            b
        ])))
        .prop_map(|e| block(vec![t("parameters")], e)),
        entries((path(), expr()).prop_map(|(p, e)| cat(vec![vec![p, t("=")], e])))
            .prop_map(|e| block(vec![t("derive")], e)),
        entries(expr()).prop_map(|e| block(vec![t("constraints")], e)),
    ]
}

fn measure() -> impl Strategy<Value = Toks> {
    let entry = prop_oneof![
        expr().prop_map(|e| cat(vec![vec![t("steady_state"), t("after")], e])),
        (expr(), expr()).prop_map(|(a, b)| cat(vec![
            vec![t("settle"), t("within")],
            a,
            vec![t("for")],
            b
        ])),
        integer().prop_map(|n| vec![t("replicates"), n]),
        (ident(), opt_props()).prop_map(|(n, p)| cat(vec![vec![n], p])),
    ];
    (ident(), entries(entry)).prop_map(|(cell, e)| block(vec![t("measure"), t("at"), cell], e))
}

fn proxies() -> impl Strategy<Value = Toks> {
    let definition = prop_oneof![
        3 => expr(),
        1 => string().prop_map(|s| vec![t("script"), s]),
        1 => select(&[
            "\"\"\"\n  let x = peak; // a script comment \"q\"\n  x * 2   \n\"\"\"",
            "\"\"\"/* not qdx */ 1\"\"\"",
        ][..])
        .prop_map(|s| vec![t("script"), t(s)]),
    ];
    entries((ident(), definition).prop_map(|(n, d)| cat(vec![vec![n, t("=")], d])))
        .prop_map(|e| block(vec![t("proxies")], e))
}

fn objectives() -> impl Strategy<Value = Toks> {
    let target_value = (any::<bool>(), prop_oneof![number(), quantity()])
        .prop_map(|(neg, v)| if neg { vec![t("-"), v] } else { vec![v] });
    let weight = || {
        prop::option::of(number()).prop_map(|w| w.map(|w| vec![t("weight"), w]).unwrap_or_default())
    };
    let entry = prop_oneof![
        (select(&["maximize", "minimise"][..]), ident(), weight())
            .prop_map(|(k, n, w)| cat(vec![vec![t(k), n], w])),
        (
            ident(),
            select(&["=", ">=", "<="][..]),
            target_value.clone(),
            prop::option::of(target_value),
            weight()
        )
            .prop_map(|(n, op, v, within, w)| {
                let within = within
                    .map(|x| cat(vec![vec![t("within")], x]))
                    .unwrap_or_default();
                cat(vec![vec![t("target"), n, t(op)], v, within, w])
            }),
        expr().prop_map(|e| cat(vec![vec![t("require")], e])),
        (ident(), opt_props()).prop_map(|(m, p)| cat(vec![vec![t("combine"), m], p])),
        expr().prop_map(|e| cat(vec![vec![t("stop"), t("when")], e])),
    ];
    entries(entry).prop_map(|e| block(vec![t("objectives")], e))
}

fn optimizer() -> impl Strategy<Value = Toks> {
    let level = (
        ident(),
        prop_oneof![
            integer().prop_map(|n| vec![n]),
            prop::collection::vec(expr(), 0..3).prop_map(|items| cat(vec![
                vec![t("[")],
                comma_list(items),
                vec![t("]")]
            ])),
        ],
    )
        .prop_map(|(n, v)| cat(vec![vec![n], v]));
    let entry = prop_oneof![
        (ident(), integer()).prop_map(|(d, n)| vec![t("initial"), d, n]),
        integer().prop_map(|n| vec![t("batch"), n]),
        entries(level).prop_map(|l| block(vec![t("levels")], l)),
        (ident(), props(1)).prop_map(|(n, p)| cat(vec![vec![n], p])),
        (ident(), expr(), opt_props()).prop_map(|(n, e, p)| cat(vec![vec![n], e, p])),
    ];
    (
        select(&["optimizer", "optimiser"][..]),
        ident(),
        prop::option::of(entries(entry)),
    )
        .prop_map(|(k, n, e)| match e {
            Some(e) => block(vec![t(k), n], e),
            None => vec![t(k), n],
        })
}

fn safety() -> impl Strategy<Value = Toks> {
    let action = prop_oneof![
        (integer(), prop::option::of(expr())).prop_map(|(n, b)| {
            let b = b
                .map(|b| cat(vec![vec![t("backoff")], b]))
                .unwrap_or_default();
            cat(vec![vec![t("retry"), n], b])
        }),
        ident().prop_map(|i| vec![t("then"), i]),
        ident().prop_map(|i| vec![i]),
    ];
    let entry = prop_oneof![
        expr(),
        (ident(), prop::collection::vec(action, 1..3))
            .prop_map(|(f, a)| cat(vec![vec![t("on"), f, t(":")], comma_list(a)])),
        (ident(), expr()).prop_map(|(d, e)| cat(vec![vec![t("safe"), d, t("=")], e])),
    ];
    entries(entry).prop_map(|e| block(vec![t("safety")], e))
}

fn simulate() -> impl Strategy<Value = Toks> {
    let model = prop_oneof![
        ident().prop_map(|i| vec![i]),
        string().prop_map(|s| vec![t("table"), s]),
        string().prop_map(|s| vec![t("script"), s]),
    ];
    (model, opt_props()).prop_map(|(m, p)| cat(vec![vec![t("simulate")], m, p]))
}

fn lab() -> impl Strategy<Value = Toks> {
    let entry = prop_oneof![
        (ident(), path(), opt_props())
            .prop_map(|(d, k, p)| cat(vec![vec![t("bind"), d, t("="), k], p])),
        simulate(),
    ];
    (string(), entries(entry)).prop_map(|(n, e)| block(vec![t("lab"), n], e))
}

fn declarations() -> impl Strategy<Value = Toks> {
    let param = (ident(), ident(), prop::option::of(expr())).prop_map(|(n, ty, d)| {
        let d = d.map(|d| cat(vec![vec![t("=")], d])).unwrap_or_default();
        cat(vec![vec![n, t(":"), ty], d])
    });
    prop_oneof![
        (ident(), ident()).prop_map(|(a, b)| vec![t("use"), format!("{a}.{b}")]),
        string().prop_map(|s| vec![t("use"), s]),
        (ident(), prop::collection::vec(param, 0..3), ident()).prop_map(|(n, params, ret)| {
            cat(vec![
                vec![t("builtin"), n, t("(")],
                comma_list(params),
                vec![t(")"), t("->"), ret],
            ])
        }),
        (ident(), props(1)).prop_map(|(n, p)| cat(vec![vec![t("reference"), n], p])),
        (ident(), string(), opt_props()).prop_map(|(f, s, p)| cat(vec![vec![t("prior"), f, s], p])),
        entries(
            (ident(), prop::option::of(string()), ident(), opt_props()).prop_map(
                |(n, d, pump, p)| {
                    cat(vec![
                        vec![n],
                        d.into_iter().collect(),
                        vec![t("in"), pump],
                        p,
                    ])
                }
            )
        )
        .prop_map(|e| block(vec![t("stocks")], e)),
    ]
}

fn item() -> impl Strategy<Value = Toks> {
    prop_oneof![
        campaign().boxed(),
        kind().boxed(),
        reactor().boxed(),
        variables().boxed(),
        simple_blocks().boxed(),
        measure().boxed(),
        proxies().boxed(),
        objectives().boxed(),
        optimizer().boxed(),
        safety().boxed(),
        simulate().boxed(),
        lab().boxed(),
        declarations().boxed(),
    ]
}

fn file() -> impl Strategy<Value = Toks> {
    (any::<bool>(), prop::collection::vec(item(), 0..5)).prop_map(|(header, items)| {
        let mut out = Vec::new();
        if header {
            out.extend([t("qdx"), t("1")]);
        }
        for i in items {
            if !out.is_empty() {
                out.push(t(NL));
            }
            out.extend(i);
        }
        out
    })
}

fn join(tokens: &[String], choices: &[usize]) -> String {
    let pick = |i: usize| choices.get(i % choices.len().max(1)).copied().unwrap_or(0);
    let mut out = String::new();
    let mut after_break = true;
    for (i, tok) in tokens.iter().enumerate() {
        if tok == NL {
            out.push_str(NL_SEPS[pick(i) % NL_SEPS.len()]);
            after_break = true;
            continue;
        }
        if !after_break {
            out.push_str(SEPS[pick(i) % SEPS.len()]);
        }
        out.push_str(tok);
        after_break = false;
    }
    out
}

/// Deterministic by default (a fixed seed, as everything in qdx); `QDX_FMT_CASES=20000
/// QDX_FMT_SEED=<n>` runs a longer search locally.
fn config() -> ProptestConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    ProptestConfig {
        cases: env("QDX_FMT_CASES").map_or(192, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        rng_seed: proptest::test_runner::RngSeed::Fixed(env("QDX_FMT_SEED").unwrap_or(0x9d7_f0a7)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn formatting_generated_files_keeps_ast_and_comments_and_is_idempotent(
        tokens in file(),
        choices in prop::collection::vec(0usize..64, 1..48),
    ) {
        let text = join(&tokens, &choices);
        // A generator bug, not a formatter bug, if this fails: the text must be valid.
        parse(&text);
        check_all(&text);
    }
}

mod trees {
    //! Expression trees built directly (not parsed), printed, and parsed back: the parentheses
    //! the printer adds must make the parser read the same tree.

    use proptest::prelude::*;
    use qdx::source::{Span, Synthetic};
    use qdx::syntax::ast::{
        Assignment, BinaryOp, Expr, ExprKind, Ident, Item, NumberLit, Path, UnaryOp,
    };

    fn sp() -> Span {
        Span::synthetic(Synthetic::Generated)
    }

    fn node(kind: ExprKind) -> Expr {
        Expr { kind, span: sp() }
    }

    fn leaf() -> impl Strategy<Value = Expr> {
        prop_oneof![
            prop::sample::select(&["a", "b", "c"][..]).prop_map(|n| node(ExprKind::Path(Path {
                segments: vec![Ident {
                    name: n.to_owned(),
                    span: sp()
                }],
                span: sp(),
            }))),
            (1u32..4).prop_map(|v| node(ExprKind::Number(NumberLit {
                value: f64::from(v),
                text: v.to_string(),
                span: sp(),
            }))),
        ]
    }

    const OPS: &[BinaryOp] = &[
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Lt,
        BinaryOp::Within,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
    ];

    fn tree() -> impl Strategy<Value = Expr> {
        leaf().prop_recursive(6, 40, 2, |inner| {
            prop_oneof![
                3 => (prop::sample::select(OPS), inner.clone(), inner.clone()).prop_map(|(op, l, r)| {
                    node(ExprKind::Binary { op, left: Box::new(l), right: Box::new(r) })
                }),
                1 => (prop::sample::select(&[UnaryOp::Neg, UnaryOp::Not][..]), inner)
                    .prop_map(|(op, e)| node(ExprKind::Unary { op, operand: Box::new(e) })),
            ]
        })
    }

    fn strip_parens(e: &Expr) -> Expr {
        let kind = match &e.kind {
            ExprKind::Paren(inner) => return strip_parens(inner),
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(strip_parens(operand)),
            },
            ExprKind::Binary { op, left, right } => ExprKind::Binary {
                op: *op,
                left: Box::new(strip_parens(left)),
                right: Box::new(strip_parens(right)),
            },
            other => other.clone(),
        };
        node(kind)
    }

    proptest! {
        #![proptest_config(super::config())]

        #[test]
        fn printed_trees_parse_back_to_the_same_tree(e in tree()) {
            let ast = qdx::syntax::ast::Ast {
                file: qdx::source::SourceMap::new().add("t", qdx::source::Origin::Memory, ""),
                header: None,
                items: vec![Item::Derive(qdx::syntax::ast::Block {
                    entries: vec![Assignment {
                        target: Path { segments: vec![Ident { name: "x".into(), span: sp() }], span: sp() },
                        value: e.clone(),
                        span: sp(),
                    }],
                    span: sp(),
                })],
                span: sp(),
            };
            let text = qdx::format::format_ast(&ast, "");
            let parsed = crate::format::parse(&text);
            let Some(Item::Derive(block)) = parsed.items.first() else {
                panic!("not a derive block: {text}");
            };
            prop_assert_eq!(strip_parens(&block.entries[0].value), e, "{}", text);
            // Printing what was parsed gives the same text: no parentheses pile up.
            prop_assert_eq!(crate::format::fmt(&text), text);
        }
    }
}
