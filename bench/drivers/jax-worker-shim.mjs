// @file A Web Worker shim over worker_threads so jax-js's wasm backend can use its worker pool in Node
// (Node 20 has no global Worker). Import before @jax-js/jax; JAX_THREADS sets navigator.hardwareConcurrency.
import { resolveObjectURL } from 'node:buffer';
import { Worker as NodeWorker } from 'node:worker_threads';

const PRELUDE = `
const { parentPort } = require('node:worker_threads');
globalThis.self = globalThis;
globalThis.postMessage = (d) => parentPort.postMessage(d);
parentPort.on('message', (d) => { if (self.onmessage) self.onmessage({ data: d }); });
`;

class WebWorker {
  constructor(url) {
    const blob = String(url).startsWith('blob:') ? resolveObjectURL(String(url)) : undefined;
    if (!blob) throw new Error(`jax-worker-shim: Worker: argument \`url\` must be a blob: URL, received ${String(url)}`);
    this.pending = []; // messages posted before the worker's source (read asynchronously) is available
    blob.text().then((code) => {
      this.worker = new NodeWorker(PRELUDE + code, { eval: true });
      this.worker.on('message', (d) => this.onmessage?.({ data: d }));
      this.worker.on('error', (e) => this.onerror?.(e));
      for (const [message, transfer] of this.pending) this.worker.postMessage(message, transfer);
      this.pending = null;
    });
  }
  postMessage(message, transfer) {
    if (this.worker) this.worker.postMessage(message, transfer);
    else this.pending.push([message, transfer]);
  }
  terminate() {
    this.worker?.terminate();
  }
}

globalThis.Worker = WebWorker;
if (!globalThis.navigator || !('hardwareConcurrency' in globalThis.navigator)) {
  Object.defineProperty(globalThis, 'navigator', { value: { hardwareConcurrency: Number(process.env.JAX_THREADS || 2) }, configurable: true });
}
