import type { Contract } from './define.js';

/**
 * TC39 method decorator binding a method to a contract. The contract input is built from the call's
 * arguments by `toInput` (default: the argument array), so pre/post clauses see named fields.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the decorated method's argument list is checked at its use site
export function contract<I, O>(c: Contract<I, O>, toInput?: (...args: any[]) => I) {
  return function decorate<This, Args extends unknown[], R extends O>(
    method: (this: This, ...args: Args) => R,
    _context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R {
    return function checked(this: This, ...args: Args): R {
      const input = toInput ? toInput(...args) : (args as unknown as I);
      return c.run(input, () => method.apply(this, args)) as R;
    };
  };
}
