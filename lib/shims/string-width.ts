/**
 * string-width, loaded on its first call. yargs, cliui and wrap-ansi import it
 * to lay out help text; its module top level compiles Unicode-property regular
 * expressions and builds an Intl.Segmenter (ICU), 10-20 ms of start-up that a
 * command printing no help never needs. The bundle maps every import of
 * 'string-width' here (scripts/build.mjs, alias); the real module (the newest
 * in node_modules, which cliui's older copy agrees with on every width) is
 * bundled behind the require below and initialised when first used.
 */
type StringWidth = (text: string, options?: { ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean }) => number;
declare const require: (id: string) => { default: StringWidth };

let real: StringWidth | undefined;

export default function stringWidth(text: string, options?: Parameters<StringWidth>[1]): number {
  real ??= require('../../node_modules/string-width/index.js').default;
  return real(text, options);
}
