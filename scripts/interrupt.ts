/**
 * Ctrl-C and SIGTERM while a command talks to the worker. Lambda finishes an invocation even
 * when its caller goes away, so leaving silently would hide what happens next: the first signal
 * says what the worker may still be doing, that the migration lock protects the database, and
 * which command shows the outcome (`next`), then lets the invocation in flight answer (deploy sends no
 * further one) and exits 130 / 143. A second signal exits at once.
 */
import { MIGRATION_LOCK_KEY } from '../lambda/contract/index.js';

export interface Interruption {
  signal: 'SIGINT' | 'SIGTERM';
  exitCode: 130 | 143;
  message: string;
  next: string;
}

export interface InterruptWatch {
  /** The interruption, once a signal came. */
  current(): Interruption | undefined;
  stop(): void;
}

/** What a command says on the first signal instead of the migrating commands' text (drift changes nothing). */
export type InterruptMessage = (signal: 'SIGINT' | 'SIGTERM') => string;

/** `next` is the sentence naming the status command, as the user runs it (scripts/invocation.ts). */
export function interruptionOf(signal: 'SIGINT' | 'SIGTERM', next: string, own?: InterruptMessage): Interruption {
  return {
    signal,
    exitCode: signal === 'SIGINT' ? 130 : 143,
    message: own
      ? own(signal)
      : `Interrupted (${signal}). The worker may still be running ` +
        `what it was sent: Lambda finishes an invocation even ` +
        `when ` +
        (`the caller goes away. The migration lock (pg_advisory_lock ` +
          `${MIGRATION_LOCK_KEY}) keeps every other deploy out ` +
          `until it is done, `) +
        `and each migration is recorded with its effect, so nothing is half-recorded. No further migration is sent.`,
    next,
  };
}

/**
 * Watches SIGINT/SIGTERM. `say` prints the first interruption (text or JSON, as the command's
 * output); `exitNow` ends the process on the second one.
 */
export function watchInterrupts(
  next: string,
  say: (i: Interruption, final: boolean) => void,
  exitNow: (code: number) => void,
  own?: InterruptMessage,
): InterruptWatch {
  let seen: Interruption | undefined;
  const on = (signal: 'SIGINT' | 'SIGTERM') => () => {
    if (seen) {
      say(seen, true);
      exitNow(seen.exitCode);
      return;
    }
    seen = interruptionOf(signal, next, own);
    say(seen, false);
  };
  const onInt = on('SIGINT');
  const onTerm = on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    current: () => seen,
    stop() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}
