// A tiny library: formats a greeting with colours. Compiled by tsc inside the enclave; the
// output is deterministic, so two builds give the same bytes.
import pc from 'picocolors';

/** Returns a greeting for `name`, bold when colours are enabled. */
export function greet(name: string): string {
  return `hello, ${pc.bold(name)}`;
}

/** Counts the words in `text`. */
export function wordCount(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}
