// Bind group layouts read from the WGSL (src/gpu/layouts.ts): every entry point of every
// kernel file is understood (else it would silently keep 'auto' and its own descriptor
// pool), the bindings are those the entry point and the functions it calls name, and a
// binding number given two kinds, or a declaration not understood, falls back to 'auto'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getGpu } from '../../src/gpu/device.ts';
import { DESCRIPTORS, entryBindings, layoutEntries } from '../../src/gpu/layouts.ts';
import { ALL_KERNELS, SUBGROUP_KERNELS } from '../../src/gpu/sources.ts';

test('every entry point of every kernel file gets its bindings, the uniform block among them', () => {
  let entries = 0;
  for (const src of [...ALL_KERNELS, ...SUBGROUP_KERNELS]) {
    for (const m of src.code.matchAll(/@compute[^{]*?\bfn\s+(\w+)/g)) {
      const bindings = entryBindings(src.code, m[1]!);
      assert.ok(bindings, `${src.file}: ${m[1]}`);
      assert.is(bindings!.get(0), 'uniform', `${src.file}: ${m[1]} binds its parameters`);
      entries++;
    }
  }
  assert.ok(entries > 30, `${entries} entry points`);
});

const SHADER = `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// @group(0) @binding(9) var<storage, read> commented: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var rows: texture_2d<f32>;
@group(0) @binding(4) var out: texture_storage_2d<rgba32float, write>;
fn load(i: u32) -> f32 { return x[i]; }
/* fn unused() { y[0] = 1.0; } */
@compute @workgroup_size(1) fn forward() { y[0] = load(p.n); }
@compute @workgroup_size(1) fn backward() { let v = vec4<f32>(dy[0]); textureStore(out, vec2<u32>(0u), vec4<f32>(v.y)); }
@compute @workgroup_size(1) fn both() { let y = dy[0]; }
@compute @workgroup_size(1) fn texel() { let t = textureLoad(rows, vec2<u32>(0u), 0); }
`;

test('the bindings an entry point names, through the functions it calls; comments and members (v.y) ignored', () => {
  assert.equal([...entryBindings(SHADER, 'forward')!].sort(), [[0, 'uniform'], [1, 'read'], [2, 'read_write']]);
  assert.equal([...entryBindings(SHADER, 'backward')!].sort(), [[2, 'read'], [4, 'storage_texture']]);
  assert.equal([...entryBindings(SHADER, 'texel')!], [[3, 'texture']]);
});

test('a binding number of two kinds (a local named like the other), an unknown entry or declaration: undefined', () => {
  assert.is(entryBindings(SHADER, 'both'), undefined);
  assert.is(entryBindings(SHADER, 'missing'), undefined);
  assert.is(entryBindings('@group(0) @binding(0) var s: sampler;\n@compute @workgroup_size(1) fn f() { let a = s; }', 'f'), undefined);
});

test('layouts are padded with uniform buffers above the bindings, to 16 descriptors or as many as allowed', async () => {
  await getGpu(); // GPUShaderStage exists in Node once a device does
  const entries = layoutEntries(entryBindings(SHADER, 'forward')!, 100);
  assert.is(entries.length, DESCRIPTORS);
  assert.equal(entries.slice(0, 3).map((e) => e.binding), [0, 1, 2]);
  assert.ok(entries.slice(3).every((e) => e.buffer?.type === 'uniform' && e.binding >= 100));
  assert.is(layoutEntries(entryBindings(SHADER, 'forward')!, 11).length, 14);
});

test.run();
