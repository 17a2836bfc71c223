// viem_e2e.mjs: an Ethereum node as viem (unmodified, from .tools/node_modules) sees it.
//
// Deploys DevnetProbe, watches blocks and its ValueSet events over WebSocket, calls set(42),
// then reads history: eth_call and eth_estimateGas at a past block number, a block hash
// (EIP-1898), `latest` and `pending`, with the state and the block environment of the block
// named (DevnetProbe.env() returns block.number and block.timestamp); then traces set(42)
// with geth's tracers (debug_traceTransaction, debug_traceBlockByNumber, debug_traceCall).
// Only methods anvil serves too, so the same script runs against anvil.
//
// env:
//   LOFT_RPC_URL      HTTP endpoint (default http://127.0.0.1:8545); WebSocket on the same port
//   LOFT_WS_URL       WebSocket endpoint (default: LOFT_RPC_URL with ws://)
//   LOFT_PRIVATE_KEY  funded key (default: dev account 0)
//   LOFT_CHAIN_ID     if set, the chain id the node must report
//
// Exit status 0 when every check passes; otherwise 1 with a FAIL line.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const viem = await import(pathToFileURL(join(root, ".tools/node_modules/viem/_esm/index.js")));
const { privateKeyToAccount } = await import(
  pathToFileURL(join(root, ".tools/node_modules/viem/_esm/accounts/index.js"))
);
const {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  webSocket,
  encodeFunctionData,
  decodeFunctionResult,
} = viem;

const RPC = process.env.LOFT_RPC_URL ?? "http://127.0.0.1:8545";
const WS = process.env.LOFT_WS_URL ?? RPC.replace(/^http/, "ws");
const KEY =
  process.env.LOFT_PRIVATE_KEY ??
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

let checks = 0;
function ok(name, detail) {
  checks += 1;
  console.log(`ok   ${name.padEnd(30)} ${detail}`);
}
function fail(name, detail) {
  console.error(`FAIL ${name.padEnd(30)} ${detail}`);
  process.exit(1);
}
function expectEq(name, expected, actual) {
  if (String(expected) !== String(actual)) fail(name, `expected ${expected}, got ${actual}`);
  ok(name, String(actual));
}
const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)),
  ]);

const artifact = JSON.parse(readFileSync(join(root, "contracts/artifacts/DevnetProbe.json"), "utf8"));
const abi = artifact.abi;

const probeChainId = await createPublicClient({ transport: http(RPC) }).getChainId();
if (process.env.LOFT_CHAIN_ID) expectEq("chain-id", process.env.LOFT_CHAIN_ID, probeChainId);
else ok("chain-id", probeChainId);
const chain = defineChain({
  id: probeChainId,
  name: "loft",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [RPC], webSocket: [WS] } },
});
const account = privateKeyToAccount(KEY);
const client = createPublicClient({ chain, transport: http(RPC) });
const ws = createPublicClient({ chain, transport: webSocket(WS) });
const wallet = createWalletClient({ account, chain, transport: http(RPC) });

// ------------------------------------------------------------------ deploy
const deployHash = await wallet.deployContract({ abi, bytecode: artifact.bytecode });
const deployed = await client.waitForTransactionReceipt({ hash: deployHash });
if (deployed.status !== "success") fail("deploy", `status ${deployed.status}`);
const probe = deployed.contractAddress;
const deployBlock = deployed.blockNumber;
ok("deploy", `${probe} in block ${deployBlock}`);

// ------------------------------------------------------------------ subscriptions
// viem registers a subscription only when the node answers eth_subscribe with a string id
const sawBlock = new Promise((resolve, reject) => {
  const stop = ws.watchBlocks({
    onBlock: (block) => {
      if (block.number > deployBlock) {
        stop();
        resolve(block);
      }
    },
    onError: reject,
  });
});
const sawEvent = new Promise((resolve, reject) => {
  const stop = ws.watchContractEvent({
    address: probe,
    abi,
    eventName: "ValueSet",
    onLogs: (logs) => {
      stop();
      resolve(logs[0]);
    },
    onError: reject,
  });
});
// let both subscriptions reach the node before the transaction
await new Promise((r) => setTimeout(r, 500));

