// The DNS stub resolver on virtual time, against scripted servers: stacks with a UDP socket on
// port 53 that answer as each test says, all on one in-memory hub with the resolver's stack.
// A answers, CNAME chains with compression pointers, NXDOMAIN, SERVFAIL then another server,
// timeouts and retries, forged answers ignored, the TTL cache, malicious compression loops, IP
// literals and invalid names, ICMP unreachable, the DHCP-provided server.
import assert from "node:assert/strict";
import { parseIpv4 } from "../../net/mod.ts";
import {
  type DnsCallback,
  DnsError,
  DnsFailure,
  DnsResolver,
  type DnsResolverOptions,
} from "../../stack/dns.ts";
import type { FrameReceiver } from "../../stack/device.ts";
import { Stack } from "../../stack/interface.ts";
import { type MemoryDevice, MemoryPair } from "../../stack/memory.ts";

const S = 1e9;
const NS1 = parseIpv4("10.5.0.53"), NS2 = parseIpv4("10.5.0.54");
const CLIENT = parseIpv4("10.5.0.2");
const ip = parseIpv4;

/**
 * A hub: every frame one port sends reaches every other port; stacks drop frames for other
 * MACs. It lets one client talk to several servers, each a Stack on its own MemoryPair.
 */
class Hub {
  readonly #ports: MemoryDevice[] = [];
  readonly #clock = new Float64Array(1);

