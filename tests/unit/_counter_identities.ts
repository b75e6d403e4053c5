// The identities the StackCounters JSDoc states (`a + b = c + d + ...` in backquotes), read from
// the source: the fuzz tests check what the documentation promises, and follow it when
// counters are added. Shared by stack_fuzz.test.ts and stack_tcp_fuzz.test.ts.
import type { StackCounters } from "../../stack/interface.ts";

type Counter = keyof StackCounters;
interface Identity {
  left: Counter[];
  right: Counter[];
}

function documentedIdentities(): Identity[] {
  const source = Deno.readTextFileSync(new URL("../../stack/interface.ts", import.meta.url));
  const end = source.indexOf("export interface StackCounters");
  const doc = source.slice(source.lastIndexOf("/**", end), end).replace(/\n\s*\*\s?/g, " ");
  const side = (text: string) => text.split("+").map((s) => s.trim() as Counter);
  return [...doc.matchAll(/`([\w\s+]+)=([\w\s+]+)`/g)].map((m) => ({
    left: side(m[1]),
    right: side(m[2]),
  }));
}

/** The documented identities. */
export const IDENTITIES: Identity[] = documentedIdentities();

/** The first identity that does not hold, or "". */
export function brokenIdentity(c: StackCounters): string {
  for (const { left, right } of IDENTITIES) {
    let l = 0, r = 0;
    for (const k of left) l += c[k];
    for (const k of right) r += c[k];
    if (l !== r) {
      const terms = (ks: Counter[]) => ks.map((k) => `${k} (${c[k]})`).join(" + ");
      return `${terms(left)} = ${l}, but ${terms(right)} = ${r}`;
    }
  }
  return "";
}
