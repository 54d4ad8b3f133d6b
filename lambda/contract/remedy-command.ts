/**
 * The one form every remedy names a command in, on both sides of the wire: backticked
 * `vpc-migrate <command> <args…>`, each argument quoted for a POSIX shell. The worker cannot
 * know how the user runs the CLI (a package script, the bin, `node …/run-cli.mjs`) nor the
 * target flags of the run; the CLI rewrites each such command into the user's own invocation
 * when it prints it (scripts/invocation.ts).
 */

/** The program name of the canonical form. */
export const REMEDY_PROGRAM = 'vpc-migrate';

/**
 * A word as a shell reads it: as it is when that is safe, else single-quoted (folder names may
 * hold spaces). A word with control characters (an escape sequence, a newline in a folder name)
 * is ANSI-C quoted, `$'…'` with `\xNN`: the printed command shows no raw control character and
 * still names the folder when pasted (bash, zsh, ksh, busybox sh, and POSIX.1-2024 sh).
 */
export function sh(word: string): string {
  if (/^[A-Za-z0-9_.,:@%+=/-]+$/.test(word)) return word;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(word)) {
    const body = word.replace(/[\\']|[\u0000-\u001f\u007f-\u009f]/g, (c) =>
      c === '\\' || c === "'" ? `\\${c}` : ansiC(c),
    );
    return `$'${body}'`;
  }
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * One control character inside `$'…'`: `\xNN` for C0 and DEL; a C1 character (U+0080–U+009F) is
 * two bytes in UTF-8, written byte by byte so the shell rebuilds the same name in any locale.
 */
function ansiC(c: string): string {
  return [...Buffer.from(c, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
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
  return (
    `${remedyCommand('resolve', '--rolled-back', name)} ` +
    `(to retry it) or ${remedyCommand('resolve', '--applied', name)} ` +
    `(if it is in fact complete)`
  );
}
