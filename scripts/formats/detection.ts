/**
 * What tells the formats apart (formats/select.ts decides with it), apart from either format's
 * code so the flags' help can name the rule without loading a format.
 */
import path from 'node:path';

/** A Drizzle migrations folder holds this journal. */
export const JOURNAL_FILE = path.join('meta', '_journal.json');

/** How detection decides, for messages (`--format` remedies). */
export const DETECTION_RULE = `${JOURNAL_FILE} present → drizzle`;
