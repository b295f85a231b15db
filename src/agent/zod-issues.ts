import type { z } from 'zod';

/** One validation problem: the dotted path of the field and what is wrong with it. */
export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * The first issue of a zod error as a dotted field path and a message naming the field. An
 * unknown key is reported at its own path (zod reports it at the parent).
 */
export function firstIssue(error: z.ZodError, prefix = ''): FieldIssue {
  const issue = error.issues[0];
  if (issue === undefined) return { field: prefix || '(body)', message: 'invalid' };
  const parts = issue.path.map((p) => String(p));
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    parts.push(key);
    message = 'unknown field';
  }
  const field = [prefix, ...parts].filter((p) => p !== '').join('.') || '(body)';
  return { field, message: `${field}: ${message}` };
}
