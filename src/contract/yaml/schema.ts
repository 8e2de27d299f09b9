import { z } from 'zod';

/**
 * The contract YAML (`contracts/<id>.yaml`), modelled on provable-contracts: metadata, equations,
 * proof obligations, falsification tests and z3 proofs. Objects are loose here so that an unknown key is a
 * lint warning (PV-unknown-key) rather than a schema error; the lint pass lists them.
 */

const OBLIGATION_TYPES = ['invariant', 'bound', 'equivalence', 'idempotence', 'conservation', 'ordering'] as const;
const TEST_KINDS = ['property', 'unit', 'golden', 'differential'] as const;

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'expected an id (letters, digits, . _ : -)');
const Text = z.string().trim().min(1, 'expected non-empty text');

const MetadataSchema = z.looseObject({
  id: Id,
  version: z.union([z.number().int().positive(), z.string().regex(/^\d+\.\d+\.\d+$/, 'expected an integer or semver x.y.z')]),
  description: Text,
  references: z.array(z.string()).optional(),
});

const EquationSchema = z.looseObject({
  formula: Text,
  domain: Text,
  codomain: Text,
  invariants: z.array(z.string()).optional(),
});

const ObligationSchema = z.looseObject({
  id: Id,
  type: z.enum(OBLIGATION_TYPES),
  property: Text,
  formal: Text,
  tolerance: z.number().nonnegative().optional(),
  /** The equation this obligation belongs to (required in a contract with several equations). */
  equation: z.string().optional(),
  /** Declares a z3-decidable bounded form (implied by a `proofs` entry); L3 requires it proved. */
  decidable: z.boolean().optional(),
  /** Marks a floating-point obligation (then `tolerance` is required) when the text does not make it obvious. */
  numeric: z.boolean().optional(),
});

const FalsificationTestSchema = z.looseObject({
  id: Id,
  rule: Text,
  prediction: Text,
  test: Text,
  if_fails: Text,
  /** Obligation ids this test backs (the test names carry `[ob:<id>]`); optional, the tags are the facts. */
  obligations: z.array(Id).optional(),
  /** `golden`/`differential`: compares against an outside implementation (counts toward L4). */
  kind: z.enum(TEST_KINDS).optional(),
});

const ProofSchema = z.looseObject({
  id: Id,
  obligation: Id,
  bound: z.number().int().nonnegative().nullable().optional(),
  solver: z.literal('z3'),
  harness: Text,
});

export const ContractYamlSchema = z.looseObject({
  metadata: MetadataSchema,
  equations: z.record(z.string().regex(/^[A-Za-z_][\w.-]*$/, 'expected an equation name'), EquationSchema),
  proof_obligations: z.array(ObligationSchema),
  falsification_tests: z.array(FalsificationTestSchema),
  proofs: z.array(ProofSchema).optional(),
});

export type ContractYaml = z.infer<typeof ContractYamlSchema>;
export type Equation = z.infer<typeof EquationSchema>;
export type Obligation = z.infer<typeof ObligationSchema>;
export type FalsificationTest = z.infer<typeof FalsificationTestSchema>;
export type ProofEntry = z.infer<typeof ProofSchema>;

/** The keys each object may carry; anything else is reported as an unknown key. */
export const KNOWN_KEYS = {
  root: ['metadata', 'equations', 'proof_obligations', 'falsification_tests', 'proofs'],
  metadata: ['id', 'version', 'description', 'references'],
  equation: ['formula', 'domain', 'codomain', 'invariants'],
  obligation: ['id', 'type', 'property', 'formal', 'tolerance', 'equation', 'decidable', 'numeric'],
  falsification_test: ['id', 'rule', 'prediction', 'test', 'if_fails', 'obligations', 'kind'],
  proof: ['id', 'obligation', 'bound', 'solver', 'harness'],
} as const;
