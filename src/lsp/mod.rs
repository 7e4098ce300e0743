//! `qdx lsp`: the language server, over standard input and output.
//!
//! Built on `lsp-server` and `lsp-types`, rust-analyzer's own crates: a synchronous loop over
//! a channel of messages, which is all a server this size needs (no async runtime; the
//! analysis of a 2 000-line campaign takes milliseconds, see `bench/lsp_latency.py`).
//!
//! What it answers, all from the stages `qdx check` runs:
//! - diagnostics: the loader's and the validator's (`qdx check`'s codes and messages), on open
//!   and on every change after a short debounce; fix-its ([`crate::diagnostic::Fix`]) as quick
//!   fixes. A file with syntax errors is read block by block (`syntax::parse_recovering`), so
//!   every broken block gets its error and the rest its answers;
//! - hover: a name's kind and declaration, its unit, declared range and the range validation
//!   proved, with the device limit it is checked against ([`hover`]); while the file has
//!   errors, from the last version that checked;
//! - go to definition and find references of devices, stocks, variables, parameters, derived
//!   values, proxies, channels, kinds and their members, spectral functions, reference dyes and
//!   `use`d files (the standard library's are written out to a folder of their own, so an
//!   editor can open them);
//! - completion ([`complete`]), formatting (`qdx fmt`'s), the outline, semantic tokens, and
//!   renaming a campaign's own names across its files.
//!
//! A file with a `campaign` block is validated; a lab file is checked on its own; any other
//! file is a module, validated with the campaign that imports it, and checked alone for its
//! syntax and imports only.
//!
//! No input makes it panic: every request is answered inside `catch_unwind`, and an internal
//! error is an error response, never a dead server.

pub mod analysis;
pub mod complete;
pub mod hover;
pub mod index;
pub mod lex;
pub mod outline;
pub mod text;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, Origin, SourceMap, Span};
use analysis::Analysis;
use index::SymbolKind;
use text::LineIndex;

/// How long after the last change a document is analysed again, unless a request needs it
/// sooner. `initializationOptions.debounceMs` sets another.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs the server on standard input and output until the client says `exit`.
pub fn run() -> Result<(), Error> {
    let (connection, io) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    io.join()?;
    Ok(())
}

/// What the server says it can do.
pub fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                ..Default::default()
            },
        )),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".to_owned(), ":".to_owned(), " ".to_owned()]),
            ..Default::default()
        }),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        semantic_tokens_provider: Some(
            lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
                lsp::SemanticTokensOptions {
                    legend: lsp::SemanticTokensLegend {
                        token_types: outline::TOKEN_TYPES.to_vec(),
                        token_modifiers: outline::TOKEN_MODIFIERS.to_vec(),
                    },
                    full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    ..Default::default()
                },
            ),
        ),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// Serves one client on `connection`: the handshake, then messages until `exit`.
pub fn serve(connection: &Connection) -> Result<(), Error> {
    let (id, params) = connection.initialize_start()?;
    let debounce = params
        .get("initializationOptions")
        .and_then(|o| o.get("debounceMs"))
        .and_then(Value::as_u64)
        .map_or(DEBOUNCE, Duration::from_millis);
    connection.initialize_finish(
        id,
        serde_json::json!({
            "capabilities": capabilities(),
            "serverInfo": { "name": "qdx", "version": env!("CARGO_PKG_VERSION") },
        }),
    )?;
    let mut server = Server {
        sender: connection.sender.clone(),
        docs: BTreeMap::new(),
        debounce,
    };
    loop {
        let wait = server
            .next_due()
            .map(|due| due.saturating_duration_since(Instant::now()));
        let message = match wait {
            Some(wait) => match connection.receiver.recv_timeout(wait) {
                Ok(m) => m,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    server.analyze_due();
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(()),
            },
            None => match connection.receiver.recv() {
                Ok(m) => m,
                Err(_) => return Ok(()),
            },
        };
        match message {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                server.request(req);
            }
            Message::Notification(n) => {
                if n.method == lsp::notification::Exit::METHOD {
                    return Ok(());
                }
                server.notification(n);
            }
            Message::Response(_) => {}
        }
    }
}

