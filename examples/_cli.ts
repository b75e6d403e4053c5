/**
 * The examples' command lines: each example lists its options in a table,
 * and {@linkcode Cli.parse} returns them parsed and checked, or prints one
 * line naming the option and what it accepts, then the usage, and exits 2.
 * Nothing here starts DPDK: every option is checked before the EAL is.
 *
 * ```ts
 * import { Cli, integer, seconds } from "./_cli.ts";
 * const cli = new Cli("skeleton", "usage: skeleton.ts [EAL args] -- [--burst N]");
 * const opts = cli.parse(["--burst", "64"], { burst: integer(1, 1024, { default: 32 }) });
 * // opts.burst === 64; "--burst abc" prints
 * // `skeleton: --burst must be an integer in 1..1024, got "abc"`, the usage, and exits 2.
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DpdkError, Eal, type LinkStatus, type Port } from "../mod.ts";
import { parseIpv4, parseIpv6, parseMac } from "../net/mod.ts";

/** Exit code for a mistake on the command line (as getopt-based tools use). */
export const USAGE_EXIT = 2;

/** Where DPDK documents its EAL arguments. */
const EAL_GUIDE = "https://doc.dpdk.org/guides/linux_gsg/linux_eal_parameters.html";

/**
 * One option of an example: how it is written and what values it takes.
 * Build them with {@linkcode flag}, {@linkcode integer}, {@linkcode number},
 * {@linkcode seconds}, {@linkcode choice}, {@linkcode value}, ...
 */
export interface Option<T> {
  /** One-letter alias (`"p"` for `-p`). Default: none. */
  readonly short?: string;
  /** A flag takes no value (`--promiscuous`). Default: it takes one. */
  readonly flag?: boolean;
  /** May be given several times; every value is kept, in order. Default: the last one wins. */
  readonly repeat?: boolean;
  /** What the option accepts, for messages: `"an integer in 1..1024"`. */
  readonly accepts: string;
  /** The value when the option is not given. */
  readonly initial: T;
  /**
   * Adds one occurrence (`text` is undefined for a flag) to the value so far.
   * Throws an `Error` whose message is the reason when `text` is not accepted.
   */
  add(sofar: T, text: string | undefined): T;
}

/** The values of a table of options. */
export type Values<S extends Record<string, Option<unknown>>> = {
  [K in keyof S]: S[K] extends Option<infer T> ? T : never;
};

/** Settings shared by the option builders. */
export interface OptionSettings<D> {
  /** One-letter alias. Default: none. */
  short?: string;
  /** The value when the option is not given. Default: `undefined` (absent). */
  default?: D;
}

/**
 * An option that takes a value: `parse` turns the text into the value, or
 * returns undefined (or throws with a reason) when it is not one of `accepts`.
 */
export function value<T, D extends T | undefined = undefined>(
  accepts: string,
  parse: (text: string) => T | undefined,
  settings: OptionSettings<D> = {},
): Option<T | D> {
  return {
    short: settings.short,
    accepts,
    initial: settings.default as D,
    add(_sofar, text) {
      const parsed = parse(text!);
      if (parsed === undefined) throw new Error("");
      return parsed;
    },
  };
}

/** A value option that may be repeated (`--ip A --ip B`): all values, in order. */
export function repeated<T>(option: Option<T>): Option<Exclude<T, undefined>[]> {
  return {
    short: option.short,
    repeat: true,
    accepts: option.accepts,
    initial: [],
    add: (sofar, text) => [...sofar, option.add(option.initial, text) as Exclude<T, undefined>],
  };
}

/** A flag (no value): true when given. */
export function flag(settings: { short?: string; default?: boolean } = {}): Option<boolean> {
  return {
    short: settings.short,
    flag: true,
    accepts: "no value",
    initial: settings.default ?? false,
    add: () => true,
  };
}

function bounds(min: number, max: number): string {
  return max === Infinity ? `≥ ${min}` : `in ${min}..${max}`;
}

