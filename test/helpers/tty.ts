import { EventEmitter } from 'node:events';

export type FakeTty = NodeJS.WriteStream & { writes: number; bytes: number };

/** A 120×40 terminal that swallows output, counting writes and bytes (for the UI's tests and overhead bench). */
export function fakeTty(): FakeTty {
  const s = Object.assign(new EventEmitter(), {
    columns: 120,
    rows: 40,
    isTTY: true,
    writes: 0,
    bytes: 0,
    write(chunk: string) {
      s.writes++;
      s.bytes += chunk.length;
      return true;
    },
  });
  return s as unknown as FakeTty;
}
