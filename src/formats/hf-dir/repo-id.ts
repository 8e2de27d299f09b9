/**
 * Hugging Face Hub repository ids (`huggingface_hub.utils.validate_repo_id`): `namespace/name`, each part of
 * the characters A–Z a–z 0–9 - _ . only, neither starting nor ending with - or ., no `--` or `..`, the whole
 * id at most 96 characters.
 */
const PART = /^[A-Za-z0-9_.-]+$/;
const REPO_ID_MAX = 96;

function partProblem(label: string, part: string): string | undefined {
  if (part.length === 0) return `the ${label} is empty`;
  if (!PART.test(part)) return `the ${label} '${part}' may hold only letters, digits, '-', '_' and '.'`;
  if (/^[-.]|[-.]$/.test(part)) return `the ${label} '${part}' may not start or end with '-' or '.'`;
  if (part.includes('--') || part.includes('..')) return `the ${label} '${part}' may not contain '--' or '..'`;
  return undefined;
}

/** Why `id` is not a valid `org/name` Hub repository id, or undefined when it is one. */
export function repoIdProblem(id: string): string | undefined {
  if (id.length > REPO_ID_MAX) return `it is ${id.length} characters long (at most ${REPO_ID_MAX})`;
  const parts = id.split('/');
  if (parts.length !== 2) return "expected 'org/name' (exactly one '/')";
  return partProblem('organisation', parts[0] ?? '') ?? partProblem('name', parts[1] ?? '');
}
