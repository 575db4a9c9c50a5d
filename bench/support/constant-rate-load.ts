/**
 * An open-loop HTTP load generator at a constant rate (what wrk2 does, written here because
 * neither wrk2 nor an open-loop mode of autocannon is available): request i is due at
 * `start + i / rate` whether or not earlier requests have been answered, and its latency runs
 * from that due time to the end of its response, so a stall anywhere (the server, or this
 * generator's own event loop sending late) counts against the percentiles instead of quietly
 * lowering the rate.
 *
 * Why not autocannon's `overallRate`: autocannon 8 limits each connection to its share per
 * second (`reqsMadeThisSecond`, reset by a 1 s interval) and sends that share back to back at
 * the start of every second, so "1,000 requests/s over 20 connections" is a burst of 20
 * concurrent requests each second until 1,000 are done, then silence; and its coordinated
 * omission correction assumes a request was due every `ceil(1 / 50)` = 1 ms on each connection,
 * which adds synthetic slow samples for every response slower than 1 ms.
 */
import { connect, type Socket } from 'node:net';

export type ConstantRateOptions = {
  url: string;
  headers?: Record<string, string>;
  /** Requests per second. */
  rate: number;
  durationSeconds: number;
  /** Keep-alive sockets the generator may open (a request waits for one when all are busy). */
  maxSockets?: number;
};

export type ConstantRateResult = {
  requests: number;
  /** Responses that were not 2xx, plus requests that failed. */
  failed: number;
  /** Achieved rate: responses / seconds from the first due time to the last response. */
  achievedRate: number;
  /** Latency percentiles from each request's due time to the end of its response (ms). */
  latency: { p50: number; p90: number; p99: number; max: number; min: number };
  /** The same from the moment the request was actually written (ms): the server's share. */
  serviceLatency: { p50: number; p99: number };
  /** How late this generator sent requests behind their due times (ms): its own share. */
  sendLag: { p50: number; p99: number };
};

/** The q-quantile of ascending `sorted` (nearest rank, as HdrHistogram reports percentiles). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

const ascending = (xs: number[]) => Float64Array.from(xs).sort();

type Pending = { dueAt: number; sentAt: number };

/**
 * One keep-alive HTTP/1.1 connection with at most one request outstanding, parsing just enough
 * of the response (status line, Content-Length, the body's length) to know when it ends. Node's
 * own http client spent ~400 µs of CPU per 19 KB response here, twice the server's time, on the
 * same two cores: the generator would have measured itself.
 */
class Connection {
  private header: Buffer = Buffer.alloc(0);
  private bodyLeft = -1;
  private status = 0;
  private pending: Pending | undefined;
  readonly socket: Socket;

  constructor(
    port: number,
    host: string,
    private readonly onDone: (connection: Connection, pending: Pending, ok: boolean) => void,
    private readonly onError: (connection: Connection, error: Error) => void,
  ) {
    this.socket = connect({ port, host, noDelay: true });
    this.socket.on('data', (chunk) => this.receive(chunk));
    this.socket.on('error', (error) => this.onError(this, error));
    // A close while idle (the server's keep-alive timeout) drops the connection too: a request
    // written to a closed socket would otherwise wait for an answer forever.
    this.socket.on('close', () => this.onError(this, new Error('connection closed')));
  }

  send(requestBytes: Buffer, dueAt: number): void {
    this.pending = { dueAt, sentAt: performance.now() };
    if (this.socket.destroyed) this.onError(this, new Error('connection closed'));
    else this.socket.write(requestBytes);
  }

  get sentAt(): number | undefined {
    return this.pending?.sentAt;
  }

  /** The outstanding request, if any, which this connection will no longer answer. */
  abandon(): Pending | undefined {
    const pending = this.pending;
    this.pending = undefined;
    this.socket.destroy();
    return pending;
  }

