/**
 * Make: the files of one plan item, in memory, from the run's context (keys
 * made ahead, signers, what decide kept aside). Nothing here touches the
 * disk: the run stages what this returns in its transaction.
 */
import { buildKubeconfig, replaceClientCredentials } from '../kubeconfig/kubeconfig.js';
import { ALGORITHMS, algorithmOfSpki, type AlgorithmName } from '../pki/algorithms.js';
import { MODES, keyUsagesFor, type CAName } from '../pki/catalog.js';
import type { Certificate } from '../pki/certificate.js';
import { issueCertificate, validityFrom } from '../pki/issue.js';
import { KeyPair, type KeyPool } from '../pki/keys.js';
import { pem } from '../pki/pem.js';
import { keySigner, readKeySigner, withCertificate, type Signer } from '../pki/signer.js';
import type { Material } from './decide.js';
import type { PlanItem } from './plan.js';
import type { NewFile } from './transaction.js';
import type { Target } from './targets.js';

export interface MakeContext {
  now: number;
  pool: KeyPool;
  targets: ReadonlyMap<string, Target>;
  materials: ReadonlyMap<string, Material>;
  /** Signers by CA (catalog name or rotation slot); a CA made in this run adds its own. */
  signer(name: string): Signer;
  addSigner(name: string, signer: Signer): void;
  /** A CA's certificate file as trust: the CA, then its issuers (kubeconfigs embed it, bundles copy it), whether or not its key is here. */
  caBundle(name: string): string;
}

/** The key an item gets: the one decide kept (renew --keep-key, sa.pub), or a new one. */
async function keyFor(item: PlanItem, ctx: MakeContext): Promise<KeyPair> {
  const kept = ctx.materials.get(item.id)?.key;
  // Kept as it is on disk (its PEM, byte for byte): a certificate needs only its public key.
  if (kept) return new KeyPair(kept.algorithm, { privateKeyPem: kept.pem, spki: kept.spki });
  return ctx.pool.take(item.keyAlgorithm as AlgorithmName);
}

async function certificateFor(item: PlanItem, ctx: MakeContext, publicKey: { spki: Buffer; algorithm: KeyPair['algorithm'] }, self?: KeyPair, by?: string) {
  return issueCertificate({
    subject: item.subject!,
    sans: item.sans ?? { dns: [], ips: [] },
    profile: item.profile!,
    publicKey: publicKey.spki,
    publicKeyAlgorithm: publicKey.algorithm,
    ...validityFrom(ctx.now, item.validity!),
    ...(self ? { selfSigner: keySigner(self.privateKey, self.algorithm) } : { issuer: ctx.signer(by ?? item.ca!) }),
  });
}

/** A replacement's files are one step: committed by consecutive system calls (a certificate never parted from its key). */
const file = (rel: string, data: string, role: keyof typeof MODES, item: PlanItem): NewFile => ({
  rel, data, mode: MODES[role], ...(item.action === 'renew' ? { replace: true, step: item.id } : {}),
});

/** An item's files, and the certificate it issued (renew reports its serial and expiry). */
export interface Made {
  files: NewFile[];
  certificate?: Certificate;
}