// ------------------------------------------------------------------ set(42)
const setHash = await wallet.writeContract({ address: probe, abi, functionName: "set", args: [42n] });
const setReceipt = await client.waitForTransactionReceipt({ hash: setHash });
if (setReceipt.status !== "success") fail("set", `status ${setReceipt.status}`);
const setBlock = setReceipt.blockNumber;
ok("set", `set(42) in block ${setBlock}`);

try {
  const block = await withTimeout(sawBlock, 20_000, "watchBlocks over WebSocket");
  ok("watch-blocks", `block ${block.number}`);
  const log = await withTimeout(sawEvent, 20_000, "watchContractEvent over WebSocket");
  expectEq("watch-contract-event", 42n, log.args.value);
} catch (e) {
  fail("subscriptions", e.message);
}

// ------------------------------------------------------------------ history: state
const read = (opts) => client.readContract({ address: probe, abi, functionName: "value", ...opts });
expectEq("call-before-set", 0n, await read({ blockNumber: setBlock - 1n }));
expectEq("call-at-set", 42n, await read({ blockNumber: setBlock }));
expectEq("call-latest", 42n, await read({ blockTag: "latest" }));
const code = await client.getCode({ address: probe, blockNumber: deployBlock - 1n });
expectEq("code-before-deploy", "none", code === undefined || code === "0x" ? "none" : code);
// the same call through the node at a past block (raw eth_call: empty before the deploy)
const beforeDeploy = await client.request({
  method: "eth_call",
  params: [{ to: probe, data: encodeFunctionData({ abi, functionName: "value" }) }, `0x${(deployBlock - 1n).toString(16)}`],
});
expectEq("call-before-deploy", "0x", beforeDeploy);
// EIP-1898: the block by hash
const before = await client.getBlock({ blockNumber: setBlock - 1n });
const byHash = await client.request({
  method: "eth_call",
  params: [{ to: probe, data: encodeFunctionData({ abi, functionName: "value" }) }, { blockHash: before.hash }],
});
expectEq("call-by-block-hash", 0n, decodeFunctionResult({ abi, functionName: "value", data: byHash }));

// ------------------------------------------------------------------ history: environment
const env = (opts) => client.readContract({ address: probe, abi, functionName: "env", ...opts });
const [, pastNumber, pastTime] = await env({ blockNumber: deployBlock });
const deployHeader = await client.getBlock({ blockNumber: deployBlock });
expectEq("env-number-at-block", deployBlock, pastNumber);
expectEq("env-timestamp-at-block", deployHeader.timestamp, pastTime);
const head = await client.getBlockNumber();
const [, latestNumber] = await env({ blockTag: "latest" });
if (latestNumber < head) fail("env-number-latest", `${latestNumber} below the head ${head} read before`);
ok("env-number-latest", `${latestNumber}`);
const [, pendingNumber] = await env({ blockTag: "pending" });
if (pendingNumber <= latestNumber) fail("env-number-pending", `${pendingNumber}, latest ${latestNumber}`);
ok("env-number-pending", `${pendingNumber} (latest ${latestNumber})`);

// ------------------------------------------------------------------ history: estimateGas
const estimate = (opts) =>
  client.estimateGas({
    account,
    to: probe,
    data: encodeFunctionData({ abi, functionName: "set", args: [43n] }),
    ...opts,
  });
const pastGas = await estimate({ blockNumber: deployBlock - 1n });
const nowGas = await estimate({});
// before the deploy the probe has no code: the call is a plain transfer with calldata
if (!(pastGas < 30_000n && nowGas > pastGas)) fail("estimate-at-block", `past ${pastGas}, now ${nowGas}`);
ok("estimate-at-block", `${pastGas} before the deploy, ${nowGas} now`);

