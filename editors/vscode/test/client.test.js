// The client (src/extension.js) without VS Code: the `vscode` module and the language client
// are stand-ins that record what the extension asks of them, so the test sees the command that
// would start the server (`qdx lsp` over stdio), which documents it covers, and what happens
// when the binary is missing.

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const Module = require('node:module');
const path = require('node:path');

/** Loads src/extension.js against stand-ins; returns it and what they recorded. */
function loadExtension({ settings = {}, folder = '/work/campaigns', startFails = false } = {}) {
  const recorded = { clients: [], commands: {}, errors: [], configListeners: [] };
  const vscode = {
    workspace: {
      getConfiguration: (section) => {
        assert.equal(section, 'qdx');
        return { get: (key, fallback) => (key in settings ? settings[key] : fallback) };
      },
      workspaceFolders: folder ? [{ uri: { fsPath: folder } }] : undefined,
      createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
      onDidChangeConfiguration: (listener) => {
        recorded.configListeners.push(listener);
        return { dispose() {} };
      },
    },
    window: {
      createOutputChannel: (name) => ({ name, dispose() {} }),
      showErrorMessage: (message) => recorded.errors.push(message),
    },
    commands: {
      registerCommand: (name, callback) => {
        recorded.commands[name] = callback;
        return { dispose() {} };
      },
    },
  };
  class LanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      Object.assign(this, { id, name, serverOptions, clientOptions, running: false });
      recorded.clients.push(this);
    }
    async start() {
      if (startFails) throw new Error('spawn qdx ENOENT');
      this.running = true;
    }
    async stop() {
      this.running = false;
    }
  }
  const languageClient = { LanguageClient, TransportKind: { stdio: 0, ipc: 1 } };
  const extensionPath = require.resolve('../src/extension.js');
  delete require.cache[extensionPath];
  const originalLoad = Module._load;
  Module._load = function load(request, ...rest) {
    if (request === 'vscode') return vscode;
    if (request === 'vscode-languageclient/node') return languageClient;
    return originalLoad.call(this, request, ...rest);
  };
  try {
    return { extension: require(extensionPath), recorded };
  } finally {
    Module._load = originalLoad;
  }
}

const context = () => ({ subscriptions: [] });

test('the client starts `qdx lsp` over stdio for qdx documents', async () => {
  const { extension, recorded } = loadExtension();
  await extension.activate(context());
  assert.equal(recorded.clients.length, 1);
  const client = recorded.clients[0];
  assert.equal(client.id, 'qdx');
  assert.ok(client.running);
  assert.equal(client.serverOptions.run.command, 'qdx');
  assert.deepEqual(client.serverOptions.run.args, ['lsp']);
  assert.equal(client.serverOptions.run.transport, 0);
  assert.equal(client.serverOptions.run.options.cwd, '/work/campaigns');
  assert.deepEqual(client.serverOptions.debug, client.serverOptions.run);
  assert.deepEqual(client.clientOptions.documentSelector, [
    { scheme: 'file', language: 'qdx' },
    { scheme: 'untitled', language: 'qdx' },
  ]);
  assert.equal(client.clientOptions.synchronize.fileEvents.glob, '**/*.qdx');
  assert.deepEqual(recorded.errors, []);
});

test('qdx.path names the binary; a relative one is taken from the workspace folder', async () => {
  const { extension, recorded } = loadExtension({
    settings: { path: './target/debug/qdx', 'server.extraArgs': ['--verbose'] },
  });
  await extension.activate(context());
  const run = recorded.clients[0].serverOptions.run;
  assert.equal(run.command, path.resolve('/work/campaigns', './target/debug/qdx'));
  assert.deepEqual(run.args, ['lsp', '--verbose']);

  const absolute = extension.serverCommand({ get: (k, d) => (k === 'path' ? '/opt/qdx/bin/qdx' : d) }, '/w');
  assert.deepEqual(absolute, { command: '/opt/qdx/bin/qdx', args: ['lsp'] });
  const blank = extension.serverCommand({ get: (k, d) => (k === 'path' ? '  ' : d) }, undefined);
  assert.equal(blank.command, 'qdx');
});

test('a missing binary is reported, and the restart command starts a new client', async () => {
  const { extension, recorded } = loadExtension({ startFails: true });
  await extension.activate(context());
  assert.equal(recorded.errors.length, 1);
  assert.match(recorded.errors[0], /qdx lsp/);
  assert.match(recorded.errors[0], /qdx\.path/);
  assert.ok(recorded.commands['qdx.restartServer']);
  await recorded.commands['qdx.restartServer']();
  assert.equal(recorded.clients.length, 2);
  // A change of qdx.path restarts the server too; other settings do not.
  await recorded.configListeners[0]({ affectsConfiguration: (s) => s === 'editor.tabSize' });
  assert.equal(recorded.clients.length, 2);
  await recorded.configListeners[0]({ affectsConfiguration: (s) => s === 'qdx.path' });
  assert.equal(recorded.clients.length, 3);
  await extension.deactivate();
});

test('the manifest contributes the language, the grammar and the settings the client reads', () => {
  const manifest = require('../package.json');
  const language = manifest.contributes.languages[0];
  assert.equal(language.id, 'qdx');
  assert.deepEqual(language.extensions, ['.qdx']);
  assert.ok(manifest.activationEvents.includes('onLanguage:qdx'));
  const properties = manifest.contributes.configuration.properties;
  for (const key of ['qdx.path', 'qdx.server.extraArgs', 'qdx.trace.server']) {
    assert.ok(properties[key], `setting ${key}`);
  }
  assert.equal(properties['qdx.path'].default, 'qdx');
  assert.ok(manifest.contributes.commands.some((c) => c.command === 'qdx.restartServer'));
  assert.ok(manifest.dependencies['vscode-languageclient']);
});