export async function make(item: PlanItem, ctx: MakeContext): Promise<Made> {
  const target = ctx.targets.get(item.id)!;
  switch (target.kind) {
    case 'certificate': {
      const inToken = ctx.materials.get(item.id)?.token;
      const held = ctx.materials.get(item.id);
      if (target.isCA && item.action === 'renew' && held) {
        // The same key, a new certificate (ca renew): signed by itself, through whichever signer holds the key.
        // (A CA renewed without its key kept is made anew, below: reconcile --include-cas.)
        const signer = held.token?.key ? held.token.token.signer(held.token.key) : readKeySigner(held.key!);
        const spki = held.token?.key ? held.token.key.spki : held.key!.spki;
        const certificate = await issueCertificate({
          subject: item.subject!, sans: item.sans!, profile: item.profile!, publicKey: spki, publicKeyAlgorithm: signer.algorithm,
          ...validityFrom(ctx.now, item.validity!), selfSigner: signer,
        });
        ctx.addSigner(target.slot ?? target.name, withCertificate(signer, certificate));
        return { files: [file(target.cert, certificate.pem, 'cert', item)], certificate };
      }
      if (target.token && inToken) {
        // The CA's key is made (or was made) inside the token; only its certificate is a file.
        const key = inToken.key ?? await inToken.token.generate(target.token, ALGORITHMS[item.keyAlgorithm as AlgorithmName]);
        const signer = inToken.token.signer(key);
        const certificate = await issueCertificate({
          subject: item.subject!, sans: item.sans!, profile: item.profile!, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
          ...validityFrom(ctx.now, item.validity!), selfSigner: signer,
        });
        ctx.addSigner(target.name as CAName, withCertificate(signer, certificate));
        return { files: [file(target.cert, certificate.pem, 'cert', item)], certificate };
      }
      const key = await keyFor(item, ctx);
      const certificate = await certificateFor(item, ctx, key, target.isCA ? key : undefined, target.caSlot);
      if (target.isCA) ctx.addSigner(target.slot ?? target.name, withCertificate(keySigner(key.privateKey, key.algorithm, { kind: 'file', path: item.key ?? target.key }), certificate));
      return { files: [file(target.cert, certificate.pem, 'cert', item), file(target.key, key.privateKeyPem, 'key', item)], certificate };
    }
    case 'key-pair': {
      const kept = ctx.materials.get(item.id)?.key;
      if (kept) return { files: [file(target.pub, pem('PUBLIC KEY', kept.spki), 'pub', item)] };
      const key = await ctx.pool.take(target.keyAlgorithm);
      return { files: [file(target.key, key.privateKeyPem, 'key', item), file(target.pub, key.publicKeyPem, 'pub', item)] };
    }
    case 'kubeconfig': {
      if (target.credentials.kind === 'token') {
        const data = buildKubeconfig({
          clusterName: target.clusterName, server: target.server, caPem: ctx.caBundle(target.signer), user: target.subject.cn, credentials: { token: target.credentials.token },
        });
        return { files: [file(target.file, data, 'kubeconfig', item)] };
      }
      const caPem = target.trustPem?.() ?? ctx.caBundle(target.caSlot ?? target.signer);
      const kept = ctx.materials.get(item.id);
      // reconcile: the description's server too.
      const server = target.policy === 'reconcile' ? { server: target.server } : {};
      if (kept?.trustOnly) return { files: [file(target.file, replaceClientCredentials(kept.kubeconfigDocument ?? kept.kubeconfigText!, { caPem, ...server }), 'kubeconfig', item)] };
      const elsewhere = ctx.materials.get(item.id)?.signedElsewhere;
      if (elsewhere) {
        // Signed by the CA managed elsewhere (certs generate-csr): the kubeconfig is written around that certificate and key.
        const data = buildKubeconfig({ clusterName: target.clusterName, server: target.server, caPem, user: item.subject!.cn, credentials: elsewhere });
        return { files: [file(target.file, data, 'kubeconfig', item)] };
      }
      const key = await keyFor(item, ctx);
      const certificate = await certificateFor(item, ctx, key, undefined, target.caSlot);
      const text = kept?.kubeconfigDocument ?? kept?.kubeconfigText;
      const data = item.action === 'renew' && text !== undefined
        ? replaceClientCredentials(text, { certPem: certificate.pem, keyPem: key.privateKeyPem, caPem, ...server })
        : buildKubeconfig({ clusterName: target.clusterName, server: target.server, caPem, user: item.subject!.cn, credentials: { certPem: certificate.pem, keyPem: key.privateKeyPem } });
      return { files: [file(target.file, data, 'kubeconfig', item)], certificate };
    }
    case 'remove':
      return { files: target.files.filter((f) => item.writes.includes(f.rel)).map((f) => ({ rel: f.rel, data: '', mode: MODES[f.role], remove: true, step: item.id })) };
    case 'kubelet-client': {
      // As the kubelet writes it: the certificate, then its key, in one 0600 file; the link moved to it in the same step.
      const key = await ctx.pool.take(item.keyAlgorithm as AlgorithmName);
      const certificate = await certificateFor(item, ctx, key);
      const data = certificate.pem + key.privateKeyPem;
      const step = item.id;
      const linked = ctx.materials.get(item.id)?.kubeletLink?.link !== undefined;
      return {
        files: linked
          ? [{ rel: target.fresh, data, mode: MODES.key, step }, { rel: target.current, data: target.linkTo, mode: MODES.key, symlink: true, replace: true, step }]
          : [{ rel: target.current, data, mode: MODES.key, replace: true, step }],
        certificate,
      };
    }
    case 'generated':
      return { files: target.files.filter((f) => item.writes.includes(f.rel)).map((f) => file(f.rel, f.data(), f.role, item)) };
    case 'signed': {
      const algorithm = algorithmOfSpki(target.spki)!;
      const certificate = await certificateFor(item, ctx, { spki: target.spki, algorithm });
      return { files: [file(target.file, certificate.pem, 'cert', item)], certificate };
    }
    case 'csr': {
      const { createCsr } = await import('../pki/csr.js');
      const key = await keyFor(item, ctx);
      const kept = ctx.materials.get(item.id)?.key;
      const csr = await createCsr({
        subject: item.subject!, sans: item.sans!, spki: key.spki, signer: kept ? readKeySigner(kept) : keySigner(key.privateKey, key.algorithm),
        ...(target.profile ? { usages: { keyUsage: keyUsagesFor(target.profile, key.algorithm.family), extKeyUsage: target.profile.extKeyUsage } } : {}),
      });
      return { files: [file(target.key, key.privateKeyPem, 'key', item), file(target.csr, csr, 'csr', item)] };
    }
  }
}
