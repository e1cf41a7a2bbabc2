// `backward-lens doctor`: which WebGPU adapter the engine finds and how, every
// driver path it looked at, each adapter that answers, and what to install.
import { existsSync, readdirSync } from 'node:fs';
import { describeAdapter, getGpu, isSoftware, NoAdapterError, requestNodeAdapter } from '../gpu/device.ts';
import { ADAPTER_VARIABLE, discover, ensureVulkanLoader, ICD_VARIABLE, INSTALL_HINT, LIMITS_VARIABLE, systemVulkanLoader } from '../gpu/drivers.ts';
import { describeMemory, weightMemory } from '../model/memory.ts';
import { EMBEDDED_MODELS } from '../model/embedded.ts';
import { embeddedModelDir } from '../model/load-default.ts';
import { defaultModelDir, loadModel, MODEL_OPTION, parse, type Command } from './common.ts';

const usage = `backward-lens doctor [--model DIR|NAME]

Lists how the engine looks for a WebGPU adapter: the Vulkan loader, the Vulkan
driver manifests (ICDs) at the paths it knows for SwiftShader (Chromium) and
lavapipe (Mesa), each adapter that answers with its storage-binding limits, the
one the engine picks and why, and what to install when none answers. Exits 1
when no adapter is found. Lists the embedded models (what --model NAME picks) and
whether each is installed. Then loads the model (--model, or the embedded
default) and says how many bytes its weights take on the device, by dtype
(an F16 or BF16 checkpoint's matrices stay 16-bit).

Variables: ${ICD_VARIABLE}=FILE.json uses that Vulkan driver only;
${ADAPTER_VARIABLE}=swiftshader|lavapipe picks between the software drivers;
${LIMITS_VARIABLE}=minimum runs at WebGPU's default limits instead of the adapter's.`;

const fs = { existsSync, readdirSync: (p: string) => readdirSync(p) };
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

interface Probe {
  label: string;
  icd?: string;
}

export const doctorCommand: Command = {
  summary: 'say which WebGPU adapter is found and how, the driver paths tried, and what to install',
  usage,
  async run(argv) {
    const { values } = parse(argv, MODEL_OPTION, usage);
    if (values.help) return void console.log(usage);
    const found = discover(fs, process.env);
    const out: string[] = [`platform: ${process.platform} ${process.arch}, Node ${process.version}`];
    const loader = systemVulkanLoader(fs, process.env);
    const preloaded = ensureVulkanLoader(fs, found.software);
    out.push(`Vulkan loader: ${loader ?? (preloaded ? `${preloaded} (Chromium's, preloaded: the system has none)` : 'none (Debian/Ubuntu: libvulkan1, or Chromium brings its own)')}`);
    out.push(`ICD manifests in the loader's directories: ${found.systemIcds.length ? found.systemIcds.join(', ') : 'none'}`);
    out.push(`GPU device nodes: ${found.gpuNodes.length ? found.gpuNodes.join(', ') : `none${process.platform === 'linux' && found.systemIcds.length ? " (so other commands leave the system's Vulkan drivers unloaded)" : ''}`}`);
    out.push('software driver paths tried:');
    for (const t of found.tried) out.push(`  ${t.exists ? 'found  ' : 'missing'} ${t.path}`);
    out.push(`${ICD_VARIABLE}: ${found.explicit ? `${found.explicit.icd}${existsSync(found.explicit.icd) ? '' : ' (does not exist)'}` : 'unset'}`);

    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const probes: Probe[] = [
      ...(found.systemIcds.length || process.platform !== 'linux' ? [{ label: "system's Vulkan drivers" }] : []),
      ...found.software.map((d) => ({ label: d.kind, icd: d.icd })),
      ...(found.explicit && existsSync(found.explicit.icd) ? [{ label: ICD_VARIABLE, icd: found.explicit.icd }] : []),
    ];
    out.push('adapters:');
    const saved = process.env.VK_ICD_FILENAMES;
    let answered = 0;
    for (const p of probes) {
      if (p.icd) process.env.VK_ICD_FILENAMES = p.icd;
      else if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = saved;
      const a = await requestNodeAdapter(create).catch(() => null);
      if (a) answered++;
      out.push(`  ${p.label}: ${a ? `${describeAdapter(a.info)}${isSoftware(a.info) ? ' (software)' : ''}; maxStorageBufferBindingSize ${mib(a.limits.maxStorageBufferBindingSize)}, maxBufferSize ${mib(a.limits.maxBufferSize)}` : 'no adapter'}`);
    }
    if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = saved;

    try {
      const gpu = await getGpu();
      const limits = gpu.device.limits;
      out.push(`the engine uses: ${gpu.adapterName}`);
      out.push(`  found as: ${gpu.driver}`);
      out.push(`  limits: ${gpu.minimumLimits ? `WebGPU's minimum (${LIMITS_VARIABLE}=minimum)` : "the adapter's"}; tensors above ${mib(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize))} are split across bindings`);
      console.log(out.join('\n'));
    } catch (e) {
      console.log(out.join('\n'));
      if (!(e instanceof NoAdapterError)) throw e;
      // One line on stderr and exit 1, as every command reports a machine that cannot run it.
      throw new NoAdapterError(answered ? e.message : `no WebGPU adapter found: ${INSTALL_HINT}`);
    }
    console.log('embedded models (--model NAME):');
    for (const m of EMBEDDED_MODELS) {
      const dir = embeddedModelDir(m);
      console.log(`  ${m.name}: ${m.description}; ${existsSync(`${dir}/model.safetensors`) ? dir : `missing (${dir})`}`);
    }
    if (values.model !== undefined || existsSync(`${defaultModelDir()}/model.safetensors`)) {
      const { model } = await loadModel(values.model);
      console.log(`weights on the device (${values.model ?? 'the default model'}): ${describeMemory(weightMemory(model))}`);
      model.dispose();
    }
  },
};
