/**
 * The worker's `drift` action, one step per invocation (lambda/contract/wire.ts DriftEventSchema):
 * `begin` readies the place the expected schema is built in (a scratch database on the target's
 * server, or the dev database), `apply` runs the ledger's migrations there through deploy's own
 * path (apply-batch.ts), `compare` introspects it and the live database and answers the
 * differences, `end` cleans up. `compare` cleans up too, whatever happens.
 */
import type pg from 'pg';
import { applyBatch } from '../apply-batch.js';
import { type DriftResult, type ParsedDrift, quoteIdent } from '../contract/index.js';
import { fitDifferences } from './answer-size.js';
import { close, type Db, withDatabaseName } from '../db.js';
import type { WorkerFormat } from '../format.js';
import type { Logger } from '../log.js';
import { introspect } from './catalog.js';
import { DEV_MARKER_SCHEMA, emptyDev, prepareDev, renewDev } from './dev-database.js';
import { diffCatalogs } from './diff.js';
import { claim, createScratch, dropScratch, renewScratch, scratchGone, sweepStale } from './scratch.js';

type ConnectionSource = (opts?: { refresh?: boolean }) => Promise<pg.ClientConfig>;

export interface DriftContext {
  /** The live database (the event's target), as the migrating login. */
  db: Db;
  log: Logger;
  remainingMs: () => number;
  /** The target's connection settings: the scratch database is reached with them, another name given. */
  target: ConnectionSource;
  /** The dev database's connection settings, from the allow-list. */
  dev: (name: string) => ConnectionSource;
  /** Opens a session from settings (the handler's `open`: application name, re-fetch after a rotation). */
  open: (source: ConnectionSource) => Promise<Db>;
  format: WorkerFormat;
}

/** Where the expected schema is built, as one step sees it. */
interface Place {
  source: ConnectionSource;
  label: string;
  renew: (session: Db, remainingMs: number) => Promise<void>;
  cleanUp: () => Promise<boolean>;
  excludeSchemas: string[];
  /** What a failure to connect means here: a scratch database that is gone (3D000) is its own error. */
  gone?: (error: unknown) => Error | undefined;
}

function placeOf(ctx: DriftContext, event: ParsedDrift): Place {
  if (event.devDatabase !== undefined) {
    const source = ctx.dev(event.devDatabase);
    return {
      source,
      label: `the dev database "${event.devDatabase}"`,
      renew: (session, ms) => renewDev(session, ms, event.run),
      cleanUp: async () => {
        const session = await ctx.open(source);
        try {
          return await emptyDev(session, { unmark: true, ...(event.run !== undefined ? { run: event.run } : {}) });
        } finally {
          await close(session);
        }
      },
      excludeSchemas: [DEV_MARKER_SCHEMA],
    };
  }
  const name = event.scratch!;
  return {
    source: async (opts) => withDatabaseName(await ctx.target(opts), name),
    label: `the scratch database ${name}`,
    renew: (_session, ms) => renewScratch(ctx.db, name, ms),
    cleanUp: () => dropScratch(ctx.db, name),
    excludeSchemas: [],
    gone: (error) =>
      (error as { details?: { code?: string } }).details?.code === '3D000' ? scratchGone(name) : undefined,
  };
}