// ------------------------------------------------------------------ traces (geth's tracers)
const trace = (method, params) => client.request({ method, params });
const setData = encodeFunctionData({ abi, functionName: "set", args: [42n] });
const calls = await trace("debug_traceTransaction", [setHash, { tracer: "callTracer", tracerConfig: { withLog: true } }]);
if (calls.type !== "CALL" || calls.to.toLowerCase() !== probe.toLowerCase() || calls.input !== setData) {
  fail("trace-call-tracer", JSON.stringify(calls));
}
expectEq("trace-call-tracer-gas-used", setReceipt.gasUsed, BigInt(calls.gasUsed));
expectEq("trace-call-tracer-log", 1, calls.logs?.length ?? 0);
const top = await trace("debug_traceTransaction", [setHash, { tracer: "callTracer", tracerConfig: { onlyTopCall: true } }]);
expectEq("trace-only-top-call", "none", top.calls === undefined && top.logs === undefined ? "none" : JSON.stringify(top));
const diff = await trace("debug_traceTransaction", [setHash, { tracer: "prestateTracer", tracerConfig: { diffMode: true } }]);
const slot0 = diff.post?.[probe.toLowerCase()]?.storage?.[`0x${"0".repeat(64)}`];
expectEq("trace-prestate-diff-storage", 42n, slot0 === undefined ? "missing" : BigInt(slot0));
// the sender's balance after the transaction, replayed from the block's start (deposits and
// the L1 data fee included on a rollup), is what the node holds after that block
const after = BigInt(diff.post?.[account.address.toLowerCase()]?.balance ?? -1);
expectEq("trace-prestate-diff-balance", await client.getBalance({ address: account.address, blockNumber: setBlock }), after);
expectEq("trace-4byte", '{"0x60fe47b1-32":1}', JSON.stringify(await trace("debug_traceTransaction", [setHash, { tracer: "4byteTracer" }])));
expectEq("trace-noop", "{}", JSON.stringify(await trace("debug_traceTransaction", [setHash, { tracer: "noopTracer" }])));
const steps = await trace("debug_traceTransaction", [setHash, {}]);
expectEq("trace-struct-logger-gas", setReceipt.gasUsed, BigInt(steps.gas));
// (anvil records steps only when started with --steps-tracing)
if (steps.failed !== false || steps.structLogs.length < 10 || steps.structLogs.at(-1).op !== "STOP") {
  fail("trace-struct-logger", `failed ${steps.failed}, ${steps.structLogs.length} steps, last ${steps.structLogs.at(-1)?.op}`);
}
ok("trace-struct-logger", `${steps.structLogs.length} steps`);
const inBlock = await trace("debug_traceBlockByNumber", [`0x${setBlock.toString(16)}`, { tracer: "callTracer" }]);
if (!inBlock.some((t) => t.txHash === setHash && t.result.type === "CALL")) fail("trace-block", JSON.stringify(inBlock));
ok("trace-block", `${inBlock.length} transaction(s) in block ${setBlock}`);
const callTrace = await trace("debug_traceCall", [
  { from: account.address, to: probe, data: encodeFunctionData({ abi, functionName: "set", args: [7n] }) },
  `0x${(setBlock - 1n).toString(16)}`,
  { tracer: "prestateTracer", tracerConfig: { diffMode: true } },
]);
const slotThen = callTrace.post?.[probe.toLowerCase()]?.storage?.[`0x${"0".repeat(64)}`];
expectEq("trace-call-at-block", 7n, slotThen === undefined ? "missing" : BigInt(slotThen));
// an unknown transaction: geth and loft answer "transaction not found" (anvil an empty trace)
let unknown;
try {
  unknown = await trace("debug_traceTransaction", [`0x${"0".repeat(63)}1`, {}]);
} catch (e) {
  unknown = e.details ?? e.shortMessage;
}
const anvilEmpty = unknown?.gas === 0 && unknown?.structLogs?.length === 0;
if (!anvilEmpty && !String(unknown).includes("not found")) fail("trace-unknown-tx", JSON.stringify(unknown));
ok("trace-unknown-tx", anvilEmpty ? "an empty trace (anvil)" : String(unknown));

