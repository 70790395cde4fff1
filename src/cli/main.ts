#!/usr/bin/env node
// Entry point of the `virnucpro` binary: everything else is in program.ts so tests can call it in-process.
import { main, reportError } from './program.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);
