/**
 * The one form every remedy names a command in, on both sides of the wire: backticked
 * `vpc-migrate <command> <args…>`, each argument quoted for a POSIX shell. The worker cannot
 * know how the user runs the CLI (a package script, the bin, `node …/run-cli.mjs`) nor the
 * target flags of the run; the CLI rewrites each such command into the user's own invocation
 * when it prints it (scripts/invocation.ts).
 */

/** The program name of the canonical form. */
export const REMEDY_PROGRAM = 'vpc-migrate';

/** A word as a POSIX shell reads it: as it is when that is safe, else single-quoted (folder names may hold spaces). */
export function sh(word: string): string {
  return /^[A-Za-z0-9_.,:@%+=\/-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * `` `vpc-migrate <command> <args…>` ``, backticks included, for a remedy text.
 *
 * @example remedyCommand('resolve', '--rolled-back', name) // `vpc-migrate resolve --rolled-back 20240101_x`
 */
export function remedyCommand(command: string, ...args: string[]): string {
  return '`' + [REMEDY_PROGRAM, command, ...args.map(sh)].join(' ') + '`';
}

/** The two ways out of a failed migration, both as whole commands. */
export function resolveEither(name: string): string {
  return `${remedyCommand('resolve', '--rolled-back', name)} (to retry it) or ${remedyCommand('resolve', '--applied', name)} (if it is in fact complete)`;
}
