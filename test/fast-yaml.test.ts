/**
 * fast-yaml.ts reads kubeconfigs in their plain shape. The reference is the
 * yaml library: whatever the reader returns must deep-equal yaml's parse of
 * the same text, and what it does not recognise must be undefined (then the
 * yaml library reads it), never a different object, never an exception.
 * Inputs: kubeconfigs kubepki writes, kubectl's own output (kubectl config
 * view --raw, a real peer), hand-written variants, and random changes.
 */
import test from 'ava';
import fc from 'fast-check';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { readPlainYaml } from '../lib/kubeconfig/fast-yaml.js';
import { buildKubeconfig } from '../lib/kubeconfig/kubeconfig.js';

const CERT = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString();
const ours = buildKubeconfig({ clusterName: 'kubernetes', server: 'https://10.0.0.1:6443', caPem: CERT, user: 'system:node:w-0', credentials: { certPem: CERT, keyPem: CERT } });
const token = buildKubeconfig({ clusterName: 'kubernetes', server: 'https://[fd00::1]:6443', caPem: CERT, user: 'tls-bootstrap-token-user', credentials: { token: 'abcdef.0123456789abcdef' } });

test('the kubeconfigs kubepki writes are read as the yaml library reads them', (t) => {
  for (const text of [ours, token]) {
    const got = readPlainYaml(text);
    t.truthy(got, text);
    t.deepEqual(got, parse(text));
  }
});

test('kubectl\'s own output (config view --raw, its dash style and preferences: {}) is read as the yaml library reads it', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-fast-yaml-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'k.conf');
  writeFileSync(file, ours);
  const extra = ['--kubeconfig', file];
  await execa('kubectl', ['config', 'set-cluster', 'other', '--server=https://lb.example.com:443', ...extra]);
  await execa('kubectl', ['config', 'set-context', 'other@other', '--cluster=other', '--user=system:node:w-0', '--namespace=kube-system', ...extra]);
  const view = (await execa('kubectl', ['config', 'view', '--raw', ...extra])).stdout;
  t.regex(view, /^- cluster:$/m, 'kubectl writes sequences at their key\'s indent');
  const got = readPlainYaml(view);
  t.truthy(got, view);
  t.deepEqual(got, parse(view));
});

const FALLBACK: [string, string][] = [
  ['a quoted scalar', 'current-context: "a b"\n'],
  ['a flow mapping', 'clusters: [{name: a}]\n'],
  ['a comment', '# hi\ncurrent-context: a\n'],
  ['a trailing comment', 'current-context: a # hi\n'],
  ['a number', 'current-context: 123\n'],
  ['a boolean', 'current-context: true\n'],
  ['a null', 'current-context: ~\n'],
  ['a key with nothing', 'current-context:\n'],
  ['an anchor', 'a: &x b\n'],
  ['a block scalar', 'a: |\n  b\n'],
  ['a continued plain scalar', 'a: b\n  c\n'],
  ['a duplicate key', 'a: b\na: c\n'],
  ['tabs', 'a:\tb\n'],
  ['a document marker', '---\na: b\n'],
  ['__proto__', '__proto__: x\n'],
  ['a colon-space inside', 'a: b: c\n'],
];
for (const [what, text] of FALLBACK) {
  test(`${what} is left to the yaml library`, (t) => {
    t.is(readPlainYaml(text), undefined);
  });
}

test('changed bytes: never an exception, and never an object other than the yaml library\'s', (t) => {
  const alphabet = [' ', '-', ':', '\n', 'a', '"', '#', '{', '}', '[', ']', '1', '  ', '- ', ': ', '~', '&', '|', '.'];
  let read = 0;
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...alphabet), fc.nat({ max: 3 })), { minLength: 1, maxLength: 4 }),
    (edits) => {
      let text = ours;
      for (const [at, s, del] of edits) {
        const i = at % text.length;
        text = text.slice(0, i) + s + text.slice(i + del);
      }
      const got = readPlainYaml(text);
      if (got === undefined) return;
      read++;
      let theirs: unknown;
      try {
        theirs = parse(text);
      } catch {
        t.fail(`read text the yaml library refuses:\n${text}`);
        return;
      }
      t.deepEqual(got, theirs, text);
    },
  ), { numRuns: 1000 });
  t.log(`${read} of 1000 changed kubeconfigs read directly, each as the yaml library reads it`);
});
