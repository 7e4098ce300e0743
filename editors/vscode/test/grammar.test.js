// The TextMate grammar (syntaxes/qdx.tmLanguage.json) and the extension's manifest, tested with
// the engine VS Code itself uses (vscode-textmate, on the Oniguruma regex library compiled to
// WebAssembly that vscode-oniguruma ships): `node --test test/`, after `npm ci`.

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');
const repo = path.join(root, '..', '..');
const grammarPath = path.join(root, 'syntaxes', 'qdx.tmLanguage.json');

const onigLib = (async () => {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  return {
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (s) => new oniguruma.OnigString(s),
  };
})();

async function loadGrammar() {
  const registry = new vsctm.Registry({
    onigLib,
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.qdx') return null;
      return vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath);
    },
  });
  return registry.loadGrammar('source.qdx');
}

/** Every token of `text`: { line, text, scopes }. */
async function tokenize(text) {
  const grammar = await loadGrammar();
  let state = vsctm.INITIAL;
  const tokens = [];
  text.split('\n').forEach((line, i) => {
    const result = grammar.tokenizeLine(line, state);
    for (const t of result.tokens) {
      tokens.push({ line: i + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    state = result.ruleStack;
  });
  return tokens;
}

/** The scopes of the first token on `line` (1-based) whose text is `text`. */
function scopesOf(tokens, line, text) {
  const token = tokens.find((t) => t.line === line && t.text.trim() === text);
  assert.ok(token, `no token \`${text}\` on line ${line}`);
  return token.scopes;
}

function assertScope(tokens, line, text, scope) {
  const scopes = scopesOf(tokens, line, text);
  assert.ok(
    scopes.some((s) => s === scope || s.startsWith(`${scope}.`)),
    `line ${line}, \`${text}\`: expected ${scope}, got ${scopes.join(' ')}`,
  );
}

function assertNotScope(tokens, line, text, scope) {
  const scopes = scopesOf(tokens, line, text);
  assert.ok(
    !scopes.some((s) => s === scope || s.startsWith(`${scope}.`)),
    `line ${line}, \`${text}\`: did not expect ${scope}, got ${scopes.join(' ')}`,
  );
}

/** Every regular expression of the grammar, with where it is. */
function regexes(node, where, out) {
  if (Array.isArray(node)) {
    node.forEach((n, i) => regexes(n, `${where}[${i}]`, out));
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (['match', 'begin', 'end', 'while'].includes(key) && typeof value === 'string') {
        out.push({ where: `${where}.${key}`, source: value });
      } else {
        regexes(value, `${where}.${key}`, out);
      }
    }
  }
  return out;
}

test('the grammar is JSON with the scope the manifest names', () => {
  const grammar = JSON.parse(fs.readFileSync(grammarPath, 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(grammar.scopeName, 'source.qdx');
  const contributed = manifest.contributes.grammars[0];
  assert.equal(contributed.scopeName, grammar.scopeName);
  assert.equal(contributed.language, 'qdx');
  assert.ok(fs.existsSync(path.join(root, contributed.path)));
  assert.ok(fs.existsSync(path.join(root, manifest.contributes.languages[0].configuration)));
  assert.ok(fs.existsSync(path.join(root, manifest.main)));
  // Every `#name` include points into the repository.
  const includes = JSON.stringify(grammar).match(/"include":"#[^"]+"/g) || [];
  for (const include of includes) {
    const name = include.slice('"include":"#'.length, -1);
    assert.ok(grammar.repository[name], `include of a missing rule #${name}`);
  }
});

test('every regular expression of the grammar compiles in Oniguruma', async () => {
  await onigLib;
  const grammar = JSON.parse(fs.readFileSync(grammarPath, 'utf8'));
  const all = regexes(grammar, 'grammar', []);
  assert.ok(all.length > 30, `only ${all.length} regexes`);
  for (const { where, source } of all) {
    // An end pattern may refer to a begin capture (\1): Oniguruma compiles it all the same.
    assert.doesNotThrow(() => new oniguruma.OnigScanner([source]), `${where}: ${source}`);
  }
});

test('the language configuration is JSON with comments and brackets', () => {
  const config = JSON.parse(fs.readFileSync(path.join(root, 'language-configuration.json'), 'utf8'));
  assert.equal(config.comments.lineComment, '//');
  assert.deepEqual(config.comments.blockComment, ['/*', '*/']);
  assert.deepEqual(config.brackets, [['{', '}'], ['[', ']'], ['(', ')']]);
  for (const key of ['increaseIndentPattern', 'decreaseIndentPattern']) {
    assert.doesNotThrow(() => new RegExp(config.indentationRules[key]));
  }
  assert.doesNotThrow(() => new RegExp(config.wordPattern));
});

test('examples/cspbx3-orange.qdx: keywords, units, strings, numbers and comments', async () => {
  const text = fs.readFileSync(path.join(repo, 'examples', 'cspbx3-orange.qdx'), 'utf8');
  const tokens = await tokenize(text);
  const lineOf = (needle) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  // The header and the comments.
  assertScope(tokens, 1, 'qdx', 'keyword.other.directive');
  assertScope(tokens, 1, '1', 'constant.numeric');
  assertScope(tokens, 3, '// The "Artificial Chemist" campaign (Epps et al., Adv. Mater. 2020): in-flow halide exchange of', 'comment.line.double-slash');
  const share = lineOf('// share of iodide');
  assertScope(tokens, share, '// share of iodide in the halide feed', 'comment.line.double-slash');
  assertScope(tokens, share, 'ratio', 'variable.other');

  // Block and entry keywords.
  const campaign = lineOf('campaign "cspbx3');
  assertScope(tokens, campaign, 'campaign', 'keyword.other.block');
  assertScope(tokens, campaign, 'cspbx3-orange-600nm', 'string.quoted.double');
  assertScope(tokens, lineOf('  seed 42'), 'seed', 'keyword.other');
  assertScope(tokens, lineOf('  seed 42'), '42', 'constant.numeric');
  const budget = lineOf('budget {');
  assertScope(tokens, budget, 'budget', 'keyword.other');
  assertScope(tokens, budget, 'experiments', 'keyword.other');
  assertScope(tokens, budget, 'reagent', 'keyword.other');
  assertScope(tokens, budget, 'time', 'keyword.other');
  assertScope(tokens, budget, '40', 'constant.numeric');
  assertScope(tokens, budget, 'mL', 'keyword.other.unit');
  assertScope(tokens, budget, 'h', 'keyword.other.unit');
  assertScope(tokens, lineOf('use std.devices'), 'use', 'keyword.control.import');
  for (const block of ['stocks', 'reactor', 'variables', 'derive', 'constraints', 'proxies', 'objectives', 'optimizer', 'safety', 'simulate']) {
    assertScope(tokens, lineOf(`${block} `), block, 'keyword.other.block');
  }
  assertScope(tokens, lineOf('measure at s1'), 'measure', 'keyword.other.block');
  assertScope(tokens, lineOf('measure at s1'), 'at', 'keyword.other');

  // Units: compound, per minute, degrees; `log`, `for`, `within` never are.
  const pump = lineOf('pump p_seed');
  assertScope(tokens, pump, 'pump', 'storage.type.role');
  assertScope(tokens, pump, 'p_seed', 'variable.other.definition');
  assertScope(tokens, pump, 'syringe_pump', 'entity.name.type');
  assertScope(tokens, pump, '10', 'constant.numeric');
  assertScope(tokens, pump, 'mL/min', 'keyword.other.unit');
  const settle = lineOf('settle within');
  assertScope(tokens, settle, 'settle', 'keyword.other');
  assertScope(tokens, settle, 'degC', 'keyword.other.unit');
  assertScope(tokens, settle, 'for', 'keyword.other');
  assertNotScope(tokens, settle, 'for', 'keyword.other.unit');
  assertScope(tokens, settle, 's', 'keyword.other.unit');
  const stop = lineOf('stop when');
  assertScope(tokens, stop, 'nm', 'keyword.other.unit');
  assertScope(tokens, stop, 'and', 'keyword.operator.logical');
  assertNotScope(tokens, stop, 'and', 'keyword.other.unit');
  assertScope(tokens, stop, 'within', 'keyword.operator');

  // Expressions: calls, members, named arguments, operators.
  const plqy = lineOf('plqy = relative_plqy');
  assertScope(tokens, plqy, 'plqy', 'variable.other.definition');
  assertScope(tokens, plqy, 'relative_plqy', 'entity.name.function.call');
  assertScope(tokens, plqy, 'excitation', 'variable.parameter');
  assertScope(tokens, plqy, 'quinine_sulfate', 'variable.other.property');
  assertScope(tokens, lineOf('peak = photoluminescence'), 'peak_wavelength', 'entity.name.function.call');
  assertScope(tokens, lineOf('p_seed.rate >= 5'), '>=', 'keyword.operator.comparison');
  assertScope(tokens, lineOf('p_seed.rate >= 5'), 'uL/min', 'keyword.other.unit');
  assertScope(tokens, lineOf('-> h1'), '->', 'keyword.operator.arrow');
  assertScope(tokens, lineOf('-> h1'), '..', 'keyword.operator.range');
  assertScope(tokens, lineOf('score = script'), 'script', 'keyword.other');
  assertScope(tokens, lineOf('score = script'), 'proxies/score.rhai', 'string.quoted.double');
  assertScope(tokens, lineOf('on pump_stall'), 'on', 'keyword.other');
  assertScope(tokens, lineOf('on spectrometer_timeout'), 'retry', 'keyword.other');
  assertScope(tokens, lineOf('on spectrometer_timeout'), 'then', 'keyword.other');
  assertScope(tokens, lineOf('target peak'), 'target', 'keyword.other');
  assertScope(tokens, lineOf('target peak'), 'within', 'keyword.operator');

  // Nothing is left to the fallback but names, whitespace and punctuation.
  for (const t of tokens) {
    if (t.scopes.length === 1 && t.text.trim() !== '') {
      assert.match(t.text.trim(), /^[\s{}()[\],:.]*$/, `line ${t.line}: \`${t.text}\` has no scope`);
    }
  }
});

test('tricky lines: unit boundaries, raw strings, escapes, contextual keywords', async () => {
  const text = [
    'variables {',
    '  residence : time in 10 s .. 120 s log',
    '}',
    'parameters {',
    '  a = 10 mL/2',
    '  b = 2 kg*m/s^2 + 1.5e-3 m^2 + 3 s^-1 + 5 %',
    '}',
    'proxies {',
    '  ratio = script """',
    '    let a = peak / 600.0; // not a qdx comment',
    '"""',
    '  at = f(x, at: 365 nm)',
    '}',
    'campaign "a \\"b\\" c" { seed 1 }',
    '/* a block',
    '   comment */',
    'use std.devices',
  ].join('\n');
  const tokens = await tokenize(text);
  assertScope(tokens, 2, 'log', 'keyword.other');
  assertNotScope(tokens, 2, 'log', 'keyword.other.unit');
  assertScope(tokens, 2, '120', 'constant.numeric');
  assertScope(tokens, 5, 'mL', 'keyword.other.unit');
  assertScope(tokens, 5, '2', 'constant.numeric');
  assertScope(tokens, 6, 'kg*m/s^2', 'keyword.other.unit');
  assertScope(tokens, 6, 'm^2', 'keyword.other.unit');
  assertScope(tokens, 6, 's^-1', 'keyword.other.unit');
  assertScope(tokens, 6, '%', 'keyword.other.unit');
  assertScope(tokens, 6, '1.5e-3', 'constant.numeric');
  assertScope(tokens, 10, 'let a = peak / 600.0; // not a qdx comment', 'string.quoted.triple');
  assertNotScope(tokens, 10, 'let a = peak / 600.0; // not a qdx comment', 'comment');
  assertScope(tokens, 12, 'at', 'variable.other.definition');
  assertScope(tokens, 14, '\\"', 'constant.character.escape');
  assertScope(tokens, 15, '/*', 'comment.block');
  assertScope(tokens, 16, 'comment', 'comment.block');
  assertScope(tokens, 17, 'use', 'keyword.control.import');
  assertScope(tokens, 17, 'std.devices', 'entity.name.namespace');
});

test('every .qdx file of the repository tokenizes', async () => {
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (['target', 'node_modules', '.git'].includes(entry.name)) continue;
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.qdx')) files.push(p);
    }
  };
  walk(path.join(repo, 'examples'));
  walk(path.join(repo, 'tests', 'data'));
  walk(path.join(repo, 'stdlib'));
  assert.ok(files.length > 100, `only ${files.length} files`);
  for (const file of files) {
    const tokens = await tokenize(fs.readFileSync(file, 'utf8'));
    assert.ok(tokens.length > 0, file);
  }
});

test('a mapping goal: `map` and `until` are keywords, the level a quantity', async () => {
  const tokens = await tokenize(['objectives {', '  map peak until sd <= 2 nm', '}'].join('\n'));
  assertScope(tokens, 2, 'map', 'keyword.other');
  assertScope(tokens, 2, 'until', 'keyword.other');
  assertScope(tokens, 2, 'nm', 'keyword.other.unit');
  assertNotScope(tokens, 2, 'peak', 'keyword.other');
});

test('a match over a choice: `match` and `=>` are keywords, the levels strings', async () => {
  const tokens = await tokenize(
    ['derive {', '  p_lig.rate = match ligand { "OAm" => 10 uL/min, "OA" => 2 * base }', '  x = match + 1', '}'].join('\n'),
  );
  assertScope(tokens, 2, 'match', 'keyword.control.match');
  assertScope(tokens, 2, '=>', 'keyword.operator.arrow');
  assertScope(tokens, 2, 'OAm', 'string.quoted.double');
  assertScope(tokens, 2, 'uL/min', 'keyword.other.unit');
  assertNotScope(tokens, 2, 'ligand', 'keyword');
  // Not followed by a name and `{`, `match` is a name.
  assertNotScope(tokens, 3, 'match', 'keyword.control');
});
