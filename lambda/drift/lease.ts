/**
 * What makes a database drift's own, and how long it stays claimed: a JSON marker (in the
 * scratch database's comment, or the dev database's marker schema's) with when it was created
 * and until when the run that created it may come back to it. Pure: no I/O here.
 */

export const DRIFT_MARKER = 'vpc-migrate drift';

/**
 * How long after an invocation's end its database stays claimed: the CLI sends the next step
 * right after an answer, so this only has to cover the network and the CLI's own work.
 */
export const LEASE_GRACE_MS = 120_000;

export interface Lease {
  marker: typeof DRIFT_MARKER;
  createdAt: string;
  leaseUntil: string;
  /**
   * The run holding it (the CLI's `run`): a dev database's name is shared by every run, so after
   * a lease expired and another run took it over, the first run's later steps must not touch it.
   */
  run?: string;
}

/** A fresh or renewed lease: it lasts the invocation's remaining time plus the grace, from the server's `now`. */
export function leaseFrom(now: Date, remainingMs: number, createdAt?: string, run?: string): Lease {
  return {
    marker: DRIFT_MARKER,
    createdAt: createdAt ?? now.toISOString(),
    leaseUntil: new Date(now.getTime() + Math.max(0, remainingMs) + LEASE_GRACE_MS).toISOString(),
    ...(run !== undefined ? { run } : {}),
  };
}

/** Whether `run` may act on a database under `lease`: a lease of another run says no (one of no run, any). */
export function leaseHeldBy(lease: Lease, run: string | undefined): boolean {
  return lease.run === undefined || run === undefined || lease.run === run;
}

/** The lease a comment holds, or undefined when the comment is not ours (anything else: never touched). */
export function parseLease(comment: string | null | undefined): Lease | undefined {
  if (!comment) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(comment);
  } catch {
    return undefined;
  }
  const v = value as Partial<Lease> | null;
  if (!v || v.marker !== DRIFT_MARKER || typeof v.createdAt !== 'string' || typeof v.leaseUntil !== 'string')
    return undefined;
  if (Number.isNaN(Date.parse(v.leaseUntil)) || Number.isNaN(Date.parse(v.createdAt))) return undefined;
  return {
    marker: DRIFT_MARKER,
    createdAt: v.createdAt,
    leaseUntil: v.leaseUntil,
    ...(typeof v.run === 'string' ? { run: v.run } : {}),
  };
}

export function leaseExpired(lease: Lease, now: Date): boolean {
  return Date.parse(lease.leaseUntil) < now.getTime();
}

/** A lease as a string literal for COMMENT ON (which takes no parameters). */
export function leaseLiteral(lease: Lease): string {
  return `'${JSON.stringify(lease).replace(/'/g, "''")}'`;
}
