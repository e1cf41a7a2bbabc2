// Every Llama- and NeoX-family kernel case, for engine/llama-kernels.test.ts in Node and for
// test/browser.test.ts in headless Chromium.
import type { Case } from '../../helpers.ts';
import { columnsCases } from './columns.cases.ts';
import { gqaCases } from './gqa-attention.cases.ts';
import { linearCases } from './linear-layout.cases.ts';
import { rmsnormCases } from './rmsnorm.cases.ts';
import { rotaryCases } from './rotary.cases.ts';
import { siluGateCases } from './silu-gate.cases.ts';

export const llamaKernelCases: Case[] = [...rmsnormCases, ...linearCases, ...siluGateCases, ...rotaryCases, ...gqaCases, ...columnsCases];
