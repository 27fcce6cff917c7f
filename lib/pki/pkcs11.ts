/**
 * CA keys in a PKCS#11 token: find a key by its URI, create one inside the
 * token (sensitive, never extractable, a token object), and sign with it
 * through the one signer interface (signer.ts). On pkcs11js, the kept raw
 * binding by Peculiar Ventures (graphene-pk11 and node-webcrypto-p11 are
 * layers over it that kubepki does not need: it uses a dozen calls). This
 * module, and the native binding, load only when a description names a
 * token, so no other command pays for them.
 *
 * The PIN is read from the URI's pin-source file (0600 or stricter) or from
 * KUBEPKI_PKCS11_PIN; it is never printed, logged or put in a message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { algorithmOfSpki, digestOf, type Algorithm } from './algorithms.js';
import * as der from './der.js';
import { keyIdentifier } from './issue.js';
import { OID } from './oids.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import type { KeySigner } from './signer.js';
import { UserError } from '../errors.js';
import { readRegular, troubleDetail } from '../engine/observe.js';
import { modeText } from './catalog.js';
import { inExecutable } from '../sea.js';

type Binding = typeof import('pkcs11js');
type Handle = Buffer;

/** A token could not be used: which URI (never its PIN), what went wrong, what to do. */
export class TokenError extends UserError {}

let binding: Binding | undefined;
function load(): Binding {
  if (!binding) {
    // The single executable holds no native addons, and loads none from elsewhere (its import.meta.url is where it was built).
    if (inExecutable()) throw new TokenError('the single executable cannot load the PKCS#11 binding (pkcs11js is a native addon): for CA keys in a token, use kubepki installed with npm');
    try {
      // The native addon is built at install time (node-gyp); require() it from this package's node_modules.
      binding = createRequire(import.meta.url)('pkcs11js') as Binding;
    } catch (e) {
      throw new TokenError(`the PKCS#11 binding (npm package pkcs11js) cannot be loaded: ${(e as Error).message.split('\n')[0]}; reinstall kubepki with the build tools (g++, make, python3) present`);
    }
  }
  return binding;
}

const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LEN_RANGE = 0xa2;
const CKR_DEVICE_REMOVED = 0x32;
const CKR_TOKEN_NOT_PRESENT = 0xe0;

const codeName = (code: number): string => ({
  [CKR_PIN_INCORRECT]: 'CKR_PIN_INCORRECT', [CKR_PIN_LEN_RANGE]: 'CKR_PIN_LEN_RANGE', [CKR_DEVICE_REMOVED]: 'CKR_DEVICE_REMOVED',
  [CKR_TOKEN_NOT_PRESENT]: 'CKR_TOKEN_NOT_PRESENT', 0x5: 'CKR_GENERAL_ERROR', 0x6: 'CKR_FUNCTION_FAILED', 0xb3: 'CKR_SESSION_HANDLE_INVALID',
  0x82: 'CKR_OBJECT_HANDLE_INVALID', 0x30: 'CKR_DEVICE_ERROR',
} as Record<number, string>)[code] ?? `CKR 0x${code.toString(16)}`;

/** A PKCS#11 failure in words, without the binding's internals. */
function describe(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'number' && code > 0) {
    if (code === CKR_PIN_INCORRECT || code === CKR_PIN_LEN_RANGE) return `the PIN is wrong (${codeName(code)})`;
    if (code === CKR_DEVICE_REMOVED || code === CKR_TOKEN_NOT_PRESENT) return `the token is gone (${codeName(code)}); reconnect it and run again`;
    return `the token refused (${codeName(code)})`;
  }
  return (e as Error)?.message?.split('\n')[0] ?? String(e);
}

/** The user PIN for a URI: its pin-source file (0600 or stricter), or KUBEPKI_PKCS11_PIN. */
export function pinFor(uri: Pkcs11Uri): string {
  if (uri.pinSource) {
    const file = uri.pinSource.slice('file:'.length);
    const st = readRegular(file);
    if (st.state === 'missing') throw new TokenError(`${uri.text}: the PIN file ${file} does not exist`);
    if (st.state === 'refused') throw new TokenError(`${uri.text}: the PIN file ${file} ${troubleDetail(st.trouble)}`);
    if (st.mode & 0o077) throw new TokenError(`${uri.text}: the PIN file ${file} is readable by others than its owner (mode ${modeText(st.mode)}); run "chmod 600 ${file}" and try again`);
    const pin = st.data.toString('utf8').replace(/\r?\n$/, '');
    if (!pin) throw new TokenError(`${uri.text}: the PIN file ${file} is empty`);
    return pin;
  }
  const pin = process.env.KUBEPKI_PKCS11_PIN;
  if (pin) return pin;
  throw new TokenError(`${uri.text}: no PIN: add pin-source=file:/path to the URI (a file of mode 0600), or set KUBEPKI_PKCS11_PIN`);
}

