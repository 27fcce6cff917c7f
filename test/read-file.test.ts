/**
 * lib/read-file.ts: what kubepki reads is a regular file of at most 16 MiB,
 * checked on the open descriptor (never waiting on a FIFO or a device), and
 * read whole and exactly.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_READ_BYTES, UnreadableFileError, readFileBounded, sizeText } from '../lib/read-file.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-read-file-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('the limit is 16 MiB, and sizes read as a person writes them', (t) => {
  t.is(MAX_READ_BYTES, 16 * 1024 * 1024);
  t.deepEqual([0, 1023, 1024, 1536, 16 * 1024 * 1024, 1.5 * 1024 ** 3].map(sizeText), ['0 bytes', '1023 bytes', '1 KiB', '1.5 KiB', '16 MiB', '1.5 GiB']);
});

test('a file up to the limit is read exactly; one byte more is refused with its size, before any of it is read', (t) => {
  const small = path.join(dir, 'small');
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256));
  writeFileSync(small, bytes);
  t.deepEqual(readFileBounded(small), bytes);
  const edge = path.join(dir, 'edge');
  writeFileSync(edge, 'x');
  truncateSync(edge, MAX_READ_BYTES);
  t.is(readFileBounded(edge).length, MAX_READ_BYTES);
  truncateSync(edge, MAX_READ_BYTES + 1);
  const e = t.throws(() => readFileBounded(edge), { instanceOf: UnreadableFileError });
  t.deepEqual(e?.reason, { kind: 'too-big', size: MAX_READ_BYTES + 1 });
  t.is(e?.message, 'is more than 16 MiB; kubepki reads files of up to 16 MiB');
});

test('a FIFO, a device and a folder are refused as not regular files, at once', (t) => {
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const folder = path.join(dir, 'folder');
  mkdirSync(folder);
  for (const file of [fifo, '/dev/zero', folder]) {
    const e = t.throws(() => readFileBounded(file), { instanceOf: UnreadableFileError }, file);
    t.deepEqual(e?.reason, { kind: 'not-a-file' }, file);
  }
  // What does not exist is the system's error, as readFileSync gives it.
  t.throws(() => readFileBounded(path.join(dir, 'missing')), { code: 'ENOENT' });
});