/// One open document.
#[derive(Debug)]
struct Document {
    uri: lsp::Uri,
    path: PathBuf,
    text: String,
    version: i32,
    /// The analysis of the current text (`None` until the first one, or while `due`).
    analysis: Option<Rc<Analysis>>,
    /// The last analysis that validated (hover reads its campaign while the file has errors).
    good: Option<Rc<Analysis>>,
    /// When it is to be analysed again.
    due: Option<Instant>,
}

struct Server {
    sender: crossbeam_channel::Sender<Message>,
    /// Open documents by URI.
    docs: BTreeMap<String, Document>,
    debounce: Duration,
}

impl Server {
    fn next_due(&self) -> Option<Instant> {
        self.docs.values().filter_map(|d| d.due).min()
    }

    fn send(&self, message: Message) {
        // A closed channel means the client is gone; the loop ends on its next receive.
        let _ = self.sender.send(message);
    }

    fn notify<N: lsp::notification::Notification>(&self, params: N::Params) {
        self.send(Message::Notification(Notification::new(
            N::METHOD.to_owned(),
            params,
        )));
    }

    /// The texts of the open documents, by path.
    fn overlay(&self) -> BTreeMap<PathBuf, String> {
        self.docs
            .values()
            .map(|d| (crate::world::normalize(&d.path), d.text.clone()))
            .collect()
    }

    fn analyze_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .docs
            .iter()
            .filter(|(_, d)| d.due.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for uri in due {
            self.analyze(&uri);
        }
    }

    /// Analyses a document now if a change is waiting, so a request sees the current text.
    fn fresh(&mut self, uri: &str) {
        if self
            .docs
            .get(uri)
            .is_some_and(|d| d.due.is_some() || d.analysis.is_none())
        {
            self.analyze(uri);
        }
    }

