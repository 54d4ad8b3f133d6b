/**
 * Positions in migration text, computed one way for the worker and the CLI: 1-based lines and
 * columns from offsets, and PostgreSQL's character counts as JS string indices.
 *
 * A source is the text (offsets in UTF-16 units) or its UTF-8 bytes (offsets in bytes, as the
 * SQL parser reports them): a newline is the one unit 0x0A in both, so lines count alike.
 */
export type TextSource = string | Uint8Array;

const NEWLINE = 0x0a;

/** Line numbers for offsets that mostly increase, in one forward pass (a step back restarts). */
export class LineCounter {
  private at = 0;
  private line = 1;
  constructor(private readonly source: TextSource) {}

  lineAt(offset: number): number {
    const stop = Math.min(Math.max(offset, 0), this.source.length);
    if (stop < this.at) {
      this.at = 0;
      this.line = 1;
    }
    const s = this.source;
    const next = (from: number) => (typeof s === 'string' ? s.indexOf('\n', from) : s.indexOf(NEWLINE, from));
    for (let nl = next(this.at); nl !== -1 && nl < stop; nl = next(nl + 1)) this.line++;
    this.at = stop;
    return this.line;
  }
}

/** 1-based line of an offset. */
export function lineOf(source: TextSource, offset: number): number {
  return new LineCounter(source).lineAt(offset);
}

/** Where the line holding `index` starts. */
export function lineStartOf(text: string, index: number): number {
  return index <= 0 ? 0 : text.lastIndexOf('\n', index - 1) + 1;
}

/** Where the line holding `index` ends: its newline, or the end of the text. */
export function lineEndOf(text: string, index: number): number {
  const nl = text.indexOf('\n', index);
  return nl === -1 ? text.length : nl;
}

/** 1-based line and column (UTF-16 units) of a JS string index, clamped to the text. */
export function positionOf(text: string, index: number): { line: number; column: number } {
  const at = Math.min(Math.max(index, 0), text.length);
  return { line: lineOf(text, at), column: at - lineStartOf(text, at) + 1 };
}

/**
 * The JS string index `codePoints` characters after `from`. PostgreSQL counts positions in
 * characters (code points); JS indexes UTF-16 units, which differ after an emoji or any other
 * astral character. A lone surrogate counts as one character.
 */
export function indexAfterCodePoints(text: string, from: number, codePoints: number): number {
  let index = from;
  for (let n = 0; n < codePoints && index < text.length; n++) {
    const unit = text.charCodeAt(index);
    const next = text.charCodeAt(index + 1);
    index += unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
  }
  return index;
}
