// `--shard i/N | auto`: which shard of an evaluation this task runs; `auto` reads
// the task's index from Slurm or Kubernetes.
import { BadInputError } from '../errors.ts';
import type { Shard } from '../eval/shards.ts';

export class BadShardError extends BadInputError {
  override name = 'BadShardError';
}

/**
 * `i/N`, or `auto`: SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of
 * SLURM_ARRAY_TASK_COUNT, else JOB_COMPLETION_INDEX (Kubernetes indexed Job) of
 * `shards` (the Job's completions).
 */
export function parseShard(spec: string, env: Readonly<Record<string, string | undefined>>, shards?: string): Shard {
  if (spec === 'auto') return autoShard(env, shards);
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  if (!m) throw new BadShardError(`--shard "${spec}" must be i/N (0 <= i < N, e.g. 0/4) or auto`);
  return checked(Number(m[1]), Number(m[2]), `--shard ${spec}`);
}

function checked(index: number, count: number, what: string): Shard {
  if (!Number.isSafeInteger(count) || count < 1) throw new BadShardError(`${what}: the shard count must be at least 1`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new BadShardError(`${what}: shard index ${index} is out of range 0-${count - 1}`);
  return { index, count };
}

const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

function autoShard(env: Readonly<Record<string, string | undefined>>, shards?: string): Shard {
  const slurmId = int(env.SLURM_ARRAY_TASK_ID);
  if (slurmId !== undefined) {
    const count = int(env.SLURM_ARRAY_TASK_COUNT);
    if (count === undefined) throw new BadShardError('--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not a number');
    return checked(slurmId - (int(env.SLURM_ARRAY_TASK_MIN) ?? 0), count, '--shard auto (Slurm)');
  }
  const k8s = int(env.JOB_COMPLETION_INDEX);
  if (k8s !== undefined) {
    const count = int(shards);
    if (count === undefined) throw new BadShardError('--shard auto with JOB_COMPLETION_INDEX needs --shards N, the Job\'s completions');
    return checked(k8s, count, '--shard auto (JOB_COMPLETION_INDEX)');
  }
  throw new BadShardError('--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; pass --shard i/N');
}
