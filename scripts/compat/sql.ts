/**
 * SQL text for a worker that only answers "how many rows": literals, `DO` blocks, and the two
 * side channels such a worker still has.
 *
 * - **Answers** travel as an error: a `DO` block computes JSON, base64-encodes it and RAISEs it
 *   as the message (`vpcm-answer:<nonce>:<length>:<base64>:end`). Whatever wraps the message
 *   (Prisma's `Raw query failed. Code: … Message: …`, the Lambda runtime's `errorMessage`,
 *   JSON escaping) cannot damage base64, the nonce ties the answer to the question, and the
 *   length shows truncation. The RAISE also rolls back anything the block did.
 * - **Guards** are RAISEs with a fixed marker (`vpcm-guard:<kind>`) that the client branches on.
 */
import { randomBytes } from 'node:crypto';

/** A dollar-quote tag that occurs in none of `texts`. */
export function dollarTag(texts: readonly string[]): string {
  for (;;) {
    const tag = `$vpcm_${randomBytes(4).toString('hex')}$`;
    if (!texts.some((t) => t.includes(tag))) return tag;
  }
}

/** `DO $tag$ DECLARE … BEGIN … END $tag$` around PL/pgSQL statements (each ending in `;`). */
export function doBlock(body: readonly string[], declare: readonly string[] = []): string {
  const tag = dollarTag(body);
  const decl = declare.length > 0 ? `DECLARE\n  ${declare.join('\n  ')}\n` : '';
  return `DO ${tag}\n${decl}BEGIN\n  ${body.join('\n  ')}\nEND\n${tag}`;
}

export const ANSWER_PREFIX = 'vpcm-answer:';
export const GUARD_PREFIX = 'vpcm-guard:';

export function newNonce(): string {
  return randomBytes(6).toString('hex');
}

/** PL/pgSQL that RAISEs the JSON value of `jsonExpr` as an answer for `nonce`. Needs `vpcm_b64 text` declared. */
export function raiseAnswer(jsonExpr: string, nonce: string): string[] {
  return [
    `vpcm_b64 := translate(encode(convert_to((${jsonExpr})::text, 'UTF8'), 'base64'), E'\\n', '');`,
    `RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = ` +
      `format('${ANSWER_PREFIX}%s:%s:%s:end', '${nonce}', ` +
      `length(vpcm_b64), vpcm_b64);`,
  ];
}

export type AnswerDecoding =
  | { kind: 'answer'; value: unknown }
  /** The marker is there but the text is cut or damaged: the worker shortens long errors. */
  | { kind: 'damaged'; reason: string }
  | { kind: 'none' };

/** Finds and decodes the answer for `nonce` anywhere in an error text. */
export function decodeAnswer(text: string, nonce: string): AnswerDecoding {
  const at = text.indexOf(`${ANSWER_PREFIX}${nonce}:`);
  if (at === -1) return { kind: 'none' };
  const match = /^vpcm-answer:[0-9a-f]+:(\d+):([A-Za-z0-9+/=]*)(:end)?/.exec(text.slice(at));
  if (!match) return { kind: 'damaged', reason: 'the answer marker is not followed by base64' };
  const [, length, b64 = '', end] = match;
  if (!end || b64.length !== Number(length)) {
    return { kind: 'damaged', reason: `${b64.length} of ${length} base64 characters arrived` };
  }
  try {
    return { kind: 'answer', value: JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) };
  } catch (error) {
    return { kind: 'damaged', reason: `the answer is not JSON (${(error as Error).message})` };
  }
}

export type GuardKind = 'busy' | 'running' | 'recorded' | 'failed' | 'changed';

export interface GuardHit {
  kind: GuardKind;
  /** For `failed` and `running`: the unfinished migration's name. */
  name?: string;
}

/** Finds a guard marker in an error text. */
export function decodeGuard(text: string): GuardHit | undefined {
  const match = /vpcm-guard:(busy|running|recorded|failed|changed)(?::([0-9a-f]*))?/.exec(text);
  if (!match) return undefined;
  const hit: GuardHit = { kind: match[1] as GuardKind };
  if (match[2]) hit.name = Buffer.from(match[2], 'hex').toString('utf8');
  return hit;
}

/** `RAISE EXCEPTION` for a guard, optionally with a text expression hex-encoded after it. */
export function raiseGuard(kind: GuardKind, textExpr?: string): string {
  if (!textExpr) return `RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = '${GUARD_PREFIX}${kind}';`;
  return (
    `RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = ` +
    `'${GUARD_PREFIX}${kind}:' || encode(convert_to(${textExpr}, ` +
    `'UTF8'), 'hex');`
  );
}

/** `to_char` pattern giving JavaScript's `Date#toISOString()` for a UTC timestamp. */
export function isoUtc(expr: string): string {
  return `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}
