/**
 * string-width, loaded on its first call. yargs, cliui and wrap-ansi import it
 * to lay out help text; its module top level compiles Unicode-property regular
 * expressions and builds an Intl.Segmenter (ICU), 10-20 ms of start-up that a
 * command printing no help never needs. The bundle maps every import of
 * 'string-width' here (scripts/build.mjs, alias); the real module (the newest
 * in node_modules, which cliui's older copy agrees with on every width) is
 * bundled behind the require below and initialised when first used: for
 * printable ASCII (kubepki's help text) the answer is the length, as in
 * string-width's own first check, and it is never loaded.
 */
type StringWidth = (text: string, options?: { ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean }) => number;
declare const require: (id: string) => { default: StringWidth };

let real: StringWidth | undefined;

/** Printable ASCII (0x20-0x7E): string-width's own fast path, width = length. All of kubepki's help text is. */
const PRINTABLE_ASCII = /^[\u0020-\u007E]*$/;

export default function stringWidth(text: string, options?: Parameters<StringWidth>[1]): number {
  // Answered as string-width answers it, without loading it (its top level is most of `kubepki --help`).
  if (typeof text === 'string' && PRINTABLE_ASCII.test(text)) return text.length;
  real ??= require('../../node_modules/string-width/index.js').default;
  return real(text, options);
}