/** A key found (or made) in a token: where, its public key, its algorithm. */
export interface TokenKey {
  uri: Pkcs11Uri;
  handle: Handle;
  spki: Buffer;
  algorithm: Algorithm;
  /** CKA_ID. */
  id: Buffer;
}

interface Session {
  handle: Handle;
  /** One operation at a time per session (CKR_OPERATION_ACTIVE otherwise). */
  queue: Promise<unknown>;
}

/** An opened, logged-in token: a small pool of sessions (key handles of token objects are valid in all of them). */
export class Token {
  private next = 0;
  /** Keys being made ahead (init starts them while the rest of kubepki loads), by URI. */
  private readonly pending = new Map<string, Promise<TokenKey>>();
  private constructor(readonly uri: Pkcs11Uri, private readonly p11: import('pkcs11js').PKCS11, private readonly sessions: Session[]) {}

  private static modules = new Map<string, import('pkcs11js').PKCS11>();
  private static tokens = new Map<string, Token>();

  /** Open the token a URI names (once per process and token) and log in. */
  static open(uri: Pkcs11Uri): Token {
    const key = `${uri.modulePath}\0${uri.token ?? ''}\0${uri.serial ?? ''}`;
    const known = Token.tokens.get(key);
    if (known) return known;
    const pk = load();
    let p11 = Token.modules.get(uri.modulePath);
    if (!p11) {
      p11 = new pk.PKCS11();
      try {
        p11.load(uri.modulePath);
        // Signatures and key generation run on libuv's threads: the module must lock for itself.
        p11.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK });
      } catch (e) {
        throw new TokenError(`${uri.text}: cannot load the PKCS#11 module ${uri.modulePath}: ${describe(e)}`);
      }
      Token.modules.set(uri.modulePath, p11);
    }
    const pin = pinFor(uri);
    let slot: Handle | undefined;
    try {
      for (const s of p11.C_GetSlotList(true)) {
        const info = p11.C_GetTokenInfo(s);
        if ((uri.token === undefined || info.label.trim() === uri.token) && (uri.serial === undefined || info.serialNumber.trim() === uri.serial)) {
          slot = s;
          break;
        }
      }
    } catch (e) {
      throw new TokenError(`${uri.text}: cannot list the module's tokens: ${describe(e)}`);
    }
    if (!slot) throw new TokenError(`${uri.text}: the module has no token ${uri.token !== undefined ? `labelled "${uri.token}"` : `with serial ${uri.serial}`}`);
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const handle = p11.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
        sessions.push({ handle, queue: Promise.resolve() });
      }
      try {
        p11.C_Login(sessions[0]!.handle, pk.CKU_USER, pin);
      } catch (e) {
        if ((e as { code?: number }).code !== CKR_USER_ALREADY_LOGGED_IN) throw e;
      }
    } catch (e) {
      throw new TokenError(`${uri.text}: cannot log in: ${describe(e)}`);
    }
    const token = new Token(uri, p11, sessions);
    Token.tokens.set(key, token);
    return token;
  }

  /** Session 0 is for the quick, synchronous calls (find, attributes); the others run signatures and key generation. */
  private get session(): Handle {
    return this.sessions[0]!.handle;
  }

  private worker(): Session {
    return this.sessions[1 + (this.next++ % (this.sessions.length - 1))]!;
  }

  /** The private key the URI names, or undefined when the token has none (or this run is making it). */
  find(uri: Pkcs11Uri): TokenKey | undefined {
    if (this.pending.has(uri.text)) return undefined;
    const pk = load();
    const privates = this.objects([
      { type: pk.CKA_CLASS, value: pk.CKO_PRIVATE_KEY },
      ...(uri.object !== undefined ? [{ type: pk.CKA_LABEL, value: uri.object }] : []),
      ...(uri.id !== undefined ? [{ type: pk.CKA_ID, value: uri.id }] : []),
    ]);
    if (privates.length === 0) return undefined;
    if (privates.length > 1) throw new TokenError(`${uri.text}: names ${privates.length} private keys in the token; give object= and id= to name one`);
    const handle = privates[0]!;
    const [idAttr] = this.p11.C_GetAttributeValue(this.session, handle, [{ type: pk.CKA_ID }]);
    const id = (idAttr?.value as Buffer | undefined) ?? Buffer.alloc(0);
    const spki = this.publicKeyOf(handle, id, uri);
    return { uri, handle, spki, algorithm: algorithmOf(spki, uri), id };
  }

  private objects(template: import('pkcs11js').Template): Handle[] {
    try {
      this.p11.C_FindObjectsInit(this.session, template);
      try {
        return this.p11.C_FindObjects(this.session, 8);
      } finally {
        this.p11.C_FindObjectsFinal(this.session);
      }
    } catch (e) {
      throw new TokenError(`${this.uri.text}: cannot search the token: ${describe(e)}`);
    }
  }

  /** The DER SubjectPublicKeyInfo of a private key: from its public object (same CKA_ID), or an RSA key's own public attributes. */
  private publicKeyOf(privateKey: Handle, id: Buffer, uri: Pkcs11Uri, publicKey?: Handle): Buffer {
    const pk = load();
    const [type] = this.p11.C_GetAttributeValue(this.session, privateKey, [{ type: pk.CKA_KEY_TYPE }]);
    // A CK_ULONG, in the machine's byte order (little-endian on the machines kubepki ships for).
    const raw = type?.value as Buffer;
    const keyType = raw.length === 8 ? Number(raw.readBigUInt64LE()) : raw.readUInt32LE();
    const publics = publicKey ? [publicKey]
      : this.objects([{ type: pk.CKA_CLASS, value: pk.CKO_PUBLIC_KEY }, ...(id.length ? [{ type: pk.CKA_ID, value: id }] : uri.object !== undefined ? [{ type: pk.CKA_LABEL, value: uri.object }] : [])]);
    if (keyType === pk.CKK_RSA) {
      const from = publics[0] ?? privateKey;
      const [n, e] = this.p11.C_GetAttributeValue(this.session, from, [{ type: pk.CKA_MODULUS }, { type: pk.CKA_PUBLIC_EXPONENT }]);
      return der.sequence(
        der.sequence(der.oid(OID.rsaEncryption), der.nullValue()),
        der.bitString(der.sequence(der.unsignedInteger(n!.value as Buffer), der.unsignedInteger(e!.value as Buffer))),
      );
    }
    if (keyType === pk.CKK_EC) {
      if (!publics[0]) throw new TokenError(`${uri.text}: the token holds the private key but not its public key object; kubepki needs both`);
      const [params, point] = this.p11.C_GetAttributeValue(this.session, publics[0], [{ type: pk.CKA_EC_PARAMS }, { type: pk.CKA_EC_POINT }]);
      let q = point!.value as Buffer;
      // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point 04||X||Y (PKCS#11 2.40); some tokens give the bare point.
      const size = der.oid(OID.secp384r1).equals(params!.value as Buffer) ? 97 : 65;
      if (q.length === size + 2 && q[0] === 0x04 && q[1] === size) q = q.subarray(2);
      return der.sequence(der.sequence(der.oid(OID.ecPublicKey), params!.value as Buffer), der.bitString(q));
    }
    throw new TokenError(`${uri.text}: the key is neither RSA nor EC (CKK ${keyType})`);
  }

  /**
   * Start making the key a URI names, when the token has none: key generation
   * in a token takes longer than a process start-up, so init begins it first.
   * Should the run then fail, the next one adopts the key (it says so).
   */
  prefetch(uri: Pkcs11Uri, algorithm: Algorithm): void {
    if (this.pending.has(uri.text) || this.find(uri)) return;
    const key = this.make(uri, algorithm);
    key.catch(() => undefined); // reported when taken
    this.pending.set(uri.text, key);
  }

  /** Make a key pair inside the token (or take the one being made ahead). */
  generate(uri: Pkcs11Uri, algorithm: Algorithm): Promise<TokenKey> {
    const ahead = this.pending.get(uri.text);
    if (ahead) {
      this.pending.delete(uri.text);
      return ahead;
    }
    return this.make(uri, algorithm);
  }

  /** A token object, private, sensitive, never extractable; CKA_ID the SHA-1 key identifier of its public key. */
  private async make(uri: Pkcs11Uri, algorithm: Algorithm): Promise<TokenKey> {
    const pk = load();
    const label = uri.object ?? `kubepki-${randomBytes(4).toString('hex')}`;
    const tempId = uri.id ?? randomBytes(20);
    const common = [{ type: pk.CKA_TOKEN, value: true }, { type: pk.CKA_LABEL, value: label }, { type: pk.CKA_ID, value: tempId }];
    // A signing key and nothing else: no encryption, decryption or key wrapping.
    const publicTemplate = [...common, { type: pk.CKA_VERIFY, value: true }, { type: pk.CKA_ENCRYPT, value: false }, { type: pk.CKA_WRAP, value: false },
      ...(algorithm.family === 'rsa'
        ? [{ type: pk.CKA_MODULUS_BITS, value: algorithm.modulusLength! }, { type: pk.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }]
        : [{ type: pk.CKA_EC_PARAMS, value: der.oid(algorithm.curve!.webcrypto === 'P-256' ? OID.prime256v1 : OID.secp384r1) }])];
    const privateTemplate = [...common, { type: pk.CKA_PRIVATE, value: true }, { type: pk.CKA_SENSITIVE, value: true }, { type: pk.CKA_EXTRACTABLE, value: false },
      { type: pk.CKA_SIGN, value: true }, { type: pk.CKA_DECRYPT, value: false }, { type: pk.CKA_UNWRAP, value: false }];
    const mechanism = { mechanism: algorithm.family === 'rsa' ? pk.CKM_RSA_PKCS_KEY_PAIR_GEN : pk.CKM_EC_KEY_PAIR_GEN };
    let keys;
    // Sessions in turn: three CAs' keys are made at once on the thread pool.
    const s = this.worker();
    try {
      keys = await this.serialized(s, () => this.p11.C_GenerateKeyPairAsync(s.handle, mechanism, publicTemplate, privateTemplate));
    } catch (e) {
      throw new TokenError(`${uri.text}: cannot create the key in the token: ${describe(e)}`);
    }
    const spki = this.publicKeyOf(keys.privateKey, tempId, { ...uri, object: label }, keys.publicKey);
    let id = tempId;
    if (!uri.id) {
      // "The key of this certificate": the same identifier as the CA certificate's subject key identifier.
      id = keyIdentifier(spki);
      try {
        for (const h of [keys.privateKey, keys.publicKey]) this.p11.C_SetAttributeValue(this.session, h, [{ type: pk.CKA_ID, value: id }]);
      } catch {
        id = tempId; // a token that does not let CKA_ID change keeps the first one
      }
    }
    return { uri, handle: keys.privateKey, spki, algorithm, id };
  }

  /** Whether a private key is sensitive and never extractable (what pkcs11-tool shows as "never extractable"). */
  attributes(key: TokenKey): { sensitive: boolean; extractable: boolean; token: boolean } {
    const pk = load();
    const [s, x, t] = this.p11.C_GetAttributeValue(this.session, key.handle, [{ type: pk.CKA_SENSITIVE }, { type: pk.CKA_EXTRACTABLE }, { type: pk.CKA_TOKEN }]);
    const bool = (a: { value?: unknown } | undefined) => Buffer.isBuffer(a?.value) ? a!.value[0] === 1 : Boolean(a?.value);
    return { sensitive: bool(s), extractable: bool(x), token: bool(t) };
  }

  private serialized<T>(s: Session, op: () => Promise<T>): Promise<T> {
    const run = s.queue.then(op, op);
    s.queue = run.catch(() => undefined);
    return run;
  }

  /** A signer for a key of this token: PKCS#1 v1.5 for RSA, ECDSA over the digest (DER-encoded) for EC; sessions used in turn. */
  signer(key: TokenKey): KeySigner {
    const pk = load();
    const digest = digestOf(key.algorithm);
    return {
      algorithm: key.algorithm,
      location: { kind: 'pkcs11', uri: key.uri.text },
      sign: async (data: Buffer) => {
        fault(key.uri);
        const s = this.worker();
        const rsa = key.algorithm.family === 'rsa';
        const input = rsa ? data : createHash(digest).update(data).digest();
        let out: Buffer;
        try {
          out = await this.serialized(s, async () => {
            this.p11.C_SignInit(s.handle, { mechanism: rsa ? pk.CKM_SHA256_RSA_PKCS : pk.CKM_ECDSA }, key.handle);
            return this.p11.C_SignAsync(s.handle, input, Buffer.alloc(1024));
          });
        } catch (e) {
          throw new TokenError(`${key.uri.text}: cannot sign: ${describe(e)}`);
        }
        return rsa ? out : ecdsaDer(out);
      },
    };
  }
}

/** PKCS#11 ECDSA gives r || s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }. */
function ecdsaDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  return der.sequence(der.unsignedInteger(raw.subarray(0, half)), der.unsignedInteger(raw.subarray(half)));
}

function algorithmOf(spki: Buffer, uri: Pkcs11Uri): Algorithm {
  const algorithm = algorithmOfSpki(spki);
  if (!algorithm) throw new TokenError(`${uri.text}: the key is not RSA (2048 bits or more) or ECDSA P-256/P-384`);
  return algorithm;
}

/** For tests: KUBEPKI_FAULT=pkcs11-sign:N makes the Nth signature fail as a removed token does. */
let signatures = 0;
function fault(uri: Pkcs11Uri): void {
  const [what, n] = (process.env.KUBEPKI_FAULT ?? '').split(':');
  if (what === 'pkcs11-sign' && ++signatures === Number(n)) {
    throw new TokenError(`${uri.text}: cannot sign: the token is gone (CKR_DEVICE_REMOVED, injected by KUBEPKI_FAULT); reconnect it and run again`);
  }
}
