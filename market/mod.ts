/**
 * Market data: a local order book with integer prices and quantities, O(1) updates near the
 * touch and O(1) best bid/ask, exact decimal conversion, Binance's diff-depth procedure
 * ({@linkcode BinanceDepthSync}: snapshot, buffering, gaps and resyncs, spot and USD-M futures)
 * and Kraken's v2 book procedure ({@linkcode KrakenBookSync}: truncation to depth, the CRC32
 * checksum of the top 10 levels, resync on a mismatch), OKX's `books` and Bybit v5's
 * `orderbook` ({@linkcode OkxBookSync}, {@linkcode BybitBookSync}: sequence chains),
 * {@linkcode DepthDecoder}, a zero-allocation decoder of Binance depth updates, and
 * {@linkcode LatencyHistogram}. `examples/orderbook.ts` drives them over the stack's WebSocket,
 * against `examples/exchange_sim.ts` or an exchange.
 *
 * ```ts
 * import { OrderBook, Side, toUnits } from "@deno-dpdk/dpdk/market";
 * const book = new OrderBook();
 * book.set(Side.BID, toUnits("27012.50", 2), toUnits("0.75", 8));
 * book.set(Side.ASK, toUnits("27013.00", 2), toUnits("1.20", 8));
 * console.log(book.spread); // 50 ticks of 0.01
 * ```
 *
 * @module
 */
export { OrderBook, type OrderBookOptions, Side } from "./book.ts";
export { decimalsOf, fromUnits, toUnits } from "./decimal.ts";
export {
  type BinanceDepthOptions,
  BinanceDepthSync,
  type DepthEvent,
  type DepthSnapshot,
  type DepthSyncCounters,
  type FeedState,
} from "./binance.ts";
export {
  crc32,
  type KrakenBookData,
  type KrakenBookOptions,
  KrakenBookSync,
  krakenChecksum,
  type KrakenLevel,
} from "./kraken.ts";
export {
  type BybitBookData,
  BybitBookSync,
  type Level,
  type OkxBookData,
  OkxBookSync,
  SequencedBookSync,
  type SequencedOptions,
} from "./sequenced.ts";
export { DepthDecoder, type DepthDecoderOptions } from "./decoder.ts";
export { LatencyHistogram } from "./latency.ts";
