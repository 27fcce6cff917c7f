/**
 * What init hands each component: kubeconfigs, flag files, the kubelet's
 * configuration, systemd units. Every file a flag names exists, every cert/key
 * pair a component is given matches, kubeconfigs read by kubectl carry
 * kubeadm's identities, units pass systemd-analyze.
 */
import test from 'ava';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { CERTIFICATES, COMPONENTS, KUBECONFIGS, certPath, keyPath } from '../lib/pki/catalog.js';
import { BIN, NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const ENDPOINT = ['--control-plane-endpoint', 'k8s.example.com:443'];

async function cluster(t: import('ava').ExecutionContext) {
  const root = scratch(t);
  const dirs = { certs: path.join(root, 'pki'), kubeconfigs: root, flags: path.join(root, 'flags') };
  const run = await kubepki(['init', '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
  t.is(run.exitCode, 0, run.stderr);
  return { root, dirs };
}

/** `--flag=value` lines of a flags file. */
function readFlags(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const eq = line.indexOf('=');
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

const pubkey = async (file: string, isCert: boolean) =>
  (await openssl(isCert ? ['x509', '-in', file, '-noout', '-pubkey'] : ['pkey', '-in', file, '-pubout'])).stdout;

test('every file an emitted flag or kubelet setting names exists, and every cert/key pair given to a component matches', async (t) => {
  const { dirs } = await cluster(t);
  let checkedPairs = 0;
  let checkedFiles = 0;
  for (const component of COMPONENTS) {
    const flags = readFlags(path.join(dirs.flags, `${component}.flags`));
    for (const [flag, value] of flags) {
      // Written by `kubepki kubeconfig bootstrap` for joining nodes, not by init (test/bootstrap.test.ts).
      if (component === 'kubelet' && flag === '--bootstrap-kubeconfig') continue;
      // Written by the API server; its folder is made by the unit (test/units below).
      if (flag === '--audit-log-path') continue;
      if (value.startsWith('/')) {
        t.true(existsSync(value), `${component} ${flag}=${value} exists`);
        checkedFiles++;
      }
    }
    // The env file carries exactly the same flags.
    const env = readFileSync(path.join(dirs.flags, `${component}.env`), 'utf8');
    const m = /^([A-Z_]+)="(.*)"$/m.exec(env);
    t.is(m?.[1], `${component.toUpperCase().replace(/-/g, '_')}_ARGS`);
    t.deepEqual(m?.[2]?.split(' '), [...flags].map(([k, v]) => `${k}=${v}`));
    // Pairs: for each catalog certificate this component takes both files of, as given by the flags.
    for (const entry of CERTIFICATES) {
      const cert = entry.consumers.find((c) => c.component === component && c.file === 'cert' && c.flag);
      const key = entry.consumers.find((c) => c.component === component && c.file === 'key' && c.flag);
      if (!cert || !key) continue;
      const certFile = flags.get(cert.flag!)!;
      const keyFile = flags.get(key.flag!)!;
      if (!certFile || !keyFile) continue; // external-CA signing flags are empty
      t.is(await pubkey(certFile, true), await pubkey(keyFile, false), `${component} ${cert.flag} / ${key.flag}`);
      checkedPairs++;
    }
  }
  const kubelet = parse(readFileSync(path.join(dirs.flags, 'kubelet-config.yaml'), 'utf8')) as Record<string, any>;
  t.is(readFlags(path.join(dirs.flags, 'kubelet.flags')).get('--config'), path.join(dirs.flags, 'kubelet-config.yaml'));
  t.true(existsSync(kubelet.authentication.x509.clientCAFile));
  t.is(await pubkey(kubelet.tlsCertFile, true), await pubkey(kubelet.tlsPrivateKeyFile, false));
  t.is((await openssl(['verify', '-CAfile', kubelet.authentication.x509.clientCAFile, kubelet.tlsCertFile])).exitCode, 0, 'kubelet serving cert is signed by the cluster CA');
  t.is(kubelet.authentication.anonymous.enabled, false);
  t.is(kubelet.authorization.mode, 'Webhook');
  t.is(kubelet.readOnlyPort, 0);
  t.true(checkedPairs >= 7, `checked ${checkedPairs} pairs`);
  t.true(checkedFiles >= 25, `checked ${checkedFiles} files`);
});

test('the API server verifies kubelets and is hardened by default', async (t) => {
  const { dirs } = await cluster(t);
  const api = readFlags(path.join(dirs.flags, 'kube-apiserver.flags'));
  t.is(api.get('--kubelet-certificate-authority'), path.join(dirs.certs, 'ca.crt'));
  t.is(api.get('--anonymous-auth'), 'false');
  t.is(api.get('--authorization-mode'), 'Node,RBAC');
  t.is(api.get('--tls-min-version'), 'VersionTLS12');
  t.is(api.get('--requestheader-allowed-names'), 'front-proxy-client');
  t.regex(api.get('--etcd-servers') ?? '', /^https:\/\//);
  const etcd = readFlags(path.join(dirs.flags, 'etcd.flags'));
  t.is(etcd.get('--client-cert-auth'), 'true');
  t.is(etcd.get('--peer-client-cert-auth'), 'true');
  for (const url of ['--listen-client-urls', '--advertise-client-urls', '--listen-peer-urls', '--initial-advertise-peer-urls']) {
    for (const u of (etcd.get(url) ?? '').split(',')) t.regex(u, /^https:\/\//, `${url} ${u}`);
  }
  const kcm = readFlags(path.join(dirs.flags, 'kube-controller-manager.flags'));
  t.is(kcm.get('--cluster-signing-key-file'), path.join(dirs.certs, 'ca.key'));
  t.is(kcm.get('--use-service-account-credentials'), 'true');
});

test('each kubeconfig reads with kubectl; its client certificate verifies against its CA with kubeadm\'s CN and O', async (t) => {
  const { root, dirs } = await cluster(t);
  const caPem = readFileSync(path.join(dirs.certs, 'ca.crt'), 'utf8');
  for (const entry of KUBECONFIGS) {
    const file = path.join(dirs.kubeconfigs, entry.file);
    const view = await execa('kubectl', ['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json'], { reject: false, timeout: 30_000 });
    t.is(view.exitCode, 0, `${entry.file}: ${view.stderr}`);
    const kc = JSON.parse(view.stdout) as any;
    const subject = entry.subject({ nodeName: 'cp-1' } as never);
    t.is(kc['current-context'], `${subject.cn}@kubernetes`);
    t.is(kc.users[0].name, subject.cn);
    t.is(kc.clusters[0].cluster.server, entry.server === 'endpoint' ? 'https://k8s.example.com:443' : 'https://192.168.10.11:6443', entry.file);
    const ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
    t.is(ca, caPem, `${entry.file} embeds ca.crt`);
    const certFile = path.join(root, `${entry.file}.crt`);
    const keyFile = path.join(root, `${entry.file}.key`);
    writeFileSync(certFile, Buffer.from(kc.users[0].user['client-certificate-data'], 'base64'));
    writeFileSync(keyFile, Buffer.from(kc.users[0].user['client-key-data'], 'base64'), { mode: 0o600 });
    const verify = await openssl(['verify', '-CAfile', path.join(dirs.certs, 'ca.crt'), certFile]);
    t.is(verify.exitCode, 0, `${entry.file}: ${verify.stdout}${verify.stderr}`);
    const subj = await openssl(['x509', '-in', certFile, '-noout', '-subject', '-nameopt', 'RFC2253', '-ext', 'extendedKeyUsage']);
    t.regex(subj.stdout, new RegExp(`^subject=CN=${subject.cn}${(subject.o ?? []).map((o) => `,O=${o}`).join('')}$`, 'm'), entry.file);
    t.regex(subj.stdout, /TLS Web Client Authentication/);
    t.is(await pubkey(certFile, true), await pubkey(keyFile, false), `${entry.file}: key matches`);
    t.is((readFileSync(file) && (await import('node:fs')).statSync(file).mode & 0o777), 0o600);
  }
});

test('kubectl reads the kubelet.conf with the node identity system:node:<name> in system:nodes', async (t) => {
  const { dirs } = await cluster(t);
  const view = await execa('kubectl', ['config', 'view', '--kubeconfig', path.join(dirs.kubeconfigs, 'kubelet.conf'), '-o', 'jsonpath={.users[0].name}'], { timeout: 30_000 });
  t.is(view.stdout, 'system:node:cp-1');
});

test('a kubeconfig that exists with another cluster\'s CA is an error, and nothing is written', async (t) => {
  const a = await cluster(t);
  const b = await cluster(t);
  // b's admin.conf placed in a's kubeconfig dir, a's own removed; and a's apiserver cert removed so there is work to do.
  writeFileSync(path.join(a.dirs.kubeconfigs, 'admin.conf'), readFileSync(path.join(b.dirs.kubeconfigs, 'admin.conf')), { mode: 0o600 });
  (await import('node:fs')).rmSync(path.join(a.dirs.certs, 'apiserver.crt'));
  (await import('node:fs')).rmSync(path.join(a.dirs.certs, 'apiserver.key'));
  const before = snapshot(a.root);
  const run = await kubepki(['init', '--cert-dir', a.dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: admin\.conf in .* exists but has got the wrong CA cert \(not this cluster's ca\.crt\); move it away/);
  t.deepEqual(snapshot(a.root), before);
});

test('a kubeconfig without a client certificate is an error naming it', async (t) => {
  const { root, dirs } = await cluster(t);
  const file = path.join(dirs.kubeconfigs, 'scheduler.conf');
  const kc = parse(readFileSync(file, 'utf8')) as any;
  delete kc.users[0].user['client-certificate-data'];
  writeFileSync(file, (await import('yaml')).stringify(kc), { mode: 0o600 });
  const before = snapshot(root);
  const run = await kubepki(['init', '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /scheduler\.conf in .* has no client certificate for its current user/);
  t.deepEqual(snapshot(root), before);
});

test('kubepki flags prints what init wrote, in three formats', async (t) => {
  const { dirs } = await cluster(t);
  for (const component of COMPONENTS) {
    const args = await kubepki(['flags', component, '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
    t.is(args.exitCode, 0, args.stderr);
    // (execa drops the last newline of what it captures)
    t.is(args.stdout + '\n', readFileSync(path.join(dirs.flags, `${component}.flags`), 'utf8'), component);
    const env = await kubepki(['flags', component, '--format', 'env', '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
    t.is(env.stdout + '\n', readFileSync(path.join(dirs.flags, `${component}.env`), 'utf8'), component);
    const json = JSON.parse((await kubepki(['flags', component, '-f', 'json', '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT])).stdout) as { component: string; flags: { name: string; value: string }[] };
    t.is(json.component, component);
    t.deepEqual(json.flags.map((f) => `${f.name}=${f.value}`), args.stdout.trim().split('\n'));
  }
  const etcdctl = await kubepki(['flags', 'etcdctl', '--format', 'env', '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
  t.is(etcdctl.stdout + '\n', readFileSync(path.join(dirs.flags, 'etcdctl.env'), 'utf8'));
});

test('kubepki flags with an unknown component is a usage error', async (t) => {
  const run = await kubepki(['flags', 'kube-proxy', ...NODE]);
  t.is(run.exitCode, 2);
  t.regex(run.stderr, /^kubepki: error: unknown component "kube-proxy"; choose one of kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, etcd, etcdctl$/);
});

test('a flags dir that cannot be written: clear error, and nothing is written anywhere', async (t) => {
  const root = scratch(t);
  const locked = path.join(root, 'locked');
  mkdirSync(locked, { mode: 0o755 });
  const certs = path.join(root, 'pki');
  const flags = path.join(locked, 'flags');
  let user: string | undefined;
  if (process.getuid?.() === 0) {
    // Root ignores permission bits: run as nobody, who owns the scratch folder but not "locked".
    chmodSync(root, 0o755);
    chownSync(root, 65534, 65534);
    user = 'nobody';
  } else {
    chmodSync(locked, 0o555);
    t.teardown(() => chmodSync(locked, 0o755));
  }
  const before = snapshot(root);
  const run = await kubepki(['init', '--cert-dir', certs, '--flags-dir', flags, ...NODE, ...ALG], user ? { user } : {});
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: cannot write in .*locked: permission denied/);
  t.is(run.stderr.trim().split('\n').length, 1);
  t.deepEqual(snapshot(root), before);
  t.false(existsSync(certs), 'no certificate was written either: all or nothing across directories');
});

test('render systemd: units that use the flag files and pass systemd-analyze verify', async (t) => {
  const { root, dirs } = await cluster(t);
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  for (const c of COMPONENTS) symlinkSync('/bin/true', path.join(bin, c));
  const out = path.join(root, 'units');
  const run = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', out, '--bin-dir', bin]);
  t.is(run.exitCode, 0, run.stderr);
  t.deepEqual(readdirSync(out).sort(), [...COMPONENTS.map((c) => `${c}.service`), 'kubepki-renew.service', 'kubepki-renew.timer'].sort());
  for (const c of COMPONENTS) {
    const unit = readFileSync(path.join(out, `${c}.service`), 'utf8');
    t.regex(unit, new RegExp(`^EnvironmentFile=${path.join(dirs.flags, `${c}.env`)}$`, 'm'));
    t.regex(unit, new RegExp(`^ExecStart=${path.join(bin, c)} \\$${c.toUpperCase().replace(/-/g, '_')}_ARGS$`, 'm'));
  }
  const analyze = await execa('systemd-analyze', ['--version'], { reject: false });
  if (analyze.exitCode !== 0) {
    t.log('systemd-analyze is not available here: verify skipped');
    return;
  }
  for (const unit of [...COMPONENTS.map((c) => `${c}.service`), 'kubepki-renew.service', 'kubepki-renew.timer']) {
    const v = await execa('systemd-analyze', ['verify', `./${unit}`], { cwd: out, reject: false, timeout: 30_000 });
    t.is(v.exitCode, 0, `${unit}: ${v.stderr}`);
    t.is(v.stderr.trim(), '', `${unit}: ${v.stderr}`);
  }
  // A second render keeps identical units.
  const again = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', out, '--bin-dir', bin]);
  t.is(again.exitCode, 0);
  t.regex(again.stdout, /Using existing .*kube-apiserver\.service/);
});

test('render systemd: the daily renewal timer (randomized, persistent) and its service, whose command renews this layout', async (t) => {
  const { root, dirs } = await cluster(t);
  const out = path.join(root, 'units');
  const run = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--certificate-validity', '2160h', '--out', out]);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /systemctl enable --now kubepki-renew\.timer/);
  const timer = readFileSync(path.join(out, 'kubepki-renew.timer'), 'utf8');
  for (const line of ['OnCalendar=daily', 'RandomizedDelaySec=4h', 'Persistent=true', 'WantedBy=timers.target']) t.regex(timer, new RegExp(`^${line}$`, 'm'));
  const service = readFileSync(path.join(out, 'kubepki-renew.service'), 'utf8');
  t.regex(service, /^Type=oneshot$/m);
  const exec = /^ExecStart=(.*)$/m.exec(service)?.[1] ?? '';
  t.is(exec, `${process.execPath} ${BIN} certs renew --expiring-within 30d --restart --cert-dir ${dirs.certs} --kubeconfig-dir ${root} --encryption-algorithm ECDSA-P256 --certificate-validity 2160h`);
  // The command runs as written (without --restart: nothing to restart here): nothing to renew in a fresh layout.
  const r = await execa('/bin/sh', ['-c', `${exec.replace(' --restart', '')} --dry-run`], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^Nothing to renew: nothing expires within 30d\.$/m);
  // --kubepki-bin names another kubepki (an installed one); a path with a space is quoted as systemd reads it.
  const other = path.join(root, 'units2');
  const named = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', other, '--kubepki-bin', '/opt/kube pki/kubepki']);
  t.is(named.exitCode, 0, named.stderr);
  t.regex(readFileSync(path.join(other, 'kubepki-renew.service'), 'utf8'), /^ExecStart="\/opt\/kube pki\/kubepki" certs renew --expiring-within 30d --restart --cert-dir /m);
});

test('render systemd --templates: a user template replaces the shipped one; an unknown placeholder is an error and nothing is written', async (t) => {
  const { root, dirs } = await cluster(t);
  const templates = path.join(root, 'templates');
  mkdirSync(templates);
  writeFileSync(path.join(templates, 'kubelet.service'), '[Unit]\nDescription=our kubelet\n[Service]\nEnvironmentFile={{envFile}}\nExecStart={{binary}} ${{envVar}}\n');
  const out = path.join(root, 'units');
  const ok = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', out, '--templates', templates]);
  t.is(ok.exitCode, 0, ok.stderr);
  t.regex(readFileSync(path.join(out, 'kubelet.service'), 'utf8'), /^Description=our kubelet$/m);
  t.regex(readFileSync(path.join(out, 'etcd.service'), 'utf8'), /^Type=notify$/m, 'shipped template for the others');

  writeFileSync(path.join(templates, 'kube-scheduler.service'), '[Service]\nExecStart={{binary}} --v={{verbosity}}\n');
  const out2 = path.join(root, 'units2');
  const bad = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', out2, '--templates', templates]);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /^kubepki: error: .*kube-scheduler\.service: unknown placeholder \{\{verbosity\}\}; templates may use \{\{unit\}\}/);
  t.false(existsSync(out2));
});

test('render systemd refuses to overwrite a unit that differs', async (t) => {
  const { root, dirs } = await cluster(t);
  const out = path.join(root, 'units');
  mkdirSync(out);
  writeFileSync(path.join(out, 'etcd.service'), '# hand-written\n');
  const before = snapshot(out);
  const run = await kubepki(['render', 'systemd', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', out]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /etcd\.service in .* differs from what the description gives; kubepki will not overwrite it/);
  t.deepEqual(snapshot(out), before);
});

test('kubeconfig user: a kubeconfig for a person, signed by the cluster CA, readable by kubectl', async (t) => {
  const { root, dirs } = await cluster(t);
  const run = await kubepki(['kubeconfig', 'user', '--name', 'alice', '--org', 'developers', '--org', 'ops', '--validity-period', '24h', '--cert-dir', dirs.certs, ...NODE, ...ALG, ...ENDPOINT]);
  t.is(run.exitCode, 0, run.stderr);
  t.notRegex(run.stdout + run.stderr, /PRIVATE KEY/);
  const file = path.join(dirs.kubeconfigs, 'alice.conf');
  t.is((await import('node:fs')).statSync(file).mode & 0o777, 0o600);
  const view = JSON.parse((await execa('kubectl', ['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json'])).stdout) as any;
  t.is(view['current-context'], 'alice@kubernetes');
  t.is(view.clusters[0].cluster.server, 'https://k8s.example.com:443');
  const cert = path.join(root, 'alice.crt');
  writeFileSync(cert, Buffer.from(view.users[0].user['client-certificate-data'], 'base64'));
  t.is((await openssl(['verify', '-CAfile', path.join(dirs.certs, 'ca.crt'), cert])).exitCode, 0);
  const info = await openssl(['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253', '-startdate', '-enddate']);
  t.regex(info.stdout, /^subject=CN=alice,O=ops,O=developers$|^subject=CN=alice,O=developers,O=ops$/m);
  const [from, to] = [...info.stdout.matchAll(/=(\w{3} .+ GMT)$/gm)].map((m) => Date.parse(m[1]!));
  t.is(Math.round((to! - from!) / 60_000), 24 * 60 + 5);

  // Again: the same identity is kept; another cluster's file is refused.
  const again = await kubepki(['kubeconfig', 'user', '--name', 'alice', '--org', 'developers,ops', '--cert-dir', dirs.certs, ...NODE, ...ALG]);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stderr, /Using existing kubeconfig file/);
  const other = await kubepki(['kubeconfig', 'user', '--name', 'bob', '--cert-dir', dirs.certs, ...NODE, ...ALG, '--out', path.join(dirs.kubeconfigs, 'admin.conf')]);
  t.is(other.exitCode, 1);
  t.regex(other.stderr, /admin\.conf exists and is not a kubeconfig of this cluster for bob; kubepki will not overwrite it/);

  const stdout = await kubepki(['kubeconfig', 'user', '--name', 'ci-bot', '--out', '-', '--cert-dir', dirs.certs, ...NODE, ...ALG]);
  t.is(stdout.exitCode, 0);
  t.regex(stdout.stdout, /client-key-data: /, 'printed only because --out - asked for it');
});

test('kubeconfig user without the CA key is a clear error', async (t) => {
  const { dirs } = await cluster(t);
  (await import('node:fs')).rmSync(path.join(dirs.certs, 'ca.key'));
  const run = await kubepki(['kubeconfig', 'user', '--name', 'alice', '--cert-dir', dirs.certs, ...NODE, ...ALG]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: .*ca\.key: cannot read the ca key: no such file or directory \(is this CA managed outside kubepki\?\)$/m);
  t.false(existsSync(path.join(dirs.kubeconfigs, 'alice.conf')));
});

test('the paths in flags come from the catalog: moving the cert dir moves every path', async (t) => {
  const root = scratch(t);
  const certs = path.join(root, 'elsewhere', 'certs');
  const run = await kubepki(['init', '--cert-dir', certs, '--kubeconfig-dir', path.join(root, 'kc'), '--flags-dir', path.join(root, 'fl'), ...NODE, ...ALG]);
  t.is(run.exitCode, 0, run.stderr);
  const api = readFlags(path.join(root, 'fl', 'kube-apiserver.flags'));
  const apiserver = CERTIFICATES.find((e) => e.name === 'apiserver')!;
  t.is(api.get('--tls-cert-file'), path.join(certs, certPath(apiserver)));
  t.is(api.get('--tls-private-key-file'), path.join(certs, keyPath(apiserver)));
  t.is(readFlags(path.join(root, 'fl', 'kube-scheduler.flags')).get('--kubeconfig'), path.join(root, 'kc', 'scheduler.conf'));
});

test('a relative --cert-dir gives absolute paths in flags, kubeconfig references and units', async (t) => {
  const root = scratch(t);
  const run = await kubepki(['init', '--cert-dir', 'pki', ...NODE, ...ALG], { cwd: root });
  t.is(run.exitCode, 0, run.stderr);
  for (const [flag, value] of readFlags(path.join(root, 'flags', 'kube-apiserver.flags'))) {
    if (/file|certificate|key|authority/.test(flag)) t.true(path.isAbsolute(value), `${flag}=${value}`);
  }
  t.is(readFlags(path.join(root, 'flags', 'kube-apiserver.flags')).get('--client-ca-file'), path.join(root, 'pki', 'ca.crt'));
  const printed = await kubepki(['flags', 'etcd', '--cert-dir', 'pki', ...NODE], { cwd: root });
  t.regex(printed.stdout, new RegExp(`^--cert-file=${path.join(root, 'pki', 'etcd', 'server.crt')}$`, 'm'));
});

test('CIS flags: --profiling=false (1.2.15, 1.3.2, 1.4.1), --service-account-extend-token-expiration=false (1.2.30), strong TLS suites for the API server and the kubelet (1.2.29, 4.2.12)', async (t) => {
  const { dirs } = await cluster(t);
  const api = readFlags(path.join(dirs.flags, 'kube-apiserver.flags'));
  for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) t.is(readFlags(path.join(dirs.flags, `${c}.flags`)).get('--profiling'), 'false', c);
  t.is(api.get('--service-account-extend-token-expiration'), 'false');
  // CIS 1.2.29's list of strong suites (as kube-bench checks them), written here, not taken from the code.
  const strong = new Set([
    'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
    'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
    'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  ]);
  const suites = api.get('--tls-cipher-suites')?.split(',') ?? [];
  t.true(suites.length >= 6, suites.join(','));
  t.deepEqual(suites.filter((s) => !strong.has(s)), [], 'only strong suites');
  for (const needed of ['TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']) t.true(suites.includes(needed), needed);
  // CIS 4.2.12's list as kube-bench (cfg/cis-1.12/node.yaml) checks it: six ECDHE suites, no TLS 1.3 names.
  const kubeletStrong = new Set([
    'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
    'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  ]);
  const kubelet = parse(readFileSync(path.join(dirs.flags, 'kubelet-config.yaml'), 'utf8')) as { tlsCipherSuites?: string[] };
  t.true((kubelet.tlsCipherSuites ?? []).length >= 4);
  t.deepEqual((kubelet.tlsCipherSuites ?? []).filter((s) => !kubeletStrong.has(s)), [], 'the kubelet offers only 4.2.12 suites');
});

test('CIS modes and audit log: flag, env, kubelet-config, audit-policy and unit files 0600 (1.1.1-1.1.8, 4.1.1, 4.1.9); audit flags (1.2.16-1.2.19); the units make the etcd data dir and the audit folder 0700 (1.1.11)', async (t) => {
  const root = scratch(t);
  const dataDir = path.join(root, 'etcd-data');
  const config = path.join(root, 'cluster.yaml');
  writeFileSync(config, `apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\ncertificates:\n  dir: ${root}/pki\n  encryptionAlgorithm: ECDSA-P256\netcd:\n  dataDir: ${dataDir}\n`);
  t.is((await kubepki(['init', '--config', config, ...NODE])).exitCode, 0);
  const units = path.join(root, 'units');
  t.is((await kubepki(['render', 'systemd', '--config', config, ...NODE, '--out', units])).exitCode, 0);
  const files = [...readdirSync(path.join(root, 'flags')).map((f) => path.join(root, 'flags', f)), ...readdirSync(units).map((f) => path.join(units, f))];
  t.true(files.length >= 20, files.join(' '));
  for (const f of files) t.is((statSync(f).mode & 0o777).toString(8), '600', f);
  const api = readFlags(path.join(root, 'flags', 'kube-apiserver.flags'));
  t.is(api.get('--audit-log-path'), '/var/log/kubernetes/audit/audit.log');
  t.is(api.get('--audit-log-maxage'), '30');
  t.is(api.get('--audit-log-maxbackup'), '10');
  t.is(api.get('--audit-log-maxsize'), '100');
  t.is(api.get('--audit-policy-file'), path.join(root, 'flags', 'audit-policy.yaml'));
  // Metadata for everything: no request or response body, so no Secret, reaches the log.
  const policy = parse(readFileSync(api.get('--audit-policy-file')!, 'utf8')) as { apiVersion: string; kind: string; rules: { level: string }[] };
  t.is(policy.apiVersion, 'audit.k8s.io/v1');
  t.is(policy.kind, 'Policy');
  t.deepEqual(policy.rules.map((r) => r.level), ['Metadata']);
  t.regex(readFileSync(path.join(units, 'kube-apiserver.service'), 'utf8'), /^ExecStartPre=\/usr\/bin\/install -d -m 0700 \/var\/log\/kubernetes\/audit$/m);
  // The etcd unit's ExecStartPre, run as written, makes the data dir 0700, and narrows one that is there.
  const pre = /^ExecStartPre=(.*)$/m.exec(readFileSync(path.join(units, 'etcd.service'), 'utf8'))?.[1] ?? '';
  t.is(pre, `/usr/bin/install -d -m 0700 ${dataDir}`);
  await execa('/bin/sh', ['-c', pre]);
  t.is((statSync(dataDir).mode & 0o777).toString(8), '700');
  chmodSync(dataDir, 0o755);
  await execa('/bin/sh', ['-c', pre]);
  t.is((statSync(dataDir).mode & 0o777).toString(8), '700');
  t.is(readFlags(path.join(root, 'flags', 'etcd.flags')).get('--data-dir'), dataDir);
});

test('render systemd: folders the units make follow the user\'s --data-dir and --audit-log-path (extraArgs), as the flags do', async (t) => {
  const root = scratch(t);
  const config = path.join(root, 'cluster.yaml');
  writeFileSync(config, `apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\ncertificates:\n  dir: ${root}/pki\n  encryptionAlgorithm: ECDSA-P256\napiServer:\n  extraArgs:\n    audit-log-path: /var/log/kube/api-audit.log\netcd:\n  extraArgs:\n    - {name: data-dir, value: /srv/etcd}\n`);
  const units = path.join(root, 'units');
  t.is((await kubepki(['render', 'systemd', '--config', config, ...NODE, '--out', units])).exitCode, 0);
  t.regex(readFileSync(path.join(units, 'etcd.service'), 'utf8'), /^ExecStartPre=\/usr\/bin\/install -d -m 0700 \/srv\/etcd$/m);
  t.regex(readFileSync(path.join(units, 'kube-apiserver.service'), 'utf8'), /^ExecStartPre=\/usr\/bin\/install -d -m 0700 \/var\/log\/kube$/m);
  const flags = await kubepki(['flags', 'etcd', '--config', config, ...NODE]);
  t.deepEqual(flags.stdout.split('\n').filter((l) => l.startsWith('--data-dir=')), ['--data-dir=/srv/etcd']);
});
