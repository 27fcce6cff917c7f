/**
 * certs renew --expiring-within DURATION: for a timer. Only what ends inside
 * the window is renewed (with names, only those of them), CAs never; outside
 * it nothing changes and the exit is 0; a window that is not a positive
 * duration is an error that changes nothing.
 */
import test from 'ava';
import path from 'node:path';
import { NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const changed = (a: Record<string, string>, b: Record<string, string>) => Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k] && !k.startsWith('kubepki-backups')).sort();
const enddate = async (file: string) => new Date((await openssl(['x509', '-in', file, '-noout', '-enddate'])).stdout.trim().replace('notAfter=', ''));

test('nothing inside the window: "nothing to renew", exit 0, nothing written', async (t) => {
  const root = scratch(t);
  const args = ['--cert-dir', path.join(root, 'pki'), '--kubeconfig-dir', root, '--flags-dir', path.join(root, 'flags'), ...NODE, '--encryption-algorithm', 'ECDSA-P256'];
  t.is((await kubepki(['init', ...args])).exitCode, 0);
  const before = snapshot(root);
  const r = await kubepki(['certs', 'renew', '--expiring-within', '30d', ...args]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^Nothing to renew: nothing expires within 30d\.$/m);
  t.deepEqual(snapshot(root), before);
});

test('only what ends inside the window is renewed, CAs never; with names, only those of them; and only their readers are named for restart', async (t) => {
  const root = scratch(t);
  const pki = path.join(root, 'pki');
  const args = ['--cert-dir', pki, '--kubeconfig-dir', root, '--flags-dir', path.join(root, 'flags'), ...NODE, '--encryption-algorithm', 'ECDSA-P256'];
  // Leaves for 10 days; then apiserver and etcd-server renewed for a year: outside a 30-day window.
  t.is((await kubepki(['init', ...args, '--certificate-validity', '240h'])).exitCode, 0);
  t.is((await kubepki(['certs', 'renew', 'apiserver', 'etcd-server', ...args])).exitCode, 0);
  const before = snapshot(root);

  const named = await kubepki(['certs', 'renew', 'apiserver', 'front-proxy-client', '--expiring-within', '30d', ...args]);
  t.is(named.exitCode, 0, named.stderr);
  t.regex(named.stdout, /^\[renew\] apiserver: valid until \S+, after the window; left as it is$/m);
  t.regex(named.stdout, /^\[renew\] certificate for the front proxy client renewed \(front-proxy-client, /m);
  t.deepEqual(changed(before, snapshot(root)), ['pki/front-proxy-client.crt', 'pki/front-proxy-client.key']);
  t.regex(named.stdout, /You must restart kube-apiserver so that/);

  const mid = snapshot(root);
  const r = await kubepki(['certs', 'renew', '--expiring-within', '30d', ...args]);
  t.is(r.exitCode, 0, r.stderr);
  const files = changed(mid, snapshot(root));
  for (const f of ['pki/apiserver-kubelet-client.crt', 'pki/etcd/peer.crt', 'pki/etcd/healthcheck-client.crt', 'pki/apiserver-etcd-client.crt', 'pki/kubelet-server.crt', 'admin.conf', 'scheduler.conf']) t.true(files.includes(f), `${f} renewed`);
  for (const f of ['pki/apiserver.crt', 'pki/etcd/server.crt', 'pki/front-proxy-client.crt', 'pki/ca.crt', 'pki/ca.key', 'pki/etcd/ca.crt', 'pki/front-proxy-ca.crt', 'pki/sa.key']) t.false(files.includes(f), `${f} left as it is`);
  t.true((await enddate(path.join(pki, 'etcd/peer.crt'))).getTime() > Date.now() + 300 * 86_400_000, 'renewed for the configured validity');
  const again = await kubepki(['certs', 'renew', '--expiring-within', '30d', ...args]);
  t.regex(again.stdout, /^Nothing to renew: nothing expires within 30d\.$/m);
});

test('a window of 0, a negative one, or no names and no window: exit 2, nothing changed', async (t) => {
  const root = scratch(t);
  const args = ['--cert-dir', path.join(root, 'pki'), ...NODE, '--encryption-algorithm', 'ECDSA-P256'];
  t.is((await kubepki(['init', ...args])).exitCode, 0);
  const before = snapshot(root);
  for (const w of ['0', '-1d', 'soon', '']) {
    const r = await kubepki(['certs', 'renew', `--expiring-within=${w}`, ...args]);
    t.is(r.exitCode, 2, `${w}: ${r.stderr}`);
    t.regex(r.stderr, /--expiring-within: ".*" is not a duration greater than zero \(e\.g\. 30d, 720h\)/, w);
  }
  const none = await kubepki(['certs', 'renew', ...args]);
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /name the certificates to renew \(or all\), or give --expiring-within DURATION/);
  t.deepEqual(snapshot(root), before);
});