  /** A device for a new stack on the hub, with its own MAC. */
  device(): MemoryDevice {
    const pair = new MemoryPair({ macB: new Uint8Array([2, 0, 0, 0, 9, this.#ports.length + 1]) });
    this.#ports.push(pair.a);
    return pair.b;
  }

  /** Moves every frame the stacks flushed to every other stack. */
  run(): void {
    const ports = this.#ports;
    for (let i = 0; i < ports.length; i++) {
      const forward: FrameReceiver = {
        frame(data, _view, offset, length) {
          for (let j = 0; j < ports.length; j++) {
            if (j === i) continue;
            let at = ports[j].reserve(length);
            if (at < 0) {
              ports[j].flush(new Float64Array(1));
              at = ports[j].reserve(length);
            }
            ports[j].txData.set(data.subarray(offset, offset + length), at);
          }
        },
      };
      while (ports[i].receive(forward, this.#clock) > 0) { /* drain */ }
      for (const p of ports) p.flush(this.#clock);
    }
  }
}

// ------------------------------------------------------------- DNS messages

/** Builds a DNS message byte by byte; `at` is where the next byte goes (for pointers). */
class Message {
  readonly bytes: number[] = [];
  get at(): number {
    return this.bytes.length;
  }
  u16(v: number): this {
    this.bytes.push(v >> 8 & 0xff, v & 0xff);
    return this;
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  /** Labels of `text` ("" for none), then a pointer to `pointer` or the root label. */
  name(text: string, pointer?: number): this {
    for (const label of text.split(".").filter((l) => l !== "")) {
      this.bytes.push(label.length, ...new TextEncoder().encode(label));
    }
    if (pointer === undefined) this.bytes.push(0);
    else this.bytes.push(0xc0 | pointer >> 8, pointer & 0xff);
    return this;
  }
  /** A record's type, class IN, TTL and rdata length; its owner name comes before. */
  rr(type: number, ttl: number, rdlength: number): this {
    return this.u16(type).u16(1).u32(ttl).u16(rdlength);
  }
  /** An A record for the name written just before. */
  a(ttl: number, address: number): this {
    return this.rr(1, ttl, 4).u32(address);
  }
  /** A CNAME record whose target is written by `target` (its length is patched in). */
  cname(ttl: number, target: (m: this) => void): this {
    this.rr(5, ttl, 0);
    const lengthAt = this.at - 2, start = this.at;
    target(this);
    const n = this.at - start;
    this.bytes[lengthAt] = n >> 8;
    this.bytes[lengthAt + 1] = n & 0xff;
    return this;
  }
  done(): Uint8Array {
    return new Uint8Array(this.bytes);
  }
}

/** What a scripted server saw of a query. */
interface Seen {
  server: number;
  id: number;
  flags: number;
  name: string;
  type: number;
  qclass: number;
  t: number;
}

/**
 * A response to `q`: header (QR, RD, RA, `rcode`, more `flags`), its question, then what
 * `answers` writes (`count` records). The question name is at offset 12: `ptr 12` refers to it.
 */
function response(
  q: Seen,
  options: {
    rcode?: number;
    count?: number;
    answers?: (m: Message) => void;
    id?: number;
    flags?: number;
    name?: string;
  } = {},
): Uint8Array {
  const m = new Message()
    .u16(options.id ?? q.id)
    .u16(0x8180 | (options.flags ?? 0) | (options.rcode ?? 0))
    .u16(1).u16(options.count ?? 0).u16(0).u16(0)
    .name(options.name ?? q.name).u16(q.type).u16(q.qclass);
  options.answers?.(m);
  return m.done();
}

/** One datagram the script has a server send: from `server` (default: the one asked), `port`. */
interface Send {
  bytes: Uint8Array;
  from?: number;
  port?: number;
}

type Script = (q: Seen) => Send[];

interface Result {
  name: string;
  addresses?: number[];
  ttl?: number;
  reason?: string;
  t: number;
}

/**
 * A client stack with a resolver, and scripted servers at `servers` (a server listed in
 * `silent` has no socket on port 53: its stack answers with ICMP port unreachable).
 */
function setup(
  script: Script,
  options: DnsResolverOptions & { serverIps?: number[]; silent?: number[]; dhcp?: boolean } = {},
) {
  const hub = new Hub();
  const seen: Seen[] = [];
  const serverIps = options.serverIps ?? [NS1, NS2];
  const servers = serverIps.map((addr) => {
    const stack = new Stack(hub.device(), { address: `${ipString(addr)}/24` });
    const sockets = new Map<number, ReturnType<Stack["udp"]>>();
    sockets.set(5353, stack.udp(5353));
    if (!options.silent?.includes(addr)) sockets.set(53, stack.udp(53));
    return { addr, stack, sockets };
  });
  const client = options.dhcp
    ? new Stack(hub.device(), { dhcp: { seed: 7 } })
    : new Stack(hub.device(), { address: "10.5.0.2/24" });
  for (const server of servers) {
    const socket = server.sockets.get(53);
    if (socket === undefined) continue;
    socket.receiver = {
      datagram(data, view, offset, length, srcIp, srcPort) {
        let at = offset + 12;
        const labels: string[] = [];
        while (data[at] !== 0 && at < offset + length) {
          labels.push(new TextDecoder().decode(data.subarray(at + 1, at + 1 + data[at])));
          at += 1 + data[at];
        }
        const q: Seen = {
          server: server.addr,
          id: view.getUint16(offset),
          flags: view.getUint16(offset + 2),
          name: labels.join("."),
          type: view.getUint16(at + 1),
          qclass: view.getUint16(at + 3),
          t: client.clock[0] / S,
        };
        seen.push(q);
        for (const send of script(q)) {
          const from = servers.find((s) => s.addr === (send.from ?? server.addr))!;
          from.sockets.get(send.port ?? 53)!.sendTo(srcIp, srcPort, send.bytes);
        }
      },
    };
  }
  if (options.dhcp) dhcpServer(servers[0].stack, servers[0].addr);
  const { serverIps: _, silent: __, dhcp: ___, ...resolverOptions } = options;
  const resolver = new DnsResolver(client, {
    seed: 1,
    servers: options.dhcp ? undefined : serverIps, // with DHCP: the lease's
    ...resolverOptions,
  });
  const results: Result[] = [];
  const callback: DnsCallback = {
    resolved(name, addresses, ttl) {
      results.push({ name, addresses, ttl, t: client.clock[0] / S });
    },
    failed(name, reason) {
      results.push({ name, reason, t: client.clock[0] / S });
    },
  };
  /**
   * Virtual time from `from` to `to` s: at each step every stack is polled and the hub run, four
   * rounds, enough for an exchange (ARP included) to finish at one instant.
   */
  const run = (from: number, to: number, step = 0.1) => {
    for (let i = 0; from + i * step <= to + 1e-9; i++) {
      const t = Math.round((from + i * step) * 1e6) * 1e3;
      for (let k = 0; k < 4; k++) {
        client.poll(t);
        hub.run();
        for (const s of servers) s.stack.poll(t);
        hub.run();
      }
    }
  };
  return { client, resolver, seen, results, callback, run, servers };
}

function ipString(n: number): string {
  return `${n >>> 24}.${n >>> 16 & 255}.${n >>> 8 & 255}.${n & 255}`;
}

/** A DHCP server on `stack` that leases CLIENT/24 with `dns` as the DNS server. */
function dhcpServer(stack: Stack, dns: number): void {
  const socket = stack.udp(67);
  const reply = new Uint8Array(300);
  const rv = new DataView(reply.buffer);
  socket.receiver = {
    datagram(data, _view, offset, length) {
      let type = 0;
      for (let at = offset + 240; at < offset + length && data[at] !== 255;) {
        if (data[at] === 0) {
          at++;
          continue;
        }
        if (data[at] === 53) type = data[at + 2];
        at += 2 + data[at + 1];
      }
      if (type !== 1 && type !== 3) return;
      reply.fill(0);
      reply[0] = 2, reply[1] = 1, reply[2] = 6;
      reply.set(data.subarray(offset + 4, offset + 8), 4); // xid
      rv.setUint32(16, CLIENT); // yiaddr
      reply.set(data.subarray(offset + 28, offset + 34), 28); // chaddr
      rv.setUint32(236, 0x63825363);
      let at = 240;
      reply.set([53, 1, type === 1 ? 2 : 5], at), at += 3;
      reply.set([54, 4], at), rv.setUint32(at + 2, stack.address), at += 6;
      reply.set([1, 4, 255, 255, 255, 0], at), at += 6;
      reply.set([6, 4], at), rv.setUint32(at + 2, dns), at += 6;
      reply.set([51, 4], at), rv.setUint32(at + 2, 3600), at += 6;
      reply[at++] = 255;
      socket.sendTo(0xffffffff, 68, reply, 0, at);
    },
  };
}

// -------------------------------------------------------------------- tests

Deno.test("DNS: an A query is answered with the server's addresses and TTL", () => {
  const { resolver, seen, results, callback, run } = setup((q) => [{
    bytes: response(q, {
      count: 2,
      answers: (m) => m.name("", 12).a(300, ip("10.1.2.3")).name("", 12).a(300, ip("10.1.2.4")),
    }),
  }]);
  resolver.resolve("Feed.Example.COM.", callback);
  assert.equal(results.length, 0, "callbacks run from poll, never from inside resolve");
  run(0, 0.5);
  assert.equal(seen.length, 1);
  // RD set, one question for the lower-cased name, type A, class IN, sent to the first server.
  assert.deepEqual(
    [seen[0].server, seen[0].flags, seen[0].name, seen[0].type, seen[0].qclass],
    [NS1, 0x0100, "feed.example.com", 1, 1],
  );
  assert.equal(results.length, 1);
  assert.deepEqual(results[0].addresses, [ip("10.1.2.3"), ip("10.1.2.4")]);
  assert.equal(results[0].name, "Feed.Example.COM.", "the name as the caller gave it");
  assert.equal(results[0].ttl, 300);
  assert.equal(results[0].t, 0, "answered in the first poll round");
  const st = resolver.stats;
  assert.deepEqual(
    [st.queries, st.answers, st.resolved, st.retries, st.ignored, st.failures],
    [1, 1, 1, 0, 0, 0],
  );
  assert.equal(resolver.pending, 0);
});

Deno.test("DNS: a CNAME chain is followed through compression pointers to the A record", () => {
  const { resolver, results, callback, run } = setup((q) => {
    return [{
      bytes: response(q, {
        count: 5,
        answers: (m) => {
          // www.example.com (the question at 12; "example.com" at 16) CNAME edge.example.com
          m.name("", 12).cname(600, (t) => t.name("edge", 16));
          const edge = m.at - 7; // "\x04edge" + pointer: the CNAME's target
          // An AAAA record for it (skipped), then edge.example.com CNAME a1.cdn.net.
          m.name("", edge).rr(28, 60, 16).u32(0).u32(0).u32(0).u32(1);
          m.name("", edge).cname(120, (t) => t.name("a1.cdn.net"));
          const a1 = m.at - 12;
          // An A record of another name (not ours), then a1.cdn.net A.
          m.name("other", 16).a(30, ip("6.6.6.6"));
          m.name("", a1).a(90, ip("10.7.7.7"));
        },
      }),
    }];
  });
  resolver.resolve("www.example.com", callback);
  run(0, 0.5);
  assert.deepEqual(results.map((r) => [r.addresses, r.ttl]), [[[ip("10.7.7.7")], 90]]);
  // The smallest TTL of the chain: a CNAME with a shorter TTL than the A limits it.
  const short = setup((q) => [{
    bytes: response(q, {
      count: 2,
      answers: (m) => {
        m.name("", 12).cname(20, (t) => t.name("b", 16));
        m.name("", m.at - 4).a(300, ip("10.7.7.8"));
      },
    }),
  }]);
  short.resolver.resolve("www.example.com", short.callback);
  short.run(0, 0.5);
  assert.deepEqual(short.results.map((r) => [r.addresses, r.ttl]), [[[ip("10.7.7.8")], 20]]);
});

Deno.test("DNS: NXDOMAIN fails with 'no such name' at once, without asking another server", () => {
  const { resolver, seen, results, callback, run } = setup((q) => [{
    bytes: response(q, { rcode: 3 }),
  }]);
  resolver.resolve("nothing.example.com", callback);
  run(0, 10);
  assert.deepEqual(results.map((r) => [r.name, r.reason, r.t]), [
    ["nothing.example.com", DnsFailure.NO_SUCH_NAME, 0],
  ]);
  assert.equal(DnsFailure.NO_SUCH_NAME, "no such name");
  assert.equal(seen.length, 1);
  assert.deepEqual([resolver.stats.failures, resolver.stats.retries], [1, 0]);
});

Deno.test("DNS: NOERROR without an A record fails with 'no A record'", () => {
  const { resolver, results, callback, run } = setup((q) => [{
    bytes: response(q, {
      count: 1,
      answers: (m) => m.name("", 12).rr(28, 60, 16).u32(0).u32(0).u32(0).u32(1), // AAAA only
    }),
  }]);
  resolver.resolve("v6only.example.com", callback);
  run(0, 1);
  assert.deepEqual(results.map((r) => r.reason), [DnsFailure.NO_ADDRESS]);
});

Deno.test("DNS: SERVFAIL from the first server, the second one answers", () => {
  const { resolver, seen, results, callback, run } = setup((q) => [{
    bytes: q.server === NS1
      ? response(q, { rcode: 2 })
      : response(q, { count: 1, answers: (m) => m.name("", 12).a(60, ip("10.2.2.2")) }),
  }]);
  resolver.resolve("feed.example.com", callback);
  run(0, 1);
  assert.deepEqual(seen.map((q) => [q.server, q.t]), [[NS1, 0], [NS2, 0]], "no timeout waited");
  assert.deepEqual(results.map((r) => r.addresses), [[ip("10.2.2.2")]]);
  const st = resolver.stats;
  assert.deepEqual([st.queries, st.retries, st.answers, st.timeouts], [2, 1, 2, 0]);
  // REFUSED everywhere: every attempt made, the last error reported.
  const refused = setup((q) => [{ bytes: response(q, { rcode: 5 }) }]);
  refused.resolver.resolve("feed.example.com", refused.callback);
  refused.run(0, 1);
  assert.deepEqual(refused.seen.map((q) => q.server), [NS1, NS2, NS1]);
  assert.deepEqual(refused.results.map((r) => r.reason), [DnsFailure.REFUSED]);
});

Deno.test("DNS: a timeout is retried on the next server; after the last attempt it fails", () => {
  const { resolver, seen, results, callback, run } = setup(() => []);
  resolver.resolve("slow.example.com", callback);
  run(0, 10);
  // Attempts at 0, 2 and 4 s, cycling through the servers; the failure at 6 s.
  assert.deepEqual(seen.map((q) => [q.server, q.t]), [[NS1, 0], [NS2, 2], [NS1, 4]]);
  assert.equal(new Set(seen.map((q) => q.id)).size, 3, "a fresh id for each attempt");
  assert.deepEqual(results.map((r) => [r.reason, r.t]), [[DnsFailure.TIMED_OUT, 6]]);
  const st = resolver.stats;
  assert.deepEqual(
    [st.queries, st.retries, st.timeouts, st.failures, st.answers],
    [3, 2, 3, 1, 0],
  );
  // With other settings: one attempt of 0.5 s.
  const quick = setup(() => [], { attempts: 1, timeoutNs: 0.5 * S });
  quick.resolver.resolve("slow.example.com", quick.callback);
  quick.run(0, 2);
  assert.deepEqual(quick.results.map((r) => [r.reason, r.t]), [[DnsFailure.TIMED_OUT, 0.5]]);
});

Deno.test("DNS: a late answer to an earlier attempt is taken", () => {
  let answerAt: Seen | undefined;
  const { resolver, results, callback, run, servers } = setup((q) => {
    if (q.server === NS1) answerAt = q; // answered later, by hand, after the retry went out
    return [];
  });
  resolver.resolve("late.example.com", callback);
  run(0, 2.5);
  assert.equal(results.length, 0);
  servers[0].sockets.get(53)!.sendTo(
    CLIENT,
    resolver.port,
    response(answerAt!, { count: 1, answers: (m) => m.name("", 12).a(60, ip("10.3.3.3")) }),
  );
  run(2.6, 2.7);
  assert.deepEqual(results.map((r) => r.addresses), [[ip("10.3.3.3")]]);
});

Deno.test("DNS: answers with a wrong id, port, server or question are ignored", () => {
  const forged = (q: Seen, options: Parameters<typeof response>[1]) =>
    response(q, {
      count: 1,
      answers: (m) => m.name("", 12).a(60, ip("6.6.6.6")),
      ...options,
    });
  let asked: Seen | undefined;
  const { resolver, results, callback, run, servers } = setup((q) => {
    asked = q;
    return [
      { bytes: forged(q, { id: (q.id + 1) & 0xffff }) }, // wrong id
      { bytes: forged(q, {}), port: 5353 }, // right id, wrong source port
      { bytes: forged(q, {}), from: NS2 }, // right id, another server
      { bytes: forged(q, { name: "evil.example.com" }) }, // right id, another question
      { bytes: forged(q, { flags: 0x7800 }) }, // right id, not a standard query
      { bytes: new Uint8Array([q.id >> 8, q.id & 0xff, 0x81]) }, // too short
    ];
  }, { servers: [NS1] });
  resolver.resolve("feed.example.com", callback);
  run(0, 0.5);
  assert.equal(results.length, 0, "every forgery ignored");
  assert.deepEqual([resolver.stats.ignored, resolver.stats.answers], [6, 0]);
  const ns1 = servers[0].sockets.get(53)!;
  const right = response(asked!, {
    count: 1,
    answers: (m) => m.name("", 12).a(60, ip("10.4.4.4")),
  });
  ns1.sendTo(CLIENT, resolver.port, right);
  run(0.6, 0.7);
  ns1.sendTo(CLIENT, resolver.port, forged(asked!, {})); // after the query is done
  run(0.8, 0.9);
  assert.deepEqual(results.map((r) => r.addresses), [[ip("10.4.4.4")]]);
  assert.deepEqual([resolver.stats.ignored, resolver.stats.answers], [7, 1]);
});

Deno.test("DNS: the cache answers within the TTL, and asks again after it", () => {
  const { resolver, seen, results, callback, run } = setup((q) => [{
    bytes: response(q, { count: 1, answers: (m) => m.name("", 12).a(10, ip("10.5.5.5")) }),
  }]);
  resolver.resolve("feed.example.com", callback);
  run(0, 5);
  resolver.resolve("FEED.example.com.", callback); // another spelling of the same name
  run(5, 5.1);
  assert.equal(seen.length, 1, "no query for a cached name");
  assert.equal(resolver.stats.cacheHits, 1);
  assert.deepEqual(results[1], {
    name: "FEED.example.com.",
    addresses: [ip("10.5.5.5")],
    ttl: 5,
    t: 5,
  });
  run(5.2, 10.5);
  resolver.resolve("feed.example.com", callback);
  run(10.6, 11);
  assert.equal(seen.length, 2, "expired: asked again");
  assert.equal(resolver.stats.cacheHits, 1);
  assert.deepEqual(results[2].addresses, [ip("10.5.5.5")]);
  // A TTL of 0 is not cached; a cache of 0 entries caches nothing.
  const none = setup((q) => [{
    bytes: response(q, { count: 1, answers: (m) => m.name("", 12).a(10, ip("10.5.5.6")) }),
  }], { cacheEntries: 0 });
  none.resolver.resolve("feed.example.com", none.callback);
  none.run(0, 0.5);
  none.resolver.resolve("feed.example.com", none.callback);
  none.run(0.6, 1);
  assert.deepEqual([none.seen.length, none.resolver.stats.cacheHits], [2, 0]);
});

Deno.test("DNS: the cache keeps the most recently used names", () => {
  const { resolver, seen, callback, run } = setup((q) => [{
    bytes: response(q, { count: 1, answers: (m) => m.name("", 12).a(100, ip("10.5.5.7")) }),
  }], { cacheEntries: 2 });
  const names = ["a.test", "b.test", "a.test", "c.test", "a.test", "b.test"];
  for (let i = 0; i < names.length; i++) {
    resolver.resolve(names[i], callback);
    run(i, i + 0.1);
  }
  // a, b asked; a from the cache (now newest); c asked, evicting b; a cached; b asked again.
  assert.deepEqual(seen.map((q) => q.name), ["a.test", "b.test", "c.test", "b.test"]);
});

Deno.test("DNS: a compression loop in a malicious answer fails with a reason, without hanging", () => {
  const cases: [string, (m: Message) => void][] = [
    // The A record's owner is a pointer to itself.
    ["compression loop", (m) => m.name("", m.at).a(60, ip("6.6.6.6"))],
    // Two pointers to each other.
    ["compression loop", (m) => {
      const first = m.at;
      m.name("", first + 2).name("", first).a(60, ip("6.6.6.6"));
    }],
    // A label, then a pointer back to it: an endless name.
    ["compression loop", (m) => m.name("x", m.at).a(60, ip("6.6.6.6"))],
    // No loop, but five labels of 63 bytes: beyond 255.
    ["name longer than 255 bytes", (m) => m.name(`${"y".repeat(63)}.`.repeat(5)).a(60, 1)],
    // The CNAME's target points to itself.
    ["compression loop", (m) => {
      m.name("", 12).cname(60, (t) => t.name("", t.at));
    }],
    // A pointer beyond the end of the message.
    ["truncated", (m) => m.name("", 0x3fff).a(60, ip("6.6.6.6"))],
    // A CNAME chain that loops: www -> x -> www.
    ["CNAME chain longer than 16", (m) => {
      m.name("", 12).cname(60, (t) => t.name("x", 16));
      m.name("", m.at - 4).cname(60, (t) => t.name("", 12));
    }],
  ];
  for (const [detail, answers] of cases) {
    const { resolver, seen, results, callback, run } = setup((q) => [{
      bytes: response(q, { count: 2, answers }),
    }], { servers: [NS1] });
    resolver.resolve("www.example.com", callback);
    run(0, 0.5);
    // Every attempt got the same answer: it failed with the parser's reason, long before a
    // timeout (three exchanges, in the first two steps of virtual time).
    assert.deepEqual(
      results.map((r) => [r.reason, r.t <= 0.1]),
      [[`${DnsFailure.MALFORMED}: ${detail}`, true]],
      detail,
    );
    assert.equal(seen.length, 3, detail);
    assert.equal(resolver.pending, 0);
  }
});

Deno.test("DNS: a truncated answer without an address fails (TCP is not supported)", () => {
  const { resolver, results, callback, run } = setup((q) => [{
    bytes: response(q, { flags: 0x0200 }),
  }]);
  resolver.resolve("big.example.com", callback);
  run(0, 1);
  assert.equal(results.length, 1);
  assert.ok(results[0].reason!.startsWith(DnsFailure.TRUNCATED), results[0].reason);
});

Deno.test("DNS: IP literals resolve to themselves; invalid names fail without a query", () => {
  const { resolver, seen, results, callback, run } = setup(() => []);
  resolver.resolve("10.9.8.7", callback);
  const bad = [
    "",
    ".",
    "a..b",
    "x".repeat(64) + ".com",
    ("x".repeat(63) + ".").repeat(4).slice(0, 254),
    "has space.com",
    "ünï.com",
    "300.1.1.1",
  ];
  for (const name of bad) resolver.resolve(name, callback);
  // The longest valid name: 253 characters in labels of 63.
  const longest = ("x".repeat(63) + ".").repeat(4).slice(0, 253);
  resolver.resolve(longest, callback);
  assert.equal(results.length, 0, "not from inside resolve");
  run(0, 0.1);
  assert.deepEqual(results[0], {
    name: "10.9.8.7",
    addresses: [ip("10.9.8.7")],
    ttl: Infinity,
    t: 0,
  });
  for (let i = 0; i < bad.length; i++) {
    assert.equal(results[1 + i].name, bad[i]);
    assert.ok(
      results[1 + i].reason!.startsWith(`${DnsFailure.INVALID_NAME}: `),
      results[1 + i].reason,
    );
  }
  assert.deepEqual(seen.map((q) => q.name), [longest], "only the valid name was asked");
  assert.match(results[4].reason!, /label of 64 characters/);
  assert.match(results[5].reason!, /254 characters/);
});

Deno.test("DNS: a port unreachable from a server moves to the next one at once", () => {
  const { resolver, seen, results, callback, run } = setup((q) => [{
    bytes: response(q, { count: 1, answers: (m) => m.name("", 12).a(60, ip("10.6.6.6")) }),
  }], { silent: [NS1] });
  resolver.resolve("feed.example.com", callback);
  run(0, 0.5);
  assert.deepEqual(seen.map((q) => q.server), [NS2]);
  // Answered long before NS1's attempt would have timed out (2 s).
  assert.deepEqual(results.map((r) => [r.addresses, r.t <= 0.1]), [[[ip("10.6.6.6")], true]]);
  assert.deepEqual([resolver.stats.unreachable, resolver.stats.timeouts], [1, 0]);
  // Nothing anywhere: "server unreachable".
  const dead = setup(() => [], { silent: [NS1, NS2] });
  dead.resolver.resolve("feed.example.com", dead.callback);
  dead.run(0, 0.5);
  assert.deepEqual(dead.results.map((r) => r.reason), [DnsFailure.UNREACHABLE]);
});

Deno.test("DNS: the DHCP-provided server is used by default", () => {
  const { client, resolver, seen, results, callback, run } = setup((q) => [{
    bytes: response(q, { count: 1, answers: (m) => m.name("", 12).a(60, ip("10.8.8.8")) }),
  }], { dhcp: true, serverIps: [NS1] });
  resolver.resolve("early.example.com", callback); // no lease yet: no server
  run(0, 1);
  assert.equal(client.address, CLIENT);
  assert.deepEqual(client.dhcp!.dns, [NS1]);
  resolver.resolve("feed.example.com", callback);
  run(1.1, 1.5);
  assert.deepEqual(results.map((r) => r.reason ?? r.addresses), [
    DnsFailure.NO_SERVER,
    [ip("10.8.8.8")],
  ]);
  assert.deepEqual(seen.map((q) => [q.server, q.name]), [[NS1, "feed.example.com"]]);
});

Deno.test("DNS: one query for a name asked twice; resolvePromise resolves and rejects", async () => {
  const { resolver, seen, results, callback, run } = setup((q) => [{
    bytes: q.name === "gone.example.com"
      ? response(q, { rcode: 3 })
      : response(q, { count: 1, answers: (m) => m.name("", 12).a(60, ip("10.9.9.9")) }),
  }]);
  resolver.resolve("feed.example.com", callback);
  resolver.resolve("FEED.example.com", callback);
  const ok = resolver.resolvePromise("feed.example.com");
  const gone = resolver.resolvePromise("gone.example.com");
  run(0, 0.5);
  assert.deepEqual(seen.map((q) => q.name), ["feed.example.com", "gone.example.com"]);
  assert.deepEqual(results.map((r) => [r.name, r.addresses]), [
    ["feed.example.com", [ip("10.9.9.9")]],
    ["FEED.example.com", [ip("10.9.9.9")]],
  ]);
  assert.notEqual(results[0].addresses, results[1].addresses, "each caller its own array");
  assert.deepEqual(await ok, [ip("10.9.9.9")]);
  await assert.rejects(gone, (e: unknown) => {
    assert.ok(e instanceof DnsError);
    assert.equal(e.hostname, "gone.example.com");
    assert.equal(e.reason, DnsFailure.NO_SUCH_NAME);
    return true;
  });
});

Deno.test("DNS: close fails what is pending, frees the port and leaves the stack's timers", () => {
  const { client, resolver, seen, results, callback, run } = setup(() => []);
  resolver.resolve("feed.example.com", callback);
  run(0, 0.1);
  assert.equal(resolver.pending, 1);
  assert.equal(resolver.nextDeadline, 2 * S);
  const port = resolver.port;
  resolver.close();
  resolver.close();
  assert.deepEqual(results.map((r) => r.reason), [DnsFailure.CLOSED]);
  assert.equal(resolver.nextDeadline, Infinity);
  run(0.2, 10);
  assert.equal(seen.length, 1, "no retry after close");
  client.udp(port).close(); // the port is free again
  assert.throws(() => resolver.resolve("feed.example.com", callback), /closed/);
});

Deno.test("DNS: ids are spread over 16 bits and never shared by queries in flight", () => {
  const { resolver, seen, callback, run } = setup(() => [], { maxQueries: 64, attempts: 1 });
  for (let i = 0; i < 64; i++) resolver.resolve(`n${i}.example.com`, callback);
  resolver.resolve("one-too-many.example.com", callback);
  run(0, 0.1);
  assert.equal(resolver.pending, 64);
  const ids = seen.map((q) => q.id);
  assert.equal(ids.length, 64);
  assert.equal(new Set(ids).size, 64);
  assert.ok(Math.max(...ids) > 0x8000 && Math.min(...ids) < 0x8000, ids.join(","));
  assert.equal(resolver.stats.failures, 1, "the 65th: too many queries in flight");
});

Deno.test("DNS: options are checked", () => {
  const pair = new MemoryPair();
  const stack = new Stack(pair.a, { address: "10.5.0.2/24" });
  assert.throws(() => new DnsResolver(stack, { attempts: 0 }), RangeError);
  assert.throws(() => new DnsResolver(stack, { timeoutNs: 0 }), RangeError);
  assert.throws(() => new DnsResolver(stack, { servers: [-1] }), RangeError);
  assert.throws(() => new DnsResolver(stack, { cacheEntries: 1.5 }), RangeError);
});
