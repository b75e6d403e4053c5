// The stack's PortDevice on a real EAL: a net_ring port looping to itself, in its own process.
import assert from "node:assert/strict";
import { scenario } from "../helpers.ts";

Deno.test("PortDevice over net_ring: frames out and back in place, every mbuf returned", async (t) => {
  const r = await scenario("stack_port.ts");

  await t.step("the device describes the port", () => {
    const mac = r.portMac.split(":").map((h: string) => parseInt(h, 16));
    assert.deepEqual(r.mac, mac);
    assert.equal(r.mtu, 1500);
    assert.equal(r.burst, 32);
    assert.ok(r.txDataIsPool, "frames are written in the pool's memory");
  });

  await t.step("1000 frames of 60..1514 bytes come back in order and byte-exact", () => {
    assert.equal(r.flushed, 1000);
    assert.equal(r.received, 1000);
    assert.ok(r.inOrder);
    assert.equal(r.bad, 0);
    assert.equal(r.regions, 1);
    assert.ok(r.regionIsPool, "frames are read in the pool's memory");
    assert.equal(r.stats.chained, 0);
    assert.equal(r.stats.unsent, 0);
  });

  await t.step("reserve stops at a burst and at an empty pool, without throwing", () => {
    assert.equal(r.reserved, 32);
    assert.equal(r.afterFull, -1);
    assert.equal(r.sentFull, 32);
    assert.equal(r.drained, 32);
    assert.equal(r.starvedReserved, 8);
    assert.equal(r.starvedStats.noBuffer, 1);
    assert.equal(r.smallInUse, 0, "close() freed the frames reserved and not sent");
  });

  await t.step("a receiver that throws: the error reaches the caller, the mbufs are freed", () => {
    assert.equal(r.thrown, "receiver failed");
    assert.equal(r.inUseAfterThrow, r.inUseStart);
  });

  await t.step("a FaultInjector over the port: counters add up, frames intact", () => {
    const { rx, tx } = r.lossy;
    assert.equal(tx.frames, 2000);
    for (const c of [rx, tx]) {
      assert.equal(c.frames, c.passed + c.dropped + c.delayed + c.reordered);
      assert.equal(c.out, c.passed + c.delayed + c.reordered + c.duplicated - c.refused);
      assert.ok(c.dropped > 100 && c.dropped < 300, `dropped ${c.dropped} of ${c.frames}`);
    }
    assert.equal(tx.refused, 0);
    assert.equal(rx.frames, tx.out);
    assert.equal(r.lossyReceived, rx.out);
    assert.equal(r.lossyBad, 0);
  });

  await t.step("every mbuf is back in the pool", () => {
    assert.equal(r.inUseBeforeClose, r.inUseStart);
    assert.equal(r.inUseEnd, r.inUseStart);
    assert.ok(r.closedTwice);
  });
});
