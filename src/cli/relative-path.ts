// A file an output names (the data it was made from) is written relative to the
// output's directory: a committed report then holds no machine's absolute paths
// and still leads to the file from where it lies.
import { relative, resolve } from 'node:path';

export function relativeTo(outDir: string, file: string): string {
  return relative(resolve(outDir), resolve(file)) || '.';
}
