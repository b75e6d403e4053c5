/**
 * A clock every process on the machine shares, for timing a message from one process to
 * another: CLOCK_MONOTONIC in ns, read with `clock_gettime` through FFI (~50 ns a call).
 * `performance.now()` counts from each process's own start, so it cannot.
 *
 * @module
 */

let read: (() => number) | null = null;

/** CLOCK_MONOTONIC now, ns (exact below 2^53 ns: 104 days of uptime). Needs `--allow-ffi`. */
export function monotonicNs(): number {
  return (read ??= open())();
}

function open(): () => number {
  const libc = Deno.dlopen("libc.so.6", {
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  });
  const ts = new Uint32Array(4); // struct timespec: tv_sec (64 bits), tv_nsec
  const gettime = libc.symbols.clock_gettime;
  return () => {
    gettime(1, ts); // CLOCK_MONOTONIC
    return (ts[1] * 4294967296 + ts[0]) * 1e9 + ts[2];
  };
}

/**
 * The ns from `stamps[index]` (a CLOCK_MONOTONIC stamp) to now. For a hot path: a stamp and the
 * time now are above 2^30, so V8 allocates each as a heap number when one is passed to or
 * returned from a call; the difference is small, and a stamp kept in a `Float64Array` is not.
 */
export function nsSince(stamps: Float64Array, index: number): number {
  return monotonicNs() - stamps[index];
}
