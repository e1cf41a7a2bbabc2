import { test } from 'uvu';
import { getEngine } from '../../src/gpu/engine.ts';
import type { Case } from '../helpers.ts';
import { decodeCases } from './kernels/decode.cases.ts';
import { headCases } from './kernels/heads.cases.ts';
import { layerCases } from './kernels/layers.cases.ts';
import { matmulCases } from './kernels/matmul.cases.ts';
import { splitCases } from './kernels/split.cases.ts';

const cases: Case[] = [...matmulCases, ...layerCases, ...headCases, ...splitCases, ...decodeCases];
for (const c of cases) test(c.name, async () => c.run(await getEngine()));
test.run();
