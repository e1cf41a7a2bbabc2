// The BLAS builds Debian's torch can run on: it links the generic libblas.so.3 and
// liblapack.so.3, so a directory put first on LD_LIBRARY_PATH chooses one for a
// single process without switching the system's alternatives.
import { existsSync } from 'node:fs';

const LIB = '/usr/lib/x86_64-linux-gnu';
// LAPACK too: the reference LAPACK beside OpenBLAS's BLAS would not be either.
const DIRS: Record<string, string[]> = {
  system: [],
  reference: [`${LIB}/blas`, `${LIB}/lapack`],
  openblas: [`${LIB}/openblas-pthread`],
};

export const BLAS_CHOICES = Object.keys(DIRS);

/** Environment for a peer on the named BLAS; throws when it is not installed. */
export function blasEnv(name: string): NodeJS.ProcessEnv {
  if (!(name in DIRS)) throw new Error(`--blas ${name}: choose from ${BLAS_CHOICES.join(', ')}`);
  const dirs = DIRS[name]!;
  if (dirs.length === 0) return process.env;
  if (!existsSync(`${dirs[0]}/libblas.so.3`)) throw new Error(`--blas ${name}: no ${dirs[0]}/libblas.so.3 (apt-get install ${name === 'openblas' ? 'libopenblas0-pthread' : 'libblas3 liblapack3'})`);
  return { ...process.env, LD_LIBRARY_PATH: [...dirs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
}
