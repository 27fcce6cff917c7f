/**
 * All or nothing: a run that fails, or is killed, at any point of its writes
 * leaves the cert dir as it was (a killed commit is rolled back by the next run).
 */
import test from 'ava';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const init = (dir: string, env: Record<string, string> = {}) => kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG], { env });

/** A PKI with its CAs and some leaves, missing others: a re-run has files to add. */
async function partialPki(t: import('ava').ExecutionContext): Promise<string> {
  const dir = path.join(scratch(t), 'pki');
  t.is((await init(dir)).exitCode, 0);
  for (const f of ['apiserver.crt', 'apiserver.key', 'etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key', 'front-proxy-client.crt', 'front-proxy-client.key']) {
    rmSync(path.join(dir, f));
  }
  rmSync(path.join(dir, 'etcd/healthcheck-client.crt'));
  rmSync(path.join(dir, 'etcd/healthcheck-client.key'));
  return dir;
}

const noStaging = (parent: string) => readdirSync(parent).filter((n) => n.startsWith('.kubepki-txn-'));

for (const n of [1, 7, 20]) {
  test(`a failure after ${n} file(s) staged in a new cert dir leaves no cert dir and no staging folder`, async (t) => {
    const parent = scratch(t);
    const dir = path.join(parent, 'pki');
    const run = await init(dir, { KUBEPKI_FAULT: `stage:${n}` });
    t.not(run.exitCode, 0);
    t.regex(run.stderr, /^kubepki: error: injected failure after \d+ file\(s\) staged/);
    t.false(existsSync(dir));
    t.deepEqual(noStaging(parent), []);
  });
}

for (const fault of ['stage:1', 'stage:5', 'commit:1', 'commit:4', 'commit:7']) {
  test(`a failure (${fault}) while adding files to an existing cert dir leaves it byte-for-byte unchanged`, async (t) => {
    const dir = await partialPki(t);
    const before = snapshot(dir);
    const run = await init(dir, { KUBEPKI_FAULT: fault });
    t.not(run.exitCode, 0);
    t.is(run.stderr.trim().split('\n').length, 1, run.stderr);
    t.deepEqual(snapshot(dir), before);
    t.deepEqual(noStaging(path.dirname(dir)), []);
    const again = await init(dir);
    t.is(again.exitCode, 0, again.stderr);
  });
}

test('a run killed while staging leaves an existing cert dir unchanged; the next run cleans up and completes', async (t) => {
  const dir = await partialPki(t);
  const before = snapshot(dir);
  const killed = await init(dir, { KUBEPKI_FAULT: 'kill-stage:3' });
  t.is(killed.exitCode, -1, 'killed by SIGKILL');
  t.deepEqual(snapshot(dir), before);
  const again = await init(dir);
  t.is(again.exitCode, 0, again.stderr);
  t.deepEqual(noStaging(path.dirname(dir)), []);
});

test('a run killed while staging a new cert dir leaves no cert dir', async (t) => {
  const parent = scratch(t);
  const dir = path.join(parent, 'pki');
  const killed = await init(dir, { KUBEPKI_FAULT: 'kill-stage:9' });
  t.is(killed.exitCode, -1);
  t.false(existsSync(dir));
});

for (const n of [1, 3, 8]) {
  test(`a run killed after committing ${n} file(s) is rolled back by the next run, which then completes`, async (t) => {
    const dir = await partialPki(t);
    const before = snapshot(dir);
    const killed = await init(dir, { KUBEPKI_FAULT: `kill-commit:${n}` });
    t.is(killed.exitCode, -1);
    t.notDeepEqual(snapshot(dir), before, 'the kill came mid-commit');
    // A dry run reads but does not repair.
    const halfDone = snapshot(dir);
    await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG, '--dry-run']);
    t.deepEqual(snapshot(dir), halfDone);
    const again = await init(dir);
    t.is(again.exitCode, 0, again.stderr);
    t.regex(again.stderr, /rolled back the unfinished writes of an interrupted run \(pid \d+\)/);
    t.deepEqual(noStaging(path.dirname(dir)), []);
    for (const leaf of ['apiserver', 'front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client']) {
      const ca = leaf.startsWith('etcd/') ? 'etcd/ca.crt' : leaf.startsWith('front-proxy') ? 'front-proxy-ca.crt' : 'ca.crt';
      const v = await openssl(['verify', '-CAfile', path.join(dir, ca), path.join(dir, `${leaf}.crt`)]);
      t.is(v.exitCode, 0, `${leaf}: ${v.stderr}`);
    }
    const third = await init(dir);
    t.regex(third.stdout, /Using the existing "apiserver" certificate and key/);
  });
}

