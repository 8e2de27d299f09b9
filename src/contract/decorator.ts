import type { Contract } from './define.js';

/**
 * TC39 method decorator binding a method to a contract. The contract input is built from the call's
 * arguments by `toInput` (default: the argument array), so pre/post clauses see named fields.
 */
export function contract<I, O>(c: Contract<I, O>, toInput?: (...args: never[]) => I) {
  return function decorate<This, Args extends unknown[], R extends O>(
    method: (this: This, ...args: Args) => R,
    _context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R {
    return function checked(this: This, ...args: Args): R {
      const input = toInput ? (toInput as unknown as (...a: Args) => I)(...args) : (args as unknown as I);
      return c.run(input, () => method.apply(this, args)) as R;
    };
  };
}
