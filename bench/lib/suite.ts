// The benchmark cases, shared by the Node and browser entries: GPT-2 small
// (d 768, 12 heads, vocabulary 50,257) with a 16-token prompt, plus the LM head
// over 256 positions and a square 1024^3 product.
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import { Tape } from '../../src/autograd/tape.ts';
import { upload } from '../../src/gpu/buffers.ts';
import type { Kernels } from '../../src/gpu/kernels.ts';
import { attention } from '../../src/ops/attention.ts';
import { gemm } from '../../src/gpu/gemm.ts';
import { layernorm } from '../../src/ops/norm.ts';
import { activate } from '../../src/ops/pointwise.ts';
import { topk } from '../../src/gpu/vocab.ts';
import { softmaxXent } from '../../src/ops/xent.ts';
import type { Tensor } from '../../src/tensor.ts';
import type { Calls, Case, Impl } from './harness.ts';

export interface Spec extends Case {
  /** Part of the --quick set. */
  quick: boolean;
}

const D = 768;
const HEADS = 12;
const VOCAB = 50257;
const PROMPT = 16;

interface MatmulShape {
  M: number;
  K: number;
  N: number;
  /** B stored [N, K], as wte is for the tied LM head. */
  transB: boolean;
  quick: boolean;
  /** 1024^3 is 2 GFLOP and the LM head 20: seconds per call on a CPU. */
  maxReps?: number;
}

export const MATMULS: MatmulShape[] = [
  { M: PROMPT, K: D, N: 4 * D, transB: false, quick: true }, // mlp.c_fc
  { M: PROMPT, K: 4 * D, N: D, transB: false, quick: true }, // mlp.c_proj
  { M: PROMPT, K: D, N: 3 * D, transB: false, quick: true }, // attn.c_attn
  { M: PROMPT, K: D, N: D, transB: false, quick: true }, // attn.c_proj
  // The backward's dx = Delta W^T reads GPT-2's [in, out] weights transposed.
  { M: PROMPT, K: 4 * D, N: D, transB: true, quick: true }, // mlp.c_fc
  { M: PROMPT, K: D, N: 4 * D, transB: true, quick: true }, // mlp.c_proj
  { M: PROMPT, K: 3 * D, N: D, transB: true, quick: true }, // attn.c_attn
  { M: 256, K: D, N: VOCAB, transB: true, quick: false, maxReps: 3 }, // LM head
  { M: 1024, K: 1024, N: 1024, transB: false, quick: false, maxReps: 5 },
];

/** Deterministic values in [-1, 1): zeros or denormals could flatter a kernel. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const matmulSpec = (m: MatmulShape, impl: Impl, create: () => Calls): Spec => ({
  name: 'matmul', shape: `${m.M}x${m.K}x${m.N}${m.transB ? ' (B^T)' : ''}`, impl, quick: m.quick, flops: 2 * m.M * m.K * m.N,
  ...(m.maxReps ? { maxReps: m.maxReps } : {}), create,
});

function ourMatmul(k: Kernels, m: MatmulShape): Spec {
  return matmulSpec(m, 'backward-lens', () => {
    const A = upload(k, [m.M, m.K], values(m.M * m.K, 1));
    const B = upload(k, m.transB ? [m.N, m.K] : [m.K, m.N], values(m.K * m.N, 2));
    const C = upload(k, [m.M, m.N], new Float32Array(m.M * m.N));
    return {
      run: () => gemm(k, { A: A.buffer, B: B.buffer, C: C.buffer, M: m.M, N: m.N, K: m.K, transB: m.transB }),
      submit: () => k.submit(),
      sync: () => k.sync(),
      dispose: () => [A, B, C].forEach((t) => t.dispose()),
    };
  });
}

interface OpSetup {
  inputs: Tensor[];
  op(tape: Tape): void;
}

/** An engine op that allocates its outputs on a tape, as the engine runs it; freed after each rep. */
function opBench(k: Kernels, name: string, shape: string, work: { flops?: number; bytes?: number }, quick: boolean, setup: () => OpSetup): Spec {
  return {
    name, shape, impl: 'backward-lens', quick, ...work,
    create() {
      const { inputs, op } = setup();
      let tape = new Tape(k);
      return {
        run: () => op(tape),
        submit: () => k.submit(),
        sync: () => k.sync(),
        afterRep: () => {
          tape.dispose();
          tape = new Tape(k);
        },
        dispose: () => {
          tape.dispose();
          inputs.forEach((t) => t.dispose());
        },
      };
    },
  };
}

