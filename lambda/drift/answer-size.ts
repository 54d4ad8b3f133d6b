/**
 * A drift answer within Lambda's 6 MB response limit. A schema that exists only in live (or a
 * table of a thousand columns) folds into differences whose definitions can be megabytes; an answer
 * over the limit would reach the CLI as the function's failure, not as drift. Definitions are cut
 * first (each keeps its start, which names what it is), then whole differences are left out, and
 * the answer says how many of each, so the CLI reports drift with a warning, never "no drift".
 */
import { INVOKE_PAYLOAD_LIMIT_BYTES, type DriftDifference } from '../contract/index.js';

/** Room left for the rest of the envelope (request id, counts, the logs' tail). */
const ENVELOPE_MARGIN_BYTES = 256 * 1024;
/** A cut definition keeps this many characters. */
export const SHORTENED_DEFINITION_CHARS = 4096;

export interface FittedDifferences {
  differences: DriftDifference[];
  /** Definitions cut to {@link SHORTENED_DEFINITION_CHARS}. */
  shortened: number;
  /** Differences left out entirely (the last ones, in the diff's order). */
  omitted: number;
}

const bytes = (d: DriftDifference) => Buffer.byteLength(JSON.stringify(d));

function shorten(text: string | undefined): { text: string | undefined; cut: boolean } {
  if (text === undefined || text.length <= SHORTENED_DEFINITION_CHARS) return { text, cut: false };
  const rest = text.length - SHORTENED_DEFINITION_CHARS;
  return { text: `${text.slice(0, SHORTENED_DEFINITION_CHARS)}… (${rest} more characters)`, cut: true };
}

export function fitDifferences(
  differences: readonly DriftDifference[],
  limitBytes: number = INVOKE_PAYLOAD_LIMIT_BYTES - ENVELOPE_MARGIN_BYTES,
): FittedDifferences {
  const total = differences.reduce((n, d) => n + bytes(d) + 1, 2);
  if (total <= limitBytes) return { differences: [...differences], shortened: 0, omitted: 0 };
  let shortened = 0;
  const cut = differences.map((d) => {
    const expected = shorten(d.expected);
    const live = shorten(d.live);
    shortened += Number(expected.cut) + Number(live.cut);
    return {
      ...d,
      ...(expected.text !== undefined ? { expected: expected.text } : {}),
      ...(live.text !== undefined ? { live: live.text } : {}),
    };
  });
  const kept: DriftDifference[] = [];
  let used = 2;
  for (const d of cut) {
    const size = bytes(d) + 1;
    if (used + size > limitBytes) break;
    kept.push(d);
    used += size;
  }
  return { differences: kept, shortened, omitted: cut.length - kept.length };
}
