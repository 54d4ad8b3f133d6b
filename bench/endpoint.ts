/**
 * The benchmark's "already running" worker: ONE long-lived process serving the local Invoke
 * endpoint (scripts/local/endpoint.ts) with the real worker handler (lambda/handler.ts), as
 * `--local` does, but started once for the whole run so no round pays for its start-up.
 *
 * Each fresh database gets its own function name; the parent registers it over IPC before the
 * timed CLI run starts (`{ type: 'add', name, databaseUrl }` → `{ type: 'added', name }`).
 * Started by bench/run.ts with `fork(…, { execArgv: ['--import', 'tsx'] })`.
 */
import { createHandler, createLogger } from '../lambda/handler.js';
import { startInvokeEndpoint, writeInvocationLog, type LocalFunction } from '../scripts/local/endpoint.js';

/** Lambda's maximum, as in `--local`. */
const TIMEOUT_MS = 900_000;

export type EndpointMessage =
  | { type: 'add'; name: string; databaseUrl: string }
  | { type: 'remove'; name: string }
  | { type: 'stop' };

export type EndpointReply =
  | { type: 'ready'; url: string }
  | { type: 'added'; name: string }
  | { type: 'removed'; name: string };

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/endpoint.ts runs as a child of bench/run.ts (IPC channel required)');
  const functions: Record<string, LocalFunction> = {};
  // Worker logs go to the invocation's log tail, which the benchmark drops (CloudWatch in AWS).
  const logger = createLogger({ service: 'vpc-migrate-worker' }, writeInvocationLog);
  const endpoint = await startInvokeEndpoint({ functions });
  const reply = (message: EndpointReply) => process.send?.(message);
  process.on('message', (message: EndpointMessage) => {
    switch (message.type) {
      case 'add':
        functions[message.name] = {
          handler: createHandler({ databaseUrl: message.databaseUrl, logger }),
          timeoutMs: TIMEOUT_MS,
        };
        reply({ type: 'added', name: message.name });
        break;
      case 'remove':
        delete functions[message.name];
        reply({ type: 'removed', name: message.name });
        break;
      case 'stop':
        void endpoint.close().then(() => process.exit(0));
        break;
    }
  });
  process.on('disconnect', () => void endpoint.close().then(() => process.exit(0)));
  reply({ type: 'ready', url: endpoint.url });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench endpoint failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