function ourOps(k: Kernels): Spec[] {
  const rowsOf = (rows: number, cols: number, seed: number) => upload(k, [rows, cols], values(rows * cols, seed));
  const lnBytes = 4 * (2 * PROMPT * D + 2 * D + 2 * PROMPT);
  const geluN = PROMPT * 4 * D;
  // Causal: query i meets i + 1 keys, with a dot product and an axpy of hd each, in every head.
  const attnFlops = (T: number) => 4 * D * (T * (T + 1)) / 2;
  const vocabBytes = 4 * PROMPT * VOCAB;
  const targets = () => upload(k, [PROMPT], Array.from({ length: PROMPT }, (_, i) => (i * 3119) % VOCAB), 'i32');
  return [
    opBench(k, 'layernorm fwd', `${PROMPT}x${D}`, { bytes: lnBytes }, true, () => {
      const [x, gamma, beta] = [rowsOf(PROMPT, D, 3), rowsOf(1, D, 4), rowsOf(1, D, 5)];
      return { inputs: [x, gamma, beta], op: (tape) => layernorm(tape, x, gamma, beta, 1e-5) };
    }),
    ...(['gelu_new', 'gelu', 'relu'] as const).map((activation) => opBench(k, { gelu_new: 'gelu fwd', gelu: 'gelu erf fwd', relu: 'relu fwd' }[activation], `${PROMPT}x${4 * D}`, { bytes: 8 * geluN }, true, () => {
      const x = rowsOf(PROMPT, 4 * D, 6);
      return { inputs: [x], op: (tape) => activate(tape, x, activation) };
    })),
    ...[PROMPT, 256].map((T) => opBench(k, 'attention fwd', `T=${T} h=${HEADS} hd=${D / HEADS}`, { flops: attnFlops(T) }, T === PROMPT, () => {
      const qkv = rowsOf(T, 3 * D, 7 + T);
      return { inputs: [qkv], op: (tape) => attention(tape, qkv, 1, T, HEADS) };
    })),
    opBench(k, 'softmax-xent fwd', `${PROMPT}x${VOCAB}`, { bytes: vocabBytes }, true, () => {
      const [logits, t] = [rowsOf(PROMPT, VOCAB, 8), targets()];
      return { inputs: [logits, t], op: (tape) => softmaxXent(tape, logits, t) };
    }),
    opBench(k, 'top-k (k=10)', `${PROMPT}x${VOCAB}`, { bytes: vocabBytes }, true, () => {
      const scores = rowsOf(PROMPT, VOCAB, 9);
      // top-k allocates outside any tape: the tape takes its outputs to free them.
      return { inputs: [scores], op: (tape) => Object.values(topk(k, scores, 10, 'top')).forEach((t) => tape.own(t)) };
    }),
  ];
}

export function ourSpecs(k: Kernels): Spec[] {
  return [...MATMULS.map((m) => ourMatmul(k, m)), ...ourOps(k)];
}

/**
 * tfjs-backend-webgpu on our own device, so both run on the same adapter and queue.
 * Its kernels are registered under the name "webgpu", so ours replaces the backend
 * of that name that a browser import registers. The constructor only checks that
 * navigator.gpu exists; in Node the caller provides it.
 */
export async function tfjsOn(device: GPUDevice): Promise<WebGPUBackend> {
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device));
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu failed to start on this device');
  return tf.backend() as WebGPUBackend;
}

export function tfjsSpecs(k: Kernels, backend: WebGPUBackend): Spec[] {
  // tfjs records into its own encoder and submits every 15 dispatches; this sends the rest.
  const submit = () => {
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
  };
  // Waiting on the shared queue through the engine also surfaces tfjs's
  // validation errors, which the engine's open error scopes catch.
  const sync = async () => {
    submit();
    await k.sync();
  };
  return MATMULS.map((m) => matmulSpec(m, 'tfjs-webgpu', () => {
    const a = tf.tensor2d(values(m.M * m.K, 1), [m.M, m.K]);
    const b = tf.tensor2d(values(m.K * m.N, 2), m.transB ? [m.N, m.K] : [m.K, m.N]);
    const outs: tf.Tensor[] = [];
    return {
      run: () => { outs.push(tf.matMul(a, b, false, m.transB)); },
      submit,
      sync,
      afterRep: () => outs.splice(0).forEach((t) => t.dispose()),
      dispose: () => [a, b, ...outs.splice(0)].forEach((t) => t.dispose()),
    };
  }));
}

export interface Selection {
  quick: boolean;
  /** Substring of "name shape impl", e.g. "matmul", "16x768x3072" or "tfjs". */
  only?: string;
}

/** Ours and tfjs's for the same shape next to each other, so both see the same machine load. */
export function select(ours: readonly Spec[], theirs: readonly Spec[], s: Selection): Spec[] {
  const key = (c: Spec) => `${c.name}\u0000${c.shape}`;
  const ordered = ours.flatMap((c) => [c, ...theirs.filter((t) => key(t) === key(c))]);
  const only = s.only?.toLowerCase();
  return ordered.filter((c) => (!s.quick || c.quick) && (!only || `${c.name} ${c.shape} ${c.impl}`.toLowerCase().includes(only)));
}
