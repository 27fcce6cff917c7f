/**
 * Reading a file kubepki was pointed at, bounded: certificates, keys,
 * kubeconfigs, flag files and cluster descriptions are kilobytes, so a file
 * past MAX_READ_BYTES is not what belongs there (a log, an image, a disk),
 * and reading it whole would take the node's memory (a 1.5 GB
 * "apiserver.crt" took 1.6 GB and 10 s to be refused by V8's string limit).
 * The file is opened without blocking and checked on its descriptor, so a
 * FIFO or a device put in a file's place is refused rather than waited on,
 * and a file that grows after the check is still read to its checked size.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** 16 MiB: a thousand-node inventory is ~100 KB, a CA bundle of every public root ~200 KB. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

/** What a file is, when it cannot be read as one: too big, or not a regular file at all. */
export class UnreadableFileError extends Error {
  constructor(readonly reason: { kind: 'too-big'; size: number } | { kind: 'not-a-file' }) {
    super(reason.kind === 'too-big' ? `${sizeOf(reason.size)}; kubepki reads files of up to ${sizeText(MAX_READ_BYTES)}` : 'is not a regular file');
  }
}

/** 1536 → "1.5 KiB"; 16777216 → "16 MiB". */
export function sizeText(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} bytes` : `${Math.round(v * 10) / 10} ${units[u]}`;
}

/** "is 17 MiB", or "is more than 16 MiB" for a size that would read as the limit itself. */
export const sizeOf = (bytes: number): string => (sizeText(bytes) === sizeText(MAX_READ_BYTES) ? `is more than ${sizeText(MAX_READ_BYTES)}` : `is ${sizeText(bytes)}`);

/** The bytes of a regular file of at most MAX_READ_BYTES; UnreadableFileError otherwise, and system errors as they are. */
export function readFileBounded(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnreadableFileError({ kind: 'not-a-file' });
    if (st.size > MAX_READ_BYTES) throw new UnreadableFileError({ kind: 'too-big', size: st.size });
    const out = Buffer.alloc(st.size);
    let at = 0;
    while (at < out.length) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0) break; // shrank meanwhile
      at += n;
    }
    return at === out.length ? out : out.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}
