// Watch a tree with chokidar (fs.watch, no polling); one line per event.
// Prints "ready" on stderr on chokidar's 'ready' event, then
// "<event> <path>" on stdout. Stops on SIGINT or SIGTERM.
'use strict';
const chokidar = require('chokidar');

const root = process.argv[2];
const w = chokidar.watch(root, { ignoreInitial: true, persistent: true });
w.on('all', (ev, p) => process.stdout.write(`${ev} ${p}\n`));
w.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
w.on('ready', () => process.stderr.write('ready\n'));
const stop = async () => {
  await w.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