test('init of a new cert dir alone, killed right after the rename that puts it in place: the rename was the commit, so the dir is whole and stays', async (t) => {
  // One new directory, built whole: its rename(2) is the commit point, and the run writes no journal (transaction.ts).
  const parent = scratch(t);
  const dir = path.join(parent, 'pki');
  const only = ['--skip-phases', 'kubeconfig,flags'];
  const killed = await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG, ...only], { env: { KUBEPKI_FAULT: 'kill-commit:1' } });
  t.is(killed.exitCode, -1, 'killed by SIGKILL');
  t.is(noStaging(parent).length, 1, 'the killed run left its staging folder');
  const whole = snapshot(dir);
  t.is(Object.keys(whole).filter((f) => /\.(crt|key|pub)$/.test(f)).length, 24, '11 certificates and keys, and sa');
  for (const [ca, leaf] of [['ca', 'apiserver'], ['etcd/ca', 'etcd/peer'], ['front-proxy-ca', 'front-proxy-client']]) {
    t.is((await openssl(['verify', '-CAfile', path.join(dir, `${ca}.crt`), path.join(dir, `${leaf}.crt`)])).exitCode, 0, leaf);
  }
  const again = await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG, ...only]);
  t.is(again.exitCode, 0, again.stderr);
  t.notRegex(again.stderr, /rolled back/);
  t.deepEqual(noStaging(parent), [], 'the next run removed the staging folder');
  t.deepEqual(snapshot(dir), whole, 'and changed nothing');
  t.regex(again.stdout, /Using the existing "apiserver" certificate and key/);
});

test('init of a new PKI in three directories, killed after the first is put in place, is rolled back by the next run, which then completes', async (t) => {
  const parent = scratch(t);
  const dir = path.join(parent, 'pki');
  const killed = await init(dir, { KUBEPKI_FAULT: 'kill-commit:1' });
  t.is(killed.exitCode, -1);
  const again = await init(dir);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stderr, /rolled back the unfinished writes of an interrupted run \(pid \d+\)/);
  t.regex(again.stdout, /\[certs\] Generating "ca" certificate and key/, 'nothing of the killed run stayed');
  t.deepEqual(noStaging(parent), []);
  t.deepEqual(noStaging(dir), []);
});

test('certificates and kubeconfigs in one new folder, the flags inside it: written whole, as one new directory', async (t) => {
  // The flags dir lies inside the new cert dir: its files are staged in that dir's tree, which one rename(2) puts in place.
  const parent = scratch(t);
  const dir = path.join(parent, 'cluster');
  const args = ['init', '--cert-dir', dir, '--kubeconfig-dir', dir, '--flags-dir', path.join(dir, 'flags'), ...NODE, ...ALG];
  const run = await kubepki(args);
  t.is(run.exitCode, 0, run.stderr);
  for (const f of ['ca.key', 'etcd/peer.crt', 'admin.conf', 'kubelet.conf', 'flags/kube-apiserver.flags']) t.true(existsSync(path.join(dir, f)), f);
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'apiserver.crt')])).exitCode, 0);
  t.deepEqual(noStaging(parent), []);
  const again = await kubepki(args);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stdout, /Using the existing "apiserver" certificate and key/);
  // Killed right after that rename: the directory is whole, and the next run keeps it.
  const other = path.join(parent, 'killed');
  const killedArgs = ['init', '--cert-dir', other, '--kubeconfig-dir', other, '--flags-dir', path.join(other, 'flags'), ...NODE, ...ALG];
  t.is((await kubepki(killedArgs, { env: { KUBEPKI_FAULT: 'kill-commit:1' } })).exitCode, -1);
  const whole = snapshot(other);
  t.true(existsSync(path.join(other, 'flags/kube-apiserver.flags')));
  t.is((await kubepki(killedArgs)).exitCode, 0);
  t.deepEqual(snapshot(other), whole);
  t.deepEqual(noStaging(parent), []);
});
