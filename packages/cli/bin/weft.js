#!/usr/bin/env node
// The bin stays plain JavaScript so npm can link it before `tsc -b` has produced dist/.
import { main } from '../dist/main.js';

main(process.argv).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
    // A library handle left open must not keep a finished command alive.
    setTimeout(() => process.exit(), 2000).unref();
  },
  (err) => {
    process.stderr.write(`weft: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
