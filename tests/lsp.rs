//! `qdx lsp` driven as an editor drives it: a scripted client spawns the built binary, speaks
//! JSON-RPC over its standard input and output, and holds the answers in snapshots
//! (initialize → didOpen → edits → hover, definition, references, completion, code actions,
//! formatting, outline, semantic tokens, rename → shutdown → exit). Then random edits through
//! an in-process server, which must answer every request without an internal error.

use std::io::{BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};

/// How long any one answer may take before the test fails (instead of hanging).
const PATIENCE: Duration = Duration::from_secs(60);

/// A client of a `qdx lsp` process.
struct Client {
    child: Option<Child>,
    stdin: ChildStdin,
    incoming: mpsc::Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else, oldest first.
    notifications: Vec<Value>,
    /// The temporary folder's URI, shown as `file:///$TMP` in snapshots.
    root_uri: String,
    _dir: tempfile::TempDir,
}

fn read_message(reader: &mut impl std::io::BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    /// Copies the example campaign and its script into a temporary folder and starts the
    /// server there.
    fn start() -> Client {
        let dir = tempfile::Builder::new()
            .prefix("qdx-lsp-")
            .tempdir()
            .expect("a temporary folder");
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        std::fs::create_dir_all(dir.path().join("proxies")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join(".tmp")).expect("mkdir");
        for f in ["cspbx3-orange.qdx", "proxies/score.rhai"] {
            std::fs::copy(examples.join(f), dir.path().join(f)).expect("copy");
        }
        let root = dir.path().canonicalize().expect("canonical");
        let mut child = Command::new(env!("CARGO_BIN_EXE_qdx"))
            .args(["lsp", "--stdio"])
            .current_dir(&root)
            .env_clear()
            .env("TMPDIR", root.join(".tmp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qdx lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(m) = read_message(&mut reader) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let root_uri = uri(&root);
        Client {
            child: Some(child),
            stdin,
            incoming: rx,
            next_id: 1,
            notifications: Vec::new(),
            root_uri,
            _dir: dir,
        }
    }

    fn uri(&self, relative: &str) -> String {
        format!("{}/{relative}", self.root_uri)
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn receive(&mut self) -> Value {
        self.incoming
            .recv_timeout(PATIENCE)
            .expect("the server answers in time")
    }

    /// Sends a request and returns its response (`result` or `error`), keeping the
    /// notifications that come first.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let m = self.receive();
            if m.get("id") == Some(&json!(id)) {
                return m;
            }
            self.notifications.push(m);
        }
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// The diagnostics published for `uri` at `version` (waiting for them).
    fn diagnostics(&mut self, uri: &str, version: i64) -> Value {
        let matches = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"] == version
        };
        if let Some(k) = self.notifications.iter().position(matches) {
            return self.notifications.remove(k)["params"]["diagnostics"].clone();
        }
        loop {
            let m = self.receive();
            if matches(&m) {
                return m["params"]["diagnostics"].clone();
            }
            self.notifications.push(m);
        }
    }

    /// A JSON value as a snapshot shows it: pretty, with the temporary folder's URI named.
    fn shown(&self, value: &Value) -> String {
        serde_json::to_string_pretty(value)
            .expect("json")
            .replace(&self.root_uri, "file:///$TMP")
    }

    fn position(text: &str, needle: &str, after: usize) -> Value {
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` in the text"))
            + after;
        let line = text[..at].matches('\n').count();
        let column = text[..at]
            .rsplit('\n')
            .next()
            .expect("a line")
            .encode_utf16()
            .count();
        json!({ "line": line, "character": column })
    }

    fn at(&self, uri: &str, text: &str, needle: &str, after: usize) -> Value {
        json!({ "textDocument": { "uri": uri }, "position": Client::position(text, needle, after) })
    }
}

fn uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A hover's text.
fn hover_text(hover: &Value) -> String {
    hover["contents"]["value"]
        .as_str()
        .unwrap_or("(no hover)")
        .to_owned()
}

/// The whole session on `examples/cspbx3-orange.qdx`.
#[test]
fn an_editor_session_on_the_orange_campaign() {
    let mut c = Client::start();
    let init = c.result(
        "initialize",
        json!({
            "processId": null,
            "rootUri": c.root_uri,
            "capabilities": {},
            "initializationOptions": { "debounceMs": 20 },
        }),
    );
    assert_eq!(init["serverInfo"]["name"], "qdx");
    let caps = &init["capabilities"];
    for feature in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "completionProvider",
        "documentFormattingProvider",
        "documentSymbolProvider",
        "semanticTokensProvider",
        "renameProvider",
        "codeActionProvider",
    ] {
        assert!(!caps[feature].is_null(), "no {feature}: {caps}");
    }
    c.notify("initialized", json!({}));

    let uri = c.uri("cspbx3-orange.qdx");
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cspbx3-orange.qdx"),
    )
    .expect("example");
    let mut text = original.clone();
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "qdx", "version": 1, "text": text } }),
    );
    // It checks clean, as `qdx check` says.
    assert_eq!(c.diagnostics(&uri, 1), json!([]));

    // Hover: a derived pump rate with its proven interval and the device limit it is
    // checked against; a derived value with the safety limit on it; a variable; a proxy.
    let mut hovers = String::new();
    for (needle, after) in [
        ("p_seed.rate = total_flow", 8),
        ("total_flow = r1.volume", 2),
        ("residence : time", 2),
        ("peak = photoluminescence", 1),
        ("plqy = relative_plqy", 1),
        ("pump p_seed", 7),
        ("syringe_pump { syringe 10 mL", 2),
        ("20 degC .. 120 degC", 4),
        ("relative_plqy(", 3),
    ] {
        let at = c.at(&uri, &text, needle, after);
        let hover = c.result("textDocument/hover", at);
        hovers.push_str(&format!("== {needle}\n{}\n", hover_text(&hover)));
    }
    insta::assert_snapshot!("lsp_hover", hovers);

    // Go to definition: a device from its stock, a kind into the standard library, a
    // `use`d module, a proxy from an objective.
    let mut definitions = Vec::new();
    for (needle, after) in [
        ("in p_seed {", 4),
        ("syringe_pump { syringe 10 mL", 2),
        ("use std.spectra", 6),
        ("maximize plqy", 10),
        ("p_seed.rate >= 5", 8),
    ] {
        let at = c.at(&uri, &text, needle, after);
        definitions
            .push(json!({ "at": needle, "definition": c.result("textDocument/definition", at) }));
    }
    insta::assert_snapshot!("lsp_definition", c.shown(&json!(definitions)));

    // References of a derived value, declaration included.
    let mut at = c.at(&uri, &text, "total_flow = r1.volume", 2);
    at["context"] = json!({ "includeDeclaration": true });
    let refs = c.result("textDocument/references", at);
    insta::assert_snapshot!("lsp_references", c.shown(&refs));

    // The outline.
    let symbols = c.result(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let outline: Vec<String> = symbols
        .as_array()
        .expect("symbols")
        .iter()
        .map(|s| {
            let children: Vec<&str> = s["children"]
                .as_array()
                .map(|c| c.iter().filter_map(|x| x["name"].as_str()).collect())
                .unwrap_or_default();
            format!(
                "{}: {}",
                s["name"].as_str().unwrap_or(""),
                children.join(", ")
            )
        })
        .collect();
    insta::assert_snapshot!("lsp_outline", outline.join("\n"));

    // Semantic tokens: the first lines, decoded.
    let tokens = c.result(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": uri } }),
    );
    let legend = caps["semanticTokensProvider"]["legend"]["tokenTypes"].clone();
    insta::assert_snapshot!(
        "lsp_semantic_tokens",
        decode_tokens(&text, &tokens["data"], &legend, 24)
    );

    // A broken unit: `80 degC` typed as `80 degK`. The diagnostic is `qdx check`'s, with its
    // fix offered as a quick fix; applying it checks clean again.
    let edit_at = Client::position(&text, "80 degC", 3);
    let end = json!({ "line": edit_at["line"], "character": edit_at["character"].as_i64().expect("col") + 4 });
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": 2 },
            "contentChanges": [{ "range": { "start": edit_at, "end": end }, "text": "degK" }],
        }),
    );
    let diagnostics = c.diagnostics(&uri, 2);
    insta::assert_snapshot!("lsp_diagnostics_broken_unit", c.shown(&diagnostics));
    let actions = c.result(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": uri },
            "range": diagnostics[0]["range"],
            "context": { "diagnostics": diagnostics },
        }),
    );
    insta::assert_snapshot!("lsp_code_action", c.shown(&actions));
    let fix = &actions[0]["edit"]["changes"][&uri][0];
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": 3 },
            "contentChanges": [{ "range": fix["range"], "text": fix["newText"] }],
        }),
    );
    let after_fix = c.diagnostics(&uri, 3);
    assert!(
        after_fix
            .as_array()
            .expect("list")
            .iter()
            .all(|d| d["code"] != "qdx::validate::unknown_unit"),
        "{after_fix}"
    );

    // Back to the original, then half-typed: two blocks broken at once. Each gets its own
    // syntax error; the rest of the file still answers, and a name in a broken block is
    // hovered from the last version that checked.
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 4 }, "contentChanges": [{ "text": original }] }),
    );
    text = original.clone();
    assert_eq!(c.diagnostics(&uri, 4), json!([]));
    let broken = text
        .replacen(
            "p_seed.rate = total_flow - ",
            "p_seed.rate = total_flow - - ) ",
            1,
        )
        .replacen("stop when peak within 2 nm", "stop when peak within", 1);
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 5 }, "contentChanges": [{ "text": broken }] }),
    );
    let syntax = c.diagnostics(&uri, 5);
    insta::assert_snapshot!("lsp_diagnostics_two_broken_blocks", c.shown(&syntax));
    let in_broken_block = c.result(
        "textDocument/hover",
        c.at(&uri, &broken, "p_iodide.rate = total_flow", 18),
    );
    assert!(
        hover_text(&in_broken_block).contains("proven range"),
        "{in_broken_block}"
    );
    let still_answers = c.result(
        "textDocument/definition",
        c.at(&uri, &broken, "in p_seed {", 4),
    );
    let p_seed_line = broken
        .lines()
        .position(|l| l.trim_start().starts_with("pump p_seed :"))
        .expect("p_seed is declared");
    assert_eq!(
        still_answers["range"]["start"]["line"],
        json!(p_seed_line),
        "{still_answers}"
    );

    // Completion while typing: a kind after `pump name :`, units of the place after a number.
    let typing = broken.replacen(
        "  outlet waste : collector\n",
        "  outlet waste : collector\n  pump p_extra : \n",
        1,
    );
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 6 }, "contentChanges": [{ "text": typing }] }),
    );
    let kinds = c.result(
        "textDocument/completion",
        c.at(&uri, &typing, "pump p_extra : ", 15),
    );
    let labels = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("items")
            .iter()
            .map(|i| i["label"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    insta::assert_snapshot!("lsp_completion_kinds", labels(&kinds).join("\n"));
    let typing = typing.replacen(
        "  ligand_frac : ratio in 0.0 .. 0.3\n",
        "  ligand_frac : ratio in 0.0 .. 0.3\n  t2 : temperature in 30 \n",
        1,
    );
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 7 }, "contentChanges": [{ "text": typing }] }),
    );
    let units = c.result(
        "textDocument/completion",
        c.at(&uri, &typing, "t2 : temperature in 30 ", 23),
    );
    assert_eq!(labels(&units), vec!["degC", "K"]);
    let members = c.result(
        "textDocument/completion",
        c.at(&uri, &typing, "p_seed.rate >= 5", 7),
    );
    let members = labels(&members);
    assert!(
        members.contains(&"rate".to_owned()) && members.contains(&"syringe".to_owned()),
        "{members:?}"
    );

    // Formatting goes through `qdx fmt`: a messy line comes back canonical.
    let messy = original.replacen("  batch 1\n", "  batch    1   \n", 1);
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 8 }, "contentChanges": [{ "text": messy }] }),
    );
    let edits = c.result(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(edits[0]["newText"].as_str(), Some(original.as_str()));
    text = original.clone();
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 9 }, "contentChanges": [{ "text": text }] }),
    );
    assert_eq!(c.diagnostics(&uri, 9), json!([]));

    // Rename a variable everywhere it is used; a reserved word is refused.
    let at = c.at(&uri, &text, "residence : time", 2);
    let prepared = c.result("textDocument/prepareRename", at.clone());
    let residence_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("residence : time"))
        .expect("residence is declared");
    assert_eq!(
        prepared["start"]["line"],
        json!(residence_line),
        "{prepared}"
    );
    let mut rename = at.clone();
    rename["newName"] = json!("residence_time");
    let renamed = c.result("textDocument/rename", rename);
    insta::assert_snapshot!("lsp_rename", c.shown(&renamed));
    let mut refused = at;
    refused["newName"] = json!("within");
    assert!(
        c.request("textDocument/rename", refused)
            .get("error")
            .is_some()
    );

    // Shutdown, exit, and the process ends with 0.
    let shutdown = c.request("shutdown", Value::Null);
    assert_eq!(shutdown["result"], Value::Null, "{shutdown}");
    c.notify("exit", Value::Null);
    let mut child = c.child.take().expect("the server");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = rx
        .recv_timeout(PATIENCE)
        .expect("qdx lsp exits")
        .expect("its status");
    assert_eq!(status.code(), Some(0));
}

/// The first `n` semantic tokens as `line:col text type [modifiers]`.
fn decode_tokens(text: &str, data: &Value, legend: &Value, n: usize) -> String {
    let data: Vec<u64> = data
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_u64().expect("number"))
        .collect();
    let lines: Vec<&str> = text.split('\n').collect();
    let (mut line, mut col) = (0_u64, 0_u64);
    let mut out = Vec::new();
    for t in data.chunks(5).take(n) {
        let [dl, dc, len, ty, mods] = [t[0], t[1], t[2], t[3], t[4]];
        if dl > 0 {
            line += dl;
            col = dc;
        } else {
            col += dc;
        }
        let l: Vec<u16> = lines[line as usize].encode_utf16().collect();
        let word = String::from_utf16_lossy(&l[col as usize..(col + len) as usize]);
        out.push(format!(
            "{}:{} {word:?} {}{}",
            line + 1,
            col + 1,
            legend[ty as usize].as_str().unwrap_or("?"),
            if mods == 0 {
                String::new()
            } else {
                format!(" [{mods:b}]")
            }
        ));
    }
    out.join("\n")
}

// ───────────────────────── random edits through an in-process server ─────────────────────────

/// A server on a thread, talked to through memory channels: fast enough for many cases.
struct InProcess {
    conn: lsp_server::Connection,
    thread: Option<std::thread::JoinHandle<()>>,
    next: i32,
}

impl InProcess {
    fn start() -> InProcess {
        let (server, client) = lsp_server::Connection::memory();
        let thread = std::thread::spawn(move || {
            qdx::lsp::serve(&server).expect("the server runs");
        });
        let mut me = InProcess {
            conn: client,
            thread: Some(thread),
            next: 1,
        };
        me.request(
            "initialize",
            json!({ "capabilities": {}, "initializationOptions": { "debounceMs": 0 } }),
        );
        me.notify("initialized", json!({}));
        me
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn
            .sender
            .send(lsp_server::Message::Notification(
                lsp_server::Notification::new(method.to_owned(), params),
            ))
            .expect("send");
    }

    /// A request's response; a notification of an internal error on the way fails the test.
    fn request(&mut self, method: &str, params: Value) -> lsp_server::Response {
        let id = lsp_server::RequestId::from(self.next);
        self.next += 1;
        self.conn
            .sender
            .send(lsp_server::Message::Request(lsp_server::Request::new(
                id.clone(),
                method.to_owned(),
                params,
            )))
            .expect("send");
        loop {
            match self
                .conn
                .receiver
                .recv_timeout(PATIENCE)
                .expect("an answer")
            {
                lsp_server::Message::Response(r) if r.id == id => return r,
                lsp_server::Message::Notification(n) => {
                    assert!(
                        !n.params.to_string().contains("internal error"),
                        "{}",
                        n.params
                    );
                }
                _ => {}
            }
        }
    }

    fn stop(mut self) {
        let r = self.request("shutdown", Value::Null);
        assert!(r.response_result.is_ok());
        self.notify("exit", Value::Null);
        if let Some(t) = self.thread.take() {
            t.join().expect("the server thread ends cleanly");
        }
    }
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "->",
    "..",
    "=",
    "-",
    "*",
    "/",
    ".",
    "\"",
    "\"\"\"",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "10 uL/min",
    "80 degK",
    "p_seed",
    "p_seed.",
    "total_flow",
    "reactor {",
    "derive {",
    "stocks",
    "pump p : ",
    "µL",
    "é",
    "𝜇",
    "qdx 1",
    "use ",
    "\u{0}",
];

fn edit(text: &str, at: usize, len: usize, piece: usize) -> (String, usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    let at = if chars.is_empty() {
        0
    } else {
        at % (chars.len() + 1)
    };
    let end = (at + len % 8).min(chars.len());
    let mut out: Vec<char> = chars[..at].to_vec();
    out.extend(PIECES[piece % PIECES.len()].chars());
    out.extend(&chars[end..]);
    (out.into_iter().collect(), at, end)
}

/// The LSP position (UTF-16) of the `n`th character of `text`.
fn char_position(text: &str, n: usize) -> Value {
    let before: String = text.chars().take(n).collect();
    let line = before.matches('\n').count();
    let col = before
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .encode_utf16()
        .count();
    json!({ "line": line, "character": col })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Keystroke-like edits (sent as ranges, as an editor sends them) on the example: after
    /// each, every kind of request at a random place is answered, never with an internal error.
    #[test]
    fn random_edits_never_break_the_server(
        edits in proptest::collection::vec((0usize..5000, 0usize..12, 0usize..64, 0usize..5000), 1..8)
    ) {
        let mut s = InProcess::start();
        let uri = "file:///nowhere/orange.qdx";
        let mut text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cspbx3-orange.qdx"),
        ).expect("example");
        s.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "qdx", "version": 1, "text": text } }));
        for (version, (at, len, piece, cursor)) in edits.into_iter().enumerate() {
            let (next, from, to) = edit(&text, at, len, piece);
            let range = json!({ "start": char_position(&text, from), "end": char_position(&text, to) });
            let inserted: String = {
                let chars: Vec<char> = next.chars().collect();
                let added = chars.len() + (to - from) - text.chars().count();
                chars[from..from + added].iter().collect()
            };
            s.notify("textDocument/didChange", json!({
                "textDocument": { "uri": uri, "version": version + 2 },
                "contentChanges": [{ "range": range, "text": inserted }],
            }));
            text = next;
            let n = text.chars().count();
            let position = char_position(&text, cursor % (n + 1));
            let at = json!({ "textDocument": { "uri": uri }, "position": position });
            for (method, params) in [
                ("textDocument/hover", at.clone()),
                ("textDocument/definition", at.clone()),
                ("textDocument/completion", at.clone()),
                ("textDocument/references", json!({ "textDocument": { "uri": uri }, "position": position, "context": { "includeDeclaration": true } })),
                ("textDocument/prepareRename", at.clone()),
                ("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } })),
                ("textDocument/semanticTokens/full", json!({ "textDocument": { "uri": uri } })),
                ("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } })),
                ("textDocument/codeAction", json!({ "textDocument": { "uri": uri }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } })),
            ] {
                let r = s.request(method, params);
                if let Err(e) = &r.response_result {
                    prop_assert!(e.code != lsp_server::ErrorCode::InternalError as i32, "{method}: {}", e.message);
                }
            }
        }
        // The server holds the same text as the client.
        let symbols = s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
        prop_assert!(symbols.response_result.is_ok());
        s.stop();
    }
}

/// A file of random bytes of text, cut into blocks and parsed past its errors, never panics,
/// and every span of what parsed lies inside the file.
#[test]
fn recovering_parse_of_random_text() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&"\\PC{0,300}", |text| {
            let mut sources = qdx::source::SourceMap::new();
            let file = sources.add("r.qdx", qdx::source::Origin::Memory, text.clone());
            let (ast, errors) = qdx::syntax::parse_recovering(&sources, file);
            for item in &ast.items {
                let r = item.span().range().expect("a place");
                prop_assert!(r.end <= text.len());
            }
            for e in &errors {
                for l in &e.labels {
                    if let Some(r) = l.span.range() {
                        prop_assert!(r.end <= text.len(), "{}", e.message);
                    }
                }
            }
            Ok(())
        })
        .expect("no failure");
}

/// Every fix a diagnostic of the invalid corpus offers (a quick fix in the editor), applied
/// to the file, leaves it parsing and removes that diagnostic from that place.
#[test]
fn the_fixes_of_the_invalid_corpus_fix_what_they_say() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/data/invalid"))
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .collect();
    files.sort();
    let mut applied = Vec::new();
    for path in files {
        let rel = path.strip_prefix(root).expect("inside").to_path_buf();
        let display = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&path).expect("read");
        let loaded = qdx::load::load(&qdx::world::DiskWorld, &rel, &display);
        let checked = qdx::validate::validate(&loaded, &qdx::world::DiskWorld);
        for d in checked.diagnostics.iter() {
            let Some(fix) = &d.fix else { continue };
            if fix.span.file() != loaded.entry {
                continue;
            }
            let range = fix.span.range().expect("a place");
            let mut fixed = text.clone();
            fixed.replace_range(range.clone(), &fix.replacement);
            let open =
                std::collections::BTreeMap::from([(qdx::world::normalize(&rel), fixed.clone())]);
            let world = qdx::lsp::analysis::Overlay { open: &open };
            let again = qdx::validate::validate(&qdx::load::load(&world, &rel, &display), &world);
            let at = d.primary_span().and_then(|s| s.range()).map(|r| r.start);
            assert!(
                !again
                    .diagnostics
                    .iter()
                    .any(|x| x.code.starts_with("qdx::syntax::")),
                "{display}: the fix of {} leaves a syntax error",
                d.code
            );
            assert!(
                !again.diagnostics.iter().any(|x| x.code == d.code
                    && x.primary_span().and_then(|s| s.range()).map(|r| r.start) == at),
                "{display}: the fix `{}` of {} does not remove it",
                fix.replacement,
                d.code
            );
            applied.push(format!(
                "{display}: {} `{}` -> `{}`",
                d.code, &text[range], fix.replacement
            ));
        }
    }
    insta::assert_snapshot!("lsp_corpus_fixes", applied.join("\n"));
}

/// A reactor the planner cannot give a meaning to (a split, a valve whose ways join again, a
/// second line beside the measured one) is an error in the editor too, located on the
/// connection that makes it so.
#[test]
fn the_editor_shows_topologies_the_planner_cannot_run() {
    let mut c = Client::start();
    c.result(
        "initialize",
        json!({
            "processId": null,
            "rootUri": c.root_uri,
            "capabilities": {},
            "initializationOptions": { "debounceMs": 20 },
        }),
    );
    c.notify("initialized", json!({}));
    for (file, code, line, text) in [
        (
            "split_flow.qdx",
            "qdx::validate::split_flow",
            29,
            "p_cd, p_se -> m1 -> r1, r2",
        ),
        (
            "valve_rejoin.qdx",
            "qdx::validate::valve_rejoin",
            31,
            "v1.a -> r1 -> s1",
        ),
        (
            "two_lines.qdx",
            "qdx::validate::unmeasured_line",
            33,
            "p_se -> r2 -> s2",
        ),
    ] {
        let source = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/invalid")
                .join(file),
        )
        .expect("test file");
        assert!(
            source
                .lines()
                .nth(line)
                .is_some_and(|l| l.trim().starts_with(text)),
            "{file}: line {line}"
        );
        let uri = c.uri(file);
        c.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "qdx", "version": 1, "text": source } }),
        );
        let diagnostics = c.diagnostics(&uri, 1);
        let list = diagnostics.as_array().expect("list");
        assert_eq!(list.len(), 1, "{file}: {diagnostics}");
        assert_eq!(list[0]["code"], code, "{file}: {diagnostics}");
        assert_eq!(list[0]["severity"], 1, "{file}: an error");
        assert_eq!(
            list[0]["range"]["start"]["line"], line,
            "{file}: located on the connection: {diagnostics}"
        );
    }
}
