// Minimal typing for the untyped `unbzip2-stream` package (a `through` stream).
declare module 'unbzip2-stream' {
  import type { Duplex } from 'node:stream';
  export default function unbzip2Stream(): Duplex & { queue(data: unknown): void };
}
