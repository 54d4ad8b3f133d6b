/** Every lint rule, in the order findings of one statement are listed. */
import { addColumnNotNullNoDefault } from './add-column-not-null-no-default.js';
import { concurrentlyMixed } from './concurrently-mixed.js';
import { createIndexNotConcurrently } from './create-index-not-concurrently.js';
import { destructiveDrop } from './destructive-drop.js';
import { enumValueSameTransaction } from './enum-value-same-transaction.js';
import { indexRecreation } from './index-recreation.js';
import { parseError } from './parse-error.js';
import { prismaM2mChurn } from './prisma-m2m-churn.js';
import type { Rule } from './rule.js';
import { ownTransactionShape } from './own-transaction-shape.js';
import { sessionReset } from './session-reset.js';
import { sessionSetLeak } from './session-set-leak.js';

export const RULES: readonly Rule[] = [
  parseError,
  concurrentlyMixed,
  ownTransactionShape,
  enumValueSameTransaction,
  prismaM2mChurn,
  indexRecreation,
  createIndexNotConcurrently,
  addColumnNotNullNoDefault,
  destructiveDrop,
  sessionSetLeak,
  sessionReset,
];

export type { Rule } from './rule.js';