    fn analyze(&mut self, uri: &str) {
        let overlay = self.overlay();
        let Some(doc) = self.docs.get_mut(uri) else {
            return;
        };
        doc.due = None;
        let path = doc.path.clone();
        let display = path.to_string_lossy().replace('\\', "/");
        let world = analysis::Overlay { open: &overlay };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            analysis::analyze(&world, &path, &display)
        }));
        let Ok(analysis) = result else {
            // An internal error: keep the last analysis, say so in the editor.
            let version = doc.version;
            let uri = doc.uri.clone();
            self.notify::<lsp::notification::PublishDiagnostics>(lsp::PublishDiagnosticsParams {
                uri,
                diagnostics: vec![lsp::Diagnostic {
                    range: lsp::Range::default(),
                    severity: Some(lsp::DiagnosticSeverity::ERROR),
                    source: Some("qdx".to_owned()),
                    message: "internal error in qdx lsp while checking this file; please report it with the file".to_owned(),
                    ..Default::default()
                }],
                version: Some(version),
            });
            return;
        };
        let analysis = Rc::new(analysis);
        if analysis.is_good() {
            doc.good = Some(analysis.clone());
        }
        doc.analysis = Some(analysis.clone());
        let params = lsp::PublishDiagnosticsParams {
            uri: doc.uri.clone(),
            diagnostics: diagnostics(&analysis, &doc.text),
            version: Some(doc.version),
        };
        self.notify::<lsp::notification::PublishDiagnostics>(params);
    }

    fn notification(&mut self, n: Notification) {
        use lsp::notification as note;
        match n.method.as_str() {
            note::DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidOpenTextDocumentParams>(n.params)
                else {
                    return;
                };
                let key = p.text_document.uri.as_str().to_owned();
                let path = uri_to_path(&p.text_document.uri);
                self.docs.insert(
                    key.clone(),
                    Document {
                        uri: p.text_document.uri,
                        path,
                        text: p.text_document.text,
                        version: p.text_document.version,
                        analysis: None,
                        good: None,
                        due: None,
                    },
                );
                self.analyze(&key);
                self.touch_importers(&key);
            }
            note::DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidChangeTextDocumentParams>(n.params)
                else {
                    return;
                };
                let key = p.text_document.uri.as_str().to_owned();
                let due = Instant::now() + self.debounce;
                if let Some(doc) = self.docs.get_mut(&key) {
                    for change in p.content_changes {
                        text::apply_change(&mut doc.text, change.range, &change.text);
                    }
                    doc.version = p.text_document.version;
                    doc.due = Some(due);
                }
                self.touch_importers(&key);
            }
            note::DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidCloseTextDocumentParams>(n.params)
                else {
                    return;
                };
                let key = p.text_document.uri.as_str().to_owned();
                self.docs.remove(&key);
                self.notify::<note::PublishDiagnostics>(lsp::PublishDiagnosticsParams {
                    uri: p.text_document.uri,
                    diagnostics: Vec::new(),
                    version: None,
                });
                self.touch_importers(&key);
            }
            _ => {}
        }
    }

    /// Schedules every other open document that reads the file at `uri` for analysis.
    fn touch_importers(&mut self, uri: &str) {
        let Some(path) = self
            .docs
            .get(uri)
            .map(|d| crate::world::normalize(&d.path))
            .or_else(|| lsp::Uri::from_str(uri).ok().map(|u| uri_to_path(&u)))
        else {
            return;
        };
        let due = Instant::now() + self.debounce;
        for (key, doc) in &mut self.docs {
            if key == uri {
                continue;
            }
            let reads = doc.analysis.as_ref().is_some_and(|a| {
                a.sources.files().iter().any(
                    |f| matches!(&f.origin, Origin::User(p) if crate::world::normalize(p) == path),
                )
            });
            if reads {
                doc.due = Some(doc.due.map_or(due, |d| d.min(due)));
            }
        }
    }

    fn request(&mut self, req: Request) {
        let id = req.id.clone();
        let method = req.method.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(req)));
        let response = match result {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                format!("internal error in qdx lsp while answering {method}"),
            ),
        };
        self.send(Message::Response(response));
    }

    fn dispatch(&mut self, req: Request) -> Result<Value, (ErrorCode, String)> {
        use lsp::request as r;
        fn params<P: serde::de::DeserializeOwned>(v: Value) -> Result<P, (ErrorCode, String)> {
            serde_json::from_value(v).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
        }
        fn json<T: serde::Serialize>(v: T) -> Result<Value, (ErrorCode, String)> {
            serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
        }
        match req.method.as_str() {
            r::HoverRequest::METHOD => {
                let p: lsp::HoverParams = params(req.params)?;
                let at = p.text_document_position_params;
                json(self.hover(&at.text_document.uri, at.position))
            }
            r::GotoDefinition::METHOD => {
                let p: lsp::GotoDefinitionParams = params(req.params)?;
                let at = p.text_document_position_params;
                json(
                    self.definition(&at.text_document.uri, at.position)
                        .map(lsp::GotoDefinitionResponse::Scalar),
                )
            }
            r::References::METHOD => {
                let p: lsp::ReferenceParams = params(req.params)?;
                let at = p.text_document_position;
                json(self.references(
                    &at.text_document.uri,
                    at.position,
                    p.context.include_declaration,
                ))
            }
            r::Completion::METHOD => {
                let p: lsp::CompletionParams = params(req.params)?;
                let at = p.text_document_position;
                json(self.completion(&at.text_document.uri, at.position))
            }
            r::Formatting::METHOD => {
                let p: lsp::DocumentFormattingParams = params(req.params)?;
                json(self.formatting(&p.text_document.uri))
            }
            r::DocumentSymbolRequest::METHOD => {
                let p: lsp::DocumentSymbolParams = params(req.params)?;
                json(
                    self.document_symbols(&p.text_document.uri)
                        .map(lsp::DocumentSymbolResponse::Nested),
                )
            }
            r::SemanticTokensFullRequest::METHOD => {
                let p: lsp::SemanticTokensParams = params(req.params)?;
                json(self.semantic_tokens(&p.text_document.uri).map(|data| {
                    lsp::SemanticTokensResult::Tokens(lsp::SemanticTokens {
                        result_id: None,
                        data,
                    })
                }))
            }
            r::PrepareRenameRequest::METHOD => {
                let p: lsp::TextDocumentPositionParams = params(req.params)?;
                json(self.prepare_rename(&p.text_document.uri, p.position))
            }
            r::Rename::METHOD => {
                let p: lsp::RenameParams = params(req.params)?;
                let at = p.text_document_position;
                self.rename(&at.text_document.uri, at.position, &p.new_name)
                    .and_then(json)
            }
            r::CodeActionRequest::METHOD => {
                let p: lsp::CodeActionParams = params(req.params)?;
                json(self.code_actions(&p.text_document.uri, p.range))
            }
            other => Err((
                ErrorCode::MethodNotFound,
                format!("qdx lsp does not answer {other}"),
            )),
        }
    }

    /// The document at `uri`, analysed, with the byte offset of `position` in it.
    fn at(&mut self, uri: &lsp::Uri, position: lsp::Position) -> Option<(&Document, usize)> {
        let key = uri.as_str();
        self.fresh(key);
        let doc = self.docs.get(key)?;
        let offset = LineIndex::new(&doc.text).offset(&doc.text, position);
        Some((doc, offset))
    }

    fn hover(&mut self, uri: &lsp::Uri, position: lsp::Position) -> Option<lsp::Hover> {
        let (doc, offset) = self.at(uri, position)?;
        let a = doc.analysis.as_ref()?;
        let entry = a.entry?;
        let good = doc.good.as_deref();
        let campaign = a
            .campaign
            .as_ref()
            .or(good.and_then(|g| g.campaign.as_ref()));
        let stale = a.campaign.is_none();
        let lines = LineIndex::new(&doc.text);
        let markdown = |value: String, range: std::ops::Range<usize>| lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value,
            }),
            range: Some(lines.range(&doc.text, range)),
        };
        // A unit after a number.
        if let Some(t) = lex::tokens_near(&doc.text, offset)
            .into_iter()
            .find(|t| t.kind == lex::TokenKind::Unit && t.start <= offset && offset <= t.end)
        {
            return hover::unit(t.text(&doc.text)).map(|v| markdown(v, t.start..t.end));
        }
        if let Some(o) = a.index.at(entry, offset) {
            let symbol = a.index.symbols.get(o.symbol)?;
            // `device.setting`: the derived value or the setting of that device.
            if matches!(symbol.kind, SymbolKind::Setting | SymbolKind::Property)
                && let Some(device) = receiver(&doc.text, o.start)
                && let Some(c) = campaign
                && let Some(text) = hover::setting(c, device, &symbol.name)
            {
                return Some(markdown(text, o.start..o.end));
            }
            let text = hover::symbol(symbol, &a.sources, campaign, stale);
            return Some(markdown(text, o.start..o.end));
        }
        // A name in a block that does not parse now: the last version that did.
        let (start, end) = lex::word_at(&doc.text, offset)?;
        let name = doc.text.get(start..end)?;
        let g = good?;
        let i = g
            .index
            .symbols
            .iter()
            .position(|s| s.name == name && s.kind != SymbolKind::File)?;
        let symbol = g.index.symbols.get(i)?;
        let text = hover::symbol(symbol, &g.sources, campaign, true);
        Some(markdown(text, start..end))
    }

    fn definition(&mut self, uri: &lsp::Uri, position: lsp::Position) -> Option<lsp::Location> {
        let (doc, offset) = self.at(uri, position)?;
        let a = doc.analysis.as_ref()?;
        let entry = a.entry?;
        let lines = LineIndex::new(&doc.text);
        let here = Here {
            file: Some(entry),
            text: &doc.text,
            lines: &lines,
        };
        if let Some(o) = a.index.at(entry, offset) {
            let symbol = a.index.symbols.get(o.symbol)?;
            return location(&a.sources, symbol.name_span, here);
        }
        // Not in what parses now: the name in the last version that checked, if its
        // declaration is still where it was.
        let (start, end) = lex::word_at(&doc.text, offset)?;
        let name = doc.text.get(start..end)?;
        let g = doc.good.as_ref()?;
        let symbol = g
            .index
            .symbols
            .iter()
            .find(|s| s.name == name && s.kind != SymbolKind::File)?;
        let still_there = symbol.name_span.file() != Some(entry)
            || symbol
                .name_span
                .range()
                .and_then(|r| doc.text.get(r))
                .is_some_and(|t| t == name);
        if !still_there {
            return None;
        }
        location(&g.sources, symbol.name_span, here)
    }

    fn references(
        &mut self,
        uri: &lsp::Uri,
        position: lsp::Position,
        include_declaration: bool,
    ) -> Option<Vec<lsp::Location>> {
        let (doc, offset) = self.at(uri, position)?;
        let a = doc.analysis.as_ref()?;
        let entry = a.entry?;
        let o = a.index.at(entry, offset)?;
        let lines = LineIndex::new(&doc.text);
        let here = Here {
            file: Some(entry),
            text: &doc.text,
            lines: &lines,
        };
        let out = a
            .index
            .occurrences_of(o.symbol)
            .filter(|x| include_declaration || !x.declaration)
            .filter_map(|x| location(&a.sources, Span::new(x.file, x.start, x.end), here))
            .collect();
        Some(out)
    }

    fn completion(
        &mut self,
        uri: &lsp::Uri,
        position: lsp::Position,
    ) -> Option<lsp::CompletionResponse> {
        let (doc, offset) = self.at(uri, position)?;
        let a = doc.analysis.as_ref()?;
        // Names declared in a block that does not parse now come from the last good version.
        let index = match (&doc.good, a.loaded.recovered) {
            (Some(g), true) => &g.index,
            _ => &a.index,
        };
        let mut items = complete::complete(&doc.text, offset, index);
        if a.loaded.recovered && !std::ptr::eq(index, &a.index) {
            for extra in complete::complete(&doc.text, offset, &a.index) {
                if !items.iter().any(|i| i.label == extra.label) {
                    items.push(extra);
                }
            }
        }
        Some(lsp::CompletionResponse::Array(items))
    }

    fn formatting(&mut self, uri: &lsp::Uri) -> Option<Vec<lsp::TextEdit>> {
        let doc = self.docs.get(uri.as_str())?;
        let name = doc.path.to_string_lossy();
        // A file that does not parse is left as it is (its errors are already shown).
        let formatted = crate::format::format_source(&doc.text, &name).ok()?;
        if formatted == doc.text {
            return Some(Vec::new());
        }
        let lines = LineIndex::new(&doc.text);
        Some(vec![lsp::TextEdit {
            range: lines.range(&doc.text, 0..doc.text.len()),
            new_text: formatted,
        }])
    }

    fn document_symbols(&mut self, uri: &lsp::Uri) -> Option<Vec<lsp::DocumentSymbol>> {
        self.fresh(uri.as_str());
        let doc = self.docs.get(uri.as_str())?;
        let a = doc.analysis.as_ref()?;
        let ast = a.loaded.entry_ast()?;
        Some(outline::document_symbols(ast, &doc.text))
    }

    fn semantic_tokens(&mut self, uri: &lsp::Uri) -> Option<Vec<lsp::SemanticToken>> {
        self.fresh(uri.as_str());
        let doc = self.docs.get(uri.as_str())?;
        let a = doc.analysis.as_ref()?;
        let entry = a.entry?;
        let stdlib = |symbol: usize| {
            a.index
                .symbols
                .get(symbol)
                .and_then(|s| s.name_span.file())
                .and_then(|f| a.sources.get(f))
                .is_some_and(|f| f.origin == Origin::Stdlib)
        };
        Some(outline::semantic_tokens(
            &doc.text, entry, &a.index, &stdlib,
        ))
    }

    /// The symbol under the cursor, when it may be renamed.
    fn renamable(
        &mut self,
        uri: &lsp::Uri,
        position: lsp::Position,
    ) -> Result<Renamable, (ErrorCode, String)> {
        let refuse = |why: &str| (ErrorCode::RequestFailed, why.to_owned());
        let (doc, offset) = self
            .at(uri, position)
            .ok_or_else(|| refuse("this document is not open"))?;
        let a = doc
            .analysis
            .clone()
            .ok_or_else(|| refuse("this document is not analysed yet"))?;
        if a.loaded.recovered {
            return Err(refuse(
                "the file has syntax errors: fix them before renaming, so that no use is missed",
            ));
        }
        let entry = a.entry.ok_or_else(|| refuse("nothing to rename here"))?;
        let o = *a
            .index
            .at(entry, offset)
            .ok_or_else(|| refuse("no name to rename here"))?;
        let symbol = a
            .index
            .symbols
            .get(o.symbol)
            .ok_or_else(|| refuse("no name to rename here"))?;
        let in_stdlib = symbol
            .name_span
            .file()
            .and_then(|f| a.sources.get(f))
            .is_none_or(|f| f.origin == Origin::Stdlib);
        if !symbol.kind.renamable() || in_stdlib {
            return Err(refuse(&format!(
                "`{}` is a {} qdx declares, not one this campaign does",
                symbol.name,
                symbol.kind.describe()
            )));
        }
        Ok((a, o.symbol, o.start..o.end))
    }

    fn prepare_rename(
        &mut self,
        uri: &lsp::Uri,
        position: lsp::Position,
    ) -> Option<lsp::PrepareRenameResponse> {
        let (_, _, range) = self.renamable(uri, position).ok()?;
        let doc = self.docs.get(uri.as_str())?;
        let lines = LineIndex::new(&doc.text);
        Some(lsp::PrepareRenameResponse::Range(
            lines.range(&doc.text, range),
        ))
    }

    fn rename(
        &mut self,
        uri: &lsp::Uri,
        position: lsp::Position,
        new_name: &str,
    ) -> Result<lsp::WorkspaceEdit, (ErrorCode, String)> {
        let (a, symbol, _) = self.renamable(uri, position)?;
        let refuse = |why: String| (ErrorCode::RequestFailed, why);
        let valid = new_name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && new_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(refuse(format!(
                "`{new_name}` is not a name: names are ASCII letters, digits and `_`, not starting with a digit"
            )));
        }
        if ["and", "or", "not", "in", "within", "true", "false"].contains(&new_name) {
            return Err(refuse(format!("`{new_name}` is a reserved word")));
        }
        if let Some(other) = a.index.symbols.iter().find(|s| {
            s.name == new_name
                && s.kind != SymbolKind::File
                && !matches!(s.kind, SymbolKind::Property | SymbolKind::Setting)
        }) {
            return Err(refuse(format!(
                "`{new_name}` already names a {}",
                other.kind.describe()
            )));
        }
        let entry = a.entry;
        // `lsp::Uri` caches parts of itself in cells, which never change its hash.
        #[allow(clippy::mutable_key_type)]
        let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
        let mut lines: BTreeMap<FileId, LineIndex> = BTreeMap::new();
        for o in a.index.occurrences_of(symbol) {
            let Some(file) = a.sources.get(o.file) else {
                continue;
            };
            if file.origin == Origin::Stdlib {
                continue;
            }
            let text = match (Some(o.file) == entry, self.docs.get(uri.as_str())) {
                (true, Some(doc)) => doc.text.as_str(),
                _ => file.text.as_str(),
            };
            let Some(file_uri) = file_uri(file) else {
                continue;
            };
            let index = lines.entry(o.file).or_insert_with(|| LineIndex::new(text));
            changes.entry(file_uri).or_default().push(lsp::TextEdit {
                range: index.range(text, o.start..o.end),
                new_text: new_name.to_owned(),
            });
        }
        Ok(lsp::WorkspaceEdit::new(changes))
    }

    fn code_actions(
        &mut self,
        uri: &lsp::Uri,
        range: lsp::Range,
    ) -> Option<Vec<lsp::CodeActionOrCommand>> {
        self.fresh(uri.as_str());
        let doc = self.docs.get(uri.as_str())?;
        let a = doc.analysis.as_ref()?;
        let entry = a.entry?;
        let lines = LineIndex::new(&doc.text);
        let here = Here {
            file: Some(entry),
            text: &doc.text,
            lines: &lines,
        };
        let wanted = lines.bytes(&doc.text, range);
        let mut out = Vec::new();
        for d in a.diagnostics.iter() {
            let Some(primary) = d.primary_span() else {
                continue;
            };
            let Some(r) = primary.range() else { continue };
            if primary.file() != Some(entry) || r.end < wanted.start || r.start > wanted.end {
                continue;
            }
            if let Some(fix) = &d.fix {
                let Some(fr) = fix.span.range().filter(|_| fix.span.file() == Some(entry)) else {
                    continue;
                };
                let old = doc.text.get(fr.clone()).unwrap_or_default();
                let edit = lsp::TextEdit {
                    range: lines.range(&doc.text, fr),
                    new_text: fix.replacement.clone(),
                };
                out.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                    title: format!("Replace `{old}` with `{}`", fix.replacement),
                    kind: Some(lsp::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![to_lsp(d, &a.sources, here)]),
                    edit: Some(lsp::WorkspaceEdit::new(HashMap::from([(
                        doc.uri.clone(),
                        vec![edit],
                    )]))),
                    is_preferred: Some(true),
                    ..Default::default()
                }));
            }
        }
        Some(out)
    }
}