/** A decimal number with no junk around it (`Number("")` is 0, `Number("0x10")` 16). */
function decimal(text: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** An integer in `min..max` (`max` may be `Infinity`). */
export function integer<D extends number | undefined = undefined>(
  min: number,
  max: number,
  settings: OptionSettings<D> = {},
): Option<number | D> {
  return value(`an integer ${bounds(min, max)}`, (text) => {
    const n = decimal(text);
    return n !== undefined && Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  }, settings);
}

/** A number (fractions allowed) in `min..max` (`max` may be `Infinity`). */
export function number<D extends number | undefined = undefined>(
  min: number,
  max: number,
  settings: OptionSettings<D> & { unit?: string } = {},
): Option<number | D> {
  const what = settings.unit ? `a number of ${settings.unit}` : "a number";
  return value(`${what} ${bounds(min, max)}`, (text) => {
    const n = decimal(text);
    return n !== undefined && n >= min && n <= max ? n : undefined;
  }, settings);
}

/** A duration in seconds, ≥ 0 (fractions allowed); `note` says what 0 means. */
export function seconds(settings: { default?: number; note?: string } = {}): Option<number> {
  const note = settings.note ? ` (${settings.note})` : "";
  return value(`a number of seconds ≥ 0${note}`, (text) => {
    const n = decimal(text);
    return n !== undefined && n >= 0 ? n : undefined;
  }, { default: settings.default ?? 0 });
}

/** One of a fixed list of words. */
export function choice<W extends string, D extends W | undefined = undefined>(
  words: readonly W[],
  settings: OptionSettings<D> = {},
): Option<W | D> {
  return value(
    `one of ${words.join(", ")}`,
    (text) => words.includes(text as W) ? text as W : undefined,
    settings,
  );
}

/** Any text that is not empty. */
export function text<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value("a non-empty text", (t) => t !== "" ? t : undefined, settings);
}

/** `parse` applied to `text`, or undefined when it throws. */
function attempt<T>(parse: (text: string) => T, text: string): T | undefined {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/** An IPv4 address, kept as text (checked with `parseIpv4`). */
export function ipv4<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value(
    "an IPv4 address like 10.0.0.1",
    (t) => attempt(parseIpv4, t) !== undefined ? t : undefined,
    settings,
  );
}

/** An IPv6 address, kept as text (checked with `parseIpv6`). */
export function ipv6<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value(
    "an IPv6 address like fd00::2",
    (t) => attempt(parseIpv6, t) !== undefined ? t : undefined,
    settings,
  );
}

/** An IPv4 or IPv6 address, kept as text. */
export function ipAddress<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value(
    "an IPv4 or IPv6 address",
    (t) =>
      attempt<unknown>(t.includes(":") ? parseIpv6 : parseIpv4, t) !== undefined ? t : undefined,
    settings,
  );
}

/** A MAC address `aa:bb:cc:dd:ee:ff`, kept as text (checked with `parseMac`). */
export function mac<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value(
    "a MAC address like 02:00:00:00:00:01",
    (t) => attempt(parseMac, t) !== undefined ? t : undefined,
    settings,
  );
}

/** A UDP/TCP port number, 0..65535. */
export function portNumber<D extends number | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<number | D> {
  return value("a port number in 0..65535", (t) => {
    const n = decimal(t);
    return n !== undefined && Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
  }, settings);
}

/** A DPDK port id, 0..1023 (`RTE_MAX_ETHPORTS` is at most 1024); whether it exists is known later. */
export function portId<D extends number | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<number | D> {
  return integer(0, 1023, settings);
}

/**
 * A kernel network interface name (1 to 15 letters, digits, `.`, `-`, `_`,
 * `@`, `:`): it goes into a `--vdev` argument, so a comma cannot sneak
 * options in. Whether the interface exists is known once the EAL tried it.
 */
export function ifaceName<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value(
    "a network interface name (1 to 15 characters, no commas or spaces)",
    (t) => /^[A-Za-z0-9_.:@-]{1,15}$/.test(t) ? t : undefined,
    settings,
  );
}

/**
 * A file this process can create or overwrite: a missing folder, a
 * directory, `/proc/...` or a missing `--allow-write` are refused now, and
 * an existing file is not truncated until the program opens it.
 */
export function outputFile<D extends string | undefined = undefined>(
  settings: OptionSettings<D> = {},
): Option<string | D> {
  return value("a file that can be created", (path) => {
    if (path === "") return undefined;
    const why = unwritable(path);
    if (why !== undefined) throw new Error(why);
    return path;
  }, settings);
}