// ------------------------------------------------------------------ pending
// `pending` is the block that would be mined now: number head + 1, the pool's transactions,
// their effects visible to calls and state reads at `pending` (not at `latest`). With
// automine off (a devnet control; the L2 sequencer serves none) a transaction waits in the
// pool to show it.
const headNow = await client.getBlockNumber();
const pendingBlock = await client.getBlock({ blockTag: "pending" });
if (pendingBlock.number <= headNow) fail("pending-block-number", `${pendingBlock.number}, head ${headNow}`);
ok("pending-block-number", `${pendingBlock.number} (head ${headNow})`);
let automine = true;
try {
  await client.request({ method: "evm_setAutomine", params: [false] });
  automine = false;
} catch {
  console.log("skip pending-with-transactions: no evm_setAutomine here");
}
if (!automine) {
  const waiting = await wallet.writeContract({ address: probe, abi, functionName: "set", args: [99n] });
  const head = await client.getBlockNumber();
  const pending = await client.getBlock({ blockTag: "pending" });
  expectEq("pending-number", head + 1n, pending.number);
  expectEq("pending-parent", (await client.getBlock({ blockNumber: head })).hash, pending.parentHash);
  expectEq("pending-holds-the-pool", true, pending.transactions.includes(waiting));
  expectEq("pending-tx-count", pending.transactions.length, await client.getBlockTransactionCount({ blockTag: "pending" }));
  const full = await client.getBlock({ blockTag: "pending", includeTransactions: true });
  expectEq("pending-full-tx", waiting, full.transactions.find((t) => t.hash === waiting)?.hash);
  expectEq("call-pending", 99n, await read({ blockTag: "pending" }));
  expectEq("call-latest-not-pending", 42n, await read({ blockTag: "latest" }));
  const slot = await client.getStorageAt({ address: probe, slot: "0x0", blockTag: "pending" });
  expectEq("storage-pending", 99n, BigInt(slot));
  const [, envPending] = await env({ blockTag: "pending" });
  expectEq("env-number-pending-block", pending.number, envPending);
  await client.request({ method: "evm_mine", params: [] });
  await client.request({ method: "evm_setAutomine", params: [true] });
  const mined = await client.waitForTransactionReceipt({ hash: waiting });
  expectEq("pending-then-mined", pending.number, mined.blockNumber);
  expectEq("call-after-mined", 99n, await read({ blockTag: "latest" }));
}

// ------------------------------------------------------------------ Multicall3
// viem batches reads through Multicall3 at its canonical address when the chain names it;
// loft predeploys it on every chain (anvil has none: the check is skipped there unless
// LOFT_MULTICALL3 says the node must have it)
const MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11";
const multicallCode = await client.getCode({ address: MULTICALL3, blockNumber: 0n });
if (multicallCode === undefined || multicallCode === "0x") {
  if (process.env.LOFT_MULTICALL3) fail("multicall3-code", `no code at ${MULTICALL3} in genesis`);
  console.log(`skip multicall3: no code at ${MULTICALL3}`);
} else {
  ok("multicall3-code", `${(multicallCode.length - 2) / 2} bytes from genesis`);
  const mc = createPublicClient({
    chain: { ...chain, contracts: { multicall3: { address: MULTICALL3 } } },
    transport: http(RPC),
    batch: { multicall: true },
  });
  const reads = [
    { address: probe, abi, functionName: "value" },
    { address: probe, abi, functionName: "env" },
  ];
  const [value, [, number]] = await mc.multicall({ contracts: reads, allowFailure: false });
  expectEq("multicall3-aggregate", await read({ blockTag: "latest" }), value);
  if (number < setBlock) fail("multicall3-env", `block.number ${number} below ${setBlock}`);
  ok("multicall3-env", `block.number ${number}`);
  const [then] = await mc.multicall({ contracts: reads, blockNumber: setBlock - 1n, allowFailure: false });
  expectEq("multicall3-at-block", 0n, then);
  const [failed] = await mc.multicall({ contracts: [{ address: probe, abi, functionName: "set", args: [0n] }] });
  expectEq("multicall3-allow-failure", "failure", failed.status);
  // readContract calls made together go out as one aggregate3 call
  const [batched, batchedEnv] = await Promise.all([mc.readContract(reads[0]), mc.readContract(reads[1])]);
  expectEq("multicall3-batched-reads", `${value},${batchedEnv[1]}`, `${batched},${batchedEnv[1]}`);
}

console.log(`viem_e2e: ${checks} checks passed against ${RPC}`);
process.exit(0);
