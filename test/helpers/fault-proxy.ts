/**
 * A lossy network between the CLI and the Invoke endpoint: an HTTP proxy on 127.0.0.1 that
 * forwards every request and can lose answers.
 * - `dropWhen(match)`: a matching request reaches the worker and runs to the end, but its answer
 *   never reaches the client (the connection is reset instead): "response lost after commit".
 * - `cut()`: resets the client side of every request in flight while the worker keeps running:
 *   the client gave up (its timeout) while the worker was still committing.
 * `requests` keeps every body sent (so a test can replay the very same event).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LossyProxy {
  url: string;
  requests: string[];
  /** Loses the answer of every request whose body matches (null: lose none). */
  dropWhen(match: ((body: string) => boolean) | null): void;
  cut(): number;
  close(): Promise<void>;
}

export async function startLossyProxy(target: string): Promise<LossyProxy> {
  const upstream = new URL(target);
  let drop: ((body: string) => boolean) | null = null;
  const requests: string[] = [];
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      requests.push(text);
      const lose = drop?.(text);
      inFlight.add(res);
      const forward = request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            inFlight.delete(res);
            if (lose || res.destroyed) return void res.socket?.destroy();
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(parts));
          });
        },
      );
      forward.on('error', () => res.socket?.destroy());
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dropWhen(match) {
      drop = match;
    },
    cut() {
      const n = inFlight.size;
      for (const res of inFlight) res.socket?.destroy();
      inFlight.clear();
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
