// Watch a tree with @parcel/watcher (inotify backend); one line per event.
// Prints "ready" on stderr once subscribe() has resolved, then
// "<type> <path>" on stdout. Stops on SIGINT or SIGTERM.
'use strict';
const watcher = require('@parcel/watcher');

async function main() {
  const root = process.argv[2];
  const sub = await watcher.subscribe(root, (err, events) => {
    if (err) {
      process.stdout.write(`error ${err.message}\n`);
      return;
    }
    let out = '';
    for (const e of events) out += `${e.type} ${e.path}\n`;
    process.stdout.write(out);
  }, { backend: 'inotify' });
  process.stderr.write('ready\n');
  const stop = async () => {
    await sub.unsubscribe();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`parcel_watch: ${e.stack || e}\n`);
  process.exit(1);
});
