// node-redlock against one server (tests/clients_e2e.rs): acquire (EVALSHA, falling back to
// EVAL on NOSCRIPT the first time), contention, extend, release, and `using` with several
// workers incrementing a counter only the lock protects.
//
// Usage: node redlock.js PORT. Prints one line per check; exits 0 when all pass.

const Redis = require("ioredis");
const { default: Redlock, ExecutionError } = require("redlock");

const port = Number(process.argv[2]);

function check(name, ok) {
  console.log((ok ? "ok   " : "FAIL ") + name);
  if (!ok) process.exit(1);
}

async function main() {
  const client = new Redis({ host: "127.0.0.1", port });
  await client.script("FLUSH");
  await client.del("rl:a", "rl:counter");
  const redlock = new Redlock([client], { retryCount: 0 });

  const lock = await redlock.acquire(["rl:a"], 5000);
  check("acquired", (await client.get("rl:a")) === lock.value);

  let refused = false;
  try {
    await redlock.acquire(["rl:a"], 5000);
  } catch (e) {
    refused = e instanceof ExecutionError;
  }
  check("a second acquire is refused", refused);

  const extended = await lock.extend(10000);
  const ttl = await client.pttl("rl:a");
  check("extend (pttl " + ttl + ")", ttl > 5000 && extended.value === lock.value);

  await extended.release();
  check("released", (await client.exists("rl:a")) === 0);

  // Workers that contend: only the lock keeps read-modify-write increments from being lost.
  const waiting = new Redlock([client], { retryCount: 200, retryDelay: 10, retryJitter: 5 });
  const rounds = 25;
  const worker = async () => {
    for (let i = 0; i < rounds; i++) {
      await waiting.using(["rl:counter:lock"], 2000, async () => {
        const v = Number((await client.get("rl:counter")) || 0);
        await new Promise((r) => setTimeout(r, 1));
        await client.set("rl:counter", v + 1);
      });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const count = Number(await client.get("rl:counter"));
  check("the lock kept every increment (" + count + ")", count === 4 * rounds);

  client.disconnect();
  console.log("all passed");
}

main().catch((e) => {
  console.log("FAIL " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
