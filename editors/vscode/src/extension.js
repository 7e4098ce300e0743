// The qdx extension for VS Code: the language (highlighting from syntaxes/qdx.tmLanguage.json,
// brackets and comments from language-configuration.json) and a client of `qdx lsp`, the
// language server of the qdx binary, spoken over stdio.
//
// Settings: `qdx.path` (the qdx binary; `qdx` on the PATH by default), `qdx.server.extraArgs`,
// and `qdx.trace.server` (the LSP traffic in the "qdx" output channel).

'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/**
 * The command that starts the server: `<qdx.path> lsp [extra args]`. A relative `qdx.path`
 * (`./target/debug/qdx`) is taken from the first workspace folder.
 * @param {{ get<T>(key: string, fallback?: T): T }} config the `qdx` section of the settings
 * @param {string | undefined} workspaceRoot
 */
function serverCommand(config, workspaceRoot) {
  let command = String(config.get('path', 'qdx') ?? '').trim() || 'qdx';
  if (workspaceRoot && (command.startsWith('./') || command.startsWith('../'))) {
    command = require('path').resolve(workspaceRoot, command);
  }
  const extra = config.get('server.extraArgs', []);
  const args = ['lsp', ...(Array.isArray(extra) ? extra.map(String) : [])];
  return { command, args };
}

/** The options of the language client: qdx files, on disk or unsaved. */
function clientOptions(outputChannel) {
  return {
    documentSelector: [
      { scheme: 'file', language: 'qdx' },
      { scheme: 'untitled', language: 'qdx' },
    ],
    synchronize: {
      // A `use "rig/common.qdx"` may change under an open campaign.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.qdx'),
    },
    outputChannel,
  };
}

async function start(context) {
  const config = vscode.workspace.getConfiguration('qdx');
  const folders = vscode.workspace.workspaceFolders;
  const root = folders && folders.length > 0 ? folders[0].uri.fsPath : undefined;
  const { command, args } = serverCommand(config, root);
  const run = { command, args, transport: TransportKind.stdio, options: { cwd: root } };
  const outputChannel = vscode.window.createOutputChannel('qdx');
  context.subscriptions.push(outputChannel);
  client = new LanguageClient(
    'qdx',
    'qdx language server',
    { run, debug: run },
    clientOptions(outputChannel),
  );
  try {
    await client.start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    vscode.window.showErrorMessage(
      `qdx: could not start \`${command} ${args.join(' ')}\` (${message}). ` +
        'Set `qdx.path` to the qdx binary.',
    );
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

/** @param {import('vscode').ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('qdx.restartServer', async () => {
      await stop();
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('qdx.path') || event.affectsConfiguration('qdx.server')) {
        await stop();
        await start(context);
      }
    }),
  );
  await start(context);
}

async function deactivate() {
  await stop();
}

module.exports = { activate, deactivate, serverCommand };