export async function runDrift(ctx: DriftContext, event: ParsedDrift): Promise<DriftResult> {
  if (event.step === 'begin') return begin(ctx, event);
  const place = placeOf(ctx, event);
  if (event.step === 'end') return { step: 'end', cleanedUp: await place.cleanUp() };
  if (event.step === 'apply') {
    return withClaim(ctx, place, async (session) => ({
      step: 'apply',
      apply: await applyBatch(
        { db: session, log: ctx.log, remainingMs: ctx.remainingMs, openSession: () => ctx.open(place.source) },
        ctx.format,
        { requestId: event.requestId, migrations: event.migrations ?? [], options: event.options },
      ),
    }));
  }
  // compare: whatever happens, the scratch database goes (the dev database is emptied).
  const cleanUp = () =>
    place.cleanUp().catch((e: unknown) => {
      ctx.log.warn('drift clean-up failed', { error: String(e) });
      return false;
    });
  let compared: Pick<DriftResult, 'differences' | 'shortened' | 'omitted' | 'objects'>;
  try {
    compared = await withClaim(ctx, place, async (session) => {
      // The ledgers are left out by introspect(), what --exclude names by diffCatalogs().
      const expected = await introspect(session, { excludeSchemas: place.excludeSchemas });
      const live = await introspect(ctx.db);
      const fitted = fitDifferences(diffCatalogs(expected, live, { exclude: event.exclude ?? [] }));
      return {
        differences: fitted.differences,
        ...(fitted.shortened > 0 ? { shortened: fitted.shortened } : {}),
        ...(fitted.omitted > 0 ? { omitted: fitted.omitted } : {}),
        objects: { expected: expected.objects.length, live: live.objects.length },
      };
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  // A clean-up that fails keeps the comparison: the answer says so, and the CLI asks again (`end`).
  return { step: 'compare', ...compared, cleanedUp: await cleanUp() };
}

async function begin(ctx: DriftContext, event: ParsedDrift): Promise<DriftResult> {
  const ledgerSchema = await connectionSchema(ctx.db);
  if (event.devDatabase !== undefined) {
    const session = await ctx.open(ctx.dev(event.devDatabase));
    try {
      await claim(session, `The dev database "${event.devDatabase}"`);
      const devEmptied = await prepareDev(session, event.devDatabase, ctx.remainingMs(), event.run);
      await ensureSchema(session, ledgerSchema);
      return { step: 'begin', devEmptied };
    } finally {
      await close(session);
    }
  }
  const sweep = await sweepStale(ctx.db);
  if (sweep.removed.length > 0) ctx.log.info('drift removed stale scratch databases', { removed: sweep.removed });
  const scratch = await createScratch(ctx.db, ctx.remainingMs());
  if (ledgerSchema !== 'public') {
    // The CLI learns the name only from this answer: a failure here drops the database itself.
    try {
      const session = await ctx.open(placeOf(ctx, { ...event, scratch }).source);
      try {
        await ensureSchema(session, ledgerSchema);
      } finally {
        await close(session);
      }
    } catch (error) {
      await dropScratch(ctx.db, scratch).catch(() => undefined);
      throw error;
    }
  }
  return { step: 'begin', scratch, removedStale: sweep.removed, keptStale: sweep.kept };
}

/** The live session's schema (a `?schema=` URL's, else `public`): where the ledger and unqualified objects go. */
async function connectionSchema(db: Db): Promise<string> {
  return (await db.query<{ s: string | null }>('SELECT pg_catalog.current_schema() AS s')).rows[0]?.s ?? 'public';
}

/**
 * The expected schema starts where the live one did: with the connection's schema there (deploy
 * never creates it; whoever set `?schema=` did), so the ledger and the migrations land in it.
 */
async function ensureSchema(session: Db, schema: string): Promise<void> {
  if (schema !== 'public') await session.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
}

/**
 * Runs `work` on a session in the place, holding the drift lock there (its run is alive while
 * it is held: the sweep leaves it alone) with the lease renewed to this invocation's end.
 */
async function withClaim<T>(ctx: DriftContext, place: Place, work: (session: Db) => Promise<T>): Promise<T> {
  const holder = await ctx.open(place.source).catch((error: unknown) => {
    throw place.gone?.(error) ?? error;
  });
  try {
    await claim(holder, place.label.replace(/^the/, 'The'));
    await place.renew(holder, ctx.remainingMs());
    const session = await ctx.open(place.source);
    try {
      return await work(session);
    } finally {
      await close(session);
    }
  } finally {
    await close(holder);
  }
}
