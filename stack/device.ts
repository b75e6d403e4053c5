/**
 * What the stack needs of a network device: receive a burst of frames in place, reserve frames
 * to write in place, send them. Implementations: {@linkcode PortDevice} (a DPDK port),
 * {@linkcode MemoryPair} (two devices wired to each other, for deterministic tests) and
 * {@linkcode FaultInjector} (wraps any device and drops, duplicates, reorders, delays and
 * corrupts frames from a seed).
 *
 * Frames are `(data, view, offset, length)` ranges of the device's own memory (the mempool
 * region for DPDK): nothing is copied and nothing is allocated per frame.
 *
 * @module
 */

/** Receives the frames of a burst (an object with a method: no closure per frame). */
export interface FrameReceiver {
  /**
   * One received frame: bytes `offset .. offset + length` of `data` (and `view`, the same
   * memory). Valid only during the call: the device reuses the buffer afterwards.
   */
  frame(data: Uint8Array, view: DataView, offset: number, length: number): void;
}

/** A network device as the stack drives it. */
export interface Device {
  /** The device's MAC address, 6 bytes. */
  readonly mac: Uint8Array;
  /** Largest IP packet it carries (the Ethernet payload), e.g. 1500. */
  readonly mtu: number;
  /** Frames it moves per receive call at most. */
  readonly burst: number;
  /** The memory frames are reserved in: write a reserved frame through these. */
  readonly txData: Uint8Array;
  /** A DataView over {@linkcode Device.txData}. */
  readonly txView: DataView;
  /**
   * Hands up to {@linkcode Device.burst} received frames to `receiver`, one call each, then
   * releases them. Returns how many frames were handed over. `clock[0]` is the caller's time in
   * ns (devices that delay frames need it; others ignore it): an array, not a number, because
   * V8 allocates a number beyond 2^30 at every call it is passed to.
   */
  receive(receiver: FrameReceiver, clock: Float64Array): number;
  /**
   * Reserves a frame of `length` bytes (at most `mtu + 14`) to be sent by the next
   * {@linkcode Device.flush}. Returns its offset in {@linkcode Device.txData}, or -1 when the
   * device has no buffer or no room in its burst (flush, then try again).
   */
  reserve(length: number): number;
  /** Sends every reserved frame; returns how many the device took (the rest are dropped). */
  flush(clock: Float64Array): number;
  /** When the device next needs `receive` called (a delayed frame is due), or Infinity. */
  nextDeadline(): number;
}
