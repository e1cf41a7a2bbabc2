import { test } from 'uvu';
import { getEngine } from '../src/gpu/engine.ts';
import type { Case } from './helpers.ts';
import { headCases } from './kernels/heads.cases.ts';
import { layerCases } from './kernels/layers.cases.ts';
import { matmulCases } from './kernels/matmul.cases.ts';
import { splitCases } from './kernels/split.cases.ts';

const cases: Case[] = [...matmulCases, ...layerCases, ...headCases, ...splitCases];
for (const c of cases) test(c.name, async () => c.run(await getEngine()));
test.run();