  private receive(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.bodyLeft < 0) {
        this.header = this.header.length ? Buffer.concat([this.header, rest]) : rest;
        const end = this.header.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.header.toString('latin1', 0, end);
        this.status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (!length) {
          this.onError(this, new Error('a response without Content-Length (chunked is not supported here)'));
          return;
        }
        this.bodyLeft = Number(length[1]);
        rest = this.header.subarray(end + 4);
        this.header = Buffer.alloc(0);
      }
      const taken = Math.min(this.bodyLeft, rest.length);
      this.bodyLeft -= taken;
      rest = rest.subarray(taken);
      if (this.bodyLeft === 0) {
        this.bodyLeft = -1;
        const pending = this.pending;
        this.pending = undefined;
        if (pending) this.onDone(this, pending, this.status >= 200 && this.status < 300);
      }
    }
  }
}

export async function constantRateLoad(options: ConstantRateOptions): Promise<ConstantRateResult> {
  const total = Math.round(options.rate * options.durationSeconds);
  const intervalMs = 1000 / options.rate;
  const maxSockets = options.maxSockets ?? 64;
  const url = new URL(options.url);
  const headerLines = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const requestBytes = Buffer.from(
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n${headerLines}\r\n`,
    'latin1',
  );
  const latencies: number[] = [];
  const service: number[] = [];
  const lag: number[] = [];
  const idle: Connection[] = [];
  const connections: Connection[] = [];
  const waiting: number[] = [];
  let failed = 0;
  let answered = 0;
  let lastResponseAt = 0;
  let settle: (() => void) | undefined;

  const finished = () => {
    answered++;
    if (answered === total) settle?.();
  };
  const dispatch = (connection: Connection, dueAt: number) => {
    connection.send(requestBytes, dueAt);
    lag.push((connection.sentAt ?? dueAt) - dueAt);
  };
  const release = (connection: Connection) => {
    const dueAt = waiting.shift();
    if (dueAt === undefined) idle.push(connection);
    else dispatch(connection, dueAt);
  };
  const onDone = (connection: Connection, pending: Pending, ok: boolean) => {
    const now = performance.now();
    lastResponseAt = now;
    if (ok) {
      latencies.push(now - pending.dueAt);
      service.push(now - pending.sentAt);
    } else {
      failed++;
    }
    finished();
    release(connection);
  };
  const onError = (connection: Connection, _error: Error) => {
    // The connection is dropped (its outstanding request counts as failed); the load goes on.
    const at = connections.indexOf(connection);
    if (at >= 0) connections.splice(at, 1);
    const idleAt = idle.indexOf(connection);
    if (idleAt >= 0) idle.splice(idleAt, 1);
    if (connection.abandon()) {
      failed++;
      finished();
    }
  };
  const submit = (dueAt: number) => {
    const connection = idle.pop();
    if (connection) return dispatch(connection, dueAt);
    if (connections.length < maxSockets) {
      const opened = new Connection(Number(url.port || 80), url.hostname, onDone, onError);
      connections.push(opened);
      return dispatch(opened, dueAt);
    }
    waiting.push(dueAt);
  };

  const allAnswered = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const start = performance.now() + 5;
  let next = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      // Every request due by now goes out now; the timer only decides how often we look.
      while (next < total && start + next * intervalMs <= now) {
        submit(start + next * intervalMs);
        next++;
      }
      if (next >= total) return done();
      setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    setTimeout(tick, 5);
  });
  await allAnswered;
  for (const connection of connections) connection.socket.destroy();

  const sorted = ascending(latencies);
  const sortedService = ascending(service);
  const sortedLag = ascending(lag);
  return {
    requests: next,
    failed,
    achievedRate: answered / ((lastResponseAt - start) / 1000),
    latency: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      min: sorted[0] ?? Number.NaN,
    },
    serviceLatency: { p50: percentile(sortedService, 0.5), p99: percentile(sortedService, 0.99) },
    sendLag: { p50: percentile(sortedLag, 0.5), p99: percentile(sortedLag, 0.99) },
  };
}
