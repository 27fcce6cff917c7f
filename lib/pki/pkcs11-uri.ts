/**
 * PKCS#11 URIs (RFC 7512): where a CA key lives in a token. Path attributes
 * (token, serial, object, id, type) are separated by ";", query attributes
 * (module-path, pin-source) follow "?" joined by "&"; values are
 * percent-encoded. p11-kit and OpenSSL's pkcs11 provider read the same syntax.
 *
 * A PIN never travels in a URI here: `pin-value` is refused (a URI is given on
 * command lines and written in files that are not secret), and the text shown
 * in messages is the URI as given, which then holds no PIN.
 */

export interface Pkcs11Uri {
  /** The token's label (CKA_LABEL of the token). */
  token?: string;
  /** Or its serial number. */
  serial?: string;
  /** The key objects' label (CKA_LABEL). */
  object?: string;
  /** The key objects' id (CKA_ID), as bytes. */
  id?: Buffer;
  /** The PKCS#11 module (a shared library) to load. */
  modulePath: string;
  /** Where the user PIN is: "file:/path" (the file must be 0600 or stricter). */
  pinSource?: string;
  /** The URI as given: safe to show (it holds no PIN). */
  text: string;
}

export class Pkcs11UriError extends Error {}

/** A text with any PKCS#11 pin-value blanked: what a refused value is quoted as in an error message. */
export const redactPin = (text: string) => text.replace(/(pin-value=)[^&;?\s"]*/gi, '$1(hidden)');

const PATH_ATTRIBUTES = new Set(['token', 'serial', 'object', 'id', 'type', 'manufacturer', 'model', 'library-description', 'library-manufacturer', 'library-version', 'slot-description', 'slot-id', 'slot-manufacturer']);
const QUERY_ATTRIBUTES = new Set(['module-path', 'pin-source', 'pin-value', 'module-name']);

function decode(value: string, what: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Pkcs11UriError(`${what} has a bad percent-encoding ("%${hex}")`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes);
}

/** Parse a PKCS#11 URI; the error says which attribute is wrong and never repeats a PIN. */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!text.startsWith('pkcs11:')) throw new Pkcs11UriError('is not a PKCS#11 URI (it must start with "pkcs11:")');
  const body = text.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const pathPart = q < 0 ? body : body.slice(0, q);
  const queryPart = q < 0 ? '' : body.slice(q + 1);
  const out: Partial<Pkcs11Uri> & { text: string } = { text };
  const seen = new Set<string>();
  for (const [part, sep, known] of [[pathPart, ';', PATH_ATTRIBUTES], [queryPart, '&', QUERY_ATTRIBUTES]] as const) {
    if (!part) continue;
    for (const attr of part.split(sep)) {
      const eq = attr.indexOf('=');
      if (eq <= 0) throw new Pkcs11UriError(`has an attribute without a value ("${attr.slice(0, 40)}")`);
      const name = attr.slice(0, eq).toLowerCase();
      if (name === 'pin-value') throw new Pkcs11UriError('gives the PIN in the URI (pin-value); kubepki takes it from pin-source=file:/path (mode 0600) or the KUBEPKI_PKCS11_PIN environment variable');
      if (!known.has(name)) throw new Pkcs11UriError(`has an unknown attribute "${name}"`);
      if (seen.has(name)) throw new Pkcs11UriError(`gives "${name}" twice`);
      seen.add(name);
      const raw = attr.slice(eq + 1);
      const value = decode(raw, `its "${name}"`);
      switch (name) {
        case 'token': out.token = value.toString('utf8'); break;
        case 'serial': out.serial = value.toString('utf8'); break;
        case 'object': out.object = value.toString('utf8'); break;
        case 'id': out.id = value; break;
        case 'type': if (value.toString() !== 'private') throw new Pkcs11UriError(`names type "${value}"; a CA key is type=private`); break;
        case 'module-path': out.modulePath = value.toString('utf8'); break;
        case 'pin-source': out.pinSource = value.toString('utf8'); break;
        default: break; // descriptive attributes: accepted, not needed to find the key
      }
    }
  }
  if (!out.modulePath) throw new Pkcs11UriError('names no module (add ?module-path=/path/to/the/pkcs11-module.so)');
  if (!out.token && !out.serial) throw new Pkcs11UriError('names no token (add token=LABEL)');
  if (!out.object && !out.id) throw new Pkcs11UriError('names no key object (add object=LABEL or id=%XX...)');
  if (out.pinSource !== undefined && !out.pinSource.startsWith('file:')) throw new Pkcs11UriError('has a pin-source that is not a file (pin-source=file:/path)');
  return out as Pkcs11Uri;
}
