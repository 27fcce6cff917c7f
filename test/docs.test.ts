/**
 * The documentation is generated from the catalog and must be current: the
 * README's certificate table and docs/catalog.md are what
 * scripts/gen-docs.mjs makes from lib/pki/catalog.ts, and help text shows the
 * defaults of the field table.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { catalogMarkdown, readmeCertificateTable, withReadmeTable } from '../lib/docs/tables.js';
import { REPO, kubepki } from './helpers/cli.js';

test('the README\'s certificate table is the one the catalog gives (run scripts/gen-docs.mjs when this fails)', (t) => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  t.is(withReadmeTable(readme), readme);
  t.true(readme.includes(readmeCertificateTable()));
});

test('docs/catalog.md is the one the catalog gives (run scripts/gen-docs.mjs when this fails)', (t) => {
  t.is(readFileSync(path.join(REPO, 'docs/catalog.md'), 'utf8'), catalogMarkdown());
});

test('the README table names every certificate init writes, kubelet-server included, with kubeadm\'s subjects', (t) => {
  const table = readmeCertificateTable();
  // Literal rows: a catalog change that drops or renames one shows here.
  for (const row of [
    '| ca | ca.crt, .key | self | CN=kubernetes |',
    '| apiserver-kubelet-client | apiserver-kubelet-client.crt, .key | ca | O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client |',
    '| kubelet-server | kubelet-server.crt, .key | ca | O=system:nodes, CN=system:node:&lt;node name&gt; |',
    '| etcd-server | etcd/server.crt, .key | etcd-ca | CN=&lt;node name&gt; |',
    '| sa | sa.key, sa.pub | – | (key pair) |',
  ]) t.true(table.split('\n').includes(row), row);
  t.is(table.split('\n').length, 2 + 12, 'a header, a rule, 11 certificates and sa');
});

test('scripts/gen-docs.mjs --check passes on the checkout', (t) => {
  t.notThrows(() => execFileSync(process.execPath, [path.join(REPO, 'scripts/gen-docs.mjs'), '--check'], { stdio: 'pipe' }));
});

test('help shows the defaults of the field table, and where the catalog puts files', async (t) => {
  // Help wraps to the terminal's width: compare with white space folded.
  const help = async (...args: string[]) => (await kubepki([...args, '--help'])).stdout.replace(/\s+/g, ' ');
  const init = await help('init');
  t.regex(init, /--cert-dir Where certificates and keys live \[default: \/etc\/kubernetes\/pki\]/);
  t.regex(init, /--certificate-validity Validity of leaf certificates \[default: 8760h\]/);
  t.regex(await help('nodes', 'issue'), /\[default: <kubeconfig-dir>\/nodes\]/);
  t.regex(await help('certs', 'renew'), /apiserver, apiserver-kubelet-client, kubelet-server, front-proxy-client, etcd-server, etcd-peer, etcd-healthcheck-client, apiserver-etcd-client, admin\.conf, super-admin\.conf, kubelet\.conf, controller-manager\.conf, scheduler\.conf, or all/);
});
