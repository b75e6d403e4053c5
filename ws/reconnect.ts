/**
 * Staying connected: a backoff policy (exponential, with jitter, reset by a connection that
 * lasted), a heartbeat (no message or pong for too long → the connection is presumed dead), and
 * {@linkcode Reconnector}, which keeps a WebSocket open through both and tells the application
 * what happens. It runs on Deno's timers, beside a {@linkcode StackDriver}.
 *
 * @example
 * ```ts ignore
 * const feed = new Reconnector(
 *   () => new WebSocketClient(stack.connect("10.0.0.1", 8080), "ws://10.0.0.1:8080/feed"),
 *   { heartbeatMs: 5000 },
 * );
 * feed.onEvent = (e) => console.log(e.type, e.attempt, e.delayMs ?? "", e.reason ?? "");
 * feed.onOpen = (ws) => ws.send("subscribe"); // after every (re)connection
 * feed.onMessage = (data, offset, length, text) => handle(data, offset, length, text);
 * feed.start();
 * ```
 *
 * @module
 */
import type { WebSocketClient } from "./client.ts";

/** Options of a {@linkcode Backoff}. */
export interface BackoffOptions {
  /** The first delay, ms. Default: 250. */
  initialMs?: number;
  /** The largest delay, ms. Default: 30000. */
  maxMs?: number;
  /** Growth per failed attempt. Default: 2. */
  factor?: number;
  /** How much of each delay is random, 0..1 (1: "full jitter"). Default: 0.5. */
  jitter?: number;
  /** The random source, [0, 1). Default: Math.random. */
  random?: () => number;
}

/** Delays between attempts: initial · factor^n, capped, with part of each drawn at random. */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  /** Attempts since the last success. */
  attempts = 0;

  /** A policy with `options`. */
  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? 250;
    this.#max = options.maxMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0.5;
    this.#random = options.random ?? Math.random;
    if (!(this.#initial > 0 && this.#max >= this.#initial && this.#factor >= 1)) {
      throw new RangeError("Backoff: need 0 < initialMs ≤ maxMs and factor ≥ 1");
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) throw new RangeError("Backoff: jitter in 0..1");
  }

  /** The delay before the next attempt, ms (and counts the attempt). */
  next(): number {
    const base = Math.min(this.#max, this.#initial * this.#factor ** this.attempts++);
    return base * (1 - this.#jitter) + base * this.#jitter * this.#random();
  }

  /** A connection succeeded: the next failure starts from the first delay again. */
  reset(): void {
    this.attempts = 0;
  }
}

/** What a {@linkcode Reconnector} tells the application. */
export interface ReconnectEvent {
  /** `open`: connected; `close`: the connection ended; `retry`: the next attempt is scheduled;
   * `heartbeat`: nothing arrived for `heartbeatMs`, the connection is dropped. */
  type: "open" | "close" | "retry" | "heartbeat";
  /** Attempts since the last successful connection. */
  attempt: number;
  /** For `retry`: the wait before it, ms. */
  delayMs?: number;
  /** For `close`: the close code and reason. */
  code?: number;
  /** For `close`: the reason. */
  reason?: string;
}

/** Options of a {@linkcode Reconnector}. */
export interface ReconnectorOptions extends BackoffOptions {
  /**
   * Drop the connection when no message, ping or pong arrived for this long, ms; a ping is
   * sent at half of it. 0: no heartbeat. Default: 0.
   */
  heartbeatMs?: number;
}

/** Keeps a WebSocket connected; see the module doc. */
export class Reconnector {
  readonly #open: () => WebSocketClient;
  readonly #backoff: Backoff;
  readonly #heartbeatMs: number;
  #ws: WebSocketClient | null = null;
  #running = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #beatTimer: ReturnType<typeof setInterval> | undefined;
  #lastHeard = 0;
  /** Each event, as it happens. */
  onEvent: ((event: ReconnectEvent) => void) | null = null;
  /** After every successful (re)connection: subscribe here. */
  onOpen: ((ws: WebSocketClient) => void) | null = null;
  /** Messages of whichever connection is current (in place, as the client gives them). */
  onMessage:
    | ((data: Uint8Array, offset: number, length: number, text: boolean) => void)
    | null = null;

  /** Reconnects with connections from `open` (a new WebSocketClient each call). */
  constructor(open: () => WebSocketClient, options: ReconnectorOptions = {}) {
    this.#open = open;
    this.#backoff = new Backoff(options);
    this.#heartbeatMs = options.heartbeatMs ?? 0;
  }

  /** The current connection (null between attempts). */
  get current(): WebSocketClient | null {
    return this.#ws;
  }

  /** Starts connecting. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  /** Closes the connection (1000) and stops reconnecting. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#beatTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws !== null && ws.readyState === 1) ws.close(1000, "");
  }

  #emit(event: ReconnectEvent): void {
    this.onEvent?.(event);
  }

  #connect(): void {
    if (!this.#running) return;
    let ws: WebSocketClient;
    try {
      ws = this.#open();
    } catch (e) {
      this.#emit({ type: "close", attempt: this.#backoff.attempts, code: 1006, reason: String(e) });
      return this.#retry();
    }
    this.#ws = ws;
    const heard = () => this.#lastHeard = performance.now();
    ws.onOpen = () => {
      this.#backoff.reset();
      heard();
      this.#emit({ type: "open", attempt: 0 });
      if (this.#heartbeatMs > 0) this.#watch(ws);
      this.onOpen?.(ws);
    };
    ws.onMessage = (data, offset, length, text) => {
      heard();
      this.onMessage?.(data, offset, length, text);
    };
    ws.onPing = heard;
    ws.onPong = heard;
    ws.onClose = (code, reason) => {
      clearInterval(this.#beatTimer);
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#emit({ type: "close", attempt: this.#backoff.attempts, code, reason });
      this.#retry();
    };
  }

  #watch(ws: WebSocketClient): void {
    clearInterval(this.#beatTimer);
    const half = this.#heartbeatMs / 2;
    this.#beatTimer = setInterval(() => {
      if (this.#ws !== ws) return clearInterval(this.#beatTimer);
      const quiet = performance.now() - this.#lastHeard;
      if (quiet >= this.#heartbeatMs) {
        clearInterval(this.#beatTimer);
        this.#ws = null;
        this.#emit({ type: "heartbeat", attempt: this.#backoff.attempts });
        ws.onClose = null; // this connection is given up: its end is not news
        ws.abort("heartbeat timeout");
        this.#retry();
      } else if (quiet >= half && ws.readyState === 1) ws.ping();
    }, Math.max(10, half / 2));
  }

  #retry(): void {
    if (!this.#running) return;
    const delayMs = this.#backoff.next();
    this.#emit({ type: "retry", attempt: this.#backoff.attempts, delayMs });
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
  }
}