/** Why `path` cannot be written, or undefined if it can (an existing file is left as it is). */
function unwritable(path: string): string | undefined {
  // Deno's permission message names the flag; the OS's loses its "(os error N): open '...'".
  const reason = (e: unknown) =>
    e instanceof Error ? e.message.replace(/ \(os error \d+\).*$/, "") : String(e);
  try {
    if (Deno.statSync(path).isDirectory) return "it is a directory";
    Deno.openSync(path, { write: true }).close(); // it exists: writable? (not truncated)
    return undefined;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return reason(e);
  }
  try {
    Deno.openSync(path, { write: true, createNew: true }).close();
    Deno.removeSync(path);
    return undefined;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return reason(e);
    const slash = path.lastIndexOf("/");
    const folder = slash < 0 ? "." : path.slice(0, slash) || "/";
    try {
      Deno.statSync(folder);
    } catch {
      return `no such folder ${folder}`;
    }
    return `${folder} takes no new files`; // /proc, /sys
  }
}

/**
 * Why a kernel interface gave no port once the EAL tried to attach it with
 * `driver` (net_af_packet): `"no interface nosuch0 (interfaces: lo, eth0)"`
 * when it is not there, otherwise a pointer to DPDK's log. Deno reads
 * /sys/class/net only with --allow-all; without it the message says both.
 */
export function interfaceProblem(name: string, driver: string): string {
  let names: string[] | undefined;
  try {
    names = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).sort();
  } catch { /* not allowed to look: say what we know */ }
  if (names === undefined) {
    return `no interface ${name} that ${driver} could attach to: check the name (ip link) ` +
      "and run as root; DPDK's log above says which";
  }
  if (!names.includes(name)) return `no interface ${name} (interfaces: ${names.join(", ")})`;
  return `${driver} could not attach to ${name}; DPDK's log above says why (it needs root)`;
}

/** How long an example waits for its links before sending: what is sent before is lost. */
export const LINK_WAIT_MS = 3000;

/**
 * Waits until each port's link is up (a memif peer connecting, a NIC negotiating), up to
 * {@linkcode LINK_WAIT_MS}; a port still down is named on stderr and the example goes on.
 * Returns each port's last link state.
 */
export async function waitForLinks(name: string, ports: Iterable<Port>): Promise<LinkStatus[]> {
  const states: LinkStatus[] = [];
  for (const port of ports) {
    const link = await port.waitForLink(LINK_WAIT_MS);
    if (!link.up) {
      console.error(
        `${name}: port ${port.id} (${port.name}) link is still down after ${LINK_WAIT_MS} ms: ` +
          `is its peer connected? Going on; packets sent meanwhile are lost.`,
      );
    }
    states.push(link);
  }
  return states;
}

/**
 * An example's command line: its name (for messages), its usage text, and
 * the ways to stop with a clear message.
 */
export class Cli {
  /** The example's name, the first word of every message: `"skeleton"`. */
  readonly name: string;
  /** The usage text printed by `--help` and after a mistake. */
  readonly usage: string;
  /** Arguments that are not options, when `parse` was told to take some. */
  readonly positionals: string[] = [];
  #longNames: string[] = [];

  /** An example's command line; `usage` is printed by `--help` and after every mistake. */
  constructor(name: string, usage: string) {
    this.name = name;
    this.usage = usage;
  }