/// An analysis, the symbol under the cursor in it, and the cursor's name's byte range.
type Renamable = (Rc<Analysis>, usize, std::ops::Range<usize>);

/// In `a.b`, the `a` before the `.` that ends just before byte `start`.
fn receiver(text: &str, start: usize) -> Option<&str> {
    let before = text.get(..start)?.strip_suffix('.')?;
    let begin = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |k| k + 1);
    before.get(begin..).filter(|s| !s.is_empty())
}

/// The diagnostics of an analysis, as the protocol has them, for the document.
fn diagnostics(a: &Analysis, text: &str) -> Vec<lsp::Diagnostic> {
    let lines = LineIndex::new(text);
    let here = Here {
        file: a.entry,
        text,
        lines: &lines,
    };
    a.diagnostics
        .iter()
        .map(|d| to_lsp(d, &a.sources, here))
        .collect()
}

/// One diagnostic, placed in the document (`entry`, whose current text is `text`). One whose
/// primary place is in another file (an import, a script) is shown at its first label in the
/// document, or at the top, with the other file's place as related information.
fn to_lsp(d: &Diagnostic, sources: &SourceMap, here: Here<'_>) -> lsp::Diagnostic {
    let in_entry = |s: &Span| s.file().is_some() && s.file() == here.file && s.range().is_some();
    let place = d
        .primary_span()
        .filter(in_entry)
        .or_else(|| d.labels.iter().map(|l| l.span).find(in_entry))
        .and_then(|s| s.range())
        .map_or_else(lsp::Range::default, |r| here.lines.range(here.text, r));
    let mut message = d.message.clone();
    // The primary label's text says what is wrong at the place: it goes with the message.
    let primary_label = d
        .labels
        .first()
        .filter(|l| in_entry(&l.span))
        .and_then(|l| l.message.as_deref());
    if let Some(m) = primary_label {
        message.push('\n');
        message.push_str(m);
    }
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    for n in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(n);
    }
    let mut related = Vec::new();
    for (i, label) in d.labels.iter().enumerate() {
        // The primary label is the diagnostic's own range, its text in the message.
        if i == 0 && in_entry(&label.span) {
            continue;
        }
        if let Some(location) = location(sources, label.span, here) {
            related.push(lsp::DiagnosticRelatedInformation {
                location,
                message: label
                    .message
                    .clone()
                    .unwrap_or_else(|| "related location".to_owned()),
            });
        }
    }
    let unused = d.code.contains("::unused_");
    lsp::Diagnostic {
        range: place,
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.to_owned())),
        code_description: None,
        source: Some("qdx".to_owned()),
        message,
        related_information: if related.is_empty() {
            None
        } else {
            Some(related)
        },
        tags: unused.then(|| vec![lsp::DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

/// The document a conversion is for: its file in the analysis, its current text and lines.
#[derive(Clone, Copy)]
struct Here<'a> {
    file: Option<FileId>,
    text: &'a str,
    lines: &'a LineIndex,
}

/// Where a span is, as a location an editor opens: the document itself (with its current
/// text), a file of the campaign, or the standard library's copy on disk.
fn location(sources: &SourceMap, span: Span, here: Here<'_>) -> Option<lsp::Location> {
    let file = sources.get(span.file()?)?;
    let range = span.range()?;
    let uri = file_uri(file)?;
    if Some(file.id) == here.file {
        return Some(lsp::Location::new(uri, here.lines.range(here.text, range)));
    }
    let lines = LineIndex::new(&file.text);
    Some(lsp::Location::new(uri, lines.range(&file.text, range)))
}

/// The URI of a loaded file; the standard library's modules are written out once to a folder
/// of qdx's own in the temporary directory, so that an editor can open them.
fn file_uri(file: &crate::source::SourceFile) -> Option<lsp::Uri> {
    match &file.origin {
        Origin::User(path) => path_to_uri(path),
        Origin::Stdlib => path_to_uri(&stdlib_copy(&file.name, &file.text)?),
        Origin::Memory => None,
    }
}

/// The standard library module `name` (`std/devices.qdx`) as a file on disk.
fn stdlib_copy(name: &str, text: &str) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("qdx-{}-stdlib", env!("CARGO_PKG_VERSION")));
    let path = dir.join(name.trim_start_matches("std/"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::create_dir_all(&dir).ok()?;
        crate::files::write_atomic(&path, text.as_bytes()).ok()?;
    }
    Some(path)
}

