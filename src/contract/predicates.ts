/** Predicates that many contracts' clauses share. */

/** Every one of the first `len` values (default all) is finite. */
export function allFinite(a: ArrayLike<number>, len = a.length): boolean {
  for (let i = 0; i < len; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** Every id is an integer in [0, vocab). */
export function idsInRange(ids: ArrayLike<number>, vocab: number): boolean {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) return false;
  }
  return true;
}