  /**
   * Parses the example's own arguments (those after `--`) against `options`.
   * `-h`/`--help` prints the usage and exits 0. Unknown options, missing
   * values, stray arguments and values an option does not accept print one
   * line naming the option and what it accepts, then the usage, and exit 2. Up to
   * `maxPositionals` arguments that are not options go to {@linkcode Cli.positionals}.
   */
  parse<S extends Record<string, Option<unknown>>>(
    args: readonly string[],
    options: S,
    maxPositionals = 0,
  ): Values<S> {
    const config: Record<string, { type: "string" | "boolean"; short?: string }> = {
      help: { type: "boolean", short: "h" },
    };
    for (const [name, o] of Object.entries(options)) {
      config[name] = {
        type: o.flag ? "boolean" : "string",
        ...(o.short ? { short: o.short } : {}),
      };
      this.#longNames.push(name);
    }
    const { tokens } = parseArgs({
      args: [...args],
      options: config,
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    const out: Record<string, unknown> = {};
    for (const [name, o] of Object.entries(options)) out[name] = o.initial;
    const known = [
      ...Object.entries(options).map(([name, o]) =>
        `--${name}` + (o.short ? ` (-${o.short})` : "")
      ),
      "--help",
    ].join(", ");
    for (const token of tokens) {
      if (token.kind === "positional" && this.positionals.length < maxPositionals) {
        this.positionals.push(token.value);
        continue;
      }
      if (token.kind === "positional") {
        this.usageError(`unexpected argument ${JSON.stringify(token.value)} (options: ${known})`);
      }
      if (token.kind === "option-terminator") {
        this.usageError(
          `unexpected "--": EAL arguments go before the first "--", options after it`,
        );
      }
      if (token.kind !== "option") continue;
      const shown = token.rawName; // as the user wrote it: -p or --portmask
      if (token.name === "help" && !Object.hasOwn(options, "help")) {
        if (token.value !== undefined) this.usageError(`${shown} takes no value`);
        console.log(this.usage);
        Deno.exit(0);
      }
      const o = options[token.name];
      if (!Object.hasOwn(options, token.name)) {
        this.usageError(`unknown option ${shown} (options: ${known})`);
      }
      if (o.flag) {
        if (token.value !== undefined) {
          this.usageError(`${shown} takes no value, got ${JSON.stringify(token.value)}`);
        }
        out[token.name] = o.add(out[token.name], undefined);
        continue;
      }
      if (token.value === undefined) this.usageError(`${shown} needs a value: ${o.accepts}`);
      try {
        out[token.name] = o.add(out[token.name], token.value);
      } catch (e) {
        const why = e instanceof Error && e.message !== "" ? ` (${e.message})` : "";
        this.usageError(`${shown} must be ${o.accepts}, got ${JSON.stringify(token.value)}${why}`);
      }
    }
    return out as Values<S>;
  }

  /** A mistake found before the EAL starts: one line, the usage, exit 2. */
  usageError(message: string): never {
    console.error(`${this.name}: ${message}`);
    console.error(this.usage);
    Deno.exit(USAGE_EXIT);
  }

  /**
   * A mistake found once the EAL runs (a port or interface that is not there,
   * too few lcores): one line, then ports, pools and the EAL are released
   * (`Eal.cleanup`), exit 2.
   */
  fail(message: string): never {
    console.error(`${this.name}: ${message}`);
    try {
      Eal.cleanup();
    } catch (e) {
      console.error(`${this.name}: cleanup: ${e instanceof Error ? e.message : e}`);
    }
    Deno.exit(USAGE_EXIT);
  }

  /**
   * `Eal.init(args)`. When DPDK refuses its arguments (a `DpdkError`):
   * `<name>: EAL: <DPDK's reason>` and a hint, exit 2. Any other error (no
   * `--allow-ffi`, no shim) is thrown on unchanged.
   */
  initEal(args: string[]): void {
    try {
      Eal.init(args);
    } catch (e) {
      this.#ealFailed(e);
    }
  }

  #ealFailed(error: unknown): never {
    if (!(error instanceof DpdkError)) throw error;
    console.error(`${this.name}: EAL: ${error.message}`);
    const misplaced = this.#misplaced();
    console.error(
      misplaced
        ? `hint: ${misplaced} is ${this.name}'s own option: put it after "--" ` +
          `(${this.name}.ts [EAL args] -- ${misplaced} ...)`
        : `hint: EAL arguments go before "--", ${this.name}'s own options after it; ` +
          `see DPDK's EAL parameters guide: ${EAL_GUIDE}`,
    );
    Deno.exit(USAGE_EXIT);
  }

  /** One of our own options found among the EAL arguments, if any. */
  #misplaced(): string | undefined {
    const end = Deno.args.indexOf("--");
    for (const a of end < 0 ? Deno.args : Deno.args.slice(0, end)) {
      const name = a.replace(/^--/, "").split("=")[0];
      if (a.startsWith("--") && this.#longNames.includes(name)) return `--${name}`;
    }
    return undefined;
  }
}