/// The path of a `file:` URI; other schemes (an unsaved buffer) get a path that is not on
/// disk, so their relative imports do not resolve.
pub fn uri_to_path(uri: &lsp::Uri) -> PathBuf {
    let s = uri.as_str();
    match s.strip_prefix("file://") {
        Some(rest) => {
            // `file://host/path`: the authority is dropped.
            let path = rest.find('/').map_or("", |k| rest.get(k..).unwrap_or(""));
            let decoded = percent_decode(path);
            // `/C:/x` on Windows.
            let decoded = match decoded.get(1..3) {
                Some(d) if cfg!(windows) && d.ends_with(':') => {
                    decoded.get(1..).unwrap_or("").to_owned()
                }
                _ => decoded,
            };
            crate::world::normalize(Path::new(&decoded))
        }
        None => PathBuf::from(format!(
            "/{}",
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                })
                .collect::<String>()
        )),
    }
}

/// The `file:` URI of a path (made absolute against the working directory).
pub fn path_to_uri(path: &Path) -> Option<lsp::Uri> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let text = absolute.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else if b == b':' && out.len() <= 10 {
            // A drive letter's colon.
            out.push(':');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    lsp::Uri::from_str(&out).ok()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_paths_round_trip() {
        let path = Path::new("/home/lab/campaigns/my run/cspbx3 µ.qdx");
        let uri = path_to_uri(path).expect("a uri");
        assert_eq!(
            uri.as_str(),
            "file:///home/lab/campaigns/my%20run/cspbx3%20%C2%B5.qdx"
        );
        assert_eq!(uri_to_path(&uri), path);
        let untitled = lsp::Uri::from_str("untitled:Untitled-1").expect("uri");
        assert_eq!(
            uri_to_path(&untitled),
            PathBuf::from("/untitled_Untitled_1")
        );
    }

    #[test]
    fn receivers_are_the_name_before_the_dot() {
        let t = "x = p_seed.rate";
        assert_eq!(receiver(t, t.len() - 4), Some("p_seed"));
        assert_eq!(receiver(t, 0), None);
    }
}
