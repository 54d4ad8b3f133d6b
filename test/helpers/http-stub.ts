/**
 * A plain HTTP server standing where the Invoke endpoint should be, for the cases that are about
 * the wire itself (a dropped connection, a flag refused before anything is sent). It counts the
 * requests that reach it; `answer` decides what each gets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpStub {
  url: string;
  /** How many requests have reached it. */
  requests(): number;
  close(): Promise<void>;
}

export async function httpStub(
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<HttpStub> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
